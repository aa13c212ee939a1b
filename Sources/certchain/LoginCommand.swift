import CertChainModel
import CertChainNet
import CertChainNode
import Foundation

/// `certchain login`: opens a browser session (`POST /v1/sessions`, signed) and prints the web page's URL with the token.
///
/// Signs with `--key FILE.pem --identity ID`, else as the auditor of `--keys DIR`; `--ttl SECONDS` (1…900) shortens
/// the session; `--certificate NUMBER` makes the URL open that certificate.
func loginCommand(_ arguments: Arguments) throws {
    if let number = arguments.options["certificate"], !Formats.isCertificateNumber(number) {
        throw CLIError(description: "--certificate \(number): a certificate number is 18 digits", usage: true)
    }
    let api = try client(arguments)
    guard let signer = try requestSigner(arguments, api) else {
        throw CLIError(description: "login needs a key: --key FILE.pem --identity ent:TAXID|org:ID|auditor:ID (or --keys DIR)", usage: true)
    }
    var body: [UInt8] = []
    if let ttl = arguments.options["ttl"] {
        guard let seconds = Int(ttl), (1...900).contains(seconds) else { throw CLIError(description: "--ttl must be 1…900 seconds", usage: true) }
        body = Array("{\"ttlSeconds\":\(seconds)}".utf8)
    }
    let path = "/v1/sessions"
    let response = try api.request("POST", path, body: body, headers: try signer.headers(method: "POST", target: path, body: body))
    guard response.status == 201,
        let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
        let token = object["token"] as? String
    else {
        throw CLIError(description: "POST \(path): HTTP \(response.status) \(response.bodyText)")
    }
    let base = try arguments.required("api").split(separator: ",").first.map(String.init) ?? ""
    let origin = (base.hasPrefix("http://") || base.hasPrefix("https://") ? base : "http://" + base)
        .trimmingCharacters(in: CharacterSet(charactersIn: "/"))
    let route = arguments.options["certificate"].map { "/cert/\($0)?token=" } ?? "token="
    let expires = (object["expiresAtMs"] as? NSNumber).map { Date(timeIntervalSince1970: $0.doubleValue / 1000) }
    FileHandle.standardError.write(Data("session for \(object["identity"] as? String ?? signer.identity)\(expires.map { " until \($0)" } ?? ""); open:\n".utf8))
    print("\(origin)\(WebUI.pagePath)#\(route)\(token)")
}
