import CertChainCrypto
import CertChainLedger
import CertChainModel
import CertChainNet
import CertChainStore
import Dispatch
import Foundation
import PBFT

/// How to run one validator node.
public struct NodeOptions: Sendable {
    /// The network's genesis (validators, organizations, rules).
    public var genesis: Genesis
    /// This node's validator id in genesis (e.g. "node0").
    public var validatorId: String
    /// The node's consensus signing key (its public half is in genesis).
    public var nodeKey: PrivateKey
    /// Folder for the SQLite database.
    public var dataDirectory: String
    /// Driver tick period.
    public var tickMilliseconds: Int = 10
    /// Most verified transactions waiting to be ordered.
    public var mempoolCapacity: Int = 200_000

    /// Options with defaults for the tunables.
    public init(genesis: Genesis, validatorId: String, nodeKey: PrivateKey, dataDirectory: String) {
        self.genesis = genesis
        self.validatorId = validatorId
        self.nodeKey = nodeKey
        self.dataDirectory = dataDirectory
    }
}

/// Failure to start a node; the message says what to fix.
public struct NodeError: Error, CustomStringConvertible {
    /// What went wrong.
    public let description: String
    init(_ description: String) { self.description = description }
}

/// What HTTP threads may read about the driver's progress without touching its state.
struct NodeSnapshot: Sendable {
    var height: UInt64 = 0
    var lastBlockHash: [UInt8] = []
    var view: UInt64 = 0
    var primary: Int = 0
    var committedTransactions: UInt64 = 0
    var syncedBlocks: UInt64 = 0
    /// Wall-clock time (ms since 1970) this process last saw the height move; 0 before the first block.
    var lastCommitWallMs: Int64 = 0
}

/// Result of offering a transaction to a node.
public enum AdmissionResult: Sendable {
    /// Queued (or already known): its id and `pending` or `committed`.
    case accepted(id: [UInt8], status: String)
    /// Refused with an HTTP status, a stable error code and a message.
    case refused(status: Int, code: String, message: String)
}

/// A block this node executed (as primary, as a validating backup, or when syncing), not yet committed.
struct ExecutedBlock {
    var block: Block
    var hash: [UInt8]
    var transactionIds: [[UInt8]]
    var execution: BlockExecution
    /// The receipts' canonical bytes (hashed into the header's receipt root, then stored), encoded once.
    var receiptBytes: [[UInt8]]
    /// The block's canonical bytes once encoded (the primary's proposal payload), so the store does not encode it again.
    var blockBytes: [UInt8]? = nil
}

/// Where the node driver keeps blocks, receipts, state and its consensus log: SQLite (`ChainStore`) on a
/// real node, memory in the simulator. Every write is durable when the call returns.
public protocol NodeStorage: AnyObject, Sendable {
    /// Height and hash of the last stored block.
    func lastBlock() throws -> (height: UInt64, hash: [UInt8])?
    /// Encoded block at `height`.
    func blockBytes(height: UInt64) throws -> [UInt8]?
    /// Encoded commit certificate of the block at `height`.
    func certificateBytes(height: UInt64) throws -> [UInt8]?
    /// Where a committed transaction is.
    func transactionLocation(hash: [UInt8]) throws -> (height: UInt64, index: Int)?
    /// Encoded receipt of a committed transaction.
    func receiptBytes(txHash: [UInt8]) throws -> [UInt8]?
    /// One state value.
    func stateValue(key: String) throws -> [UInt8]?
    /// The state tree entries (key, value hash) of one bucket, sorted by key bytes.
    func stateBucketEntries(_ bucket: Int) throws -> [(key: String, valueHash: [UInt8])]
    /// Every state tree entry, ordered by bucket then key bytes.
    func forEachStateBucketEntry(_ body: (_ bucket: Int, _ key: String, _ valueHash: [UInt8]) -> Void) throws
    /// Block, certificate, receipts, state changes, the state tree's bucket entries and secondary index rows
    /// (docs/ACCESS.md), atomically.
    func commitBlock(
        _ block: ChainStore.StoredBlock, stateChanges: [(key: String, value: [UInt8]?)], bucketChanges: [(bucket: Int, key: String, valueHash: [UInt8]?)],
        indexEntries: [(key: String, value: [UInt8])]) throws
    /// Secondary index rows whose key starts with `keyPrefix`, after `after`, sorted by key.
    func indexEntries(keyPrefix: String, after: String?, limit: Int) throws -> [(key: String, value: [UInt8])]
    /// Durable consensus-log records (persist before send).
    func putConsensusRecords(_ records: [(key: String, value: [UInt8])]) throws
    /// Every consensus-log record.
    func consensusRecords() throws -> [(key: String, value: [UInt8])]
    /// Removes consensus-log records.
    func deleteConsensusRecords(keys: [String]) throws
    /// A metadata value.
    func meta(key: String) throws -> [UInt8]?
    /// Stores a metadata value.
    func putMeta(key: String, value: [UInt8]) throws
}

extension ChainStore: NodeStorage {}

/// Where the node driver sends peer messages: the TCP transport, or the simulator's network.
public protocol PeerNetwork: AnyObject, Sendable {
    /// Sends to one validator by id (dropped if unreachable).
    func send(to peerId: String, _ payload: [UInt8])
    /// Sends to every other validator.
    func broadcast(_ payload: [UInt8])
}

extension PeerTransport: PeerNetwork {}

/// Reads ledger state from a `NodeStorage` (for API threads and admission).
struct StorageStateReader: StateReader {
    let storage: NodeStorage
    func value(forKey key: String) -> [UInt8]? { (try? storage.stateValue(key: key)) ?? nil }
}

/// The validator's driver without I/O of its own: PBFT replica, ledger, mempool, block building,
/// validation, commit and state transfer. The caller serializes `tick`/`handle` (one queue or one
/// simulator thread); `admit`, `decodeAndVerify` and `snapshot` are safe from any thread.
/// Ordering inside: persist → send → apply.
public final class NodeCore: @unchecked Sendable {
    let options: NodeOptions
    let genesis: Genesis
    let suite: SignatureSuite
    let hashAlgorithm: HashAlgorithm
    let validators: [ValidatorInfo]
    let selfIndex: Int
    let validatorKeys: [PublicKey]
    let store: NodeStorage
    /// Writes synced blocks (see `applySynced`), one at a time, in order.
    let syncWriter = DispatchQueue(label: "certchain.sync-writer")
    let mempool: Mempool
    let keyCache = SignerKeyCache()
    /// Transactions whose signatures were verified here (each is verified once per validator).
    let verified = VerifiedTransactions()
    let log: Logger
    let clock: @Sendable () -> Int64
    /// Where peer messages go; set before the first tick.
    public var network: PeerNetwork?
    /// Called after each block is durably committed (height, block hash); the simulator's checkers use it.
    public var onCommit: (@Sendable (_ height: UInt64, _ blockHash: [UInt8]) -> Void)?
    /// Runs consensus-log pruning off the driver, in order (a real node's serial queue); nil: at once, in `pump`
    /// (the simulator, which must stay deterministic).
    public var pruneExecutor: (@Sendable (@escaping @Sendable () -> Void) -> Void)?

