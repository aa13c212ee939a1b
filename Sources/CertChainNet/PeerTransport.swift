import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Host-provided peer authentication: the transport holds no keys and does no crypto itself.
public struct PeerAuthenticator: Sendable {
    /// This node's identity, sent in handshakes and signed over by peers.
    public var localId: String
    /// Signs a handshake message with this node's key.
    public var sign: @Sendable ([UInt8]) -> [UInt8]
    /// Verifies `signature` over `message` by the key of `peerId`.
    public var verify: @Sendable (_ peerId: String, _ message: [UInt8], _ signature: [UInt8]) -> Bool
    /// Identities allowed to connect.
    public var knownPeers: Set<String>

    /// Creates an authenticator from the host's identity, signing and verification closures.
    public init(
        localId: String, sign: @escaping @Sendable ([UInt8]) -> [UInt8],
        verify: @escaping @Sendable (_ peerId: String, _ message: [UInt8], _ signature: [UInt8]) -> Bool,
        knownPeers: Set<String>
    ) {
        self.localId = localId
        self.sign = sign
        self.verify = verify
        self.knownPeers = knownPeers
    }
}

/// Handshake wire format (all inside length-prefixed frames):
///
/// 1. acceptor → dialer: `challenge` (32 random bytes)
/// 2. dialer → acceptor: `u16be idLen | dialerId UTF-8 | nonce (32 bytes) | sign(challenge || acceptorId UTF-8)`
/// 3. acceptor → dialer: `sign("certchain-net/ack" || nonce || dialerId UTF-8)` — the acceptor proves its
///    identity too (mutual authentication), so a dialer never sends consensus traffic to an impostor.
///
/// After step 3, the dialer's frames flow one way (dialer → acceptor) and are delivered with the
/// authenticated id. The acceptor sends nothing more; anything the dialer reads afterwards closes it.
enum Handshake {
    static let challengeBytes = 32
    static let frameBytesMax = 8 << 10
    static let timeoutMs: Int64 = 5000
    static let ackDomain = Array("certchain-net/ack".utf8)

    static func random(_ count: Int) -> [UInt8] {
        var g = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &g) }
    }

    static func encodeHello(id: String, nonce: [UInt8], signature: [UInt8]) -> [UInt8] {
        let idBytes = Array(id.utf8)
        precondition(idBytes.count <= Int(UInt16.max), "peer id too long")
        return [UInt8(idBytes.count >> 8), UInt8(idBytes.count & 0xff)] + idBytes + nonce + signature
    }

    static func decodeHello(_ b: [UInt8]) -> (id: String, nonce: [UInt8], signature: [UInt8])? {
        guard b.count >= 2 else { return nil }
        let idLen = Int(b[0]) << 8 | Int(b[1])
        guard idLen > 0, b.count >= 2 + idLen + challengeBytes else { return nil }
        guard let id = String(validating: b[2..<(2 + idLen)], as: UTF8.self) else { return nil }
        let nonce = Array(b[(2 + idLen)..<(2 + idLen + challengeBytes)])
        let sig = Array(b[(2 + idLen + challengeBytes)...])
        return (id, nonce, sig)
    }

    /// Reads one frame before `deadline`, or throws.
    static func readFrame(_ fd: Int32, _ decoder: inout FrameDecoder, deadlineMs: Int64) throws -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: 4096)
        // Bounded by the deadline.
        while true {
            if let f = try decoder.nextFrame() { return f }
            let left = deadlineMs - monotonicMs()
            if left <= 0 { throw NetError.timeout }
            switch Sock.read(fd, into: &buf, timeoutMs: Int32(min(left, 200))) {
            case .data(let n): decoder.append(buf[0..<n])
            case .timeout: continue
            case .eof: throw NetError.closed
            case .failed: throw NetError.system("recv", errno)
            }
        }
    }
}

/// One outbound (dialed) connection to a peer, with its bounded send queue.
final class OutboundPeer: @unchecked Sendable {
    let id: String
    let host: String
    let port: UInt16
    let cond = NSCondition()
    var queue: [[UInt8]] = []
    var connected = false
    var stopped = false
    var fd: Int32 = -1

    init(id: String, host: String, port: UInt16) {
        self.id = id
        self.host = host
        self.port = port
    }

    func stop() {
        cond.lock()
        stopped = true
        if fd >= 0 { Sock.shutdownBoth(fd) }
        cond.broadcast()
        cond.unlock()
    }

