import CertChainNet

extension Node {
    /// Routes of answers with proofs (`?proof=true`); nil when the request is not one of them.
    func handleProofRoutes(_ request: HTTPRequest, _ parts: [String]) -> HTTPResponse? {
        nil
    }
}
