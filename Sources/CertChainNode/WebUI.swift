import CertChainNet

extension Node {
    /// The web interface's pages and assets; nil when the request is not one of them.
    func handleWebRoutes(_ request: HTTPRequest, _ parts: [String]) -> HTTPResponse? {
        nil
    }
}