    // Driver state (queue only).
    var ledger: Ledger
    var replica: Replica
    var height: UInt64 = 0
    var lastHash: [UInt8]
    var lastTimestampMs: Int64 = 0
    /// Blocks executed on top of the committed state but not committed yet, in height order (height+1, height+2, …):
    /// proposed by this node as primary or validated as a backup. Several may be in flight at once.
    var inFlight: [ExecutedBlock] = []
    /// This node's commit-certificate signature per height, with the block hash it covers (a later view may commit
    /// a different block at the same height).
    var ownCommitSignatures: [UInt64: (blockHash: [UInt8], signature: [UInt8])] = [:]
    var lastProposalMs: Int64 = 0
    var lastStatusBroadcastMs: Int64 = 0
    /// Signed consensus messages this node sent for sequences not yet committed, re-sent while progress stalls
    /// (PBFT assumes messages eventually arrive; a lossy network needs the sender to repeat itself).
    var unconfirmedSent: [(sequence: UInt64, to: Int?, payload: [UInt8])] = []
    var lastProgressMs: Int64 = 0
    var lastRetransmitMs: Int64 = 0
    var lastRegossipCheckMs: Int64 = 0
    /// The oldest waiting transaction at the last re-gossip check.
    var oldestWaitingId: [UInt8]?
    /// Most transactions passed on again per re-gossip check.
    static let regossipTransactionsMax = 256
    /// When this primary last sent its NEW-VIEW to a validator that reported an older view.
    var newViewResentMs: [Int: Int64] = [:]
    /// At most one NEW-VIEW per lagging validator per this many milliseconds.
    static let newViewResendMs: Int64 = 2_000
    /// How long without a commit before this node repeats its uncommitted consensus messages.
    static let retransmitAfterMs: Int64 = 250
    /// A proposal's timestamp may lag the validator's clock by at most this many times the allowed skew.
    static let proposalAgeMaxFactor: Int64 = 12
    /// Most consensus messages kept for repeating.
    static let unconfirmedSentMax = 256
    var peerHeights: [Int: UInt64] = [:]
    var syncRequest: (peer: Int, deadlineMs: Int64)?
    var syncPeerRotation = 0
    var stopped = false

    // Shared with other threads.
    let snapshotLock = NSLock()
    var snapshotValue = NodeSnapshot()
    /// The state tree at the latest committed block, for state proofs on HTTP threads.
    let latestState = LatestStateCommitment()
    /// Signalled when the committed height changes or the node halts: wakes HTTP threads in `waitForHeight`.
    let heightChanged = NSCondition()
    /// Set (under `heightChanged`) when the node halts, so that no waiter outlives it.
    var haltedForWaiters = false

    /// Restores ledger and consensus state from `storage` (empty storage: a node at genesis).
    public init(options: NodeOptions, storage: NodeStorage, clock: @escaping @Sendable () -> Int64, logger: Logger) throws {
        self.options = options
        self.clock = clock
        self.store = storage
        self.genesis = options.genesis
        self.log = logger
        suite = genesis.suite
        hashAlgorithm = suite.hashAlgorithm
        validators = genesis.validators
        guard let index = validators.firstIndex(where: { $0.id == options.validatorId }) else {
            throw NodeError("validator \(options.validatorId) is not in genesis (validators: \(validators.map(\.id).joined(separator: ", ")))")
        }
        selfIndex = index
        let suite = options.genesis.suite
        validatorKeys = try options.genesis.validators.map { try PublicKey(suite: suite, hex: $0.publicKey) }
        guard validatorKeys[index] == options.nodeKey.publicKey else {
            throw NodeError("the node key does not match validator \(options.validatorId)'s public key in genesis")
        }
        let genesisHash = genesis.hash()
        if let stored = try store.meta(key: "genesisHash") {
            guard stored == genesisHash else {
                throw NodeError("the data folder \(options.dataDirectory) belongs to another chain (genesis hash \(Hex.encode(stored)))")
            }
        } else {
            try store.putMeta(key: "genesisHash", value: genesisHash)
        }
        mempool = Mempool(capacity: options.mempoolCapacity)
        ledger = Ledger(genesis: genesis, state: try StoreCommittedState(storage: storage))
        lastHash = genesisHash
        if let last = try store.lastBlock() {
            height = last.height
            lastHash = last.hash
            guard let bytes = try store.blockBytes(height: last.height) else { throw NodeError("block \(last.height) missing from the store") }
            let header = try Block.decode(bytes).header
            lastTimestampMs = header.timestampMs
            guard header.stateRoot == ledger.stateRoot else {
                throw NodeError("restored state root does not match block \(last.height)'s header: the database is inconsistent")
            }
        }
        let records = try store.consensusRecords().map { try ConsensusCodec.decodeRecord($0.value) }
        let config = PBFTConfig(
            replicaCount: validators.count, selfIndex: index,
            requestTimeoutTicks: max(1, genesis.consensus.requestTimeoutMs / options.tickMilliseconds),
            windowSize: UInt64(max(1, genesis.consensus.blocksInFlightMax)),
            checkpointInterval: UInt64(max(1, genesis.consensus.checkpointInterval)),
            timeoutTicksMax: max(1, genesis.consensus.viewTimeoutMaxMs / options.tickMilliseconds))
        replica = Replica(config: config, lastCommittedSequence: height, restoring: records)
        publishSnapshot()
    }

    // MARK: - Snapshot

    /// Height of the last committed block. Thread-safe.
    public var committedHeight: UInt64 { snapshot.height }
    /// Current PBFT view. Thread-safe.
    public var currentView: UInt64 { snapshot.view }
    /// Index of the validator this node takes for the primary. Thread-safe.
    public var currentPrimary: Int { snapshot.primary }

    /// Progress as last published by the driver. Thread-safe.
    var snapshot: NodeSnapshot { snapshotLock.withLock { snapshotValue } }

    /// One line of consensus state for diagnosing a stalled replica (simulator failures print it).
    public var consensusDiagnostics: String {
        "view \(replica.view) active \(replica.isViewActive) primary node\(replica.primary) committed \(replica.lastCommittedSequence) "
            + "next \(replica.nextProposalSequence) canPropose \(replica.canPropose) low \(replica.lowWatermark) high \(replica.highWatermark) "
            + "height \(height) inFlight \(inFlight.count) mempool \(mempool.count) unproposed \(mempool.hasUnproposed) "
            + "viewChanges \(replica.viewChangesStarted) rejectedNewViews \(replica.rejectedNewViews) timeoutTicks \(replica.viewChangeTimeoutTicks) "
            + "pending \(replica.hasPendingRequests)"
    }

    /// Stops acting on ticks and messages (the caller then stops its I/O).
    public func halt() {
        stopped = true
        heightChanged.withLock {
            haltedForWaiters = true
            heightChanged.broadcast()
        }
    }

