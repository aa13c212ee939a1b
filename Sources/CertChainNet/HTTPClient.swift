import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Minimal HTTP/1.1 client over one keep-alive connection; thread-safe (requests are serialized by a lock).
public final class HTTPClient: @unchecked Sendable {
    /// Largest response head accepted, in bytes.
    public static let headerBytesMax = 64 << 10
    /// Largest response body accepted, in bytes.
    public static let bodyBytesMax = 256 << 20

    /// Server host.
    public let host: String
    /// Server port.
    public let port: UInt16
    private let timeoutMs: Int64
    private let lock = NSLock()
    private var fd: Int32 = -1
    private var pending: [UInt8] = []
    /// Receive buffer, made on the first response and kept (requests are serialized by `lock`).
    private var scratch: [UInt8] = []

    /// Creates a client for `host:port`; each request must finish within `timeoutSeconds`.
    public init(host: String, port: UInt16, timeoutSeconds: Double = 10) {
        self.host = host
        self.port = port
        self.timeoutMs = Int64(max(0.001, timeoutSeconds) * 1000)
    }

    /// Creates a client from a base URL such as "http://127.0.0.1:8600" (port defaults to 80).
    public convenience init(url: String) throws {
        guard url.hasPrefix("http://") else { throw NetError.badAddress(url) }
        var rest = url.dropFirst("http://".count)
        if let slash = rest.firstIndex(of: "/") {
            guard rest[slash...].allSatisfy({ $0 == "/" }) else { throw NetError.badAddress(url) }
            rest = rest[..<slash]
        }
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, let h = parts.first, !h.isEmpty else { throw NetError.badAddress(url) }
        var p: UInt16 = 80
        if parts.count == 2 {
            guard let v = UInt16(parts[1]) else { throw NetError.badAddress(url) }
            p = v
        }
        self.init(host: String(h), port: p)
    }

    deinit {
        if fd >= 0 { Sock.closeFd(fd) }
    }

    /// How long one request may take, in seconds.
    public var timeoutSeconds: Double { Double(timeoutMs) / 1000 }

    /// A sentence for `request` (e.g. "GET /v1/status") to this server having timed out: what, where and how long.
    public func timeoutSentence(_ request: String) -> String {
        let seconds = timeoutSeconds.rounded() == timeoutSeconds ? String(Int(timeoutSeconds)) : String(timeoutSeconds)
        return "\(request) to http://\(host):\(port) timed out: no answer within \(seconds) s (the validator may be paused, overloaded "
            + "or stuck: see its node.log; `certchain testnet status --dir DIR` shows each validator's state)"
    }

    /// A sentence for no process listening at `server` (a base URL; nil: the address is unknown): the connection was refused.
    public static func refusedSentence(_ server: String?) -> String {
        "no validator answers at \(server ?? "the given address"): connection refused; is it running? "
            + "(`certchain testnet status --dir DIR` shows which validators run; `certchain testnet start --dir DIR` starts them)"
    }

    /// `refusedSentence` for this client's server.
    public var refusedSentence: String { Self.refusedSentence("http://\(host):\(port)") }

    /// Closes the kept-alive connection (the next request reconnects).
    public func close() {
        lock.lock()
        defer { lock.unlock() }
        dropConnection()
    }

    /// Sends a request and returns the response; reuses the connection and retries once on a fresh
    /// connection if a reused one turns out to be closed before any response byte arrived.
    public func request(_ method: String, _ path: String, body: [UInt8]? = nil, headers: [(String, String)] = []) throws
        -> HTTPResponse
    {
        lock.lock()
        defer { lock.unlock() }
        let bytes = try encodeRequest(method, path, body: body, headers: headers)
        let deadline = monotonicMs() + timeoutMs
        // At most two attempts.
        for attempt in 0..<2 {
            let reused = fd >= 0
            if !reused { try connect(deadline) }
            do {
                guard Sock.writeAll(fd, bytes) else { throw NetError.closed }
                var gotBytes = false
                let response = try readResponse(deadline, isHead: method == "HEAD", gotBytes: &gotBytes)
                if response.header("connection")?.lowercased() == "close" { dropConnection() }
                return response
            } catch NetError.closed where reused && attempt == 0 {
                dropConnection()
                continue
            } catch {
                dropConnection()
                throw error
            }
        }
        throw NetError.closed
    }

    private func dropConnection() {
        if fd >= 0 { Sock.closeFd(fd) }
        fd = -1
        pending = []
    }

