import CertChainCrypto
import CertChainModel
import Foundation

/// Reads committed state values by key (memory ledger or a persistent store).
public protocol StateReader {
    /// The canonical value stored under `key`, or nil.
    func value(forKey key: String) -> [UInt8]?
}

/// A key's entry in its state bucket: the key and the hash of its value.
public typealias BucketEntry = (key: String, valueHash: [UInt8])

/// A block's write to one key as the state tree sees it: bucket, key and the new value's hash (nil = deleted).
public typealias BucketChange = (bucket: Int, key: String, valueHash: [UInt8]?)

/// The committed state a ledger executes on and commits to: values by key, and each tree bucket's entries.
///
/// `MemoryCommittedState` for tests and tools; on a node, the SQLite store, so the state need not fit in memory
/// and a block costs the same at a million certificates as at a thousand.
public protocol CommittedState: StateReader, AnyObject, Sendable {
    /// Every committed key of `bucket` with the hash of its value, sorted by key bytes.
    func bucketEntries(_ bucket: Int) -> [BucketEntry]
    /// Calls `body` with each non-empty bucket's entries (sorted by key bytes), buckets in ascending order.
    func forEachBucket(_ body: (_ bucket: Int, _ entries: [BucketEntry]) -> Void)
    /// The block is committed: a memory state applies its changes now; a store that wrote them with the block
    /// only refreshes what it caches.
    func didCommit(_ execution: BlockExecution)
}