    /// Waits until block `target` is committed here, the node halts, or `timeoutMs` passes; true when it is committed.
    /// Thread-safe (HTTP threads: a client waiting for its block instead of asking again every few milliseconds).
    public func waitForHeight(_ target: UInt64, timeoutMs: Int) -> Bool {
        let deadline = Date(timeIntervalSinceNow: Double(timeoutMs) / 1000)
        return heightChanged.withLock {
            // Bounded by the deadline: every wake-up re-checks it.
            while snapshot.height < target {
                if haltedForWaiters || !heightChanged.wait(until: deadline) { break }
            }
            return snapshot.height >= target
        }
    }

    func publishSnapshot(committed: Int = 0, synced: Int = 0) {
        let view = replica.view
        let primary = replica.primary
        if height > 0 { latestState.publish(height: height, state: ledger.stateSnapshot) }
        let heightMoved = snapshotLock.withLock {
            let moved = snapshotValue.height != height
            snapshotValue.height = height
            snapshotValue.lastBlockHash = lastHash
            snapshotValue.view = view
            snapshotValue.primary = primary
            snapshotValue.committedTransactions += UInt64(committed)
            snapshotValue.syncedBlocks += UInt64(synced)
            // Wall clock, not the driver's clock: an operator's alert compares it with the time of day.
            if moved { snapshotValue.lastCommitWallMs = Int64(Date().timeIntervalSince1970 * 1000) }
            return moved
        }
        if heightMoved { heightChanged.withLock { heightChanged.broadcast() } }
    }

    // MARK: - Driver

    /// Advances timers: proposes when primary, re-sends status, retries state transfer.
    public func tick() {
        guard !stopped else { return }
        let now = clock()
        if mempool.count > 0 { replica.noteRequestPending() }
        replica.tick()
        if snapshot.view != replica.view || snapshot.primary != replica.primary { publishSnapshot() }
        proposeIfReady(now: now)
        pump()
        retransmitIfStalled(now: now)
        regossipIfStuck(now: now)
        if now - lastStatusBroadcastMs >= 250 {
            lastStatusBroadcastMs = now
            network?.broadcast(PeerMessage.status(height: height, view: replica.view).encode())
        }
        if let request = syncRequest, now > request.deadlineMs {
            log.warn("block request to \(validators[request.peer].id) timed out")
            syncRequest = nil
        }
        requestBlocksIfBehind(now: now)
    }

    /// Processes everything the replica wants done: persist, send, apply commits, validate proposals.
    func pump() {
        for _ in 0..<64 {
            let ready = replica.ready()
            if ready.isEmpty { return }
            if !ready.persist.isEmpty {
                do {
                    try store.putConsensusRecords(ready.persist.map { ($0.key, ConsensusCodec.encode($0)) })
                } catch {
                    // Without durable votes we must not send them: stop rather than risk equivocation.
                    log.error("cannot persist consensus records: \(error); stopping")
                    fatalError("cannot persist consensus records: \(error)")
                }
            }
            if !ready.deletableRecordKeys.isEmpty {
                // Only what the replica says it no longer needs (prepared certificates back view changes).
                prune(ready.deletableRecordKeys)
            }
            for outbound in ready.messages { send(outbound) }
            for entry in ready.committed { applyCommitted(entry) }
            if let stable = ready.stableCheckpoint, stable.sequence > height {
                // A quorum has executed past us: fetch the blocks.
                log.info("stable checkpoint \(stable.sequence) is ahead of height \(height); requesting blocks")
                requestBlocksIfBehind(now: clock(), atLeast: stable.sequence)
            }
            replica.advance(ready)
            for request in ready.validations {
                let valid = validateProposal(request)
                replica.validated(view: request.view, sequence: request.sequence, digest: request.digest, valid: valid)
            }
        }
    }

    /// Deletes consensus records the replica no longer needs: here and now, or through `pruneExecutor` in chunks
    /// (a stable checkpoint frees the records of a whole checkpoint interval, blocks included: deleting them in
    /// one transaction held up consensus for 300–600 ms at every checkpoint). Deleting late is safe: the keys
    /// belong to sequences below the stable checkpoint or to views left for good, never written again, and a
    /// restart after a crash ignores such records as it always has (the delete always came after the persist).
    func prune(_ keys: [String]) {
        guard let pruneExecutor else {
            do { try store.deleteConsensusRecords(keys: keys) } catch { log.warn("cannot prune the consensus log: \(error)") }
            return
        }
        let (store, log) = (self.store, self.log)
        for start in stride(from: 0, to: keys.count, by: Self.pruneChunkKeys) {
            let chunk = Array(keys[start..<min(start + Self.pruneChunkKeys, keys.count)])
            pruneExecutor {
                do { try store.deleteConsensusRecords(keys: chunk) } catch { log.warn("cannot prune the consensus log: \(error)") }
            }
        }
    }

    /// Keys deleted per transaction when pruning in the background (each holds the writer for a few milliseconds).
    static let pruneChunkKeys = 8

    func send(_ outbound: Outbound) {
        var message = outbound.message
        let nodeKey = options.nodeKey
        let domain = voteSigningDomain
        guard let signedMessage = try? message.signed(by: selfIndex, replicaCount: validators.count, using: { try nodeKey.sign(domain + $0) })
        else {
            log.error("cannot sign a consensus message")
            return
        }
        message = signedMessage
        if case .commit(var commit) = message {
            let blockHash = commit.digest.isEmpty ? nullBlock(sequence: commit.sequence, view: commit.view)?.hash : commit.digest
            guard let blockHash else {
                log.warn("cannot sign the commit of null sequence \(commit.sequence): its parent is unknown here")
                return
            }
            commit.certificateSignature = commitSignature(height: commit.sequence, blockHash: blockHash)
            message = .commit(commit)
        }
        guard let signature = try? Self.envelopeSignature(message, using: options.nodeKey, chainId: genesis.chainId) else {
            log.error("cannot sign a consensus message")
            return
        }
        let payload = PeerMessage.consensus(.init(message: message, signature: signature)).encode()
        transmit(to: outbound.to, payload)
        if unconfirmedSent.count < Self.unconfirmedSentMax {
            unconfirmedSent.append((message.sequence, outbound.to, payload))
        }
    }

    func transmit(to: Int?, _ payload: [UInt8]) {
        if let to {
            network?.send(to: validators[to].id, payload)
        } else {
            network?.broadcast(payload)
        }
    }

