import Foundation
import CertChainCrypto
import CertChainModel

/// The result of executing one block: receipts, the state changes (sorted by key; nil = delete) and the new state root.
public struct BlockExecution: Sendable {
    public let receipts: [Receipt]
    public let changes: [(key: String, value: [UInt8]?)]
    /// The same changes as the state tree sees them (bucket, key, value hash), in the same order.
    public let bucketChanges: [BucketChange]
    public let stateRoot: [UInt8]
    /// The root the block was executed on.
    public let baseRoot: [UInt8]
    /// The tree nodes this block (with the in-flight blocks below it) changes; applied at commit.
    let treeUpdate: StateTreeUpdate
}

/// Lookup tables derived from genesis.
struct Tables: Sendable {
    let organizations: [String: Organization]
    let commodities: [String: Commodity]
    let tradeModes: [String: TradeMode]
    let currencies: Set<String>

    init(_ g: Genesis) {
        var o: [String: Organization] = [:]
        for org in g.organizations { o[org.id] = org }
        organizations = o
        var c: [String: Commodity] = [:]
        for com in g.commodities where c[com.hsCode] == nil { c[com.hsCode] = com }
        commodities = c
        var t: [String: TradeMode] = [:]
        for m in g.tradeModes { t[m.code] = m }
        tradeModes = t
        currencies = Set(g.currencies.map(\.code))
    }

    /// The commodity entry of `hsCode` valid on `date` (several entries may exist for one code over time).
    func commodity(_ hsCode: String, on date: String, in g: Genesis) -> Commodity? {
        g.commodities.first { $0.hsCode == hsCode && $0.isValid(on: date) }
    }
}

/// The deterministic state machine of certchain: executes blocks into receipts, state changes and a state root.
public struct Ledger: StateReader, Sendable {
    public let genesis: Genesis
    let tables: Tables
    /// The committed state: memory, or the node's store (see `CommittedState`).
    public let state: CommittedState
    private(set) var tree: StateTree
    /// Records decoded from state, shared by every execution on this ledger (a speed-up only, see `DecodedRecordCache`).
    let recordCache = DecodedRecordCache()

    /// An empty ledger for `genesis`, its state in memory.
    public init(genesis: Genesis) {
        self.genesis = genesis
        tables = Tables(genesis)
        state = MemoryCommittedState(hash: genesis.hashAlgorithm)
        tree = StateTree(hash: genesis.hashAlgorithm)
    }

    /// A ledger holding `entries` in memory; throws on a repeated key.
    public init(genesis: Genesis, entries: [(key: String, value: [UInt8])]) throws {
        self.init(genesis: genesis, state: try MemoryCommittedState(hash: genesis.hashAlgorithm, entries: entries))
    }

    /// A ledger over `state` (e.g. a node's store), its state tree rebuilt from the state's buckets.
    public init(genesis: Genesis, state: CommittedState) {
        self.genesis = genesis
        tables = Tables(genesis)
        self.state = state
        tree = StateTree(hash: genesis.hashAlgorithm, state: state)
    }

    /// The committed value under `key`.
    public func value(forKey key: String) -> [UInt8]? { state.value(forKey: key) }

    /// The current state root.
    public var stateRoot: [UInt8] { tree.root }

    /// Proof of the committed value (or absence) of `key` under `stateRoot`; check with `StateProof.verify`.
    public func stateProof(forKey key: String) -> StateProof {
        tree.proof(forKey: key, entries: state.bucketEntries(StateTree.bucket(of: key, genesis.hashAlgorithm)))
    }

    /// The certificate record `bytes` (stored under `key`) decode to, from the record cache when just written.
    public func certificateRecord(key: String, bytes: [UInt8]) -> CertificateRecord? {
        recordCache.record(CertificateRecord.self, key: key, bytes: bytes)
    }

    /// The claim record `bytes` (stored under `key`) decode to, from the record cache when just written.
    public func claimRecord(key: String, bytes: [UInt8]) -> ClaimRecord? { recordCache.record(ClaimRecord.self, key: key, bytes: bytes) }

    /// The state key of a certificate (for proofs).
    public static func certificateKey(_ number: String) -> String { Keys.certificate(number) }

    /// Number of committed keys of a memory ledger (tests and tools; 0 over a store).
    public var keyCount: Int { (state as? MemoryCommittedState)?.count ?? 0 }

    /// Every committed entry of a memory ledger sorted by key (tests and tools; empty over a store).
    public var sortedEntries: [(key: String, value: [UInt8])] { (state as? MemoryCommittedState)?.sortedEntries ?? [] }

