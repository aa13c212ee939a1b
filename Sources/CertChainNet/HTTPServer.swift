import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Minimal HTTP/1.1 server: a thread per connection, keep-alive, Content-Length bodies, bounded everything.
public final class HTTPServer: @unchecked Sendable {
    /// Largest number of header fields per request (more → 431).
    public static let headerFieldsMax = 100
    /// Time a keep-alive connection may sit idle between requests, in milliseconds.
    public static let idleTimeoutMs: Int64 = 30_000
    /// Time allowed to receive a whole request head once its first byte arrived, in milliseconds.
    public static let headerTimeoutMs: Int64 = 10_000
    /// Time allowed to receive a whole request body once the head arrived, in milliseconds.
    public static let bodyTimeoutMs: Int64 = 30_000
    /// Requests served on one connection before it is closed.
    public static let requestsPerConnectionMax = 100_000

    private let host: String
    private let port: UInt16
    private let bodyBytesMax: Int
    private let headerBytesMax: Int
    private let connectionsMax: Int
    private let handler: @Sendable (HTTPRequest) -> HTTPResponse

    /// Timeouts in force (the static defaults; tests shorten them before `start()`).
    var idleTimeoutMsValue = HTTPServer.idleTimeoutMs
    var headerTimeoutMsValue = HTTPServer.headerTimeoutMs
    var bodyTimeoutMsValue = HTTPServer.bodyTimeoutMs

    private let lock = NSLock()
    private var running = false
    private var stopped = false
    private var bound: UInt16 = 0
    private var listenFd: Int32 = -1
    private var connections: Set<Int32> = []
    /// Connections waiting for (the rest of) a request, with the monotonic time they started waiting; the others
    /// are being answered. When every slot is taken, the longest-waiting one is closed to admit a newcomer, so
    /// idle or trickling connections cannot lock clients out (requests being answered are never cut).
    private var waitingSinceMs: [Int32: Int64] = [:]
    private var accepted = 0
    private var evicted = 0
    private let threads = DispatchGroup()

    /// Creates a server; call `start()` to bind and serve.
    public init(
        host: String, port: UInt16, bodyBytesMax: Int = 1 << 20, headerBytesMax: Int = 16 << 10,
        connectionsMax: Int = 128, handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse
    ) {
        precondition(bodyBytesMax >= 0 && headerBytesMax > 0 && connectionsMax > 0, "limits must be positive")
        self.host = host
        self.port = port
        self.bodyBytesMax = bodyBytesMax
        self.headerBytesMax = headerBytesMax
        self.connectionsMax = connectionsMax
        self.handler = handler
    }

    deinit {
        stop()
    }

    /// Binds the listening socket and serves connections on background threads.
    public func start() throws {
        lock.lock()
        defer { lock.unlock() }
        guard !running, !stopped else { return }
        let (fd, p) = try Sock.listen(host: host, port: port)
        listenFd = fd
        bound = p
        running = true
        spawnThread(threads, name: "http-accept") { [self] in acceptLoop(fd) }
    }

    /// The port actually bound (useful when listening on port 0).
    public var boundPort: UInt16 {
        lock.lock()
        defer { lock.unlock() }
        return bound
    }

    /// Closes the listener and all connections, waiting (up to 5 s) for their threads.
    public func stop() {
        lock.lock()
        stopped = true
        running = false
        if listenFd >= 0 { Sock.shutdownBoth(listenFd) }
        for fd in connections { Sock.shutdownBoth(fd) }
        lock.unlock()
        _ = threads.wait(timeout: .now() + 5)
    }

