import CertChainModel
import Foundation

/// Verified transactions waiting to be ordered, in arrival order (the order the primary proposes them).
///
/// Shared between HTTP threads (which admit) and the driver (which proposes and removes), so it has
/// its own lock; every operation is O(1) amortized except `takeForProposal`, which is O(batch).
final class Mempool: @unchecked Sendable {
    /// Outcome of offering a transaction.
    enum Admission: Equatable { case added, duplicate, full }

    private struct Entry {
        var transaction: SignedTransaction
        var proposed: Bool
    }

    private let lock = NSLock()
    private var entries: [ByteKey: Entry] = [:]
    private var order: [ByteKey] = []
    private var head = 0
    /// Entries not marked proposed (kept so the proposer's batching check is O(1)).
    private var unproposed = 0
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    var count: Int { lock.withLock { entries.count } }

    func contains(_ id: [UInt8]) -> Bool { lock.withLock { entries[ByteKey(id)] != nil } }

    /// Adds a transaction unless it is here already or `countMax` (default: `capacity`) transactions wait.
    func insert(_ transaction: SignedTransaction, id: [UInt8], countMax: Int? = nil) -> Admission {
        let id = ByteKey(id)
        return lock.withLock {
            if entries[id] != nil { return .duplicate }
            if entries.count >= countMax ?? capacity { return .full }
            entries[id] = Entry(transaction: transaction, proposed: false)
            order.append(id)
            unproposed += 1
            return .added
        }
    }

    /// The oldest transactions not yet proposed, at most `countMax`, marked as proposed.
    func takeForProposal(countMax: Int) -> [(id: [UInt8], transaction: SignedTransaction)] {
        lock.withLock {
            var batch: [(id: [UInt8], transaction: SignedTransaction)] = []
            var index = head
            while index < order.count && batch.count < countMax {
                let id = order[index]
                if var entry = entries[id], !entry.proposed {
                    entry.proposed = true
                    entries[id] = entry
                    unproposed -= 1
                    batch.append((id.bytes, entry.transaction))
                }
                index += 1
            }
            return batch
        }
    }

    /// The oldest `countMax` waiting transactions, proposed or not, in arrival order (for a peer that reconnects).
    func oldest(countMax: Int) -> [SignedTransaction] {
        lock.withLock {
            var result: [SignedTransaction] = []
            var index = head
            while index < order.count && result.count < countMax {
                if let entry = entries[order[index]] { result.append(entry.transaction) }
                index += 1
            }
            return result
        }
    }

    /// Whether some transaction is waiting to be proposed.
    var hasUnproposed: Bool { unproposedCount > 0 }

    /// How many transactions wait to be proposed.
    var unproposedCount: Int { lock.withLock { unproposed } }

    /// Makes transactions proposable again (their proposal did not commit).
    func unpropose(_ ids: [[UInt8]]) {
        lock.withLock {
            for id in ids.map(ByteKey.init) where entries[id]?.proposed == true {
                entries[id]?.proposed = false
                unproposed += 1
            }
        }
    }

    /// Drops transactions that were committed.
    func remove(_ ids: [[UInt8]]) {
        lock.withLock {
            for id in ids {
                if let entry = entries.removeValue(forKey: ByteKey(id)), !entry.proposed { unproposed -= 1 }
            }
            while head < order.count && entries[order[head]] == nil { head += 1 }
            if head > 4096 && head * 2 > order.count {
                order.removeFirst(head)
                head = 0
            }
        }
    }
}