/// UTF-8 byte order for keys, independent of Swift's String ordering.
func keyPrecedes(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

/// Node hashes a block changes in the state tree, per level (0 = bucket leaves … depth = root).
public struct StateTreeUpdate: Sendable {
    /// Changed node hashes by index, per level.
    let levels: [[Int: [UInt8]]]
    /// The root after the update.
    let root: [UInt8]
}

/// The state commitment: 65,536 buckets by the first 16 bits of H(key); a bucket's hash is over its sorted
/// (key, H(value)); the root is the RFC 6962 Merkle root over the bucket hashes, kept as a complete tree so a block
/// only rehashes its dirty paths. The buckets' entries live in the committed state (`CommittedState`), not here:
/// this holds only the fixed tree of node hashes, so its memory does not grow with the state.
struct StateTree: Sendable {
    static let depth = 16
    static let bucketCount = 1 << depth
    /// Nodes per chunk: a commit copies only the chunks it touches while a snapshot shares the rest.
    static let chunkNodes = 256

    let hash: HashAlgorithm
    let hashBytes: Int
    /// levels[l][chunk]: node hashes of level l (0 = leaves H(0x00 ‖ bucketHash), depth = root), concatenated per chunk.
    private(set) var levels: [[[UInt8]]]

    /// The tree of an empty state.
    init(hash: HashAlgorithm) {
        self.hash = hash
        let emptyLeaf = Merkle.leafHash(StateTree.bucketHash([], hash), hash: hash)
        hashBytes = emptyLeaf.count
        var levels: [[[UInt8]]] = []
        var node = emptyLeaf
        for l in 0...StateTree.depth {
            if l > 0 { node = Merkle.nodeHash(node, node, hash: hash) }
            let count = StateTree.bucketCount >> l
            let perChunk = min(count, StateTree.chunkNodes)
            let chunk = [UInt8]((0..<perChunk).map { _ in node }.joined())
            levels.append(Array(repeating: chunk, count: count / perChunk))
        }
        self.levels = levels
    }

    /// The tree of `state`, rebuilt from every bucket's entries.
    init(hash: HashAlgorithm, state: CommittedState) {
        self.init(hash: hash)
        var leaves: [Int: [UInt8]] = [:]
        state.forEachBucket { bucket, entries in
            leaves[bucket] = Merkle.leafHash(StateTree.bucketHash(entries, hash), hash: hash)
        }
        if !leaves.isEmpty { apply(propagate(leaves)) }
    }

    /// The hash of node `index` of level `level`.
    func node(_ level: Int, _ index: Int) -> [UInt8] {
        let start = (index % StateTree.chunkNodes) * hashBytes
        return Array(levels[level][index / StateTree.chunkNodes][start..<start + hashBytes])
    }

    var root: [UInt8] { node(StateTree.depth, 0) }

    static func bucket(of key: String, _ hash: HashAlgorithm) -> Int { StateProof.bucket(of: key, hash: hash) }

    /// Proof for `key` given its bucket's current entries (sorted by key bytes).
    func proof(forKey key: String, entries: [BucketEntry]) -> StateProof {
        let b = StateTree.bucket(of: key, hash)
        var path: [String] = []
        var index = b
        for l in 0..<StateTree.depth {
            path.append(Hex.encode(node(l, index ^ 1)))
            index >>= 1
        }
        return StateProof(key: key, bucket: b, entries: entries.map { StateProof.Entry(key: $0.key, valueHash: Hex.encode($0.valueHash)) }, path: path)
    }

    /// Whether `entries` hash to bucket `bucket`'s leaf in this tree.
    func matches(bucket: Int, entries: [BucketEntry]) -> Bool {
        Merkle.leafHash(StateTree.bucketHash(entries, hash), hash: hash) == node(0, bucket)
    }

    /// H over the bucket's entries in key-byte order: u32 key length, key, 32-byte value hash each; empty = H("").
    static func bucketHash(_ entries: [BucketEntry], _ hash: HashAlgorithm) -> [UInt8] {
        var w = CanonicalWriter()
        for e in entries {
            w.string(e.key)
            w.raw(e.valueHash)
        }
        return hash.hash(w.bytes)
    }

    /// The update `changes` (applied in order, later writes to a key winning) make on top of `state`.
    func update(_ changes: [BucketChange], state: CommittedState) -> StateTreeUpdate {
        if changes.isEmpty { return StateTreeUpdate(levels: [], root: root) }
        var touched: [Int: [String: [UInt8]?]] = [:]
        for change in changes { touched[change.bucket, default: [:]][change.key] = .some(change.valueHash) }
        // Each bucket's leaf depends on its committed entries and its writes alone: many buckets are read (from the
        // store) and hashed on all cores.
        let buckets = Array(touched)
        let leafHashes = concurrentMap(count: buckets.count) { index in leaf(buckets[index].key, buckets[index].value, state: state) }
        var leaves: [Int: [UInt8]] = [:]
        leaves.reserveCapacity(buckets.count)
        for (index, bucket) in buckets.enumerated() { leaves[bucket.key] = leafHashes[index] }
        return propagate(leaves)
    }

    /// The leaf hash of `bucket` once `writes` (key → new value hash, nil = deleted) are applied to its committed entries.
    private func leaf(_ bucket: Int, _ writes: [String: [UInt8]?], state: CommittedState) -> [UInt8] {
        // The committed entries come sorted; each write is placed by binary search (a bucket's few writes cost
        // O(log n) comparisons each instead of re-sorting the bucket).
        var entries = state.bucketEntries(bucket)
        for (key, valueHash) in writes {
            let index = StateTree.position(of: key, in: entries)
            let present = index < entries.count && entries[index].key == key
            switch (valueHash, present) {
            case (let valueHash?, true): entries[index].valueHash = valueHash
            case (let valueHash?, false): entries.insert((key: key, valueHash: valueHash), at: index)
            case (nil, true): entries.remove(at: index)
            case (nil, false): break
            }
        }
        return Merkle.leafHash(StateTree.bucketHash(entries, hash), hash: hash)
    }

    /// The first index of `entries` (sorted by key bytes) whose key does not precede `key`.
    static func position(of key: String, in entries: [BucketEntry]) -> Int {
        var low = 0, high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if keyPrecedes(entries[middle].key, key) { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Recomputes the paths above `leaves`.
    private func propagate(_ leaves: [Int: [UInt8]]) -> StateTreeUpdate {
        var out: [[Int: [UInt8]]] = [leaves]
        var changed = leaves
        for l in 0..<StateTree.depth {
            var parents: [Int: [UInt8]] = [:]
            for p in Set(changed.keys.map { $0 / 2 }) {
                let left = changed[2 * p] ?? node(l, 2 * p)
                let right = changed[2 * p + 1] ?? node(l, 2 * p + 1)
                parents[p] = Merkle.nodeHash(left, right, hash: hash)
            }
            out.append(parents)
            changed = parents
        }
        return StateTreeUpdate(levels: out, root: changed[0] ?? root)
    }

    /// Applies an update computed on this tree (or on it with earlier blocks' changes, now committed, layered below).
    mutating func apply(_ update: StateTreeUpdate) {
        for (l, nodes) in update.levels.enumerated() {
            for (index, value) in nodes {
                let start = (index % StateTree.chunkNodes) * hashBytes
                levels[l][index / StateTree.chunkNodes].replaceSubrange(start..<start + hashBytes, with: value)
            }
        }
    }
}

/// The committed state in memory, with its buckets' entries (tests, tools and small ledgers).
public final class MemoryCommittedState: CommittedState, @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String: [UInt8]] = [:]
    private var buckets: [Int: [String: [UInt8]]] = [:]
    /// The chain's hash algorithm (buckets and value hashes).
    public let hash: HashAlgorithm

    /// An empty state.
    public init(hash: HashAlgorithm) { self.hash = hash }

    /// A state holding `entries`; throws on a repeated key.
    public convenience init(hash: HashAlgorithm, entries: [(key: String, value: [UInt8])]) throws {
        self.init(hash: hash)
        for (key, value) in entries {
            if values.updateValue(value, forKey: key) != nil { throw ModelError.malformed("state key \(key) repeated") }
            buckets[StateTree.bucket(of: key, hash), default: [:]][key] = hash.hash(value)
        }
    }

    public func value(forKey key: String) -> [UInt8]? { lock.withLock { values[key] } }

    public func bucketEntries(_ bucket: Int) -> [BucketEntry] {
        lock.withLock { MemoryCommittedState.sorted(buckets[bucket] ?? [:]) }
    }

    public func forEachBucket(_ body: (_ bucket: Int, _ entries: [BucketEntry]) -> Void) {
        let all = lock.withLock { buckets }
        for bucket in all.keys.sorted() { body(bucket, MemoryCommittedState.sorted(all[bucket]!)) }
    }

    public func didCommit(_ execution: BlockExecution) {
        lock.withLock {
            for (change, tree) in zip(execution.changes, execution.bucketChanges) {
                values[change.key] = change.value
                buckets[tree.bucket, default: [:]][tree.key] = tree.valueHash
                if buckets[tree.bucket]?.isEmpty == true { buckets[tree.bucket] = nil }
            }
        }
    }

    /// Number of committed keys.
    public var count: Int { lock.withLock { values.count } }

    /// Every committed entry sorted by key bytes.
    public var sortedEntries: [(key: String, value: [UInt8])] {
        lock.withLock { values.keys.sorted(by: keyPrecedes).map { (key: $0, value: values[$0]!) } }
    }

    /// A bucket's key → value-hash map as entries sorted by key bytes (the order the bucket hash covers).
    public static func sorted(_ bucket: [String: [UInt8]]) -> [BucketEntry] {
        bucket.keys.sorted(by: keyPrecedes).map { (key: $0, valueHash: bucket[$0]!) }
    }
}
