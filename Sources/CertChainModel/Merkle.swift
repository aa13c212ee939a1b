import CertChainCrypto

/// RFC 6962-style Merkle trees: leaf = H(0x00‖data), node = H(0x01‖left‖right), empty = H("").
public enum Merkle {
    /// Hash of one leaf's data.
    public static func leafHash(_ data: [UInt8], hash: HashAlgorithm) -> [UInt8] { hash.hash([0] + data) }
    /// Hash of an interior node.
    public static func nodeHash(_ l: [UInt8], _ r: [UInt8], hash: HashAlgorithm) -> [UInt8] { hash.hash([1] + l + r) }

    static func split(_ n: Int) -> Int {
        var k = 1
        while k << 1 < n { k <<= 1 }
        return k
    }

    /// Root over leaf data.
    public static func root(leaves: [[UInt8]], hash: HashAlgorithm) -> [UInt8] {
        if leaves.isEmpty { return hash.hash([]) }
        return subtree(leaves.map { leafHash($0, hash: hash) }[...], hash: hash)
    }

    static func subtree(_ hashes: ArraySlice<[UInt8]>, hash: HashAlgorithm) -> [UInt8] {
        if hashes.count == 1 { return hashes.first! }
        let k = split(hashes.count)
        let s = hashes.startIndex
        return nodeHash(subtree(hashes[s..<s + k], hash: hash), subtree(hashes[(s + k)...], hash: hash), hash: hash)
    }

    /// Audit path (siblings from leaf to root) for leaf `index`; empty if out of range.
    public static func proof(index: Int, leaves: [[UInt8]], hash: HashAlgorithm) -> [[UInt8]] {
        guard index >= 0, index < leaves.count else { return [] }
        return path(index, leaves.map { leafHash($0, hash: hash) }[...], hash: hash)
    }

    static func path(_ m: Int, _ d: ArraySlice<[UInt8]>, hash: HashAlgorithm) -> [[UInt8]] {
        if d.count <= 1 { return [] }
        let k = split(d.count)
        let s = d.startIndex
        if m < k {
            return path(m, d[s..<s + k], hash: hash) + [subtree(d[(s + k)...], hash: hash)]
        }
        return path(m - k, d[(s + k)...], hash: hash) + [subtree(d[s..<s + k], hash: hash)]
    }

    /// Checks that `leaf` data at `index` of `count` leaves hashes up to `root` along `path` (RFC 9162 §2.1.3.2).
    public static func verify(leaf: [UInt8], index: Int, count: Int, path: [[UInt8]], root: [UInt8], hash: HashAlgorithm) -> Bool {
        guard index >= 0, index < count else { return false }
        var fn = index
        var sn = count - 1
        var r = leafHash(leaf, hash: hash)
        for p in path {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                r = nodeHash(p, r, hash: hash)
                while fn & 1 == 0 && fn != 0 { fn >>= 1; sn >>= 1 }
            } else {
                r = nodeHash(r, p, hash: hash)
            }
            fn >>= 1; sn >>= 1
        }
        return sn == 0 && r == root
    }
}