    /// Every request timeout, on a backup: if the oldest waiting transaction is the one seen at the last check, its
    /// gossip may have been lost (a peer's send queue overflowed, or a peer refused it before it knew the signer) and
    /// the primary may never see it; the oldest waiting transactions go to every peer again, oldest first (duplicates
    /// cost a peer one lookup). Without this a transaction only this node holds waits forever. A primary proposes
    /// what it holds and needs no one else to have it.
    func regossipIfStuck(now: Int64) {
        guard now - lastRegossipCheckMs >= Int64(genesis.consensus.requestTimeoutMs) else { return }
        lastRegossipCheckMs = now
        let oldest = replica.isPrimary ? [] : mempool.oldest(countMax: Self.regossipTransactionsMax)
        let head = oldest.first.map { $0.id(hashAlgorithm) }
        defer { oldestWaitingId = head }
        guard let head, head == oldestWaitingId else { return }
        log.info("the oldest of \(mempool.count) waiting transactions has waited a whole request timeout: passing \(oldest.count) on again")
        for transaction in oldest { network?.broadcast(PeerMessage.transaction(transaction.encode()).encode()) }
    }

    /// Repeats this node's consensus messages for uncommitted sequences when nothing has committed for a while.
    func retransmitIfStalled(now: Int64) {
        unconfirmedSent.removeAll { $0.sequence <= height }
        guard !unconfirmedSent.isEmpty, now - lastProgressMs >= Self.retransmitAfterMs,
            now - lastRetransmitMs >= Self.retransmitAfterMs
        else { return }
        lastRetransmitMs = now
        for sent in unconfirmedSent { transmit(to: sent.to, sent.payload) }
    }

    /// A consensus message as `validatorIndex` would send it, signed with `key` (tests and the simulator forge
    /// byzantine traffic with this; a correct node only ever sends through `send`).
    public static func signedConsensusPayload(_ message: Message, validatorIndex: Int, validatorCount: Int, key: PrivateKey, chainId: String)
        -> [UInt8]?
    {
        let domain = Array("certchain/\(chainId)/".utf8)
        guard let signed = try? message.signed(by: validatorIndex, replicaCount: validatorCount, using: { try key.sign(domain + $0) }) else {
            return nil
        }
        guard let signature = try? envelopeSignature(signed, using: key, chainId: chainId) else { return nil }
        return PeerMessage.consensus(.init(message: signed, signature: signature)).encode()
    }

    /// The envelope signature `key` puts on `message`: over the whole encoded message, or empty for a message whose
    /// own signatures already cover it (`isSelfAuthenticating`; one SM2 signature and verification fewer per
    /// pre-prepare, prepare, checkpoint and view change, and no hashing of a whole block a second time).
    static func envelopeSignature(_ message: Message, using key: PrivateKey, chainId: String) throws -> [UInt8] {
        if message.isSelfAuthenticating { return [] }
        return try key.sign(envelopeSigningBytes(ConsensusCodec.encode(message), chainId: chainId))
    }

    /// Prefix of every vote signature (pre-prepare, prepare, checkpoint, view change): binds it to this chain.
    var voteSigningDomain: [UInt8] { Array("certchain/\(genesis.chainId)/".utf8) }

    /// What an envelope signature signs: a chain-bound prefix and the encoded consensus message.
    static func envelopeSigningBytes(_ body: [UInt8], chainId: String) -> [UInt8] {
        Array("certchain/envelope/v1/\(chainId)/".utf8) + body
    }

    func commitSignature(height: UInt64, blockHash: [UInt8]) -> [UInt8] {
        if let cached = ownCommitSignatures[height], cached.blockHash == blockHash { return cached.signature }
        let bytes = CommitCertificate.signingBytes(chainId: genesis.chainId, height: height, blockHash: blockHash)
        let signature = (try? options.nodeKey.sign(bytes)) ?? []
        ownCommitSignatures[height] = (blockHash, signature)
        return signature
    }

    // MARK: - Peer messages

    /// Decodes a peer's message and checks its signatures; nil (and a log line) for anything bad. Thread-safe.
    func decodeAndVerify(from peerId: String, _ payload: [UInt8]) -> (peer: Int, message: PeerMessage)? {
        guard let peer = validators.firstIndex(where: { $0.id == peerId }) else { return nil }
        let message: PeerMessage
        do {
            message = try PeerMessage.decode(payload)
        } catch {
            log.warn("undecodable message from \(peerId): \(error)")
            return nil
        }
        if case .consensus(let envelope) = message, !verifyEnvelope(envelope, from: peer) {
            log.warn("consensus message from \(peerId) with a bad signature dropped")
            return nil
        }
        return (peer, message)
    }

    /// Decodes, verifies and handles a peer's message (caller serializes, like `tick`).
    public func receive(from peerId: String, _ payload: [UInt8]) {
        guard let (peer, message) = decodeAndVerify(from: peerId, payload) else { return }
        handle(message, from: peer)
    }

    /// Checks the envelope signature and, for commits, the certificate signature (off the driver queue).
    func verifyEnvelope(_ envelope: PeerMessage.Envelope, from peer: Int) -> Bool {
        guard ConsensusCodec.claimedSender(envelope.message, replicaCount: validators.count) == peer else { return false }
        // A self-authenticating message is checked through its own signatures below; any envelope signature is ignored.
        if !envelope.message.isSelfAuthenticating {
            let bytes = Self.envelopeSigningBytes(ConsensusCodec.encode(envelope.message), chainId: genesis.chainId)
            guard validatorKeys[peer].verify(signature: envelope.signature, message: bytes) else { return false }
        }
        if case .newView(let newView) = envelope.message, newView.viewChanges.count > validators.count { return false }
        let domain = voteSigningDomain
        for item in envelope.message.signedItems(replicaCount: validators.count) {
            guard validatorKeys.indices.contains(item.signer),
                validatorKeys[item.signer].verify(signature: item.signature, message: domain + item.bytes)
            else { return false }
        }
        if case .commit(let commit) = envelope.message, !commit.digest.isEmpty {
            // Commits of null sequences are checked when the empty block is built (see applyCommitted).
            let bytes = CommitCertificate.signingBytes(chainId: genesis.chainId, height: commit.sequence, blockHash: commit.digest)
            return validatorKeys[peer].verify(signature: commit.certificateSignature, message: bytes)
        }
        return true
    }

    /// Acts on a verified peer message (caller serializes, like `tick`).
    func handle(_ message: PeerMessage, from peer: Int) {
        guard !stopped else { return }
        switch message {
        case .consensus(let envelope):
            replica.step(envelope.message, from: peer)
            pump()
            // A commit that empties the pipeline lets the primary propose what waits without a tick's delay.
            if inFlight.isEmpty && replica.isPrimary { proposeIfReady(now: clock()) }
        case .transaction(let bytes):
            admitForwarded(bytes)
        case .status(let peerHeight, let peerView):
            peerHeights[peer] = peerHeight
            // A validator behind our view (e.g. restarted after the view change) gets the NEW-VIEW from the primary.
            let now = clock()
            if peerView < replica.view, replica.isPrimary, replica.isViewActive, now - (newViewResentMs[peer] ?? 0) >= Self.newViewResendMs {
                newViewResentMs[peer] = now
                replica.resendNewView(to: peer)
                pump()
            }
            requestBlocksIfBehind(now: now)
        case .blockRequest(let fromHeight, let countMax):
            serveBlocks(to: peer, fromHeight: fromHeight, countMax: Int(countMax))
        case .blockResponse(let blocks):
            applySynced(blocks, from: peer)
        }
    }

