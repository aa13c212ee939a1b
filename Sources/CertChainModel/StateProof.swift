import CertChainCrypto

/// Proof that a state key has a value (or is absent) under a state root: its bucket's entries and the bucket's Merkle path.
public struct StateProof: Sendable, Equatable, Codable {
    /// Number of state buckets (first 16 bits of H(key)).
    public static let bucketCount = 65_536

    /// One bucket entry: a key and the hex hash of its value.
    public struct Entry: Sendable, Equatable, Codable {
        public var key: String
        public var valueHash: String
        /// Memberwise initializer.
        public init(key: String, valueHash: String) { self.key = key; self.valueHash = valueHash }
    }

    public var key: String
    public var bucket: Int
    /// All entries of the bucket, sorted by key bytes.
    public var entries: [Entry]
    /// Merkle audit path (hex) of the bucket among the 65,536 bucket hashes.
    public var path: [String]

    /// Memberwise initializer.
    public init(key: String, bucket: Int, entries: [Entry], path: [String]) {
        self.key = key; self.bucket = bucket; self.entries = entries; self.path = path
    }

    /// The bucket of `key`.
    public static func bucket(of key: String, hash: HashAlgorithm) -> Int {
        let h = hash.hash(Array(key.utf8))
        return Int(h[0]) << 8 | Int(h[1])
    }

    /// Checks the proof: `value` (nil = absent) under `key` hashes up to `stateRoot`.
    public func verify(value: [UInt8]?, stateRoot: [UInt8], hash: HashAlgorithm) -> Bool {
        guard bucket == StateProof.bucket(of: key, hash: hash) else { return false }
        var w = CanonicalWriter()
        var previous: [UInt8]?
        var found: String?
        for e in entries {
            let kb = Array(e.key.utf8)
            if let p = previous, !p.lexicographicallyPrecedes(kb) { return false }
            previous = kb
            guard StateProof.bucket(of: e.key, hash: hash) == bucket, let vh = Hex.decode(e.valueHash) else { return false }
            if e.key == key { found = e.valueHash }
            w.string(e.key)
            w.raw(vh)
        }
        switch (value, found) {
        case (nil, nil): break
        case (let v?, let f?): guard Hex.encode(hash.hash(v)) == f.lowercased() else { return false }
        default: return false
        }
        let pathBytes = path.compactMap(Hex.decode)
        guard pathBytes.count == path.count else { return false }
        return Merkle.verify(leaf: hash.hash(w.bytes), index: bucket, count: StateProof.bucketCount, path: pathBytes, root: stateRoot, hash: hash)
    }
}
