import CertChainNet
import Foundation

// Everything is served by the node itself (no CDN, no external fetch); the page reads the API with a session
// token (`POST /v1/sessions`, see docs/ACCESS.md) sent as `Authorization: Bearer`.
/// The web interface (docs/WEB.md): one page under `/ui/` with its script and style, and the QR code of a certificate.
public enum WebUI {
    /// Path of the page; `certchain login` prints `http://HOST/ui/#token=…`.
    public static let pagePath = "/ui/"

    // `http://HOST/v1/certificates/NUMBER?proof=true#chain=CHAIN&cert=NUMBER` — the part before `#` is the request
    // that fetches the verifiable answer (signed or with a bearer token); the fragment names what it must prove.
    /// What a certificate's QR code encodes: the node's `?proof=true` URL, then the chain and number in the fragment.
    public static func verificationPayload(host: String, chainId: String, certificateNumber: String) -> String {
        "http://\(host)/v1/certificates/\(certificateNumber)?proof=true#chain=\(chainId)&cert=\(certificateNumber)"
    }

    /// Security headers of every web response: only this node's own script, style and images may load.
    static let headers: [(String, String)] = [
        ("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"),
        ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"), ("Cache-Control", "no-cache"),
    ]

    static func asset(_ text: String, _ contentType: String) -> HTTPResponse {
        HTTPResponse(status: 200, headers: [("Content-Type", contentType)] + headers, body: Array(text.utf8))
    }

    /// A `Host` header safe to echo into a URL (host name or address and port), else nil.
    static func sanitizedHost(_ host: String?) -> String? {
        guard let host, !host.isEmpty, host.count <= 255,
            host.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || ".:-[]".unicodeScalars.contains($0)) })
        else { return nil }
        return host
    }

    /// Whether `number` looks like a certificate number (digits only, bounded).
    static func isCertificateNumber(_ number: String) -> Bool {
        (1...40).contains(number.count) && number.allSatisfy { $0.isASCII && $0.isNumber }
    }
}

extension Node {
    /// The web interface's pages and assets; nil when the request is not one of them.
    func handleWebRoutes(_ request: HTTPRequest, _ parts: [String]) -> HTTPResponse? {
        guard request.method == "GET" else { return nil }
        switch parts {
        case []:
            return HTTPResponse(status: 302, headers: [("Location", WebUI.pagePath)] + WebUI.headers, body: Array("see \(WebUI.pagePath)\n".utf8))
        case ["ui"], ["ui", "index.html"]:
            return WebUI.asset(WebUIAssets.html, "text/html; charset=utf-8")
        case ["ui", "app.js"]:
            return WebUI.asset(WebUIAssets.script, "text/javascript; charset=utf-8")
        case ["ui", "app.css"]:
            return WebUI.asset(WebUIAssets.style, "text/css; charset=utf-8")
        case _ where parts.count == 3 && parts[0] == "ui" && parts[1] == "qr" && parts[2].hasSuffix(".svg"):
            let number = String(parts[2].dropLast(4))
            guard WebUI.isCertificateNumber(number) else {
                return .error(400, code: "invalid-certificate-number", message: "\(number.prefix(40)) is not a certificate number")
            }
            let host = WebUI.sanitizedHost(request.headers["host"]) ?? validators[selfIndex].apiAddress
            let payload = WebUI.verificationPayload(host: host, chainId: genesis.chainId, certificateNumber: number)
            guard let code = QRCode(text: payload) else {
                return .error(400, code: "qr-too-long", message: "the verification URL does not fit a version-10 QR code")
            }
            return WebUI.asset(code.svg(), "image/svg+xml")
        default:
            return nil
        }
    }
}
