/// Errors from key handling and signing, each with a message a person can act on.
public enum CryptoError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Key bytes have the wrong length for the suite.
    case invalidKeyLength(suite: SignatureSuite, expected: Int, actual: Int)
    /// An SM2 public key is not an uncompressed point on the SM2 curve.
    case invalidPublicKeyPoint(String)
    /// An SM2 private scalar is zero or not below the curve order minus one.
    case invalidPrivateScalar
    /// Hex text was malformed.
    case invalidHex(String)
    /// PEM text could not be parsed as the expected key kind.
    case invalidPEM(String)
    /// A PEM key is of an algorithm the chain does not use.
    case unsupportedKeyType(String)
    /// An OpenSSL operation failed; `operation` names the step, `detail` is OpenSSL's error text.
    case openSSL(operation: String, detail: String)

    /// A readable description of the error.
    public var description: String {
        switch self {
        case let .invalidKeyLength(suite, expected, actual):
            return "invalid \(suite.rawValue) key: expected \(expected) bytes, got \(actual)"
        case let .invalidPublicKeyPoint(detail):
            return "invalid SM2 public key: it must be 65 bytes 04||X||Y on the SM2 curve (\(detail))"
        case .invalidPrivateScalar:
            return "invalid SM2 private key: the scalar must be 32 bytes in [1, n-2]"
        case let .invalidHex(detail):
            return "invalid hex: \(detail); use lowercase 0-9a-f, an even number of characters, no prefix"
        case let .invalidPEM(detail):
            return "invalid PEM key: \(detail)"
        case let .unsupportedKeyType(type):
            return "unsupported key type \(type): only SM2 and Ed25519 keys can be used"
        case let .openSSL(operation, detail):
            return "OpenSSL \(operation) failed: \(detail)"
        }
    }
}
