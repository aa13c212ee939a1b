import CertChainCrypto
import CertChainModel

/// An immutable copy of the state commitment (bucket value hashes and the bucket Merkle tree) at one height.
///
/// Taking one is O(1) (copy-on-write); the ledger's next commit then copies the 4096-bucket spine and the
/// 8191 tree nodes once, not the state's values, so publishing one per block costs O(buckets), not O(state).
public struct StateSnapshot: Sendable {
    let tree: StateTree

    /// The state root this snapshot commits to.
    public var root: [UInt8] { tree.root }

    /// The hash of the value stored under `key` in this snapshot, or nil if the key is absent.
    public func valueHash(forKey key: String) -> [UInt8]? {
        tree.buckets[StateTree.bucket(of: key, tree.hash)][key]
    }

    /// The bucket proof of `key` against `root`.
    public func proof(forKey key: String) -> StateProof { tree.proof(forKey: key) }
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
