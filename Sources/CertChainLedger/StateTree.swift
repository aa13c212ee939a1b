import CertChainCrypto
import CertChainModel

/// Reads committed state values by key (memory ledger or a persistent store).
public protocol StateReader {
    /// The canonical value stored under `key`, or nil.
    func value(forKey key: String) -> [UInt8]?
}

/// UTF-8 byte order for keys, independent of Swift's String ordering.
func keyPrecedes(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

/// The state commitment: 4096 buckets by the first 12 bits of H(key); bucket hash over its sorted (key, H(value));
/// root = RFC 6962 Merkle root over the 4096 bucket hashes, kept as a complete tree so a block only rehashes dirty paths.
struct StateTree: Sendable {
    static let depth = 12
    static let bucketCount = 1 << depth

    let hash: HashAlgorithm
    /// Per bucket: key -> H(value).
    private(set) var buckets: [[String: [UInt8]]]
    /// levels[0] = leaf hashes H(0x00 ‖ bucketHash), levels[depth] = [root].
    private(set) var levels: [[[UInt8]]]

    init(hash: HashAlgorithm) {
        self.hash = hash
        buckets = Array(repeating: [:], count: StateTree.bucketCount)
        let emptyLeaf = Merkle.leafHash(StateTree.bucketHash([:], hash), hash: hash)
        var levels: [[[UInt8]]] = [Array(repeating: emptyLeaf, count: StateTree.bucketCount)]
        var node = emptyLeaf
        for l in 1...StateTree.depth {
            node = Merkle.nodeHash(node, node, hash: hash)
            levels.append(Array(repeating: node, count: StateTree.bucketCount >> l))
        }
        self.levels = levels
    }

    var root: [UInt8] { levels[StateTree.depth][0] }

    static func bucket(of key: String, _ hash: HashAlgorithm) -> Int { StateProof.bucket(of: key, hash: hash) }

    /// Proof for `key` against the current root.
    func proof(forKey key: String) -> StateProof {
        let b = StateTree.bucket(of: key, hash)
        let entries = buckets[b].keys.sorted(by: keyPrecedes).map { StateProof.Entry(key: $0, valueHash: Hex.encode(buckets[b][$0]!)) }
        var path: [String] = []
        var index = b
        for l in 0..<StateTree.depth {
            path.append(Hex.encode(levels[l][index ^ 1]))
            index >>= 1
        }
        return StateProof(key: key, bucket: b, entries: entries, path: path)
    }

    /// H over the bucket's entries sorted by key bytes: u32 key length, key, 32-byte value hash each; empty = H("").
    static func bucketHash(_ entries: [String: [UInt8]], _ hash: HashAlgorithm) -> [UInt8] {
        var w = CanonicalWriter()
        for k in entries.keys.sorted(by: keyPrecedes) {
            w.string(k)
            w.raw(entries[k]!)
        }
        return hash.hash(w.bytes)
    }

    /// New leaf hashes of the buckets touched by `changes`.
    private func dirtyLeaves(_ changes: [(key: String, value: [UInt8]?)]) -> ([Int: [String: [UInt8]]], [Int: [UInt8]]) {
        var touched: [Int: [String: [UInt8]]] = [:]
        for (key, value) in changes {
            let b = StateTree.bucket(of: key, hash)
            var entries = touched[b] ?? buckets[b]
            entries[key] = value.map { hash.hash($0) }
            touched[b] = entries
        }
        var leaves: [Int: [UInt8]] = [:]
        for (b, entries) in touched { leaves[b] = Merkle.leafHash(StateTree.bucketHash(entries, hash), hash: hash) }
        return (touched, leaves)
    }

    /// Recomputes the dirty paths; returns the changed node hashes per level.
    private func propagate(_ leaves: [Int: [UInt8]]) -> [[Int: [UInt8]]] {
        var out: [[Int: [UInt8]]] = [leaves]
        var changed = leaves
        for l in 0..<StateTree.depth {
            var parents: [Int: [UInt8]] = [:]
            for p in Set(changed.keys.map { $0 / 2 }) {
                let left = changed[2 * p] ?? levels[l][2 * p]
                let right = changed[2 * p + 1] ?? levels[l][2 * p + 1]
                parents[p] = Merkle.nodeHash(left, right, hash: hash)
            }
            out.append(parents)
            changed = parents
        }
        return out
    }

    /// The root after `changes`, without mutating.
    func root(after changes: [(key: String, value: [UInt8]?)]) -> [UInt8] {
        if changes.isEmpty { return root }
        let updates = propagate(dirtyLeaves(changes).1)
        return updates[StateTree.depth][0] ?? root
    }

    /// Applies `changes`.
    mutating func apply(_ changes: [(key: String, value: [UInt8]?)]) {
        if changes.isEmpty { return }
        let (touched, leaves) = dirtyLeaves(changes)
        for (b, entries) in touched { buckets[b] = entries }
        let updates = propagate(leaves)
        for (l, nodes) in updates.enumerated() { for (i, h) in nodes { levels[l][i] = h } }
    }
}
