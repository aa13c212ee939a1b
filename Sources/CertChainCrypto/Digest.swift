import COpenSSL

/// Hash algorithms the chain can use; genesis picks one through its signature suite.
public enum HashAlgorithm: String, Sendable, Codable, Hashable {
    case sm3
    case sha256

    /// Digest length in bytes (both are 32).
    public var digestBytes: Int { 32 }

    /// Hashes `bytes` with this algorithm through OpenSSL's EVP interface.
    public func hash(_ bytes: [UInt8]) -> [UInt8] {
        Digest.compute(self, bytes)
    }
}

/// One-shot message digests (SM3, SHA-256) backed by OpenSSL.
public enum Digest {
    /// SM3 digest (GB/T 32905-2016) of `bytes`.
    public static func sm3(_ bytes: [UInt8]) -> [UInt8] { compute(.sm3, bytes) }

    /// SHA-256 digest (FIPS 180-4) of `bytes`.
    public static func sha256(_ bytes: [UInt8]) -> [UInt8] { compute(.sha256, bytes) }

    static func evpMD(_ algorithm: HashAlgorithm) -> OpaquePointer {
        switch algorithm {
        case .sm3: return EVP_sm3()
        case .sha256: return EVP_sha256()
        }
    }

    static func compute(_ algorithm: HashAlgorithm, _ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 64)
        var outLength: UInt32 = 0
        let ok = bytes.withUnsafeBytes { input in
            out.withUnsafeMutableBytes { output in
                EVP_Digest(
                    input.baseAddress, input.count,
                    output.baseAddress!.assumingMemoryBound(to: UInt8.self), &outLength,
                    evpMD(algorithm), nil)
            }
        }
        precondition(ok == 1, "EVP_Digest failed for \(algorithm)")
        return Array(out[0..<Int(outLength)])
    }
}
