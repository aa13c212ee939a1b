import Foundation
import XCTest

@testable import CertChainNet

#if canImport(Glibc)
import Glibc
#endif

/// Thread-safe counter.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add(_ k: Int = 1) {
        lock.lock()
        n += k
        lock.unlock()
    }
    var value: Int {
        lock.lock()
        defer { lock.unlock() }
        return n
    }
}

final class HTTPTests: XCTestCase {
    /// Echo handler: describes the request as JSON-ish text.
    static func echo(_ r: HTTPRequest) -> HTTPResponse {
        if r.path == "/close" {
            return HTTPResponse(status: 200, headers: [("Content-Type", "text/plain"), ("Connection", "close")], body: Array("bye".utf8))
        }
        if r.path == "/missing" { return .error(404, code: "not-found", message: "no \"such\" thing") }
        let q = r.query.keys.sorted().map { "\($0)=\(r.query[$0]!)" }.joined(separator: "&")
        return .text(200, "\(r.method) \(r.path) ?\(q) body=\(String(decoding: r.body, as: UTF8.self))")
    }

    func makeServer(bodyBytesMax: Int = 1 << 20, connectionsMax: Int = 128, port: UInt16 = 0) throws -> HTTPServer {
        let s = HTTPServer(
            host: "127.0.0.1", port: port, bodyBytesMax: bodyBytesMax, headerBytesMax: 4096, connectionsMax: connectionsMax,
            handler: HTTPTests.echo)
        try s.start()
        return s
    }

    /// Writes `bytes` on a raw socket and reads until the server closes or `seconds` pass.
    func raw(_ port: UInt16, _ bytes: [UInt8], seconds: Double = 3) throws -> (String, closed: Bool) {
        let fd = try Sock.connect(host: "127.0.0.1", port: port, timeoutMs: 1000)
        defer { Sock.closeFd(fd) }
        _ = Sock.writeAll(fd, bytes)
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        let deadline = monotonicMs() + Int64(seconds * 1000)
        while monotonicMs() < deadline {
            switch Sock.read(fd, into: &buf, timeoutMs: 100) {
            case .data(let n): out += buf[0..<n]
            case .timeout: continue
            case .eof, .failed: return (String(decoding: out, as: UTF8.self), true)
            }
        }
        return (String(decoding: out, as: UTF8.self), false)
    }

