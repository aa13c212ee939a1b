import Foundation
import CertChainCrypto

/// A transaction: the signed fields of SPEC section 3.
public struct Transaction: Sendable, Equatable, Codable {
    /// Domain tag written first in the signing bytes.
    public static let domainTag = "certchain/tx/v1"

    public var chainId: String
    public var signer: String
    public var nonce: UInt64
    public var effectiveDate: String
    public var body: TransactionBody
    /// The kind, derived from the body.
    public var kind: TransactionKind { body.kind }

    /// Memberwise initializer.
    public init(chainId: String, signer: String, nonce: UInt64, effectiveDate: String, body: TransactionBody) {
        self.chainId = chainId; self.signer = signer; self.nonce = nonce; self.effectiveDate = effectiveDate; self.body = body
    }

    /// Canonical bytes that are signed and hashed: tag, chainId, kind, signer, nonce, effectiveDate, body.
    public var signingBytes: [UInt8] {
        var w = CanonicalWriter()
        write(to: &w)
        return w.bytes
    }

    /// The transaction id: hash of `signingBytes`.
    public func id(_ hash: HashAlgorithm) -> [UInt8] { hash.hash(signingBytes) }

    /// Writes the canonical form.
    public func write(to w: inout CanonicalWriter) {
        w.string(Transaction.domainTag); w.string(chainId); w.string(kind.rawValue); w.string(signer)
        w.u64(nonce); w.string(effectiveDate)
        body.write(to: &w)
    }

    /// Reads the canonical form.
    public static func read(from r: inout CanonicalReader) throws -> Transaction {
        guard try r.string() == domainTag else { throw ModelError.malformed("transaction domain tag") }
        let chainId = try r.string()
        let kindName = try r.string()
        guard let kind = TransactionKind(rawValue: kindName) else { throw ModelError.malformed("unknown kind \(kindName)") }
        let signer = try r.string()
        let nonce = try r.u64()
        let date = try r.string()
        let body = try TransactionBody.read(kind: kind, from: &r)
        return Transaction(chainId: chainId, signer: signer, nonce: nonce, effectiveDate: date, body: body)
    }

    enum CodingKeys: String, CodingKey { case chainId, kind, signer, nonce, effectiveDate, body }

    /// Decodes the JSON form (`body` typed by `kind`).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        chainId = try c.decode(String.self, forKey: .chainId)
        let kind = try c.decode(TransactionKind.self, forKey: .kind)
        signer = try c.decode(String.self, forKey: .signer)
        nonce = try c.decode(UInt64.self, forKey: .nonce)
        effectiveDate = try c.decode(String.self, forKey: .effectiveDate)
        body = try TransactionBody.decode(kind: kind, from: try c.superDecoder(forKey: .body))
    }

    /// Encodes the JSON form.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(chainId, forKey: .chainId)
        try c.encode(kind, forKey: .kind)
        try c.encode(signer, forKey: .signer)
        try c.encode(nonce, forKey: .nonce)
        try c.encode(effectiveDate, forKey: .effectiveDate)
        try body.encode(to: c.superEncoder(forKey: .body))
    }
}

/// A transaction with its signer's signature (not part of the id).
public struct SignedTransaction: Sendable, Equatable, Codable {
    /// Maximum signature length accepted when decoding.
    public static let signatureBytesMax = 512

    public var transaction: Transaction
    public var signature: [UInt8]

    /// Memberwise initializer.
    public init(transaction: Transaction, signature: [UInt8]) { self.transaction = transaction; self.signature = signature }

    /// The signed bytes of the transaction.
    public var signingBytes: [UInt8] { transaction.signingBytes }
    /// The transaction id.
    public func id(_ hash: HashAlgorithm) -> [UInt8] { transaction.id(hash) }

    /// Canonical binary form: the transaction's canonical bytes, then the signature byte string.
    public func encode() -> [UInt8] {
        var w = CanonicalWriter()
        write(to: &w)
        return w.bytes
    }

    /// Writes the canonical binary form.
    public func write(to w: inout CanonicalWriter) {
        transaction.write(to: &w)
        w.byteString(signature)
    }

    /// Reads the canonical binary form.
    public static func read(from r: inout CanonicalReader) throws -> SignedTransaction {
        let tx = try Transaction.read(from: &r)
        let sig = try r.byteString()
        guard sig.count <= signatureBytesMax else { throw ModelError.limitExceeded("signature of \(sig.count) bytes") }
        return SignedTransaction(transaction: tx, signature: sig)
    }

    /// Decodes exactly one signed transaction from `bytes`.
    public static func decode(_ bytes: [UInt8]) throws -> SignedTransaction {
        var r = CanonicalReader(bytes)
        let tx = try read(from: &r)
        try r.finish()
        return tx
    }

    enum CodingKeys: String, CodingKey { case signature }

    /// Decodes the API JSON form: the transaction fields plus `"signature"` hex.
    public init(from decoder: Decoder) throws {
        transaction = try Transaction(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let hex = try c.decode(String.self, forKey: .signature)
        guard let sig = Hex.decode(hex), sig.count <= SignedTransaction.signatureBytesMax else {
            throw DecodingError.dataCorruptedError(forKey: .signature, in: c, debugDescription: "signature is not hex")
        }
        signature = sig
    }

    /// Encodes the API JSON form.
    public func encode(to encoder: Encoder) throws {
        try transaction.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Hex.encode(signature), forKey: .signature)
    }
}