    private func connect(_ deadline: Int64) throws {
        let left = deadline - monotonicMs()
        guard left > 0 else { throw NetError.timeout }
        fd = try Sock.connect(host: host, port: port, timeoutMs: Int32(min(left, 60_000)))
        pending = []
    }

    private func encodeRequest(_ method: String, _ path: String, body: [UInt8]?, headers: [(String, String)]) throws -> [UInt8] {
        guard !method.isEmpty, method.allSatisfy(HTTPParse.isTokenChar) else { throw NetError.protocolViolation("method") }
        guard path.hasPrefix("/"), !path.contains(where: { $0 == " " || $0 == "\r" || $0 == "\n" }) else {
            throw NetError.protocolViolation("path")
        }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\n"
        for (name, value) in headers {
            let lower = name.lowercased()
            if lower == "host" || lower == "content-length" { continue }
            guard !name.isEmpty, name.allSatisfy(HTTPParse.isTokenChar),
                !value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" })
            else { throw NetError.protocolViolation("header \(name)") }
            head += "\(name): \(value)\r\n"
        }
        if body != nil || method == "POST" || method == "PUT" || method == "PATCH" {
            head += "Content-Length: \(body?.count ?? 0)\r\n"
        }
        head += "\r\n"
        return Array(head.utf8) + (body ?? [])
    }

    /// Reads more bytes into `pending`; throws `closed` on EOF and `timeout` past the deadline.
    private func fill(_ deadline: Int64, _ scratch: inout [UInt8]) throws {
        // Bounded by the deadline.
        while true {
            let left = deadline - monotonicMs()
            if left <= 0 { throw NetError.timeout }
            switch Sock.read(fd, into: &scratch, timeoutMs: Int32(min(left, 1000))) {
            case .data(let n):
                pending.append(contentsOf: scratch[0..<n])
                return
            case .timeout: continue
            case .eof: throw NetError.closed
            case .failed: throw NetError.system("recv", errno)
            }
        }
    }

    private func readResponse(_ deadline: Int64, isHead: Bool, gotBytes: inout Bool) throws -> HTTPResponse {
        if scratch.isEmpty { scratch = [UInt8](repeating: 0, count: 64 << 10) }
        // Skips at most a few interim (1xx) responses.
        for _ in 0..<8 {
            var scanned = 0
            var end = HTTPParse.headEnd(pending, from: 0)
            while end == nil {
                if pending.count > Self.headerBytesMax { throw NetError.protocolViolation("response head too large") }
                scanned = max(0, pending.count - 3)
                do {
                    try fill(deadline, &scratch)
                } catch NetError.closed where gotBytes || !pending.isEmpty {
                    throw NetError.protocolViolation("connection closed mid-response")
                }
                gotBytes = true
                end = HTTPParse.headEnd(pending, from: scanned)
            }
            guard let headEnd = end, let (start, fields) = HTTPParse.splitHead(pending[0..<(headEnd - 4)]) else {
                throw NetError.protocolViolation("malformed response head")
            }
            pending.removeFirst(headEnd)
            let parts = start.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), parts[1].count == 3, let status = Int(parts[1]) else {
                throw NetError.protocolViolation("malformed status line")
            }
            if (100..<200).contains(status) { continue }
            let lengths = fields.filter { $0.0 == "content-length" }.map(\.1)
            guard let parsed = HTTPParse.contentLength(lengths) else { throw NetError.protocolViolation("Content-Length") }
            if fields.contains(where: { $0.0 == "transfer-encoding" }) {
                throw NetError.protocolViolation("chunked responses are not supported")
            }
            var body: [UInt8]
            if isHead || status == 204 || status == 304 {
                body = []
            } else if let length = parsed {
                guard length <= Self.bodyBytesMax else { throw NetError.protocolViolation("response body too large") }
                // Bounded by the deadline inside fill.
                while pending.count < length {
                    do { try fill(deadline, &scratch) } catch NetError.closed { throw NetError.protocolViolation("truncated body") }
                }
                body = Array(pending[0..<length])
                pending.removeFirst(length)
            } else {
                // Body delimited by connection close.
                // Bounded by the deadline and bodyBytesMax.
                while pending.count <= Self.bodyBytesMax {
                    do { try fill(deadline, &scratch) } catch NetError.closed { break }
                }
                guard pending.count <= Self.bodyBytesMax else { throw NetError.protocolViolation("response body too large") }
                body = pending
                dropConnection()
            }
            return HTTPResponse(status: status, headers: fields, body: body)
        }
        throw NetError.protocolViolation("too many interim responses")
    }
}
