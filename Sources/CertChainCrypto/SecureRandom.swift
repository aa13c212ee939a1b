import COpenSSL

/// Cryptographically secure random bytes from OpenSSL's RAND_bytes.
public enum SecureRandom {
    /// Returns `count` random bytes; traps if the system random generator is unavailable.
    public static func bytes(_ count: Int) -> [UInt8] {
        precondition(count >= 0, "negative byte count")
        var out = [UInt8](repeating: 0, count: count)
        if count == 0 { return out }
        let ok = out.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
        precondition(ok == 1, "RAND_bytes failed: the system random generator is unavailable")
        return out
    }
}