    var isStopped: Bool {
        cond.lock()
        defer { cond.unlock() }
        return stopped
    }

    /// Sleeps up to `ms` or until stopped.
    func pause(ms: Int) {
        cond.lock()
        let until = Date(timeIntervalSinceNow: Double(ms) / 1000)
        if !stopped { _ = cond.wait(until: until) }
        cond.unlock()
    }
}

/// Authenticated TCP transport between consensus peers: one outbound connection per peer for
/// sending, inbound connections for receiving, length-prefixed frames, bounded queues.
public final class PeerTransport: @unchecked Sendable {
    /// Largest number of simultaneous inbound connections; extra ones are closed at once.
    public static let inboundConnectionsMax = 64
    /// Largest number of inbound connections still in their handshake, so strangers cannot take every slot.
    public static let handshakesInFlightMax = 16
    /// Reconnect backoff lower bound, in milliseconds.
    public static let backoffMsMin = 50
    /// Reconnect backoff upper bound, in milliseconds.
    public static let backoffMsMax = 1000

    private let listenHost: String
    private let listenPort: UInt16
    private let frameBytesMax: Int
    private let sendQueueFramesMax: Int
    private let auth: PeerAuthenticator
    private let onMessage: @Sendable (String, [UInt8]) -> Void
    /// Payloads to send first on every new outbound connection (e.g. the transactions a restarted peer missed).
    private let greeting: @Sendable (_ peerId: String) -> [[UInt8]]

    private let lock = NSLock()
    private var running = false
    private var stopped = false
    private var listenFd: Int32 = -1
    private var port: UInt16 = 0
    private var outbound: [String: OutboundPeer] = [:]
    private var inbound: [Int32: String?] = [:]  // fd -> authenticated id (nil during handshake)
    private var droppedFrames = 0
    private let threads = DispatchGroup()

    /// Creates a transport; call `start()` to listen and `addPeer` to dial.
    public init(
        listenHost: String, listenPort: UInt16, frameBytesMax: Int, sendQueueFramesMax: Int,
        authenticator: PeerAuthenticator,
        greeting: @escaping @Sendable (_ peerId: String) -> [[UInt8]] = { _ in [] },
        onMessage: @escaping @Sendable (_ peerId: String, _ payload: [UInt8]) -> Void
    ) {
        precondition(frameBytesMax > 0 && sendQueueFramesMax > 0, "limits must be positive")
        self.listenHost = listenHost
        self.listenPort = listenPort
        self.frameBytesMax = frameBytesMax
        self.sendQueueFramesMax = sendQueueFramesMax
        self.auth = authenticator
        self.onMessage = onMessage
        self.greeting = greeting
    }

    deinit {
        stop()
    }

    /// Binds the listening socket and accepts inbound peers on a background thread.
    public func start() throws {
        lock.lock()
        defer { lock.unlock() }
        guard !running, !stopped else { return }
        let (fd, bound) = try Sock.listen(host: listenHost, port: listenPort)
        listenFd = fd
        port = bound
        running = true
        spawnThread(threads, name: "peer-accept") { [self] in acceptLoop(fd) }
    }

    /// The port actually bound (useful when listening on port 0).
    public var boundPort: UInt16 {
        lock.lock()
        defer { lock.unlock() }
        return port
    }

