import Foundation
import XCTest

@testable import CertChainNet

#if canImport(Glibc)
import Glibc
#endif

/// Toy keyed checksum standing in for real signatures (the transport does no crypto itself).
func toySign(secret: String, _ message: [UInt8]) -> [UInt8] {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in Array(secret.utf8) + [0] + message {
        h ^= UInt64(b)
        h = h &* 0x100_0000_01b3
    }
    return (0..<8).map { UInt8(truncatingIfNeeded: h >> (8 * $0)) }
}

func toyAuth(_ id: String, known: Set<String>, secretOverride: String? = nil) -> PeerAuthenticator {
    PeerAuthenticator(
        localId: id,
        sign: { toySign(secret: secretOverride ?? "key-\(id)", $0) },
        verify: { peer, msg, sig in toySign(secret: "key-\(peer)", msg) == sig },
        knownPeers: known)
}

/// Thread-safe message sink.
final class Inbox: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [(String, [UInt8])] = []
    func add(_ peer: String, _ payload: [UInt8]) {
        lock.lock()
        items.append((peer, payload))
        lock.unlock()
    }
    var all: [(String, [UInt8])] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
    var count: Int { all.count }
}

/// Polls `condition` every 10 ms for at most `seconds`.
func waitUntil(_ seconds: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = Date(timeIntervalSinceNow: seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

final class PeerTransportTests: XCTestCase {
    let ids: Set<String> = ["n0", "n1", "n2"]

    func makeNode(_ id: String, port: UInt16 = 0, known: Set<String>? = nil, secret: String? = nil, frameMax: Int = 1 << 16)
        throws -> (PeerTransport, Inbox)
    {
        let inbox = Inbox()
        let t = PeerTransport(
            listenHost: "127.0.0.1", listenPort: port, frameBytesMax: frameMax, sendQueueFramesMax: 1024,
            authenticator: toyAuth(id, known: known ?? ids, secretOverride: secret),
            onMessage: { inbox.add($0, $1) })
        try t.start()
        return (t, inbox)
    }

    func testThreeNodesExchangeAuthenticatedMessages() throws {
        let nodes = try ["n0", "n1", "n2"].map { try makeNode($0) }
        defer { nodes.forEach { $0.0.stop() } }
        let names = ["n0", "n1", "n2"]
        for (i, (t, _)) in nodes.enumerated() {
            for (j, (other, _)) in nodes.enumerated() where j != i {
                t.addPeer(id: names[j], host: "127.0.0.1", port: other.boundPort)
            }
        }
        XCTAssertTrue(waitUntil { nodes.allSatisfy { $0.0.connectedPeers().count == 2 } })
        XCTAssertEqual(nodes[0].0.connectedPeers(), ["n1", "n2"])
        for (i, (t, _)) in nodes.enumerated() {
            for k in 0..<20 { t.broadcast(Array("from \(names[i]) #\(k)".utf8)) }
        }
        XCTAssertTrue(waitUntil { nodes.allSatisfy { $0.1.count == 40 } })
        for (i, (_, inbox)) in nodes.enumerated() {
            let msgs = inbox.all
            for (peer, payload) in msgs {
                XCTAssertNotEqual(peer, names[i])
                XCTAssertTrue(String(decoding: payload, as: UTF8.self).hasPrefix("from \(peer) #"))
            }
            // Order per sender is preserved.
            for sender in names where sender != names[i] {
                let seq = msgs.filter { $0.0 == sender }.map { String(decoding: $0.1, as: UTF8.self) }
                XCTAssertEqual(seq, (0..<20).map { "from \(sender) #\($0)" })
            }
        }
        nodes[1].0.send(to: "n2", [1, 2, 3])
        XCTAssertTrue(waitUntil { nodes[2].1.all.contains { $0.0 == "n1" && $0.1 == [1, 2, 3] } })
        XCTAssertEqual(nodes[0].0.inboundPeers(), ["n1", "n2"])
    }

    func testBadSignatureRejected() throws {
        let (a, inboxA) = try makeNode("n0")
        defer { a.stop() }
        // n1 signs with the wrong key.
        let (b, _) = try makeNode("n1", secret: "not-n1-key")
        defer { b.stop() }
        b.addPeer(id: "n0", host: "127.0.0.1", port: a.boundPort)
        // Unknown id with a valid self-made signature.
        let (c, _) = try makeNode("mallory", known: ["n0"])
        defer { c.stop() }
        c.addPeer(id: "n0", host: "127.0.0.1", port: a.boundPort)
        usleep(500_000)
        for _ in 0..<10 {
            b.send(to: "n0", [9])
            c.send(to: "n0", [9])
        }
        usleep(200_000)
        XCTAssertEqual(b.connectedPeers(), [])
        XCTAssertEqual(c.connectedPeers(), [])
        XCTAssertEqual(inboxA.count, 0)
        XCTAssertEqual(a.inboundPeers(), [])
    }

    func testImpostorAcceptorNotTrusted() throws {
        // Something listens where n1 should be, but holds a different key.
        let (fake, _) = try makeNode("n1", secret: "stolen-port")
        defer { fake.stop() }
        let (a, _) = try makeNode("n0")
        defer { a.stop() }
        a.addPeer(id: "n1", host: "127.0.0.1", port: fake.boundPort)
        usleep(500_000)
        XCTAssertEqual(a.connectedPeers(), [])
    }

    /// Connects a raw socket to `port` and reads the 32-byte challenge frame.
    func rawConnect(_ port: UInt16) throws -> Int32 {
        let fd = try Sock.connect(host: "127.0.0.1", port: port, timeoutMs: 1000)
        var d = FrameDecoder(frameBytesMax: 64)
        let challenge = try Handshake.readFrame(fd, &d, deadlineMs: monotonicMs() + 2000)
        XCTAssertEqual(challenge.count, 32)
        return fd
    }

    /// True if the server closes `fd` within `seconds`.
    func closedByPeer(_ fd: Int32, seconds: Double = 3) -> Bool {
        var buf = [UInt8](repeating: 0, count: 1024)
        let deadline = monotonicMs() + Int64(seconds * 1000)
        while monotonicMs() < deadline {
            switch Sock.read(fd, into: &buf, timeoutMs: 100) {
            case .eof, .failed: return true
            case .data, .timeout: continue
            }
        }
        return false
    }

    func testGarbageAndOversizeClosedOthersUnaffected() throws {
        let (a, inboxA) = try makeNode("n0", frameMax: 1024)
        defer { a.stop() }
        let (b, _) = try makeNode("n1", frameMax: 1024)
        defer { b.stop() }
        b.addPeer(id: "n0", host: "127.0.0.1", port: a.boundPort)
        XCTAssertTrue(waitUntil { b.connectedPeers() == ["n0"] })

        // Garbage handshake.
        let g = try rawConnect(a.boundPort)
        defer { Sock.closeFd(g) }
        XCTAssertTrue(Sock.writeAll(g, FrameCodec.encode(Array("this is not a hello".utf8))))
        XCTAssertTrue(closedByPeer(g))

        // Oversized prefix during the handshake.
        let o = try rawConnect(a.boundPort)
        defer { Sock.closeFd(o) }
        XCTAssertTrue(Sock.writeAll(o, [0x7F, 0xFF, 0xFF, 0xFF, 1, 2, 3]))
        XCTAssertTrue(closedByPeer(o))

        // An authenticated peer that then sends an oversized frame gets closed.
        // Do the handshake as n2 by hand.
        let fd = try Sock.connect(host: "127.0.0.1", port: a.boundPort, timeoutMs: 1000)
        defer { Sock.closeFd(fd) }
        var d = FrameDecoder(frameBytesMax: 64)
        let challenge = try Handshake.readFrame(fd, &d, deadlineMs: monotonicMs() + 2000)
        let nonce = [UInt8](repeating: 1, count: 32)
        let hello = Handshake.encodeHello(id: "n2", nonce: nonce, signature: toySign(secret: "key-n2", challenge + Array("n0".utf8)))
        XCTAssertTrue(Sock.writeAll(fd, FrameCodec.encode(hello)))
        let ack = try Handshake.readFrame(fd, &d, deadlineMs: monotonicMs() + 2000)
        XCTAssertEqual(ack, toySign(secret: "key-n0", Handshake.ackDomain + nonce + Array("n2".utf8)))
        XCTAssertTrue(Sock.writeAll(fd, FrameCodec.encode([42])))
        XCTAssertTrue(waitUntil { inboxA.all.contains { $0.0 == "n2" && $0.1 == [42] } })
        XCTAssertTrue(Sock.writeAll(fd, [0, 0, 4, 1]))  // announces 1025 > 1024
        XCTAssertTrue(closedByPeer(fd))

        // n1 keeps working.
        b.send(to: "n0", [7, 7])
        XCTAssertTrue(waitUntil { inboxA.all.contains { $0.0 == "n1" && $0.1 == [7, 7] } })
        XCTAssertEqual(b.connectedPeers(), ["n0"])
    }

    func testReconnectAfterPeerRestart() throws {
        var (a, inboxA) = try makeNode("n0")
        let port = a.boundPort
        let (b, _) = try makeNode("n1")
        defer { b.stop() }
        b.addPeer(id: "n0", host: "127.0.0.1", port: port)
        XCTAssertTrue(waitUntil { b.connectedPeers() == ["n0"] })
        b.send(to: "n0", [1])
        XCTAssertTrue(waitUntil { inboxA.count == 1 })

        a.stop()
        XCTAssertTrue(waitUntil { b.connectedPeers().isEmpty })
        (a, inboxA) = try makeNode("n0", port: port)
        defer { a.stop() }
        XCTAssertTrue(waitUntil { b.connectedPeers() == ["n0"] })
        b.send(to: "n0", [2])
        XCTAssertTrue(waitUntil { inboxA.all.contains { $0.0 == "n1" && $0.1 == [2] } })
    }

    func testSendWhenDisconnectedIsDroppedWithoutBlocking() throws {
        let (a, _) = try makeNode("n0")
        defer { a.stop() }
        let start = Date()
        a.send(to: "nobody", [1])
        a.addPeer(id: "n1", host: "127.0.0.1", port: 1)  // nothing listens there
        for _ in 0..<1000 { a.send(to: "n1", [1]) }
        XCTAssertLessThan(Date().timeIntervalSince(start), 1)
        XCTAssertEqual(a.droppedFrameCount, 1001)
        XCTAssertEqual(a.connectedPeers(), [])
    }

    func testStopIsPrompt() throws {
        let nodes = try ["n0", "n1"].map { try makeNode($0) }
        nodes[0].0.addPeer(id: "n1", host: "127.0.0.1", port: nodes[1].0.boundPort)
        nodes[1].0.addPeer(id: "n0", host: "127.0.0.1", port: nodes[0].0.boundPort)
        XCTAssertTrue(waitUntil { nodes.allSatisfy { $0.0.connectedPeers().count == 1 } })
        let start = Date()
        nodes.forEach { $0.0.stop() }
        XCTAssertLessThan(Date().timeIntervalSince(start), 2)
    }

    func testSlowPeerQueueIsBoundedAndSendNeverBlocks() throws {
        // A fake n1 that completes the handshake, then never reads.
        let (listenFd, port) = try Sock.listen(host: "127.0.0.1", port: 0)
        defer { Sock.closeFd(listenFd) }
        let inbox = Inbox()
        let a = PeerTransport(
            listenHost: "127.0.0.1", listenPort: 0, frameBytesMax: 1 << 20, sendQueueFramesMax: 8,
            authenticator: toyAuth("n0", known: ids), onMessage: { inbox.add($0, $1) })
        try a.start()
        defer { a.stop() }
        a.addPeer(id: "n1", host: "127.0.0.1", port: port)
        guard let conn = Sock.accept(listenFd, timeoutMs: 3000) else { return XCTFail("no dial") }
        defer { Sock.closeFd(conn) }
        let challenge = [UInt8](repeating: 3, count: 32)
        XCTAssertTrue(Sock.writeAll(conn, FrameCodec.encode(challenge)))
        var d = FrameDecoder(frameBytesMax: 4096)
        let hello = try Handshake.readFrame(conn, &d, deadlineMs: monotonicMs() + 2000)
        guard let (id, nonce, sig) = Handshake.decodeHello(hello) else { return XCTFail("bad hello") }
        XCTAssertEqual(id, "n0")
        XCTAssertEqual(sig, toySign(secret: "key-n0", challenge + Array("n1".utf8)))
        let ack = toySign(secret: "key-n1", Handshake.ackDomain + nonce + Array("n0".utf8))
        XCTAssertTrue(Sock.writeAll(conn, FrameCodec.encode(ack)))
        XCTAssertTrue(waitUntil { a.connectedPeers() == ["n1"] })

        let start = Date()
        let payload = [UInt8](repeating: 0xAB, count: 64 << 10)
        for _ in 0..<2000 { a.send(to: "n1", payload) }
        XCTAssertLessThan(Date().timeIntervalSince(start), 2)
        XCTAssertGreaterThan(a.droppedFrameCount, 0)
    }

    func testHandshakeSlotsAreLimited() throws {
        let (a, _) = try makeNode("n0")
        defer { a.stop() }
        var fds: [Int32] = []
        defer { fds.forEach { Sock.closeFd($0) } }
        for _ in 0..<PeerTransport.handshakesInFlightMax { fds.append(try rawConnect(a.boundPort)) }
        // One more stranger is closed at once.
        let extra = try Sock.connect(host: "127.0.0.1", port: a.boundPort, timeoutMs: 1000)
        defer { Sock.closeFd(extra) }
        XCTAssertTrue(closedByPeer(extra, seconds: 2))
    }
}
