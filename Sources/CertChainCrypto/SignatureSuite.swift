/// The chain's cryptographic suite, fixed in genesis: signature scheme plus hash.
public enum SignatureSuite: String, Sendable, Codable, Hashable, CaseIterable {
    /// SM2 signatures with SM3 (and the default user ID `1234567812345678`); the default, as 国密 requires.
    case sm2sm3 = "sm2-sm3"
    /// Ed25519 signatures with SHA-256 hashes.
    case ed25519sha256 = "ed25519-sha256"

    /// The hash algorithm for transaction ids, block hashes and Merkle trees.
    public var hashAlgorithm: HashAlgorithm {
        switch self {
        case .sm2sm3: return .sm3
        case .ed25519sha256: return .sha256
        }
    }

    /// Hashes `bytes` with the suite's hash algorithm.
    public func hash(_ bytes: [UInt8]) -> [UInt8] { hashAlgorithm.hash(bytes) }
}