    /// Connections accepted so far (for tests and metrics).
    public var acceptedConnectionCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return accepted
    }

    /// Waiting connections closed to admit newcomers while every slot was taken (for tests and metrics).
    public var evictedConnectionCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return evicted
    }

    private var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        return running
    }

    private func acceptLoop(_ fd: Int32) {
        defer {
            lock.lock()
            listenFd = -1
            lock.unlock()
            Sock.closeFd(fd)
        }
        // Bounded by `running`; stop() shuts the socket down.
        while isRunning {
            guard let conn = Sock.accept(fd, timeoutMs: 200) else { continue }
            Sock.configure(conn, sendTimeoutMs: 5000)
            lock.lock()
            var admit = running && connections.count < connectionsMax
            if running && !admit, let victim = waitingSinceMs.min(by: { $0.value < $1.value })?.key {
                // Full: close the connection that has waited longest (its thread sees EOF and frees the slot).
                waitingSinceMs[victim] = nil
                _ = Glibc.shutdown(victim, Int32(SHUT_RDWR))
                evicted += 1
                admit = true
            }
            if admit { connections.insert(conn) }
            accepted += 1
            lock.unlock()
            guard admit else {
                _ = Sock.writeAll(conn, serialize(.error(503, code: "unavailable", message: "too many connections"), close: true))
                Sock.closeFd(conn)
                continue
            }
            spawnThread(threads, name: "http-conn") { [self] in serveConnection(conn) }
        }
    }

    /// Outcome of reading one request.
    private enum Next {
        case request(HTTPRequest, keepAlive: Bool)
        case reply(HTTPResponse)  // protocol error: reply, then close
        case close  // idle timeout, EOF, or stop
    }

    /// Marks `fd` as waiting for a request (evictable when the server is full) or as being answered.
    private func setWaiting(_ fd: Int32, _ waiting: Bool) {
        lock.lock()
        waitingSinceMs[fd] = waiting ? monotonicMs() : nil
        lock.unlock()
    }

    private func serveConnection(_ fd: Int32) {
        defer {
            lock.lock()
            connections.remove(fd)
            waitingSinceMs[fd] = nil
            lock.unlock()
            Sock.closeFd(fd)
        }
        var pending: [UInt8] = []
        // Receive buffers, allocated once per connection (the body one only when a body must be read).
        var buffers = ReadBuffers()
        var served = 0
        // Bounded by requestsPerConnectionMax and by `running`.
        while served < Self.requestsPerConnectionMax && isRunning {
            served += 1
            setWaiting(fd, true)
            let next = readRequest(fd, &pending, &buffers)
            setWaiting(fd, false)
            switch next {
            case .close:
                return
            case .reply(let response):
                if Sock.writeAll(fd, serialize(response, close: true)) { lingerClose(fd) }
                return
            case .request(let request, let keepAlive):
                let response = handler(request)
                let close = !keepAlive || response.header("connection")?.lowercased() == "close" || !isRunning
                guard Sock.writeAll(fd, serialize(response, close: close, headOnly: request.method == "HEAD")) else { return }
                if close {
                    lingerClose(fd)
                    return
                }
            }
        }
    }

    /// Half-closes and discards (bounded) whatever the client still sends, so the response is not lost to a reset.
    private func lingerClose(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
        var scratch = [UInt8](repeating: 0, count: 16 << 10)
        let deadline = monotonicMs() + 500
        var discarded = 0
        // Bounded by time and bytes.
        while monotonicMs() < deadline && discarded < 1 << 20 {
            switch Sock.read(fd, into: &scratch, timeoutMs: 100) {
            case .data(let n): discarded += n
            case .timeout: continue
            case .eof, .failed: return
            }
        }
    }

    /// A connection's receive buffers: 16 KiB for request heads, 64 KiB for bodies (made on first use).
    private struct ReadBuffers {
        var head = [UInt8](repeating: 0, count: 16 << 10)
        var body: [UInt8] = []
    }

    private func readRequest(_ fd: Int32, _ pending: inout [UInt8], _ buffers: inout ReadBuffers) -> Next {
        var scanned = 0
        var headDeadline: Int64 = pending.isEmpty ? Int64.max : monotonicMs() + headerTimeoutMsValue
        let idleDeadline = monotonicMs() + idleTimeoutMsValue
        var headEnd: Int? = HTTPParse.headEnd(pending, from: 0)
        // Bounded by the idle and header deadlines.
        while headEnd == nil {
            if pending.count > headerBytesMax {
                return .reply(.error(431, code: "header-too-large", message: "request head exceeds \(headerBytesMax) bytes"))
            }
            let now = monotonicMs()
            let deadline = pending.isEmpty ? idleDeadline : headDeadline
            if now >= deadline {
                return pending.isEmpty ? .close : .reply(.error(408, code: "timeout", message: "request head not received in time"))
            }
            guard isRunning else { return .close }
            switch Sock.read(fd, into: &buffers.head, timeoutMs: Int32(min(deadline - now, 200))) {
            case .timeout: continue
            case .eof, .failed: return .close
            case .data(let n):
                if pending.isEmpty { headDeadline = monotonicMs() + headerTimeoutMsValue }
                scanned = max(0, pending.count - 3)
                pending.append(contentsOf: buffers.head[0..<n])
                headEnd = HTTPParse.headEnd(pending, from: scanned)
            }
        }
        guard let end = headEnd else { return .close }
        if end - 4 > headerBytesMax {
            return .reply(.error(431, code: "header-too-large", message: "request head exceeds \(headerBytesMax) bytes"))
        }
        let head = pending[0..<(end - 4)]
        pending.removeFirst(end)
        return parseAndReadBody(fd, head, &pending, &buffers)
    }

    private func parseAndReadBody(_ fd: Int32, _ head: ArraySlice<UInt8>, _ pending: inout [UInt8], _ buffers: inout ReadBuffers) -> Next {
        func bad(_ message: String) -> Next { .reply(.error(400, code: "bad-request", message: message)) }
        guard let (start, fields) = HTTPParse.splitHead(head) else { return bad("malformed request head") }
        if fields.count > Self.headerFieldsMax {
            return .reply(.error(431, code: "header-too-large", message: "more than \(Self.headerFieldsMax) header fields"))
        }
        // An ASCII request line (the usual case) is split on bytes: the same parts, without grapheme breaking.
        let parts = start.utf8.allSatisfy({ $0 < 0x80 })
            ? start.utf8.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false).map { Substring($0) }
            : start.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy(HTTPParse.isTokenChar) else {
            return bad("malformed request line")
        }
        let method = String(parts[0])
        let version = parts[2]
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else {
            if version.hasPrefix("HTTP/") && version.count == 8 {
                return .reply(.error(505, code: "http-version", message: "only HTTP/1.0 and HTTP/1.1 are supported"))
            }
            return bad("malformed request line")
        }
        guard let (path, query) = HTTPParse.parseTarget(String(parts[1])) else { return bad("malformed request target") }

        var headers: [String: String] = [:]
        var lengths: [String] = []
        for (name, value) in fields {
            if name == "content-length" { lengths.append(value) }
            if let old = headers[name] { headers[name] = old + ", " + value } else { headers[name] = value }
        }
        if version == "HTTP/1.1" && headers["host"] == nil { return bad("missing Host header") }
        if headers["transfer-encoding"] != nil {
            return .reply(.error(411, code: "length-required", message: "only Content-Length bodies are supported"))
        }
        guard let parsedLength = HTTPParse.contentLength(lengths) else { return bad("invalid Content-Length") }
        let length = parsedLength ?? 0
        if length > bodyBytesMax {
            return .reply(.error(413, code: "body-too-large", message: "body exceeds \(bodyBytesMax) bytes"))
        }
        let connection = headers["connection"]?.lowercased() ?? ""
        let keepAlive = version == "HTTP/1.1" ? !(!connection.isEmpty && connection.contains("close")) : connection.contains("keep-alive")

        if length > pending.count, headers["expect"]?.lowercased() == "100-continue" {
            guard Sock.writeAll(fd, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) else { return .close }
        }
        if pending.count < length && buffers.body.isEmpty { buffers.body = [UInt8](repeating: 0, count: 64 << 10) }
        let deadline = monotonicMs() + bodyTimeoutMsValue
        // Bounded by the body deadline.
        while pending.count < length {
            let now = monotonicMs()
            if now >= deadline { return .reply(.error(408, code: "timeout", message: "request body not received in time")) }
            guard isRunning else { return .close }
            switch Sock.read(fd, into: &buffers.body, timeoutMs: Int32(min(deadline - now, 200))) {
            case .timeout: continue
            case .eof, .failed: return .close
            case .data(let n): pending.append(contentsOf: buffers.body[0..<n])
            }
        }
        let body = Array(pending[0..<length])
        pending.removeFirst(length)
        return .request(HTTPRequest(method: method, path: path, query: query, headers: headers, body: body), keepAlive: keepAlive)
    }

    /// Serializes a response with Content-Length, Content-Type and Connection headers (head and body in one buffer).
    private func serialize(_ r: HTTPResponse, close: Bool, headOnly: Bool = false) -> [UInt8] {
        let status = (100...999).contains(r.status) ? r.status : 500
        var out: [UInt8] = []
        out.reserveCapacity(160 + r.headers.count * 64 + (headOnly ? 0 : r.body.count))
        out += "HTTP/1.1 \(status) \(reasonPhrase(status))\r\n".utf8
        var hasType = false
        for (name, value) in r.headers {
            let lower = name.lowercased()
            if lower == "content-length" || lower == "connection" || lower == "transfer-encoding" { continue }
            // Never let a handler inject header lines.
            guard !name.isEmpty, name.utf8.allSatisfy(HTTPParse.isTokenByte),
                !value.utf8.contains(where: { $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") })
            else { continue }
            if lower == "content-type" { hasType = true }
            out += name.utf8
            out += ": ".utf8
            out += value.utf8
            out += "\r\n".utf8
        }
        if !hasType { out += "Content-Type: application/octet-stream\r\n".utf8 }
        out += "Content-Length: \(r.body.count)\r\n".utf8
        out += (close ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n").utf8
        if !headOnly { out += r.body }
        return out
    }
}