    func testGetPostRoundTripKeepAlive() throws {
        let server = try makeServer()
        defer { server.stop() }
        let client = HTTPClient(host: "127.0.0.1", port: server.boundPort)
        for i in 0..<200 {
            let r = try client.request("GET", "/v1/status?i=\(i)")
            XCTAssertEqual(r.status, 200)
            XCTAssertEqual(r.bodyText, "GET /v1/status ?i=\(i) body=")
            XCTAssertEqual(r.header("Content-Type"), "text/plain; charset=utf-8")
            XCTAssertEqual(r.header("content-length"), "\(r.body.count)")
            let p = try client.request("POST", "/v1/transactions", body: Array("tx-\(i)".utf8), headers: [("Content-Type", "application/json")])
            XCTAssertEqual(p.bodyText, "POST /v1/transactions ? body=tx-\(i)")
        }
        XCTAssertEqual(server.acceptedConnectionCount, 1)
        let e = try client.request("GET", "/missing")
        XCTAssertEqual(e.status, 404)
        XCTAssertEqual(e.header("content-type"), "application/json")
        XCTAssertEqual(e.bodyText, #"{"error":"not-found","message":"no \"such\" thing"}"#)
    }

    func testPipelinedRequestsOnOneRawConnection() throws {
        let server = try makeServer()
        defer { server.stop() }
        var bytes: [UInt8] = []
        for i in 0..<5 { bytes += Array("GET /p\(i) HTTP/1.1\r\nHost: x\r\n\r\n".utf8) }
        bytes += Array("POST /last HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc".utf8)
        let (text, closed) = try raw(server.boundPort, bytes)
        XCTAssertTrue(closed)
        for i in 0..<5 { XCTAssertTrue(text.contains("GET /p\(i) ? body="), text) }
        XCTAssertTrue(text.contains("POST /last ? body=abc"))
        XCTAssertTrue(text.contains("Connection: close"))
    }

    func testOversizedContentLengthRejectedWithoutReadingBody() throws {
        let server = try makeServer(bodyBytesMax: 1024)
        defer { server.stop() }
        let start = Date()
        // Only the head is sent; the server must answer at once without waiting for 100 MB.
        let (text, closed) = try raw(server.boundPort, Array("POST /v1/transactions HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n".utf8))
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 413 "), text)
        XCTAssertTrue(text.contains(#""error":"body-too-large""#), text)
        XCTAssertTrue(text.contains("Content-Type: application/json"))
        XCTAssertTrue(closed)
        XCTAssertLessThan(Date().timeIntervalSince(start), 2.5)

        // Through the client too.
        let client = HTTPClient(host: "127.0.0.1", port: server.boundPort)
        let r = try client.request("POST", "/x", body: [UInt8](repeating: 1, count: 2000))
        XCTAssertEqual(r.status, 413)
        XCTAssertEqual(try client.request("POST", "/x", body: [1]).status, 200)
    }

    func testGarbageRequestLine() throws {
        let server = try makeServer()
        defer { server.stop() }
        for junk in ["GARBAGE\r\n\r\n", "GET\r\n\r\n", "GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n", "GET nopath HTTP/1.1\r\nHost: x\r\n\r\n",
                     "GET / HTTP/1.1\r\nno colon here\r\n\r\n", "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n",
                     "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\n"]
        {
            let (text, closed) = try raw(server.boundPort, Array(junk.utf8))
            XCTAssertTrue(text.hasPrefix("HTTP/1.1 400 "), "\(junk.debugDescription) -> \(text)")
            XCTAssertTrue(text.contains(#"{"error":"bad-request""#), text)
            XCTAssertTrue(closed)
        }
        let (bin, _) = try raw(server.boundPort, [0, 1, 2, 0xff, 0xfe, 13, 10, 13, 10])
        XCTAssertTrue(bin.hasPrefix("HTTP/1.1 400 "), bin)
        XCTAssertEqual(try HTTPClient(host: "127.0.0.1", port: server.boundPort).request("GET", "/ok").status, 200)
    }

    func testChunkedAndHeaderLimits() throws {
        let server = try makeServer()
        defer { server.stop() }
        let (chunked, _) = try raw(server.boundPort, Array("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n".utf8))
        XCTAssertTrue(chunked.hasPrefix("HTTP/1.1 411 "), chunked)
        XCTAssertTrue(chunked.contains(#""error":"length-required""#))

        var many = "GET / HTTP/1.1\r\nHost: x\r\n"
        for i in 0..<150 { many += "X-\(i): y\r\n" }
        let (tooMany, _) = try raw(server.boundPort, Array((many + "\r\n").utf8))
        XCTAssertTrue(tooMany.hasPrefix("HTTP/1.1 431 "), tooMany)

        let big = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "a", count: 10_000) + "\r\n\r\n"
        let (tooBig, closed) = try raw(server.boundPort, Array(big.utf8))
        XCTAssertTrue(tooBig.hasPrefix("HTTP/1.1 431 "), tooBig)
        XCTAssertTrue(closed)

        let (v2, _) = try raw(server.boundPort, Array("GET / HTTP/2.0\r\nHost: x\r\n\r\n".utf8))
        XCTAssertTrue(v2.hasPrefix("HTTP/1.1 505 "), v2)
    }

    func testPercentDecodedPathAndQuery() throws {
        let server = try makeServer()
        defer { server.stop() }
        let client = HTTPClient(host: "127.0.0.1", port: server.boundPort)
        let r = try client.request("GET", "/v1/certificates/A%20B%2F%E4%B8%AD?x=1%2B2&y=a+b&flag")
        XCTAssertEqual(r.bodyText, "GET /v1/certificates/A B/中 ?flag=&x=1+2&y=a b body=")
    }

    func testConnectionCloseAndClientReconnects() throws {
        let server = try makeServer()
        defer { server.stop() }
        let client = HTTPClient(host: "127.0.0.1", port: server.boundPort)
        XCTAssertEqual(try client.request("GET", "/close").bodyText, "bye")
        XCTAssertEqual(try client.request("GET", "/a").status, 200)
        XCTAssertEqual(server.acceptedConnectionCount, 2)
        // Server restarts on the same port: the kept-alive connection is dead, the client reconnects once.
        let port = server.boundPort
        server.stop()
        let again = try makeServer(port: port)
        defer { again.stop() }
        XCTAssertEqual(try client.request("GET", "/b").bodyText, "GET /b ? body=")
    }

    func testClientURLInit() throws {
        let c = try HTTPClient(url: "http://127.0.0.1:8600")
        XCTAssertEqual(c.host, "127.0.0.1")
        XCTAssertEqual(c.port, 8600)
        XCTAssertEqual(try HTTPClient(url: "http://localhost/").port, 80)
        XCTAssertThrowsError(try HTTPClient(url: "https://x:1"))
        XCTAssertThrowsError(try HTTPClient(url: "http://x:99999"))
    }

    func testConcurrentClients() throws {
        let served = Counter()
        let server = HTTPServer(host: "127.0.0.1", port: 0) { r in
            served.add()
            return .json(200, r.body)
        }
        try server.start()
        defer { server.stop() }
        let port = server.boundPort
        let failures = Counter()
        let shared = HTTPClient(host: "127.0.0.1", port: port)
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            let client = HTTPClient(host: "127.0.0.1", port: port)
            for i in 0..<50 {
                let body = Array("{\"t\":\(t),\"i\":\(i)}".utf8)
                let c = i % 5 == 0 ? shared : client
                guard let r = try? c.request("POST", "/echo", body: body), r.status == 200, r.body == body else {
                    failures.add()
                    continue
                }
            }
        }
        XCTAssertEqual(failures.value, 0)
        XCTAssertEqual(served.value, 400)
        XCTAssertLessThanOrEqual(server.acceptedConnectionCount, 9)
    }

    func testRandomInputNeverCrashes() throws {
        let server = try makeServer()
        defer { server.stop() }
        var rng = SystemRandomNumberGenerator()
        let pieces = ["GET ", "POST ", "/", "%", "%4", "?", "&", "=", " HTTP/1.1", "\r\n", "\r", "\n", ":", "Host: x",
                      "Content-Length: ", "99999999999999999999", "5", "\u{0}", "é", "Connection: close", "Expect: 100-continue"]
        for _ in 0..<100 {
            var s = ""
            for _ in 0..<Int.random(in: 1...30, using: &rng) { s += pieces.randomElement(using: &rng)! }
            s += "\r\n\r\n"
            _ = try raw(server.boundPort, Array(s.utf8), seconds: 0.3)
        }
        XCTAssertEqual(try HTTPClient(host: "127.0.0.1", port: server.boundPort).request("GET", "/alive").status, 200)
    }

    func testASCIIHeadParsingMatchesTextParsing() {
        // The byte-level path for ASCII heads must give exactly what the text path gives, malformed heads included.
        var rng = SystemRandomNumberGenerator()
        let pieces = ["GET / HTTP/1.1", "\r\n", "\r", "\n", ":", ": ", " ", "\t", "Host", "host: x", "X-Certchain-Identity",
                      "Content-Length: 5", "a", "Z", "\u{0}", "(", "/", "@", "=", "Bearer 0f", "\r\n\r", "\u{7f}", "~"]
        for _ in 0..<5000 {
            var s = ""
            for _ in 0..<Int.random(in: 1...24, using: &rng) { s += pieces.randomElement(using: &rng)! }
            let head = ArraySlice(Array(s.utf8))
            let fast = HTTPParse.splitASCIIHead(head)
            let text = HTTPParse.splitHeadAsText(head)
            XCTAssertTrue(fast != nil, "an ASCII head takes the byte path")
            XCTAssertEqual(fast??.start, text?.start, s.debugDescription)
            XCTAssertEqual(fast??.fields.map { "\($0.0)=\($0.1)" }, text?.fields.map { "\($0.0)=\($0.1)" }, s.debugDescription)
        }
        XCTAssertTrue(HTTPParse.splitASCIIHead(ArraySlice(Array("GET / HTTP/1.1\r\nX: é".utf8))).map { _ in false } ?? true, "non-ASCII goes the text way")
        XCTAssertEqual(HTTPParse.splitHead(ArraySlice(Array("GET / HTTP/1.1\r\nX: é".utf8)))?.fields.first?.1, "é")
        // The same for request targets.
        let targetPieces = ["/", "v1", "certificates", "?", "#", "&", "=", "%", "%4", "%41", "%zz", "+", "a", "%C3%A9", "%FF", "x=1", ""]
        for _ in 0..<5000 {
            var s = Bool.random(using: &rng) ? "/" : ""
            for _ in 0..<Int.random(in: 0...12, using: &rng) { s += targetPieces.randomElement(using: &rng)! }
            let fast = HTTPParse.parseASCIITarget(s), text = HTTPParse.parseTargetAsText(s)
            XCTAssertEqual(fast?.path, text?.path, s)
            XCTAssertEqual(fast?.query, text?.query, s)
        }
        XCTAssertEqual(HTTPParse.parseTarget("/a/é?q=é")?.query["q"], "é")
        XCTAssertTrue(HTTPParse.isTokenChar("a") && !HTTPParse.isTokenChar("(") && !HTTPParse.isTokenChar("é") && !HTTPParse.isTokenChar("\r\n"))
    }

    func testConnectionLimitEvictsWaitingConnectionsNotBusyOnes() throws {
        // Idle keep-alive connections hold every slot: a newcomer is still served, the longest-waiting one is closed.
        let server = try makeServer(connectionsMax: 2)
        defer { server.stop() }
        let a = HTTPClient(host: "127.0.0.1", port: server.boundPort)
        let b = HTTPClient(host: "127.0.0.1", port: server.boundPort)
        XCTAssertEqual(try a.request("GET", "/").status, 200)
        XCTAssertEqual(try b.request("GET", "/").status, 200)
        let (text, _) = try raw(server.boundPort, Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), seconds: 1)
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 200 "), text)
        XCTAssertEqual(server.evictedConnectionCount, 1)
        // A flood of connections that send nothing cannot lock a client out.
        var silent: [Int32] = []
        defer { for fd in silent { close(fd) } }
        for _ in 0..<10 { silent.append(try connectRaw(server.boundPort)) }
        XCTAssertTrue(waitUntil { (try? HTTPClient(host: "127.0.0.1", port: server.boundPort).request("GET", "/").status) == 200 })

        // Connections being answered are never cut: with both slots busy, a newcomer gets 503.
        let release = DispatchSemaphore(value: 0)
        let entered = DispatchSemaphore(value: 0)
        let busy = HTTPServer(host: "127.0.0.1", port: 0, connectionsMax: 2) { request in
            if request.path == "/block" {
                entered.signal()
                _ = release.wait(timeout: .now() + 10)
            }
            return .text(200, "ok")
        }
        try busy.start()
        defer { busy.stop() }
        for _ in 0..<2 {
            let port = busy.boundPort
            Thread.detachNewThread { _ = try? HTTPClient(host: "127.0.0.1", port: port, timeoutSeconds: 15).request("GET", "/block") }
            XCTAssertEqual(entered.wait(timeout: .now() + 5), .success)
        }
        let (refused, _) = try raw(busy.boundPort, Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), seconds: 1)
        XCTAssertTrue(refused.hasPrefix("HTTP/1.1 503 "), refused)
        release.signal()
        release.signal()
    }

    /// A connected socket that sends nothing.
    func connectRaw(_ port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw NSError(domain: "connect", code: Int(errno)) }
        return fd
    }

    func testSlowClientsAreTimedOut() throws {
        let server = HTTPServer(host: "127.0.0.1", port: 0, handler: HTTPTests.echo)
        server.idleTimeoutMsValue = 300
        server.headerTimeoutMsValue = 500
        server.bodyTimeoutMsValue = 500
        try server.start()
        defer { server.stop() }

        // Idle connection: closed silently.
        let start = Date()
        let (idle, idleClosed) = try raw(server.boundPort, [], seconds: 3)
        XCTAssertTrue(idleClosed)
        XCTAssertEqual(idle, "")
        XCTAssertLessThan(Date().timeIntervalSince(start), 2)

        // Slowloris: a header line every 100 ms never completes the head.
        let fd = try Sock.connect(host: "127.0.0.1", port: server.boundPort, timeoutMs: 1000)
        defer { Sock.closeFd(fd) }
        _ = Sock.writeAll(fd, Array("GET / HTTP/1.1\r\nHost: x\r\n".utf8))
        var got: [UInt8] = []
        var closed = false
        var buf = [UInt8](repeating: 0, count: 4096)
        for i in 0..<40 where !closed {
            _ = Sock.writeAll(fd, Array("X-\(i): y\r\n".utf8))
            switch Sock.read(fd, into: &buf, timeoutMs: 100) {
            case .data(let n): got += buf[0..<n]
            case .timeout: break
            case .eof, .failed: closed = true
            }
        }
        XCTAssertTrue(closed)
        XCTAssertTrue(String(decoding: got, as: UTF8.self).hasPrefix("HTTP/1.1 408 "))

        // Slow body.
        let (slowBody, bodyClosed) = try raw(server.boundPort, Array("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab".utf8))
        XCTAssertTrue(bodyClosed)
        XCTAssertTrue(slowBody.hasPrefix("HTTP/1.1 408 "), slowBody)
    }

    func testExpectContinue() throws {
        let server = try makeServer()
        defer { server.stop() }
        let fd = try Sock.connect(host: "127.0.0.1", port: server.boundPort, timeoutMs: 1000)
        defer { Sock.closeFd(fd) }
        _ = Sock.writeAll(fd, Array("POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n".utf8))
        var buf = [UInt8](repeating: 0, count: 4096)
        guard case .data(let n) = Sock.read(fd, into: &buf, timeoutMs: 2000) else { return XCTFail("no 100") }
        XCTAssertEqual(String(decoding: buf[0..<n], as: UTF8.self), "HTTP/1.1 100 Continue\r\n\r\n")
        _ = Sock.writeAll(fd, Array("hi".utf8))
        guard case .data(let m) = Sock.read(fd, into: &buf, timeoutMs: 2000) else { return XCTFail("no response") }
        XCTAssertTrue(String(decoding: buf[0..<m], as: UTF8.self).hasSuffix("POST /c ? body=hi"))
    }
}