    /// The signer's public key hex: genesis organization key for "org:<id>", registered key for "ent:<taxId>".
    public func publicKeyHex(forSigner signer: String) -> String? {
        if signer.hasPrefix("org:") { return tables.organizations[String(signer.dropFirst(4))]?.publicKey }
        if signer.hasPrefix("ent:") {
            return StateCodec.decode(EnterpriseRecord.self, state.value(forKey: Keys.enterprise(String(signer.dropFirst(4)))))?.publicKey
        }
        return nil
    }

    /// The signer's public key hex over any state (e.g. the SQLite store): genesis org key or registered enterprise key.
    public static func publicKeyHex(forSigner signer: String, genesis: Genesis, in state: StateReader) -> String? {
        if signer.hasPrefix("org:") { return genesis.organization(String(signer.dropFirst(4)))?.publicKey }
        if signer.hasPrefix("ent:") {
            return StateCodec.decode(EnterpriseRecord.self, state.value(forKey: Keys.enterprise(String(signer.dropFirst(4)))))?.publicKey
        }
        return nil
    }

    /// Executes `txs` in order on the committed state (pure: self is unchanged); every transaction gets a receipt.
    ///
    /// `pending` are executions of earlier blocks not yet committed (several blocks in flight): this block
    /// then runs on top of them, and its state root includes their changes.
    public func execute(
        _ txs: [SignedTransaction], txHashes: [[UInt8]], blockDate: String, height: UInt64, after pending: [BlockExecution] = []
    ) -> BlockExecution {
        var speculative: [String: [UInt8]?] = [:]
        for execution in pending {
            for (key, value) in execution.changes { speculative[key] = .some(value) }
        }
        var overlay = Overlay(base: state, speculative: speculative, cache: recordCache)
        var receipts: [Receipt] = []
        receipts.reserveCapacity(txs.count)
        for (i, stx) in txs.enumerated() {
            let hash = i < txHashes.count ? txHashes[i] : stx.id(genesis.hashAlgorithm)
            // The overlay moves into the executor and back, never shared while written: a shared copy would make
            // every transaction copy the whole block's writes so far (quadratic in the block's size).
            var exec = Executor(genesis: genesis, tables: tables, overlay: consume overlay, tx: stx.transaction,
                                ref: TxReference(txHash: Hex.encode(hash), kind: stx.transaction.kind.rawValue, height: height, index: i,
                                                 effectiveDate: stx.transaction.effectiveDate, signer: stx.transaction.signer),
                                blockDate: blockDate)
            do {
                let refund = try exec.run()
                exec.overlay.commitPending()
                receipts.append(Receipt(txHash: hash, result: .ok(refund: refund)))
            } catch let r as Rejection {
                exec.overlay.discardPending()
                receipts.append(Receipt(txHash: hash, result: .error(code: r.code, message: r.message)))
            } catch {
                exec.overlay.discardPending()
                receipts.append(Receipt(txHash: hash, result: .error(code: .invalidField, message: "\(error)")))
            }
            overlay = exec.overlay
        }
        let changes = overlay.sortedChanges
        let hash = genesis.hashAlgorithm
        let bucketChanges = changes.map { (bucket: StateTree.bucket(of: $0.key, hash), key: $0.key, valueHash: $0.value.map(hash.hash)) }
        let update = tree.update(pending.flatMap(\.bucketChanges) + bucketChanges, state: state)
        return BlockExecution(
            receipts: receipts, changes: changes, bucketChanges: bucketChanges, stateRoot: update.root,
            baseRoot: pending.last?.stateRoot ?? tree.root, treeUpdate: update)
    }

    /// Commits an execution: the state takes its changes (see `CommittedState.didCommit`) and the tree its new
    /// nodes; traps if it was executed on another state root.
    public mutating func commit(_ execution: BlockExecution) {
        precondition(execution.baseRoot == tree.root, "BlockExecution was computed on a different state than the one committed to")
        state.didCommit(execution)
        tree.apply(execution.treeUpdate)
    }
}

/// A value written during a block: encoded bytes (nil = deleted), or a record whose canonical encoding is
/// deferred to the end of the block (a record written by several transactions of one block is encoded once).
enum Slot: Sendable {
    case bytes([UInt8]?)
    case record(any StateRecord)
}

/// A ledger record type stored in state (canonical JSON, see `StateCodec`).
protocol StateRecord: Codable, Sendable {}
extension EnterpriseRecord: StateRecord {}
extension DeclarationRecord: StateRecord {}
extension ApplicationRecord: StateRecord {}
extension CertificateRecord: StateRecord {}
extension ClaimRecord: StateRecord {}
extension LedgerStatistics: StateRecord {}

/// Decoded records keyed by state key, each kept with the exact bytes it was decoded from, so a record read in
/// block after block is decoded once. A hit requires identical bytes, so the cache can never change a result
/// (execution stays a pure function of state and block); it is bounded and starts over when full.
final class DecodedRecordCache: Sendable {
    private let entries: BoundedCache<String, (bytes: [UInt8], record: any StateRecord)>

