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

    /// 405 `method-not-allowed` with the `Allow` header RFC 9110 asks for (the methods the resource takes).
    public static func methodNotAllowed(allow: String, message: String) -> HTTPResponse {
        var response = error(405, code: "method-not-allowed", message: message)
        response.headers.append(("Allow", allow))
        return response
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
        if let ascii = splitASCIIHead(head) { return ascii }
        return splitHeadAsText(head)
    }

    /// `splitHead` on the head as text (any UTF-8).
    static func splitHeadAsText(_ head: ArraySlice<UInt8>) -> (start: String, fields: [(String, String)])? {
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

    /// `splitHead` for an all-ASCII head, working on bytes: there every character is one byte except CR LF, which
    /// is exactly the line separator, so the answer is the same. `.none` when the head has a non-ASCII byte (the
    /// caller then takes the general path), `.some(nil)` when it is malformed.
    static func splitASCIIHead(_ head: ArraySlice<UInt8>) -> (start: String, fields: [(String, String)])?? {
        guard head.allSatisfy({ $0 < 0x80 }) else { return .none }
        let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n"), colon = UInt8(ascii: ":")
        func forbidden(_ b: UInt8) -> Bool { b == cr || b == lf || b == 0 }
        func isSpace(_ b: UInt8) -> Bool { b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") }
        var lines: [Range<Int>] = []
        var lineStart = head.startIndex
        var i = head.startIndex
        // Bounded by the head's length.
        while i + 1 < head.endIndex {
            if head[i] == cr && head[i + 1] == lf {
                lines.append(lineStart..<i)
                i += 2
                lineStart = i
            } else {
                i += 1
            }
        }
        lines.append(lineStart..<head.endIndex)
        let first = lines[0]
        guard !first.isEmpty else { return .some(nil) }
        var fields: [(String, String)] = []
        fields.reserveCapacity(lines.count - 1)
        for line in lines.dropFirst() {
            guard let colonAt = head[line].firstIndex(of: colon) else { return .some(nil) }
            let name = head[line.lowerBound..<colonAt]
            guard !name.isEmpty, name.allSatisfy(isTokenByte) else { return .some(nil) }
            var valueStart = colonAt + 1, valueEnd = line.upperBound
            while valueStart < valueEnd, isSpace(head[valueStart]) { valueStart += 1 }
            while valueEnd > valueStart, isSpace(head[valueEnd - 1]) { valueEnd -= 1 }
            let value = head[valueStart..<valueEnd]
            guard !value.contains(where: forbidden) else { return .some(nil) }
            let lowerName = name.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 | 0x20 : $0 }
            fields.append((String(decoding: lowerName, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        }
        guard !head[first].contains(where: forbidden) else { return .some(nil) }
        return .some((String(decoding: head[first], as: UTF8.self), fields))
    }

    static func isTokenChar(_ c: Character) -> Bool {
        guard let a = c.asciiValue else { return false }
        return isTokenByte(a)
    }

    /// Whether `a` is an RFC 9110 token character: visible ASCII except the separators `()<>@,;:\"/[]?={}`.
    static func isTokenByte(_ a: UInt8) -> Bool {
        guard a > 32, a < 127 else { return false }
        switch a {
        case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "@"), UInt8(ascii: ","),
            UInt8(ascii: ";"), UInt8(ascii: ":"), UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "/"), UInt8(ascii: "["),
            UInt8(ascii: "]"), UInt8(ascii: "?"), UInt8(ascii: "="), UInt8(ascii: "{"), UInt8(ascii: "}"):
            return false
        default:
            return true
        }
    }

    /// Decodes %XX escapes (and `+` as space when `plusIsSpace`); nil on a bad escape or invalid UTF-8.
    static func percentDecode<S: StringProtocol>(_ s: S, plusIsSpace: Bool) -> String? {
        // Nothing to decode (the usual case): the text as it is.
        if !s.utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusIsSpace && $0 == UInt8(ascii: "+")) }) { return String(s) }
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
        if target.utf8.allSatisfy({ $0 < 0x80 }) { return parseASCIITarget(target) }
        return parseTargetAsText(target)
    }

    /// `parseTarget` for an all-ASCII target, split on bytes: there every character is one byte and the separators
    /// (`/`, `?`, `#`, `&`, `=`) are single characters, so the answer is the same.
    static func parseASCIITarget(_ target: String) -> (path: String, query: [String: String])? {
        let bytes = target.utf8
        guard bytes.first == UInt8(ascii: "/") else { return nil }
        let question = bytes.firstIndex(of: UInt8(ascii: "?"))
        let beforeQuery = bytes[..<(question ?? bytes.endIndex)]
        let rawPath = beforeQuery[..<(beforeQuery.firstIndex(of: UInt8(ascii: "#")) ?? beforeQuery.endIndex)]
        guard let path = percentDecode(Substring(rawPath), plusIsSpace: false) else { return nil }
        var query: [String: String] = [:]
        if let question {
            let afterQuery = bytes[bytes.index(after: question)...]
            let rawQuery = afterQuery[..<(afterQuery.firstIndex(of: UInt8(ascii: "#")) ?? afterQuery.endIndex)]
            for pair in rawQuery.split(separator: UInt8(ascii: "&")) {
                let equals = pair.firstIndex(of: UInt8(ascii: "="))
                guard let k = percentDecode(Substring(pair[..<(equals ?? pair.endIndex)]), plusIsSpace: true) else { return nil }
                let v: String?
                if let equals { v = percentDecode(Substring(pair[pair.index(after: equals)...]), plusIsSpace: true) } else { v = "" }
                guard let v else { return nil }
                query[k] = v
            }
        }
        return (path, query)
    }

    /// `parseTarget` on the target as text (any UTF-8).
    static func parseTargetAsText(_ target: String) -> (path: String, query: [String: String])? {
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
