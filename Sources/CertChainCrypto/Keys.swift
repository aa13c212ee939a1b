import COpenSSL
import CSM2Verify

/// A public verification key of one signature suite; compares and hashes by suite and raw bytes.
public struct PublicKey: Sendable, Hashable {
    /// The suite this key belongs to.
    public let suite: SignatureSuite
    /// SM2: the 65-byte uncompressed point 04||X||Y; Ed25519: the 32-byte key.
    public let rawBytes: [UInt8]
    private let box: EVPKeyBox
    /// SM2 only: the point, Z and (once the key has verified often) its comb table, for `cc_sm2_verify`.
    private let sm2: SM2KeyBox?

    /// Builds a key from raw bytes, checking the length and (for SM2) that the point is on the curve.
    public init(suite: SignatureSuite, rawBytes: [UInt8]) throws {
        switch suite {
        case .ed25519sha256:
            guard rawBytes.count == 32 else {
                throw CryptoError.invalidKeyLength(suite: suite, expected: 32, actual: rawBytes.count)
            }
            let key = rawBytes.withUnsafeBufferPointer {
                EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, $0.baseAddress, 32)
            }
            guard let key else { throw OpenSSL.failure("EVP_PKEY_new_raw_public_key") }
            self.box = EVPKeyBox(key)
            self.sm2 = nil
        case .sm2sm3:
            guard rawBytes.count == 65 else {
                throw CryptoError.invalidKeyLength(suite: suite, expected: 65, actual: rawBytes.count)
            }
            guard rawBytes[0] == 0x04 else {
                throw CryptoError.invalidPublicKeyPoint("first byte must be 04 (uncompressed)")
            }
            self.box = EVPKeyBox(try OpenSSL.sm2Key(publicPoint: rawBytes, privateScalar: nil))
            guard let sm2 = SM2KeyBox(point: rawBytes) else { throw CryptoError.invalidPublicKeyPoint("not on the SM2 curve") }
            self.sm2 = sm2
        }
        self.suite = suite
        self.rawBytes = rawBytes
    }

    /// Builds a key from the lowercase hex of its raw bytes.
    public init(suite: SignatureSuite, hex: String) throws {
        guard let bytes = Hex.decode(hex) else { throw CryptoError.invalidHex("public key \"\(hex.prefix(20))…\"") }
        try self.init(suite: suite, rawBytes: bytes)
    }

    /// Parses a SubjectPublicKeyInfo PEM ("BEGIN PUBLIC KEY"); the suite is taken from the key type.
    public init(pem: String) throws {
        guard let key = OpenSSL.withPEMBIO(pem, { PEM_read_bio_PUBKEY($0, nil, nil, nil) }) else {
            throw CryptoError.invalidPEM("expected a \"BEGIN PUBLIC KEY\" block: \(OpenSSL.drainErrors())")
        }
        let (suite, raw): (SignatureSuite, [UInt8])
        do {
            let parsed = EVPKeyBox(key)   // freed at the end of this scope
            suite = try OpenSSL.suite(of: parsed.pointer)
            raw = try OpenSSL.rawPublicKey(parsed.pointer, suite: suite)
        }
        // Rebuild from raw bytes so an EC key with the SM2 curve becomes a proper SM2 key.
        try self.init(suite: suite, rawBytes: raw)
    }

    /// Lowercase hex of the raw bytes.
    public var hex: String { Hex.encode(rawBytes) }

    /// The key as SubjectPublicKeyInfo PEM.
    public var pem: String {
        // Writing a valid in-memory key only fails on allocation failure.
        (try? OpenSSL.pemString("PEM_write_bio_PUBKEY") { PEM_write_bio_PUBKEY($0, box.pointer) }) ?? ""
    }

    /// Verifies `signature` over `message`; false for any malformed input. Safe to call concurrently. SM2 goes
    /// through `cc_sm2_verify` (OpenSSL's point arithmetic; a key that verifies often gets a precomputed table
    /// and verifies about 4× faster); Ed25519 through OpenSSL's EVP_DigestVerify.
    public func verify(signature: [UInt8], message: [UInt8]) -> Bool {
        guard let sm2 else { return verifyWithDigestVerify(signature: signature, message: message) }
        if signature.isEmpty || signature.count > 256 { return false }
        return signature.withUnsafeBufferPointer { sig in
            withNonNullBytes(message) { msg, count in
                cc_sm2_verify(sm2.pointer, sig.baseAddress, sig.count, msg, count) == 1
            }
        }
    }

    /// Verifies through OpenSSL's one-shot EVP_DigestVerify, as `openssl speed` does: the reference cost of one
    /// verification (the benchmark's floor) and the check `verify` is tested against.
    public func verifyWithDigestVerify(signature: [UInt8], message: [UInt8]) -> Bool {
        if signature.isEmpty || signature.count > 256 { return false }
        if suite == .ed25519sha256 && signature.count != 64 { return false }
        guard let mdContext = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(mdContext) }
        guard OpenSSL.initDigest(mdContext, key: box.pointer, suite: suite, sign: false) else {
            ERR_clear_error()
            return false
        }
        let rc = signature.withUnsafeBufferPointer { sig in
            withNonNullBytes(message) { msg, count in
                EVP_DigestVerify(mdContext, sig.baseAddress, sig.count, msg, count)
            }
        }
        if rc != 1 { ERR_clear_error() }
        return rc == 1
    }

    /// Whether this SM2 key verifies with its precomputed comb table (built after it verified
    /// `sm2TableAfterVerifications` signatures, while the process-wide budget of tables lasts).
    public var hasVerificationTable: Bool { sm2.map { cc_sm2_key_has_table($0.pointer) == 1 } ?? false }

    /// Verifications of one SM2 key before its comb table is built.
    public static var sm2TableAfterVerifications: Int { Int(cc_sm2_table_after_verifications) }

    /// Equal when suite and raw bytes are equal.
    public static func == (lhs: PublicKey, rhs: PublicKey) -> Bool {
        lhs.suite == rhs.suite && lhs.rawBytes == rhs.rawBytes
    }

    /// Hashes suite and raw bytes.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(suite)
        hasher.combine(rawBytes)
    }
}