    /// Admits a transaction a peer forwarded. Thread-safe.
    public func admitForwarded(_ bytes: [UInt8]) {
        guard let transaction = try? SignedTransaction.decode(bytes) else { return }
        // Forwarded transactions are verified here again: a peer is not trusted to have checked them.
        _ = admit(transaction, gossip: false)
    }

    // MARK: - Admission

    /// Checks chain, signer and signature, then queues the transaction and passes it to every other validator.
    public func admit(_ transaction: SignedTransaction, gossip: Bool = true) -> AdmissionResult {
        let id = transaction.id(hashAlgorithm)
        if (try? store.transactionLocation(hash: id)) ?? nil != nil { return .accepted(id: id, status: "committed") }
        if mempool.contains(id) {
            // A client offering again what waits here (after a crash it resubmits, in order, what is not committed):
            // pass it on again, in the client's order. A dead primary may have passed it to some validators and not
            // to the next primary; without this, what the client sends next could reach the primary first.
            if gossip { network?.broadcast(PeerMessage.transaction(transaction.encode()).encode()) }
            return .accepted(id: id, status: "pending")
        }
        guard transaction.transaction.chainId == genesis.chainId else {
            return .refused(status: 400, code: "wrong-chain", message: "chainId \(transaction.transaction.chainId) is not this chain (\(genesis.chainId))")
        }
        guard let key = keyCache.key(suite: suite, signer: transaction.transaction.signer, lookupHex: signerPublicKeyHex) else {
            return .refused(
                status: 403, code: "unknown-signer",
                message: "signer \(transaction.transaction.signer) is neither an organization in genesis nor a registered enterprise")
        }
        guard verified.verifyOnce(id, signature: transaction.signature, verify: {
            key.verify(signature: transaction.signature, message: transaction.transaction.signingBytes)
        }) else {
            return .refused(status: 401, code: "bad-signature", message: "the signature does not verify with \(transaction.transaction.signer)'s key")
        }
        let full = AdmissionResult.refused(status: 503, code: "mempool-full", message: "too many pending transactions; retry shortly")
        // Clients are refused at the mempool's capacity; a peer's copies get room up to every validator's share, since
        // each was admitted within its sender's capacity: refusing one would lose the gossip that the primary needs.
        let countMax = gossip ? mempool.capacity : mempool.capacity * validators.count
        if mempool.count >= countMax { return full }
        // Every validator gets the transaction (in this node's admission order): backups verify it ahead of the
        // proposal that carries it, and whoever becomes primary after a view change can propose it. Sent before it
        // enters the mempool, so that no proposal carrying it can reach a peer ahead of it.
        if gossip { network?.broadcast(PeerMessage.transaction(transaction.encode()).encode()) }
        switch mempool.insert(transaction, id: id, countMax: countMax) {
        case .duplicate, .added: return .accepted(id: id, status: "pending")
        case .full: return full
        }
    }

    /// The signer's registered key: an organization's from genesis, an enterprise's from committed state (the store:
    /// admission runs off the driver, where the ledger is not to be touched).
    func signerPublicKeyHex(_ signer: String) -> String? {
        Ledger.publicKeyHex(forSigner: signer, genesis: genesis, in: StorageStateReader(storage: store))
    }

    // MARK: - Proposing (primary)

    /// Proposes the next block when the primary should: at once when no block is in flight (low latency under
    /// light load), otherwise only once a full block is waiting and `blockIntervalMs` has passed since the last
    /// proposal (under load, blocks grow instead of multiplying, so the fixed cost per block — consensus
    /// signatures, an fsync per vote and commit — is paid for many transactions; at full speed blocks are full
    /// and several are in flight).
    func proposeIfReady(now: Int64) {
        guard replica.isPrimary, replica.canPropose, mempool.hasUnproposed else { return }
        if !inFlight.isEmpty {
            guard now - lastProposalMs >= Int64(genesis.consensus.blockIntervalMs),
                mempool.unproposedCount >= genesis.consensus.maxBlockTransactions
            else { return }
        }
        // The proposal extends the tip of the blocks in flight; speculation at or above its sequence is left over
        // from an earlier view (never re-issued) and is void. Dropped first, so that its transactions go back into
        // the batch in arrival order instead of being skipped as "in flight" and proposed after later ones.
        dropInFlight(from: replica.nextProposalSequence)
        let batch = mempool.takeForProposal(countMax: genesis.consensus.maxBlockTransactions)
        var transactions: [SignedTransaction] = []
        var ids: [[UInt8]] = []
        var seen = Set<ByteKey>()
        let orderedInFlight = Set(inFlight.flatMap(\.transactionIds).map(ByteKey.init))
        var stale: [[UInt8]] = []
        for (id, transaction) in batch where seen.insert(ByteKey(id)).inserted {
            if orderedInFlight.contains(ByteKey(id)) { continue }
            if (try? store.transactionLocation(hash: id)) ?? nil != nil {
                stale.append(id)
                continue
            }
            transactions.append(transaction)
            ids.append(id)
        }
        mempool.remove(stale)
        guard !transactions.isEmpty else { return }
        guard replica.nextProposalSequence == tipHeight + 1 else {
            mempool.unpropose(ids)
            return
        }
        lastProposalMs = now
        let timestampMs = max(now, tipTimestampMs + 1)
        var executedBlock = execute(
            transactions: transactions, ids: ids, height: tipHeight + 1, timestampMs: timestampMs, view: replica.view,
            proposer: validators[selfIndex].id)
        let payload = executedBlock.block.encode()
        executedBlock.blockBytes = payload
        inFlight.append(executedBlock)
        replica.propose(digest: executedBlock.hash, payload: payload)
        pump()
    }

    /// The deterministic empty block every correct replica builds for a null sequence of a new view:
    /// no transactions, state unchanged, timestamp one past its parent's. Nil if the parent is unknown here.
    func nullBlock(sequence: UInt64, view: UInt64) -> ExecutedBlock? {
        let parents = inFlight.filter { $0.block.header.height < sequence }
        guard sequence == height + 1 + UInt64(parents.count) else { return nil }
        let parentTimestamp = parents.last?.block.header.timestampMs ?? lastTimestampMs
        return execute(
            transactions: [], ids: [], height: sequence, timestampMs: parentTimestamp + 1, view: view,
            proposer: validators[Int(view % UInt64(validators.count))].id)
    }

    /// Height of the last block executed here (committed or in flight).
    var tipHeight: UInt64 { inFlight.last?.block.header.height ?? height }
    /// Hash of that block.
    var tipHash: [UInt8] { inFlight.last?.hash ?? lastHash }
    /// Its timestamp.
    var tipTimestampMs: Int64 { inFlight.last?.block.header.timestampMs ?? lastTimestampMs }

