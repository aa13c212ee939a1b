import CertChainNet

extension Node {
    /// Auditor and enterprise query routes (lists, searches); nil when the request is not one of them.
    func handleQueryRoutes(_ request: HTTPRequest, _ parts: [String]) -> HTTPResponse? {
        nil
    }
}