    /// An empty cache holding at most `entriesMax` records.
    init(entriesMax: Int = 20_000) { entries = BoundedCache(entriesMax: entriesMax) }

    /// The record under `key` decoded from `bytes`: cached when decoded from the same bytes before.
    func record<T: StateRecord>(_ type: T.Type, key: String, bytes: [UInt8]) -> T? {
        if let hit = entries[key], hit.bytes == bytes, let record = hit.record as? T { return record }
        guard let record = StateCodec.decode(type, bytes) else { return nil }
        remember(key: key, bytes: bytes, record: record)
        return record
    }

    /// Records that `bytes` under `key` decode to `record` (e.g. just encoded from it).
    func remember(key: String, bytes: [UInt8], record: any StateRecord) { entries[key] = (bytes, record) }
}

/// Committed state plus this block's writes plus the current transaction's pending writes.
struct Overlay {
    let base: StateReader
    /// Changes of earlier blocks still in flight, between the committed base and this block.
    let speculative: [String: [UInt8]?]
    /// Decoded records shared across blocks (results never depend on it).
    let cache: DecodedRecordCache
    var block: [String: Slot] = [:]
    var pending: [String: Slot] = [:]

    init(base: StateReader, speculative: [String: [UInt8]?] = [:], cache: DecodedRecordCache = DecodedRecordCache(entriesMax: 1024)) {
        self.base = base
        self.speculative = speculative
        self.cache = cache
    }

    /// The slot written in this block (pending transaction first), if any.
    private func written(_ key: String) -> Slot? { pending[key] ?? block[key] }

    /// The current encoded value under `key`.
    func get(_ key: String) -> [UInt8]? {
        switch written(key) {
        case .bytes(let value): return value
        case .record(let record): return StateCodec.encode(record)
        case nil: return before(key)
        }
    }

    /// Whether some value is stored under `key` (no encoding needed).
    func exists(_ key: String) -> Bool {
        switch written(key) {
        case .bytes(let value): return value != nil
        case .record: return true
        case nil: return before(key) != nil
        }
    }

    /// The current value under `key` as a record of type `T` (nil when absent or not such a record).
    func record<T: StateRecord>(_ type: T.Type, _ key: String) -> T? {
        switch written(key) {
        case .record(let record): return (record as? T) ?? StateCodec.decode(type, StateCodec.encode(record))
        case .bytes(let value): return value.flatMap { cache.record(type, key: key, bytes: $0) }
        case nil: return before(key).flatMap { cache.record(type, key: key, bytes: $0) }
        }
    }

    /// The value before this block: in-flight blocks' changes over the committed state.
    func before(_ key: String) -> [UInt8]? {
        if let s = speculative[key] { return s }
        return base.value(forKey: key)
    }

    mutating func put(_ key: String, _ value: [UInt8]?) { pending[key] = .bytes(value) }

    mutating func put(_ key: String, record: any StateRecord) { pending[key] = .record(record) }

    /// Makes the current transaction's writes part of the block's.
    mutating func commitPending() {
        for (k, v) in pending { block[k] = v }
        pending = [:]
    }

    /// Forgets the current transaction's writes (it was rejected).
    mutating func discardPending() { pending = [:] }

    /// The block's changes sorted by key, records encoded now (and remembered decoded for the next block).
    var sortedChanges: [(key: String, value: [UInt8]?)] {
        let keys = block.keys.sorted(by: keyPrecedes)
        let slots = keys.map { block[$0]! }
        let encoded = Overlay.encodeRecords(slots)
        var changes: [(key: String, value: [UInt8]?)] = []
        changes.reserveCapacity(keys.count)
        for (index, key) in keys.enumerated() {
            let value: [UInt8]?
            switch slots[index] {
            case .bytes(let bytes): value = bytes
            case .record(let record):
                value = encoded[index]
                cache.remember(key: key, bytes: encoded[index] ?? [], record: record)
            }
            if value == before(key) { continue }
            changes.append((key: key, value: value))
        }
        return changes
    }

    /// The canonical bytes of each record slot (nil for byte slots). Each record's bytes depend on it alone, so a
    /// block with many records encodes them on all cores; the result is the same either way.
    static func encodeRecords(_ slots: [Slot]) -> [[UInt8]?] {
        concurrentMap(count: slots.count) { index in
            if case .record(let record) = slots[index] { return StateCodec.encode(record) }
            return nil
        }
    }
}

/// A receipt error raised by a rule.
struct Rejection: Error {
    let code: ErrorCode
    let message: String
    init(_ code: ErrorCode, _ message: String) { self.code = code; self.message = message }
}
