/// An HTTP request as seen by a server handler (path and query already percent-decoded).
public struct HTTPRequest: Sendable {
    /// Request method, e.g. "GET".
    public var method: String
    /// Percent-decoded path, without the query string.
    public var path: String
    /// Percent-decoded query parameters (`+` means space); the last value wins for repeated keys.
    public var query: [String: String]
    /// Header fields with lowercased names; repeated fields are joined with ", ".
    public var headers: [String: String]
    /// Request body (Content-Length bodies only).
    public var body: [UInt8]

    /// Creates a request value.
    public init(method: String, path: String, query: [String: String] = [:], headers: [String: String] = [:], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }
}

/// An HTTP response; the server adds Content-Length (and Content-Type if missing).
public struct HTTPResponse: Sendable {
    /// Status code.
    public var status: Int
    /// Header fields in order (the client lowercases names it parses).
    public var headers: [(String, String)]
    /// Response body.
    public var body: [UInt8]

    /// Creates a response value.
    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A response with an `application/json` body.
    public static func json(_ status: Int, _ data: [UInt8]) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: data)
    }

    /// A response with a `text/plain; charset=utf-8` body (or another content type).
    public static func text(_ status: Int, _ text: String, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", contentType)], body: Array(text.utf8))
    }

    /// A JSON error body `{"error":code,"message":message}`.
    public static func error(_ status: Int, code: String, message: String) -> HTTPResponse {
        json(status, Array("{\"error\":\(jsonQuote(code)),\"message\":\(jsonQuote(message))}".utf8))
    }

    /// The first header value named `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        let n = name.lowercased()
        return headers.first { $0.0.lowercased() == n }?.1
    }

    /// The body decoded as UTF-8 (lossy).
    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// Quotes `s` as a JSON string literal.
func jsonQuote(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 {
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out + "\""
}

/// Standard reason phrase for a status code.
func reasonPhrase(_ status: Int) -> String {
    switch status {
    case 100: return "Continue"
    case 200: return "OK"
    case 201: return "Created"
    case 202: return "Accepted"
    case 204: return "No Content"
    case 301: return "Moved Permanently"
    case 302: return "Found"
    case 303: return "See Other"
    case 307: return "Temporary Redirect"
    case 304: return "Not Modified"
    case 400: return "Bad Request"
    case 401: return "Unauthorized"
    case 403: return "Forbidden"
    case 404: return "Not Found"
    case 405: return "Method Not Allowed"
    case 408: return "Request Timeout"
    case 409: return "Conflict"
    case 411: return "Length Required"
    case 413: return "Content Too Large"
    case 414: return "URI Too Long"
    case 422: return "Unprocessable Content"
    case 429: return "Too Many Requests"
    case 431: return "Request Header Fields Too Large"
    case 500: return "Internal Server Error"
    case 501: return "Not Implemented"
    case 503: return "Service Unavailable"
    case 505: return "HTTP Version Not Supported"
    default: return "Status"
    }
}

/// Pure HTTP/1.x parsing helpers shared by the server and the client.
enum HTTPParse {
    static let crlfcrlf: [UInt8] = [13, 10, 13, 10]

    /// Index just past the first CRLFCRLF at or after `from`, or nil.
    static func headEnd(_ buf: [UInt8], from: Int) -> Int? {
        var i = max(0, from)
        // Bounded by the buffer length.
        while i + 3 < buf.count {
            if buf[i] == 13 && buf[i + 1] == 10 && buf[i + 2] == 13 && buf[i + 3] == 10 { return i + 4 }
            i += 1
        }
        return nil
    }

    /// Splits a head (without the final CRLFCRLF) into its start line and header fields; nil if malformed.
    static func splitHead(_ head: ArraySlice<UInt8>) -> (start: String, fields: [(String, String)])? {
        guard let text = String(validating: head, as: UTF8.self) else { return nil }
        let lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
        guard let first = lines.first, !first.isEmpty else { return nil }
        var fields: [(String, String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let name = line[..<colon]
            guard !name.isEmpty, name.allSatisfy(isTokenChar) else { return nil }
            let value = line[line.index(after: colon)...].trimmedSpaces()
            guard !value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) else { return nil }
            fields.append((name.lowercased(), value))
        }
        guard !first.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) else { return nil }
        return (String(first), fields)
    }

    static func isTokenChar(_ c: Character) -> Bool {
        guard let a = c.asciiValue, a > 32, a < 127 else { return false }
        return !"()<>@,;:\\\"/[]?={}".contains(c)
    }

    /// Decodes %XX escapes (and `+` as space when `plusIsSpace`); nil on a bad escape or invalid UTF-8.
    static func percentDecode<S: StringProtocol>(_ s: S, plusIsSpace: Bool) -> String? {
        let bytes = Array(s.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "%") {
                guard i + 2 < bytes.count, let h = hexValue(bytes[i + 1]), let l = hexValue(bytes[i + 2]) else { return nil }
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(plusIsSpace && b == UInt8(ascii: "+") ? UInt8(ascii: " ") : b)
                i += 1
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// Splits a request target into decoded path and query; nil if malformed.
    static func parseTarget(_ target: String) -> (path: String, query: [String: String])? {
        guard target.hasPrefix("/") else { return nil }
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let rawPath = parts[0].split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
        guard let path = percentDecode(rawPath, plusIsSpace: false) else { return nil }
        var query: [String: String] = [:]
        if parts.count == 2 {
            let rawQuery = parts[1].split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
            for pair in rawQuery.split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard let k = percentDecode(kv[0], plusIsSpace: true) else { return nil }
                let v = kv.count == 2 ? percentDecode(kv[1], plusIsSpace: true) : ""
                guard let v else { return nil }
                query[k] = v
            }
        }
        return (path, query)
    }

    /// Parses a Content-Length value: ASCII digits only; nil if invalid.
    static func contentLength(_ values: [String]) -> Int?? {
        guard !values.isEmpty else { return .some(nil) }
        var result: Int? = nil
        for raw in values {
            for v in raw.split(separator: ",", omittingEmptySubsequences: false) {
                let t = v.trimmedSpaces()
                guard !t.isEmpty, t.count <= 18, t.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(t) else { return nil }
                if let r = result, r != n { return nil }
                result = n
            }
        }
        return .some(result)
    }
}

extension StringProtocol {
    /// Trims spaces and tabs from both ends.
    func trimmedSpaces() -> String {
        let set = " \t"
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
