import CertChainLedger
import CertChainNode
import CertChainStore
import Foundation

/// `NodeStorage` in memory: the simulator's disk. Every call is atomic and durable on return, like
/// SQLite with synchronous=FULL; a simulated crash keeps exactly what calls returned.
public final class MemoryStorage: NodeStorage, @unchecked Sendable {
    private let lock = NSLock()
    private var blocks: [UInt64: ChainStore.StoredBlock] = [:]
    private var lastHeight: UInt64 = 0
    private var transactions: [[UInt8]: (height: UInt64, index: Int, receipt: [UInt8])] = [:]
    private var state: [String: [UInt8]] = [:]
    private var treeBuckets: [Int: [String: [UInt8]]] = [:]
    private var consensus: [String: [UInt8]] = [:]
    private var metadata: [String: [UInt8]] = [:]

    /// Empty storage (a node at genesis).
    public init() {}

    /// Forgets everything: a wiped disk.
    public func wipe() {
        lock.withLock {
            blocks = [:]
            lastHeight = 0
            transactions = [:]
            state = [:]
            treeBuckets = [:]
            consensus = [:]
            metadata = [:]
        }
    }

    public func lastBlock() throws -> (height: UInt64, hash: [UInt8])? {
        lock.withLock { blocks[lastHeight].map { ($0.height, $0.hash) } }
    }

    public func blockBytes(height: UInt64) throws -> [UInt8]? { lock.withLock { blocks[height]?.blockBytes } }

    public func certificateBytes(height: UInt64) throws -> [UInt8]? { lock.withLock { blocks[height]?.certificateBytes } }

    public func transactionLocation(hash: [UInt8]) throws -> (height: UInt64, index: Int)? {
        lock.withLock { transactions[hash].map { ($0.height, $0.index) } }
    }

    public func receiptBytes(txHash: [UInt8]) throws -> [UInt8]? { lock.withLock { transactions[txHash]?.receipt } }

    public func stateValue(key: String) throws -> [UInt8]? { lock.withLock { state[key] } }

    public func stateBucketEntries(_ bucket: Int) throws -> [(key: String, valueHash: [UInt8])] {
        lock.withLock { MemoryCommittedState.sorted(treeBuckets[bucket] ?? [:]) }
    }

    public func forEachStateBucketEntry(_ body: (_ bucket: Int, _ key: String, _ valueHash: [UInt8]) -> Void) throws {
        let all = lock.withLock { treeBuckets }
        for bucket in all.keys.sorted() {
            for entry in MemoryCommittedState.sorted(all[bucket]!) { body(bucket, entry.key, entry.valueHash) }
        }
    }

    public func commitBlock(
        _ block: ChainStore.StoredBlock, stateChanges: [(key: String, value: [UInt8]?)], bucketChanges: [(bucket: Int, key: String, valueHash: [UInt8]?)],
        indexEntries: [(key: String, value: [UInt8])]
    ) throws {
        try lock.withLock {
            guard block.height == lastHeight + 1 else {
                throw StoreError(code: 19, operation: "commitBlock", message: "height \(block.height) after \(lastHeight)")
            }
            for transaction in block.transactions where transactions[transaction.hash] != nil {
                throw StoreError(code: 19, operation: "commitBlock", message: "transaction committed twice")
            }
            blocks[block.height] = block
            lastHeight = block.height
            for transaction in block.transactions {
                transactions[transaction.hash] = (block.height, transaction.index, transaction.receiptBytes)
            }
            for change in stateChanges {
                if let value = change.value { state[change.key] = value } else { state[change.key] = nil }
            }
            for change in bucketChanges {
                treeBuckets[change.bucket, default: [:]][change.key] = change.valueHash
                if treeBuckets[change.bucket]?.isEmpty == true { treeBuckets[change.bucket] = nil }
            }
        }
    }

    public func putConsensusRecords(_ records: [(key: String, value: [UInt8])]) throws {
        lock.withLock { for record in records { consensus[record.key] = record.value } }
    }

    public func consensusRecords() throws -> [(key: String, value: [UInt8])] {
        lock.withLock { consensus.keys.sorted().map { ($0, consensus[$0]!) } }
    }

    public func deleteConsensusRecords(keys: [String]) throws {
        lock.withLock { for key in keys { consensus[key] = nil } }
    }

    public func meta(key: String) throws -> [UInt8]? { lock.withLock { metadata[key] } }

    public func putMeta(key: String, value: [UInt8]) throws { lock.withLock { metadata[key] = value } }

    /// Height of the last stored block (0 at genesis).
    public var height: UInt64 { lock.withLock { lastHeight } }
}