/// A signing key of one suite.
public struct PrivateKey: Sendable {
    /// The suite this key signs for.
    public let suite: SignatureSuite
    /// The matching public key.
    public let publicKey: PublicKey
    private let box: EVPKeyBox

    private init(key: OpaquePointer) throws {
        var box = EVPKeyBox(key)
        let suite = try OpenSSL.suite(of: key)
        if suite == .sm2sm3 && EVP_PKEY_is_a(key, "SM2") != 1 {
            // A generic EC key on the SM2 curve would sign with ECDSA; rebuild it as an SM2 key.
            box = EVPKeyBox(try OpenSSL.sm2KeyFromECKey(key))
        }
        let raw = try OpenSSL.rawPublicKey(box.pointer, suite: suite)
        self.box = box
        self.suite = suite
        self.publicKey = try PublicKey(suite: suite, rawBytes: raw)
    }

    /// Generates a fresh random key for `suite`.
    public static func generate(suite: SignatureSuite) throws -> PrivateKey {
        let name = suite == .sm2sm3 ? "SM2" : "ED25519"
        guard let context = EVP_PKEY_CTX_new_from_name(nil, name, nil) else {
            throw OpenSSL.failure("EVP_PKEY_CTX_new_from_name(\(name))")
        }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_keygen_init(context) == 1 else { throw OpenSSL.failure("EVP_PKEY_keygen_init") }
        var key: OpaquePointer? = nil
        guard EVP_PKEY_generate(context, &key) == 1, let key else { throw OpenSSL.failure("EVP_PKEY_generate") }
        return try PrivateKey(key: key)
    }

    /// Parses a PKCS#8 PEM ("BEGIN PRIVATE KEY"); SM2 or Ed25519 is detected from the key type.
    public init(pem: String) throws {
        guard let key = OpenSSL.withPEMBIO(pem, { PEM_read_bio_PrivateKey($0, nil, nil, nil) }) else {
            throw CryptoError.invalidPEM("expected an unencrypted \"BEGIN PRIVATE KEY\" block: \(OpenSSL.drainErrors())")
        }
        try self.init(key: key)
    }

    /// Imports an Ed25519 key from its 32-byte seed (RFC 8032 private key).
    public init(ed25519Seed seed: [UInt8]) throws {
        guard seed.count == 32 else {
            throw CryptoError.invalidKeyLength(suite: .ed25519sha256, expected: 32, actual: seed.count)
        }
        let key = seed.withUnsafeBufferPointer {
            EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, $0.baseAddress, 32)
        }
        guard let key else { throw OpenSSL.failure("EVP_PKEY_new_raw_private_key") }
        try self.init(key: key)
    }

    /// Imports an SM2 key from its 32-byte big-endian private scalar d (1 <= d <= n-2).
    public init(sm2PrivateScalar scalar: [UInt8]) throws {
        guard scalar.count == 32 else {
            throw CryptoError.invalidKeyLength(suite: .sm2sm3, expected: 32, actual: scalar.count)
        }
        let point = try OpenSSL.sm2PublicPoint(privateScalar: scalar)
        try self.init(key: try OpenSSL.sm2Key(publicPoint: point, privateScalar: scalar))
    }

    /// The key as unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY").
    public var pem: String {
        (try? OpenSSL.pemString("PEM_write_bio_PrivateKey") {
            PEM_write_bio_PrivateKey($0, box.pointer, nil, nil, 0, nil, nil)
        }) ?? ""
    }

    /// Signs `message`: SM2 with SM3 and Z over ID 1234567812345678 (DER r,s), or pure Ed25519 (64 bytes).
    public func sign(_ message: [UInt8]) throws -> [UInt8] {
        guard let mdContext = EVP_MD_CTX_new() else { throw OpenSSL.failure("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(mdContext) }
        guard OpenSSL.initDigest(mdContext, key: box.pointer, suite: suite, sign: true) else {
            throw OpenSSL.failure("EVP_DigestSignInit_ex")
        }
        var signature = [UInt8](repeating: 0, count: 128)
        var length = signature.count
        let rc = withNonNullBytes(message) { msg, count in
            EVP_DigestSign(mdContext, &signature, &length, msg, count)
        }
        guard rc == 1 else { throw OpenSSL.failure("EVP_DigestSign") }
        return Array(signature[0..<length])
    }
}