    /// Forgets in-flight blocks at or above `height` (a different proposal replaces them); their transactions
    /// become proposable again.
    func dropInFlight(from height: UInt64) {
        let dropped = inFlight.filter { $0.block.header.height >= height }
        guard !dropped.isEmpty else { return }
        inFlight.removeAll { $0.block.header.height >= height }
        mempool.unpropose(dropped.flatMap(\.transactionIds))
    }

    /// Executes transactions on top of the committed ledger and the in-flight blocks below `height`, and builds
    /// the block header over the results.
    func execute(transactions: [SignedTransaction], ids: [[UInt8]], height: UInt64, timestampMs: Int64, view: UInt64, proposer: String)
        -> ExecutedBlock
    {
        let parents = inFlight.filter { $0.block.header.height < height }
        let execution = ledger.execute(
            transactions, txHashes: ids, blockDate: BlockDate.string(timestampMs: timestampMs), height: height,
            after: parents.map(\.execution))
        let receiptBytes = execution.receipts.map { $0.encode() }
        let header = BlockHeader(
            chainId: genesis.chainId, height: height, previousHash: parents.last?.hash ?? lastHash, timestampMs: timestampMs, view: view,
            proposer: proposer, txRoot: Merkle.root(leaves: ids, hash: hashAlgorithm),
            receiptRoot: Merkle.root(leaves: receiptBytes, hash: hashAlgorithm),
            stateRoot: execution.stateRoot)
        let block = Block(header: header, transactions: transactions)
        return ExecutedBlock(block: block, hash: header.hash(hashAlgorithm), transactionIds: ids, execution: execution, receiptBytes: receiptBytes)
    }

    // MARK: - Validating (backups)

    func validateProposal(_ request: ValidationRequest) -> Bool {
        guard let block = try? Block.decode(request.payload) else {
            log.warn("proposal \(request.sequence) does not decode")
            return false
        }
        let header = block.header
        let primaryId = validators[Int(request.view % UInt64(validators.count))].id
        // A proposal for a height we already executed replaces that speculation (e.g. after a view change).
        if request.sequence > height { dropInFlight(from: request.sequence) }
        var problem: String?
        if header.hash(hashAlgorithm) != request.digest {
            problem = "digest is not the header hash"
        } else if header.chainId != genesis.chainId {
            problem = "wrong chain id \(header.chainId)"
        } else if header.height != tipHeight + 1 || request.sequence != header.height {
            problem = "height \(header.height) is not \(tipHeight + 1)"
        } else if header.previousHash != tipHash {
            problem = "previous hash does not match block \(tipHeight)"
        } else if request.reissued
            ? (header.view > request.view || header.proposer != validators[Int(header.view % UInt64(validators.count))].id)
            : (header.view != request.view || header.proposer != primaryId)
        {
            problem = "proposer/view mismatch"
        } else if header.timestampMs <= tipTimestampMs {
            problem = "timestamp does not increase"
        } else if !request.reissued && header.timestampMs - clock() > Int64(genesis.consensus.maxClockSkewMs) {
            problem = "timestamp \(header.timestampMs - clock()) ms in the future (allowed skew \(genesis.consensus.maxClockSkewMs) ms)"
        } else if !request.reissued && clock() - header.timestampMs > Self.proposalAgeMaxFactor * Int64(genesis.consensus.maxClockSkewMs) {
            // A proposal may arrive late (a slow or partitioned primary, a repeated message), but not from long ago.
            problem = "timestamp \(clock() - header.timestampMs) ms in the past"
        } else if block.transactions.isEmpty || block.transactions.count > genesis.consensus.maxBlockTransactions {
            problem = "\(block.transactions.count) transactions"
        }
        if let problem {
            log.warn("rejecting proposal \(request.sequence) from \(primaryId): \(problem)")
            return false
        }
        let ids = block.transactions.map { $0.id(hashAlgorithm) }
        if Set(ids.map(ByteKey.init)).count != ids.count {
            log.warn("rejecting proposal \(request.sequence): a transaction appears twice")
            return false
        }
        let orderedInFlight = Set(inFlight.flatMap(\.transactionIds).map(ByteKey.init))
        for id in ids where orderedInFlight.contains(ByteKey(id)) || (try? store.transactionLocation(hash: id)) ?? nil != nil {
            log.warn("rejecting proposal \(request.sequence): transaction \(Hex.encode(id)) was already ordered")
            return false
        }
        if let bad = firstInvalidSignature(block.transactions, ids: ids) {
            log.warn("rejecting proposal \(request.sequence): transaction \(Hex.encode(ids[bad])) fails admission")
            return false
        }
        let mine = execute(
            transactions: block.transactions, ids: ids, height: header.height, timestampMs: header.timestampMs, view: header.view,
            proposer: header.proposer)
        guard mine.hash == request.digest else {
            log.warn("rejecting proposal \(request.sequence): re-execution gives different roots")
            return false
        }
        inFlight.append(mine)
        return true
    }

    /// Index of the first transaction whose chain, signer or signature is not acceptable; verifies on all cores.
    func firstInvalidSignature(_ transactions: [SignedTransaction], ids: [[UInt8]]) -> Int? {
        let keys = transactions.map { transaction in
            keyCache.key(suite: suite, signer: transaction.transaction.signer, lookupHex: ledger.publicKeyHex(forSigner:))
        }
        let results = ConcurrentSlots<Bool>(count: transactions.count)
        let chainId = genesis.chainId
        let verified = self.verified
        DispatchQueue.concurrentPerform(iterations: transactions.count) { i in
            let transaction = transactions[i]
            guard transaction.transaction.chainId == chainId, let key = keys[i] else { return }
            // A transaction admitted or validated here before was verified then (or is being verified now, by the gossip
            // queue, whose result this waits for): each is verified once per validator.
            results[i] = verified.verifyOnce(ids[i], signature: transaction.signature, verify: {
                key.verify(signature: transaction.signature, message: transaction.transaction.signingBytes)
            })
        }
        return results.all.firstIndex { $0 != true }
    }

    // MARK: - Committing

    func applyCommitted(_ entry: CommittedEntry) {
        guard entry.sequence == height + 1 else {
            if entry.sequence > height + 1 { log.warn("committed \(entry.sequence) while at \(height); will sync") }
            return
        }
        if entry.isNull {
            commitNull(entry)
            return
        }
        var block = inFlight.first.flatMap { $0.hash == entry.digest ? $0 : nil }
        if block == nil {
            // What committed is not what we executed for this height: our speculation is void.
            dropInFlight(from: entry.sequence)
        }
        if block == nil, let decoded = try? Block.decode(entry.payload), decoded.header.previousHash == lastHash {
            let ids = decoded.transactions.map { $0.id(hashAlgorithm) }
            let mine = execute(
                transactions: decoded.transactions, ids: ids, height: decoded.header.height, timestampMs: decoded.header.timestampMs,
                view: decoded.header.view, proposer: decoded.header.proposer)
            if mine.hash == entry.digest { block = mine }
        }
        guard let block else {
            log.error("committed block \(entry.sequence) could not be reproduced here; will sync it")
            return
        }
        var signatures: [ValidatorSignature] = []
        for commit in entry.commits {
            let signature = commit.replica == selfIndex ? commitSignature(height: entry.sequence, blockHash: entry.digest) : commit.certificateSignature
            signatures.append(ValidatorSignature(validatorId: validators[commit.replica].id, signature: signature))
        }
        let certificate = CommitCertificate(height: entry.sequence, blockHash: entry.digest, signatures: signatures)
        commit(block, certificate: certificate)
    }

