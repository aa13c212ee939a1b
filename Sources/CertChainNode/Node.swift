import CertChainCrypto
import CertChainLedger
import CertChainModel
import CertChainNet
import CertChainStore
import Dispatch
import Foundation

/// One validator process: a `NodeCore` driven from one serial queue by a timer and the TCP peer
/// transport, its SQLite store, and the HTTP API.
///
/// Peer messages are decoded and their signatures checked on the transport's threads, then handed to
/// the driver queue; forwarded transactions are admitted right there. HTTP threads read the store
/// through its reader connections and the core's snapshot.
public final class Node: @unchecked Sendable {
    let core: NodeCore
    let store: ChainStore
    let queue = DispatchQueue(label: "certchain.node.driver")
    var timer: DispatchSourceTimer?
    var transport: PeerTransport?
    var http: HTTPServer?
    /// At most 20 access-refusal log lines a second.
    let refusalLogLimiter = RateLimiter(perSecond: 20)
    /// Bearer tokens of browser sessions (docs/ACCESS.md).
    let sessions = SessionStore()
    /// Encoded certificate answers keyed by the state value they came from (AnswerCache.swift).
    let certificateAnswers = CertificateAnswerCache()
    /// Peer messages waiting for the driver; beyond `driverBacklogMax` new ones are dropped (a flooding
    /// peer cannot grow memory without bound; PBFT repeats what matters).
    let backlogLock = NSLock()
    var driverBacklog = 0
    /// Frames queued per peer connection; the oldest is dropped beyond it.
    static let peerQueueFramesMax = 4096
    /// Most peer messages queued for the driver at once.
    static let driverBacklogMax = 20_000

    /// Opens (or creates) the node's database in `options.dataDirectory` and restores its state.
    public init(options: NodeOptions, logger: Logger) throws {
        try FileManager.default.createDirectory(atPath: options.dataDirectory, withIntermediateDirectories: true)
        store = try ChainStore(path: options.dataDirectory + "/chain.sqlite")
        core = try NodeCore(options: options, storage: store, clock: { Clock.nowMs() }, logger: logger)
    }

    var genesis: Genesis { core.genesis }
    var validators: [ValidatorInfo] { core.validators }
    var selfIndex: Int { core.selfIndex }
    var suite: SignatureSuite { core.suite }
    var hashAlgorithm: HashAlgorithm { core.hashAlgorithm }
    var mempool: Mempool { core.mempool }
    var snapshot: NodeSnapshot { core.snapshot }
    var log: Logger { core.log }
    var latestState: LatestStateCommitment { core.latestState }

    /// Starts the peer transport, the HTTP API and the driver timer.
    public func start() throws {
        let validators = core.validators
        let me = validators[core.selfIndex]
        let keys = Dictionary(uniqueKeysWithValues: zip(validators.map(\.id), core.validatorKeys))
        let nodeKey = core.options.nodeKey
        let authenticator = PeerAuthenticator(
            localId: me.id,
            sign: { message in (try? nodeKey.sign(message)) ?? [] },
            verify: { peer, message, signature in keys[peer]?.verify(signature: signature, message: message) ?? false },
            knownPeers: Set(validators.map(\.id)).subtracting([me.id]))
        let p2p = try HostPort(me.p2pAddress)
        let transport = PeerTransport(
            listenHost: p2p.host, listenPort: p2p.port, frameBytesMax: WireLimits.frameBytesMax,
            sendQueueFramesMax: Self.peerQueueFramesMax, authenticator: authenticator,
            greeting: { [core] _ in
                // A peer that (re)connects gets what is waiting here, oldest first, before any new gossip: a restarted
                // validator (perhaps the primary) would otherwise order later transactions before ones it never saw.
                core.mempool.oldest(countMax: Self.peerQueueFramesMax / 2).map { PeerMessage.transaction($0.encode()).encode() }
            },
            onMessage: { [weak self] peer, payload in self?.receive(from: peer, payload) })
        try transport.start()
        for (i, validator) in validators.enumerated() where i != core.selfIndex {
            let address = try HostPort(validator.p2pAddress)
            transport.addPeer(id: validator.id, host: address.host, port: address.port)
        }
        self.transport = transport
        core.network = transport
        let api = try HostPort(me.apiAddress)
        let server = HTTPServer(host: api.host, port: api.port, bodyBytesMax: APILimits.bodyBytesMax, handler: { [weak self] request in
            guard let self else { return .error(503, code: "stopping", message: "the node is stopping") }
            return self.handle(request)
        })
        try server.start()
        http = server
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now(), repeating: .milliseconds(core.options.tickMilliseconds))
        timer.setEventHandler { [weak self] in self?.core.tick() }
        timer.resume()
        self.timer = timer
        let snap = core.snapshot
        core.log.info("validator \(me.id) started: height \(snap.height), view \(snap.view), p2p \(me.p2pAddress), api http://\(me.apiAddress)")
    }

    /// Verifies off the driver queue; admits forwarded transactions here; queues the rest for the driver.
    func receive(from peerId: String, _ payload: [UInt8]) {
        guard let (peer, message) = core.decodeAndVerify(from: peerId, payload) else { return }
        if case .transaction(let bytes) = message {
            core.admitForwarded(bytes)
            return
        }
        let admitted = backlogLock.withLock {
            guard driverBacklog < Self.driverBacklogMax else { return false }
            driverBacklog += 1
            return true
        }
        guard admitted else { return }
        queue.async { [core, weak self] in
            self?.backlogLock.withLock { self?.driverBacklog -= 1 }
            core.handle(message, from: peer)
        }
    }

    /// Offers a client transaction (thread-safe).
    func admit(_ transaction: SignedTransaction) -> AdmissionResult { core.admit(transaction) }

    /// Stops the timer, network and API, and closes the database.
    public func stop() {
        queue.sync {
            core.halt()
            timer?.cancel()
            timer = nil
        }
        http?.stop()
        transport?.stop()
        store.close()
    }
}
