import CertChainLedger
import CertChainModel
import Foundation

/// A node's committed state, read from its store: the ledger executes on it and the state tree reads its buckets
/// from it, so neither the values nor the tree's entries need to fit in memory.
///
/// Values read are cached (bounded), written through at each commit. A read that overlaps a commit is not cached
/// (a generation count tells), so the cache never holds a value older than the committed one. A store that cannot
/// be read stops the validator: executing on a value it could not read would fork it from the others.
final class StoreCommittedState: CommittedState, @unchecked Sendable {
    private let storage: NodeStorage
    private let lock = NSLock()
    private var cache: [String: [UInt8]?] = [:]
    private var generation: UInt64 = 0
    /// Most values cached; the cache starts over when full.
    let cachedValuesMax: Int

    /// The committed state of `storage`.
    init(storage: NodeStorage, cachedValuesMax: Int = 50_000) throws {
        self.storage = storage
        self.cachedValuesMax = cachedValuesMax
    }

    func value(forKey key: String) -> [UInt8]? {
        let (hit, started) = lock.withLock { (cache[key], generation) }
        if let hit { return hit }
        let value: [UInt8]?
        do {
            value = try storage.stateValue(key: key)
        } catch {
            fatalError("cannot read state key \(key) from the store: \(error)")
        }
        lock.withLock {
            guard generation == started else { return }
            if cache.count >= cachedValuesMax { cache.removeAll(keepingCapacity: true) }
            cache[key] = .some(value)
        }
        return value
    }

    func bucketEntries(_ bucket: Int) -> [BucketEntry] {
        do {
            return try storage.stateBucketEntries(bucket)
        } catch {
            fatalError("cannot read state bucket \(bucket) from the store: \(error)")
        }
    }

    func forEachBucket(_ body: (_ bucket: Int, _ entries: [BucketEntry]) -> Void) {
        var current = -1
        var entries: [BucketEntry] = []
        do {
            try storage.forEachStateBucketEntry { bucket, key, valueHash in
                if bucket != current {
                    if current >= 0 { body(current, entries) }
                    current = bucket
                    entries = []
                }
                entries.append((key: key, valueHash: valueHash))
            }
        } catch {
            fatalError("cannot read the state tree from the store: \(error)")
        }
        if current >= 0 { body(current, entries) }
    }

    /// The store wrote the block's changes in its transaction; the cache takes the new values.
    func didCommit(_ execution: BlockExecution) {
        lock.withLock {
            generation &+= 1
            if cache.count + execution.changes.count > cachedValuesMax { cache.removeAll(keepingCapacity: true) }
            for change in execution.changes { cache[change.key] = .some(change.value) }
        }
    }
}