    /// Commits the empty block of a null sequence, with the commit signatures that verify over its hash.
    func commitNull(_ entry: CommittedEntry) {
        dropInFlight(from: entry.sequence)
        guard let block = nullBlock(sequence: entry.sequence, view: entry.view) else {
            log.error("null sequence \(entry.sequence) committed but its parent is unknown; will sync")
            return
        }
        let message = CommitCertificate.signingBytes(chainId: genesis.chainId, height: entry.sequence, blockHash: block.hash)
        var signatures: [ValidatorSignature] = []
        for commit in entry.commits {
            let signature = commit.replica == selfIndex ? commitSignature(height: entry.sequence, blockHash: block.hash) : commit.certificateSignature
            if validatorKeys[commit.replica].verify(signature: signature, message: message) {
                signatures.append(ValidatorSignature(validatorId: validators[commit.replica].id, signature: signature))
            }
        }
        guard signatures.count >= replica.config.quorum else {
            log.error("null sequence \(entry.sequence): only \(signatures.count) commit signatures verify; will sync")
            return
        }
        log.info("committing an empty block for null sequence \(entry.sequence) of view \(entry.view)")
        commit(block, certificate: CommitCertificate(height: entry.sequence, blockHash: block.hash, signatures: signatures))
    }

    /// Writes the block, its certificate, receipts and state changes in one SQLite transaction, then applies them.
    func commit(_ block: ExecutedBlock, certificate: CommitCertificate, synced: Bool = false) {
        do {
            try Self.persist(block, certificate: certificate, store: store, ledger: ledger)
        } catch {
            log.error("cannot write block \(block.block.header.height): \(error); stopping")
            fatalError("cannot write block \(block.block.header.height): \(error)")
        }
        didPersist(block, synced: synced)
    }

    /// Writes the block, its certificate, receipts, state changes and query index rows in one SQLite transaction.
    /// Touches only the store (and `ledger`'s thread-safe record cache), so a synced block can be written off the
    /// driver while the driver executes the next one; index rows read the store, so blocks are written in order.
    static func persist(_ block: ExecutedBlock, certificate: CommitCertificate, store: NodeStorage, ledger: Ledger) throws {
        let stored = ChainStore.StoredBlock(
            height: block.block.header.height, hash: block.hash, blockBytes: block.blockBytes ?? block.block.encode(),
            certificateBytes: certificate.encode(),
            transactions: zip(block.transactionIds, block.receiptBytes).enumerated().map { index, pair in
                ChainStore.StoredTransaction(hash: pair.0, index: index, receiptBytes: pair.1)
            })
        try store.commitBlock(
            stored, stateChanges: block.execution.changes, bucketChanges: block.execution.bucketChanges,
            indexEntries: QueryIndex.rows(for: block.execution.changes, in: store, ledger: ledger))
    }

    /// Applies a block `persist` wrote: the ledger, height and tip move to it, and readers see it.
    func didPersist(_ block: ExecutedBlock, synced: Bool) {
        ledger.commit(block.execution)
        lastProgressMs = clock()
        height = block.block.header.height
        lastHash = block.hash
        lastTimestampMs = block.block.header.timestampMs
        if inFlight.first?.hash == block.hash {
            inFlight.removeFirst()
        } else {
            dropInFlight(from: 0)  // built on another parent: void
        }
        ownCommitSignatures = ownCommitSignatures.filter { $0.key > height }
        mempool.remove(block.transactionIds)
        publishSnapshot(committed: block.transactionIds.count, synced: synced ? 1 : 0)
        onCommit?(height, block.hash)
        if height % 100 == 0 || synced {
            log.info("committed block \(height) (\(block.transactionIds.count) txs)\(synced ? " via sync" : "")")
        }
        replica.noteExecuted(sequence: height, stateDigest: ledger.stateRoot)
    }

    // MARK: - State transfer

    func requestBlocksIfBehind(now: Int64, atLeast knownHeight: UInt64? = nil) {
        guard syncRequest == nil else { return }
        if let knownHeight, knownHeight > height {
            // A stable checkpoint proves a quorum is there: ask every peer we have no better news of.
            for peer in validators.indices where peer != selfIndex && peerHeights[peer] == nil { peerHeights[peer] = knownHeight }
        }
        let ahead = peerHeights.filter { $0.value > height }.map(\.key).sorted()
        guard !ahead.isEmpty else { return }
        syncPeerRotation += 1
        let peer = ahead[syncPeerRotation % ahead.count]
        syncRequest = (peer, now + 2000)
        network?.send(
            to: validators[peer].id,
            PeerMessage.blockRequest(fromHeight: height + 1, countMax: UInt16(WireLimits.blocksPerResponseMax)).encode())
    }

    func serveBlocks(to peer: Int, fromHeight: UInt64, countMax: Int) {
        var blocks: [PeerMessage.SyncedBlock] = []
        var bytesTotal = 0
        var next = fromHeight
        while blocks.count < min(countMax, WireLimits.blocksPerResponseMax), next <= height, bytesTotal < WireLimits.frameBytesMax / 2 {
            guard let block = try? store.blockBytes(height: next), let certificate = try? store.certificateBytes(height: next) else { break }
            bytesTotal += block.count + certificate.count
            blocks.append(.init(blockBytes: block, certificateBytes: certificate))
            next += 1
        }
        guard !blocks.isEmpty else { return }
        network?.send(to: validators[peer].id, PeerMessage.blockResponse(blocks).encode())
    }

