import COpenSSL
import CSM2Verify

/// Owns one `EVP_PKEY*`; immutable after creation, so it may be shared across threads
/// (OpenSSL 3 allows concurrent use of a key by separate operation contexts).
final class EVPKeyBox: @unchecked Sendable {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    deinit { EVP_PKEY_free(pointer) }
}

/// Owns a `cc_sm2_key` (an SM2 point's verification state and comb table) and frees it with the last copy of its key.
final class SM2KeyBox: @unchecked Sendable {
    let pointer: OpaquePointer

    /// The state of the uncompressed point 04||X||Y; nil when it is not on the SM2 curve.
    init?(point: [UInt8]) {
        guard let pointer = point.withUnsafeBufferPointer({ cc_sm2_key_new($0.baseAddress, $0.count) }) else { return nil }
        self.pointer = pointer
    }

    deinit { cc_sm2_key_free(pointer) }
}

/// C strings that live for the whole process, used as OSSL_PARAM keys and values.
final class CStrings: @unchecked Sendable {
    static let shared = CStrings()
    let defaultID: UnsafeMutablePointer<CChar> = strdup(OpenSSL.sm2DefaultID)
    let sm3: UnsafeMutablePointer<CChar> = strdup("SM3")
    // OSSL_PARAM_BLD keeps key pointers (it does not copy them), so keys must outlive the builder.
    let groupKey: UnsafeMutablePointer<CChar> = strdup("group")
    let pubKey: UnsafeMutablePointer<CChar> = strdup("pub")
    let privKey: UnsafeMutablePointer<CChar> = strdup("priv")
    // Values pushed with push_utf8_string / push_octet_string are also referenced until OSSL_PARAM_BLD_to_param.
    let sm2Name: UnsafeMutablePointer<CChar> = strdup("SM2")
}

/// Internal helpers around OpenSSL's error queue, BIOs and key construction.
enum OpenSSL {
    /// The GB/T 32918 / GM/T 0009 default user ID.
    static let sm2DefaultID = "1234567812345678"

    /// Pops the thread's OpenSSL error queue into one string and clears it.
    static func drainErrors() -> String {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            messages.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return messages.isEmpty ? "no detail from OpenSSL" : messages.joined(separator: "; ")
    }

    /// An error for a failed OpenSSL step, with the queue's text.
    static func failure(_ operation: String) -> CryptoError {
        .openSSL(operation: operation, detail: drainErrors())
    }

    /// Reads the whole content of a memory BIO.
    static func readMemoryBIO(_ bio: OpaquePointer) -> String {
        var data: UnsafeMutablePointer<CChar>? = nil
        let length = withUnsafeMutablePointer(to: &data) { ptr in
            BIO_ctrl(bio, BIO_CTRL_INFO, 0, UnsafeMutableRawPointer(ptr))
        }
        guard length > 0, let data else { return "" }
        return data.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }

    /// Writes something into a fresh memory BIO and returns the text.
    static func pemString(_ operation: String, _ write: (OpaquePointer) -> Int32) throws -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { throw failure("BIO_new") }
        defer { BIO_free(bio) }
        guard write(bio) == 1 else { throw failure(operation) }
        return readMemoryBIO(bio)
    }

    /// Parses PEM text with `read`, which gets a read-only memory BIO.
    static func withPEMBIO(_ pem: String, _ read: (OpaquePointer) -> OpaquePointer?) -> OpaquePointer? {
        let bytes = Array(pem.utf8)
        return bytes.withUnsafeBytes { raw -> OpaquePointer? in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            return read(bio)
        }
    }

    /// Determines the suite of a loaded key from its type.
    static func suite(of key: OpaquePointer) throws -> SignatureSuite {
        if EVP_PKEY_is_a(key, "SM2") == 1 { return .sm2sm3 }
        if EVP_PKEY_is_a(key, "ED25519") == 1 { return .ed25519sha256 }
        let name = EVP_PKEY_get0_type_name(key).map { String(validatingCString: $0) ?? "unknown" } ?? "unknown"
        if EVP_PKEY_is_a(key, "EC") == 1 {
            var group = [CChar](repeating: 0, count: 64)
            var length = 0
            if EVP_PKEY_get_utf8_string_param(key, "group", &group, group.count, &length) == 1 {
                let groupName = String(decoding: group.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if groupName.uppercased() == "SM2" { return .sm2sm3 }
                throw CryptoError.unsupportedKeyType("EC/\(groupName)")
            }
        }
        throw CryptoError.unsupportedKeyType(name)
    }

    /// The raw public key bytes: 65-byte uncompressed SM2 point or 32-byte Ed25519 key.
    static func rawPublicKey(_ key: OpaquePointer, suite: SignatureSuite) throws -> [UInt8] {
        switch suite {
        case .ed25519sha256:
            var out = [UInt8](repeating: 0, count: 32)
            var length = 32
            guard EVP_PKEY_get_raw_public_key(key, &out, &length) == 1, length == 32 else {
                throw failure("EVP_PKEY_get_raw_public_key")
            }
            return out
        case .sm2sm3:
            var out = [UInt8](repeating: 0, count: 133)
            var length = 0
            guard EVP_PKEY_get_octet_string_param(key, "pub", &out, out.count, &length) == 1 else {
                throw failure("EVP_PKEY_get_octet_string_param(pub)")
            }
            guard length == 65, out[0] == 0x04 else {
                throw CryptoError.invalidPublicKeyPoint("key is not in uncompressed form")
            }
            return Array(out[0..<65])
        }
    }

    /// Builds an SM2 key from OSSL params: public point and, if given, private scalar.
    static func sm2Key(publicPoint: [UInt8], privateScalar: [UInt8]?) throws -> OpaquePointer {
        guard let builder = OSSL_PARAM_BLD_new() else { throw failure("OSSL_PARAM_BLD_new") }
        defer { OSSL_PARAM_BLD_free(builder) }
        var bignum: OpaquePointer? = nil
        defer { if let bignum { BN_clear_free(bignum) } }
        guard OSSL_PARAM_BLD_push_utf8_string(builder, CStrings.shared.groupKey, CStrings.shared.sm2Name, 0) == 1 else {
            throw failure("OSSL_PARAM_BLD_push_utf8_string")
        }
        // The builder keeps this pointer until OSSL_PARAM_BLD_to_param, so it must not be a temporary.
        let point = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, publicPoint.count), alignment: 1)
        defer { point.deallocate() }
        point.copyBytes(from: publicPoint)
        let pushed = OSSL_PARAM_BLD_push_octet_string(builder, CStrings.shared.pubKey, point.baseAddress, publicPoint.count)
        guard pushed == 1 else { throw failure("OSSL_PARAM_BLD_push_octet_string") }
        if let privateScalar {
            bignum = privateScalar.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, Int32($0.count), nil) }
            guard let bignum, OSSL_PARAM_BLD_push_BN(builder, CStrings.shared.privKey, bignum) == 1 else {
                throw failure("OSSL_PARAM_BLD_push_BN")
            }
        }
        guard let params = OSSL_PARAM_BLD_to_param(builder) else { throw failure("OSSL_PARAM_BLD_to_param") }
        defer { OSSL_PARAM_free(params) }
        guard let context = EVP_PKEY_CTX_new_from_name(nil, "SM2", nil) else {
            throw failure("EVP_PKEY_CTX_new_from_name(SM2)")
        }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_fromdata_init(context) == 1 else { throw failure("EVP_PKEY_fromdata_init") }
        var key: OpaquePointer? = nil
        // EVP_PKEY_PUBLIC_KEY (0x86) / EVP_PKEY_KEYPAIR (0x87): macros Swift cannot import.
        let selection: Int32 = privateScalar == nil ? 0x86 : 0x87
        guard EVP_PKEY_fromdata(context, &key, selection, params) == 1, let key else {
            throw CryptoError.invalidPublicKeyPoint(drainErrors())
        }
        return key
    }

    /// Rebuilds an EC key pair on the SM2 curve as an "SM2"-type key (so signing uses SM2, not ECDSA).
    static func sm2KeyFromECKey(_ key: OpaquePointer) throws -> OpaquePointer {
        var bignum: OpaquePointer? = nil
        guard EVP_PKEY_get_bn_param(key, "priv", &bignum) == 1, let bignum else {
            throw failure("EVP_PKEY_get_bn_param(priv)")
        }
        defer { BN_clear_free(bignum) }
        var scalar = [UInt8](repeating: 0, count: 32)
        guard BN_bn2binpad(bignum, &scalar, 32) == 32 else { throw CryptoError.invalidPrivateScalar }
        defer { for index in scalar.indices { scalar[index] = 0 } }
        return try sm2Key(publicPoint: try sm2PublicPoint(privateScalar: scalar), privateScalar: scalar)
    }

    /// Computes d·G on the SM2 curve, uncompressed; validates 1 <= d <= n-2.
    static func sm2PublicPoint(privateScalar: [UInt8]) throws -> [UInt8] {
        guard let group = EC_GROUP_new_by_curve_name(NID_sm2) else { throw failure("EC_GROUP_new_by_curve_name") }
        defer { EC_GROUP_free(group) }
        guard let scalar = privateScalar.withUnsafeBufferPointer({ BN_bin2bn($0.baseAddress, Int32($0.count), nil) })
        else { throw failure("BN_bin2bn") }
        defer { BN_clear_free(scalar) }
        guard let order = EC_GROUP_get0_order(group), let limit = BN_dup(order) else { throw failure("order") }
        defer { BN_free(limit) }
        guard BN_sub_word(limit, 1) == 1 else { throw failure("BN_sub_word") }
        // valid iff 0 < d < n-1
        guard BN_is_zero(scalar) == 0, BN_is_negative(scalar) == 0, BN_cmp(scalar, limit) < 0 else {
            throw CryptoError.invalidPrivateScalar
        }
        guard let point = EC_POINT_new(group) else { throw failure("EC_POINT_new") }
        defer { EC_POINT_free(point) }
        guard EC_POINT_mul(group, point, scalar, nil, nil, nil) == 1 else { throw failure("EC_POINT_mul") }
        var out = [UInt8](repeating: 0, count: 65)
        let length = EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, &out, out.count, nil)
        guard length == 65 else { throw failure("EC_POINT_point2oct") }
        return out
    }

    /// Initializes `mdContext` for signing or verifying with `key` under `suite`.
    static func initDigest(_ mdContext: OpaquePointer, key: OpaquePointer, suite: SignatureSuite, sign: Bool) -> Bool {
        switch suite {
        case .ed25519sha256:
            let rc = sign
                ? EVP_DigestSignInit_ex(mdContext, nil, nil, nil, nil, key, nil)
                : EVP_DigestVerifyInit_ex(mdContext, nil, nil, nil, nil, key, nil)
            return rc == 1
        case .sm2sm3:
            // OpenSSL 3.0's SM2 provider refuses the ID among the init parameters (it checks the
            // "Z not yet computed" flag before init sets it), so set it right after init, before any data.
            var keyContext: OpaquePointer? = nil
            let rc = sign
                ? EVP_DigestSignInit_ex(mdContext, &keyContext, CStrings.shared.sm3, nil, nil, key, nil)
                : EVP_DigestVerifyInit_ex(mdContext, &keyContext, CStrings.shared.sm3, nil, nil, key, nil)
            guard rc == 1, let keyContext else { return false }
            return EVP_PKEY_CTX_set1_id(keyContext, CStrings.shared.defaultID, 16) == 1
        }
    }
}

/// Calls `body` with a non-null pointer to `bytes` (OpenSSL may reject NULL for empty input).
func withNonNullBytes<R>(_ bytes: [UInt8], _ body: (UnsafePointer<UInt8>, Int) -> R) -> R {
    if bytes.isEmpty {
        let placeholder: [UInt8] = [0]
        return placeholder.withUnsafeBufferPointer { body($0.baseAddress!, 0) }
    }
    return bytes.withUnsafeBufferPointer { body($0.baseAddress!, $0.count) }
}