    /// Frames dropped because a queue was full, the peer was unknown/disconnected, or a frame was too large.
    public var droppedFrameCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return droppedFrames
    }

    /// Keeps an outbound connection to `id` up, reconnecting with capped backoff (50 ms .. 1 s).
    public func addPeer(id: String, host: String, port: UInt16) {
        lock.lock()
        guard !stopped, outbound[id] == nil else {
            lock.unlock()
            return
        }
        let peer = OutboundPeer(id: id, host: host, port: port)
        outbound[id] = peer
        lock.unlock()
        spawnThread(threads, name: "peer-dial-\(id)") { [self] in dialLoop(peer) }
    }

    /// Enqueues `payload` for `peerId` without blocking; dropped if not connected, oversized,
    /// or (dropping the oldest queued frame) when the queue is full.
    public func send(to peerId: String, _ payload: [UInt8]) {
        lock.lock()
        let peer = outbound[peerId]
        lock.unlock()
        guard let peer, payload.count <= frameBytesMax else {
            noteDrop()
            return
        }
        enqueue(peer, FrameCodec.encode(payload))
    }

    /// Sends `payload` to every added peer.
    public func broadcast(_ payload: [UInt8]) {
        lock.lock()
        let peers = Array(outbound.values)
        lock.unlock()
        guard payload.count <= frameBytesMax else {
            noteDrop()
            return
        }
        let frame = FrameCodec.encode(payload)
        for peer in peers { enqueue(peer, frame) }
    }

    /// Ids of peers whose outbound connection is authenticated and up, sorted.
    public func connectedPeers() -> [String] {
        lock.lock()
        let peers = Array(outbound.values)
        lock.unlock()
        return peers.filter { p in
            p.cond.lock()
            defer { p.cond.unlock() }
            return p.connected
        }.map(\.id).sorted()
    }

    /// Ids of peers with an authenticated inbound connection, sorted.
    public func inboundPeers() -> [String] {
        lock.lock()
        defer { lock.unlock() }
        return Set(inbound.values.compactMap { $0 }).sorted()
    }

    /// Closes every socket and waits (up to 5 s) for the background threads to end.
    public func stop() {
        lock.lock()
        stopped = true
        running = false
        if listenFd >= 0 { Sock.shutdownBoth(listenFd) }
        for fd in inbound.keys { Sock.shutdownBoth(fd) }
        let peers = Array(outbound.values)
        lock.unlock()
        for p in peers { p.stop() }
        _ = threads.wait(timeout: .now() + 5)
    }

    // MARK: - internals

    private var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        return running
    }

    private func noteDrop() {
        lock.lock()
        droppedFrames += 1
        lock.unlock()
    }

    private func enqueue(_ peer: OutboundPeer, _ frame: [UInt8]) {
        peer.cond.lock()
        var dropped = false
        if !peer.connected || peer.stopped {
            dropped = true
        } else {
            if peer.queue.count >= sendQueueFramesMax {
                peer.queue.removeFirst()
                dropped = true
            }
            peer.queue.append(frame)
            peer.cond.signal()
        }
        peer.cond.unlock()
        if dropped { noteDrop() }
    }

    private func acceptLoop(_ fd: Int32) {
        defer {
            lock.lock()
            listenFd = -1
            lock.unlock()
            Sock.closeFd(fd)
        }
        // Bounded by `running`; stop() also shuts the socket down.
        while isRunning {
            guard let conn = Sock.accept(fd, timeoutMs: 200) else { continue }
            lock.lock()
            let handshaking = inbound.values.filter { $0 == nil }.count
            let admit = running && inbound.count < Self.inboundConnectionsMax && handshaking < Self.handshakesInFlightMax
            if admit { inbound[conn] = .some(nil) }
            lock.unlock()
            guard admit else {
                Sock.closeFd(conn)
                continue
            }
            Sock.configure(conn, sendTimeoutMs: 5000)
            spawnThread(threads, name: "peer-in") { [self] in inboundLoop(conn) }
        }
    }

    private func inboundLoop(_ fd: Int32) {
        defer {
            lock.lock()
            inbound[fd] = nil
            lock.unlock()
            Sock.closeFd(fd)
        }
        guard let peerId = acceptHandshake(fd) else { return }
        lock.lock()
        // A restarted peer replaces its older inbound connection.
        for (other, id) in inbound where other != fd && id == peerId { Sock.shutdownBoth(other) }
        inbound[fd] = .some(peerId)
        lock.unlock()

        var decoder = FrameDecoder(frameBytesMax: frameBytesMax)
        var buf = [UInt8](repeating: 0, count: 64 << 10)
        // Bounded by `running`; stop() shuts the socket down.
        while isRunning {
            switch Sock.read(fd, into: &buf, timeoutMs: 200) {
            case .timeout: continue
            case .eof, .failed: return
            case .data(let n):
                decoder.append(buf[0..<n])
                do {
                    // Bounded: each frame consumes buffered bytes.
                    while let frame = try decoder.nextFrame() { onMessage(peerId, frame) }
                } catch {
                    return
                }
            }
        }
    }

    /// Runs the acceptor side of the handshake; returns the authenticated peer id or nil.
    private func acceptHandshake(_ fd: Int32) -> String? {
        let deadline = monotonicMs() + Handshake.timeoutMs
        let challenge = Handshake.random(Handshake.challengeBytes)
        guard Sock.writeAll(fd, FrameCodec.encode(challenge)) else { return nil }
        var decoder = FrameDecoder(frameBytesMax: Handshake.frameBytesMax)
        guard let hello = try? Handshake.readFrame(fd, &decoder, deadlineMs: deadline),
            let (id, nonce, sig) = Handshake.decodeHello(hello),
            decoder.bufferedBytes == 0,
            auth.knownPeers.contains(id),
            auth.verify(id, challenge + Array(auth.localId.utf8), sig)
        else { return nil }
        let ack = auth.sign(Handshake.ackDomain + nonce + Array(id.utf8))
        guard Sock.writeAll(fd, FrameCodec.encode(ack)) else { return nil }
        return id
    }

    /// Runs the dialer side of the handshake; throws unless the acceptor proved it is `peer.id`.
    private func dialHandshake(_ fd: Int32, _ peer: OutboundPeer) throws {
        let deadline = monotonicMs() + Handshake.timeoutMs
        var decoder = FrameDecoder(frameBytesMax: Handshake.frameBytesMax)
        let challenge = try Handshake.readFrame(fd, &decoder, deadlineMs: deadline)
        guard challenge.count == Handshake.challengeBytes else { throw NetError.protocolViolation("challenge") }
        let nonce = Handshake.random(Handshake.challengeBytes)
        let sig = auth.sign(challenge + Array(peer.id.utf8))
        let hello = Handshake.encodeHello(id: auth.localId, nonce: nonce, signature: sig)
        guard Sock.writeAll(fd, FrameCodec.encode(hello)) else { throw NetError.closed }
        let ack = try Handshake.readFrame(fd, &decoder, deadlineMs: deadline)
        guard auth.verify(peer.id, Handshake.ackDomain + nonce + Array(auth.localId.utf8), ack) else {
            throw NetError.protocolViolation("acceptor signature")
        }
    }

    private func dialLoop(_ peer: OutboundPeer) {
        var backoffMs = Self.backoffMsMin
        // Bounded by `peer.stopped`, set by stop().
        while !peer.isStopped {
            if let fd = try? Sock.connect(host: peer.host, port: peer.port, timeoutMs: 1000) {
                peer.cond.lock()
                let ok = !peer.stopped
                if ok { peer.fd = fd }
                peer.cond.unlock()
                guard ok else {
                    Sock.closeFd(fd)
                    return
                }
                if (try? dialHandshake(fd, peer)) != nil {
                    backoffMs = Self.backoffMsMin
                    peer.cond.lock()
                    // The greeting is taken while no other frame can be queued, so it goes out before anything sent
                    // after it (a frame both in the greeting and broadcast again is a harmless duplicate).
                    let first = greeting(peer.id).filter { $0.count <= frameBytesMax }.suffix(sendQueueFramesMax)
                    peer.queue = first.map { FrameCodec.encode($0) }
                    peer.connected = true
                    peer.cond.signal()
                    peer.cond.unlock()
                    sendLoop(fd, peer)
                }
                peer.cond.lock()
                peer.connected = false
                peer.queue.removeAll()
                peer.fd = -1
                Sock.closeFd(fd)
                peer.cond.unlock()
            }
            peer.pause(ms: backoffMs)
            backoffMs = min(backoffMs * 2, Self.backoffMsMax)
        }
    }

    /// Writes queued frames until the connection fails or the peer is stopped.
    private func sendLoop(_ fd: Int32, _ peer: OutboundPeer) {
        var scratch = [UInt8](repeating: 0, count: 256)
        // Bounded by `peer.stopped`.
        while true {
            peer.cond.lock()
            if peer.queue.isEmpty && !peer.stopped {
                _ = peer.cond.wait(until: Date(timeIntervalSinceNow: 0.2))
            }
            if peer.stopped {
                peer.cond.unlock()
                return
            }
            let frames = peer.queue
            peer.queue.removeAll(keepingCapacity: true)
            peer.cond.unlock()

            if frames.isEmpty {
                // The acceptor never sends after the ack: readable means closed or misbehaving.
                if Sock.pollIn(fd, timeoutMs: 0) {
                    _ = Sock.read(fd, into: &scratch, timeoutMs: 0)
                    return
                }
                continue
            }
            var batch = [UInt8]()
            batch.reserveCapacity(frames.reduce(0) { $0 + $1.count })
            for f in frames { batch.append(contentsOf: f) }
            guard Sock.writeAll(fd, batch) else { return }
        }
    }
}