    func applySynced(_ blocks: [PeerMessage.SyncedBlock], from peer: Int) {
        if syncRequest?.peer == peer { syncRequest = nil }
        let decoded = blocks.map { synced in
            (block: try? Block.decode(synced.blockBytes), certificate: try? CommitCertificate.decode(synced.certificateBytes))
        }
        // Ask for the next range before executing this one, so the peer reads and sends it meanwhile. If this range
        // fails, that answer does not follow our height and is ignored; the request is made again from our height.
        if let last = decoded.last?.block?.header.height, last > height, let known = peerHeights[peer], known > last {
            syncRequest = (peer, clock() + 2000)
            network?.send(
                to: validators[peer].id,
                PeerMessage.blockRequest(fromHeight: last + 1, countMax: UInt16(WireLimits.blocksPerResponseMax)).encode())
        }
        // Pipelined: block k is written on `syncWriter` while the driver executes block k+1 on top of it (held in
        // flight, as a backup holds a proposal it voted for); one write outstanding, and every write has landed and
        // been applied before this returns, so readers only ever see blocks that are on disk.
        var applied = 0
        var writing: (block: ExecutedBlock, done: DispatchSemaphore, failure: ConcurrentSlots<String>)?
        func finishWriting() {
            guard let pending = writing else { return }
            pending.done.wait()
            writing = nil
            if let failure = pending.failure[0] {
                log.error("cannot write block \(pending.block.block.header.height): \(failure); stopping")
                fatalError("cannot write block \(pending.block.block.header.height): \(failure)")
            }
            didPersist(pending.block, synced: true)
            applied += 1
        }
        for pair in decoded {
            guard let block = pair.block, let certificate = pair.certificate else {
                log.warn("undecodable block from \(validators[peer].id)")
                peerHeights[peer] = nil
                break
            }
            if block.header.height <= writing?.block.block.header.height ?? height { continue }
            // Speculation at this height (a proposal seen before falling behind) gives way to the certified block.
            dropInFlight(from: block.header.height)
            guard block.header.height == tipHeight + 1, block.header.previousHash == tipHash, block.header.chainId == genesis.chainId else {
                break
            }
            let hash = block.header.hash(hashAlgorithm)
            guard verifyCertificate(certificate, height: block.header.height, blockHash: hash) else {
                log.warn("block \(block.header.height) from \(validators[peer].id) has an invalid commit certificate; ignoring that peer")
                peerHeights[peer] = nil
                break
            }
            let ids = block.transactions.map { $0.id(hashAlgorithm) }
            let mine = execute(
                transactions: block.transactions, ids: ids, height: block.header.height, timestampMs: block.header.timestampMs,
                view: block.header.view, proposer: block.header.proposer)
            guard mine.hash == hash else {
                log.error("block \(block.header.height) is certified but re-executes to different roots here")
                peerHeights[peer] = nil
                break
            }
            inFlight.append(mine)
            finishWriting()
            let done = DispatchSemaphore(value: 0)
            let failure = ConcurrentSlots<String>(count: 1)
            let (store, ledger) = (store, ledger)
            syncWriter.async {
                do {
                    try Self.persist(mine, certificate: certificate, store: store, ledger: ledger)
                } catch {
                    failure[0] = "\(error)"
                }
                done.signal()
            }
            writing = (mine, done, failure)
        }
        finishWriting()
        // A peer that sent a bad block is not waited for.
        if peerHeights[peer] == nil, syncRequest?.peer == peer { syncRequest = nil }
        if applied > 0 {
            replica.skipTo(committedSequence: height)
            pump()
        }
        requestBlocksIfBehind(now: clock())
    }

    /// Checks that a quorum (2f+1 when n = 3f+1) of distinct genesis validators signed this height and block hash.
    func verifyCertificate(_ certificate: CommitCertificate, height: UInt64, blockHash: [UInt8]) -> Bool {
        guard certificate.height == height, certificate.blockHash == blockHash else { return false }
        let bytes = CommitCertificate.signingBytes(chainId: genesis.chainId, height: height, blockHash: blockHash)
        var signers = Set<Int>()
        for signature in certificate.signatures {
            guard let index = validators.firstIndex(where: { $0.id == signature.validatorId }), !signers.contains(index) else { return false }
            guard validatorKeys[index].verify(signature: signature.signature, message: bytes) else { return false }
            signers.insert(index)
        }
        return signers.count >= replica.config.quorum
    }
}

/// Monotonic-enough wall clock in milliseconds (block timestamps are wall-clock, bound-checked by backups).
enum Clock {
    static func nowMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}

/// A `host:port` address from genesis.
struct HostPort {
    var host: String
    var port: UInt16

    init(_ text: String) throws {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
            throw NodeError("address \(text) is not host:port")
        }
        host = String(text[..<colon])
        self.port = port
    }
}

/// Ids of transactions whose signatures this node has verified (on admission or in a proposed block), so that
/// a transaction reaching it twice — gossiped by one validator after another's proposal carried it — is
/// verified once. Bounded: it starts over when full (a forgotten id only costs one more verification).
final class VerifiedTransactions: @unchecked Sendable {
    private let ids: BoundedCache<ByteKey, Bool>
    /// Keys being verified right now (under `progress`), so that a transaction reaching two threads at once — a
    /// proposal validated while the gossip queue still verifies what came before it — is verified by one while the
    /// other waits for its result.
    private var inProgress = Set<ByteKey>()
    private let progress = NSCondition()

    /// An empty set remembering at most `idsMax` ids.
    init(idsMax: Int = 200_000) { ids = BoundedCache(entriesMax: idsMax) }

    /// Whether `signature` verifies for transaction `id`: remembered if verified here before, else `verify()` runs —
    /// on this thread, or on the one already running it for the same id and signature, whose result this one waits
    /// for. Thread-safe.
    func verifyOnce(_ id: [UInt8], signature: [UInt8], verify: () -> Bool) -> Bool {
        let key = ByteKey(id + signature)
        let verifiedBefore: Bool = progress.withLock {
            // Bounded: each wake-up follows the end of one verification of this key.
            while inProgress.contains(key) { progress.wait() }
            if ids[key] != nil { return true }
            inProgress.insert(key)
            return false
        }
        if verifiedBefore { return true }
        let valid = verify()
        progress.withLock {
            if valid { ids[key] = true }
            inProgress.remove(key)
            progress.broadcast()
        }
        return valid
    }

    /// Whether transaction `id` with exactly this `signature` was verified here. The signature is part of the key:
    /// the id covers only the signed bytes, and a copy carrying another signature must be checked on its own.
    func contains(_ id: [UInt8], signature: [UInt8]) -> Bool { ids[ByteKey(id + signature)] != nil }
}

/// Parsed public keys by hex, so signatures are checked without re-parsing keys each time (admission, block
/// validation, signed reads), and by signer, so that a transaction's signer is not looked up in state and
/// decoded from its record each time.
final class SignerKeyCache: Sendable {
    private let keys = BoundedCache<String, PublicKey>(entriesMax: 100_000)
    private let signers = BoundedCache<String, PublicKey>(entriesMax: 100_000)

    /// The key of `signer` ("org:…" or "ent:…"), found by `lookupHex` the first time. Only keys found are kept, and
    /// a found key never goes stale: organization keys come from genesis, and an enterprise's key is fixed when it
    /// registers (a second registration of the tax id is refused, filing keeps the key).
    func key(suite: SignatureSuite, signer: String, lookupHex: (String) -> String?) -> PublicKey? {
        if let key = signers[signer] { return key }
        guard let hex = lookupHex(signer), let key = key(suite: suite, hex: hex) else { return nil }
        signers[signer] = key
        return key
    }

    func key(suite: SignatureSuite, hex: String) -> PublicKey? {
        if let key = keys[hex] { return key }
        guard let key = try? PublicKey(suite: suite, hex: hex) else { return nil }
        keys[hex] = key
        return key
    }
}
