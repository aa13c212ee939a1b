import CertChainCrypto
import CertChainModel

/// An immutable copy of the state commitment (the bucket Merkle tree's node hashes) at one height.
///
/// Taking one is O(1) (copy-on-write); the ledger's next commit then copies only the tree chunks it touches,
/// so publishing one per block costs O(changed keys), not O(state). The bucket entries a proof needs come from
/// the store and are checked against this tree, so a read that raced a commit is detected.
public struct StateSnapshot: Sendable {
    let tree: StateTree

    /// The state root this snapshot commits to.
    public var root: [UInt8] { tree.root }

    /// The bucket of `key`.
    public func bucket(of key: String) -> Int { StateTree.bucket(of: key, tree.hash) }

    /// The proof of `key` from its bucket's entries as read (sorted by key bytes); nil if they are not this
    /// snapshot's (the store moved on: read again against a newer snapshot).
    public func proof(forKey key: String, entries: [BucketEntry]) -> StateProof? {
        guard tree.matches(bucket: bucket(of: key), entries: entries) else { return nil }
        return tree.proof(forKey: key, entries: entries)
    }
}

extension Ledger {
    /// A snapshot of the current state commitment, safe to hand to other threads.
    public var stateSnapshot: StateSnapshot { StateSnapshot(tree: tree) }

    /// The state key of the application `id` (`app/<id>`).
    public static func applicationKey(_ id: String) -> String { Keys.application(id) }

    /// The state key of the declaration `number` (`decl/<number>`).
    public static func declarationKey(_ number: String) -> String { Keys.declaration(number) }
}

/// A `StateReader` over an explicit set of key-values (e.g. the values carried by a proof).
public struct DictionaryStateReader: StateReader, Sendable {
    /// The values by key.
    public let values: [String: [UInt8]]
    /// Wraps `values`.
    public init(_ values: [String: [UInt8]]) { self.values = values }
    /// The value under `key`, or nil.
    public func value(forKey key: String) -> [UInt8]? { values[key] }
}
