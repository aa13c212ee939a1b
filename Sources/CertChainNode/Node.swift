import CertChainCrypto
import CertChainLedger
import CertChainModel
import CertChainNet
import CertChainStore
import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

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
    /// Deletes pruned consensus records behind the driver, in order (see `NodeCore.prune`).
    let pruneQueue = DispatchQueue(label: "certchain.node.prune", qos: .utility)
    var timer: DispatchSourceTimer?
    var transport: PeerTransport?
    var http: HTTPServer?
    /// At most 20 access-refusal log lines a second.
    let refusalLogLimiter = RateLimiter(perSecond: 20)
    /// Bearer tokens of browser sessions (docs/ACCESS.md).
    let sessions = SessionStore()
    /// Encoded certificate answers keyed by the state value they came from (AnswerCache.swift).
    let certificateAnswers = CertificateAnswerCache()
    /// HTTP answers by status class, for /metrics.
    let httpAnswers = ConcurrentSlots<Int>(count: 6)
    /// Peer messages waiting for the driver; beyond `driverBacklogMax` new ones are dropped (a flooding
    /// peer cannot grow memory without bound; PBFT repeats what matters).
    let backlogLock = NSLock()
    var driverBacklog = 0
    /// Admits each peer's forwarded transactions in the order that peer sent them, off its inbound thread: verifying
    /// them there (an SM2 verification each) held every consensus message from the same peer behind them.
    let gossipQueues: [DispatchQueue]
    /// Bounds each peer's transactions waiting for admission; the inbound thread waits when its peer's are all taken.
    let gossipSlots: [DispatchSemaphore]
    /// Forwarded transactions per peer waiting for admission at most.
    static let gossipBacklogMax = 4096
    /// Frames queued per peer connection; the oldest is dropped beyond it.
    static let peerQueueFramesMax = 4096
    /// Most peer messages queued for the driver at once.
    static let driverBacklogMax = 20_000

    /// What this start created in the data folder (a new database, new folders), removed again if the start fails.
    let created: DataFolder

    /// Opens (or creates) the node's database in `options.dataDirectory` and restores its state; on failure, a sentence
    /// and nothing left behind that this call created.
    public init(options: NodeOptions, logger: Logger) throws {
        let created = try DataFolder(options.dataDirectory)
        let store: ChainStore
        do {
            store = try ChainStore(path: created.databasePath)
        } catch let error as StoreError where created.newDatabase && [8, 14].contains(error.code & 0xff) {
            created.remove()
            throw NodeError("cannot create \(created.databasePath): the data folder is not writable (\(error.message))")
        } catch {
            created.remove()
            throw error
        }
        do {
            core = try NodeCore(options: options, storage: store, clock: { Clock.nowMs() }, logger: logger)
        } catch {
            store.close()
            created.remove()
            throw error
        }
        self.store = store
        self.created = created
        gossipQueues = options.genesis.validators.map { DispatchQueue(label: "certchain.node.gossip.\($0.id)") }
        gossipSlots = options.genesis.validators.map { _ in DispatchSemaphore(value: Self.gossipBacklogMax) }
        let pruneQueue = self.pruneQueue
        core.pruneExecutor = { work in pruneQueue.async(execute: work) }
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

    /// Starts the peer transport, the HTTP API and the driver timer; if that fails (a port in use, say), stops what
    /// started and removes the database and folders this start created.
    public func start() throws {
        do {
            try startServices()
        } catch {
            stop()
            created.remove()
            throw error
        }
    }

    func startServices() throws {
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
            let response = self.handle(request)
            self.countAnswer(status: response.status)
            return response
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

    /// Verifies off the driver queue; admits forwarded transactions on the peer's gossip queue, in the peer's order;
    /// queues the rest for the driver.
    func receive(from peerId: String, _ payload: [UInt8]) {
        guard let (peer, message) = core.decodeAndVerify(from: peerId, payload) else { return }
        if case .transaction(let bytes) = message {
            let slots = gossipSlots[peer]
            slots.wait()
            gossipQueues[peer].async { [core] in
                core.admitForwarded(bytes)
                slots.signal()
            }
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

    /// Counts one HTTP answer under its status class (1xx … 5xx) for /metrics.
    func countAnswer(status: Int) {
        let statusClass = min(max(status / 100, 1), 5)
        httpAnswers.update(statusClass) { ($0 ?? 0) + 1 }
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
        for gossipQueue in gossipQueues { gossipQueue.sync {} }
        pruneQueue.sync {}
        store.close()
    }
}

/// A validator's data folder as one start found it: which of the folder and its database this start creates.
struct DataFolder {
    /// The database file in the folder.
    let databasePath: String
    /// The outermost folder this start created (nil when the data folder existed).
    let createdFolder: String?
    /// True when the database did not exist before this start.
    let newDatabase: Bool

    /// Checks `path` (a folder, or nothing yet) and creates it with any missing parents; a sentence when it cannot be used.
    init(_ path: String) throws {
        let fileManager = FileManager.default
        databasePath = path + "/chain.sqlite"
        var isDirectory: ObjCBool = false
        // The outermost missing folder: what creating `path` adds, and what a failed start removes again.
        var outermostMissing: String?
        var existing = URL(fileURLWithPath: path).standardized
        while !fileManager.fileExists(atPath: existing.path, isDirectory: &isDirectory), existing.path != "/" {
            outermostMissing = existing.path
            existing.deleteLastPathComponent()
        }
        guard isDirectory.boolValue else {
            throw NodeError(existing.path == URL(fileURLWithPath: path).standardized.path
                ? "cannot use \(path) as the data folder: it is a file, not a folder (--data names a folder, new or holding chain.sqlite)"
                : "cannot create the data folder \(path): \(existing.path) is a file, not a folder")
        }
        if let outermostMissing {
            // One mkdir per missing folder, outermost first, so that a failure gives the system's reason.
            var missing: [String] = []
            var folder = URL(fileURLWithPath: path).standardized
            while folder.path != existing.path {
                missing.insert(folder.path, at: 0)
                folder.deleteLastPathComponent()
            }
            for folder in missing where mkdir(folder, 0o755) != 0 {
                let code = errno
                try? fileManager.removeItem(atPath: outermostMissing)
                throw NodeError("cannot create the data folder \(path): \(Self.reason(code))")
            }
        } else if access(path, W_OK) != 0 {
            throw NodeError("the data folder \(path) is not writable: \(Self.reason(errno))")
        }
        createdFolder = outermostMissing
        newDatabase = !fileManager.fileExists(atPath: databasePath)
    }

    /// `strerror` as part of a sentence: "permission denied".
    static func reason(_ code: Int32) -> String {
        let text = String(cString: strerror(code))
        return text.prefix(1).lowercased() + text.dropFirst()
    }

    /// Removes what this start created: the whole folder it made, or else a database it made (with its -wal and -shm).
    func remove() {
        if let createdFolder {
            try? FileManager.default.removeItem(atPath: createdFolder)
        } else if newDatabase {
            for suffix in ["", "-wal", "-shm", "-journal"] { try? FileManager.default.removeItem(atPath: databasePath + suffix) }
        }
    }
}
