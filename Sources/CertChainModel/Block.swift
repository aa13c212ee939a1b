import CertChainCrypto

/// A block header; its hash is what validators commit to.
public struct BlockHeader: Sendable, Equatable, Codable {
    /// Domain tag written first in the header's canonical bytes.
    public static let domainTag = "certchain/block/v1"

    public var chainId: String
    public var height: UInt64
    public var previousHash: [UInt8]
    public var timestampMs: Int64
    public var view: UInt64
    public var proposer: String
    public var txRoot: [UInt8]
    public var receiptRoot: [UInt8]
    public var stateRoot: [UInt8]

    /// Memberwise initializer.
    public init(chainId: String, height: UInt64, previousHash: [UInt8], timestampMs: Int64, view: UInt64, proposer: String,
                txRoot: [UInt8], receiptRoot: [UInt8], stateRoot: [UInt8]) {
        self.chainId = chainId; self.height = height; self.previousHash = previousHash; self.timestampMs = timestampMs
        self.view = view; self.proposer = proposer; self.txRoot = txRoot; self.receiptRoot = receiptRoot; self.stateRoot = stateRoot
    }

    /// Canonical bytes of the header.
    public var canonicalBytes: [UInt8] {
        var w = CanonicalWriter()
        write(to: &w)
        return w.bytes
    }

    /// The block hash.
    public func hash(_ alg: HashAlgorithm) -> [UInt8] { alg.hash(canonicalBytes) }

    /// The business date of this block (UTC+8).
    public var date: String { BlockDate.string(timestampMs: timestampMs) }

    /// Writes the canonical form.
    public func write(to w: inout CanonicalWriter) {
        w.string(BlockHeader.domainTag); w.string(chainId); w.u64(height); w.byteString(previousHash); w.i64(timestampMs)
        w.u64(view); w.string(proposer); w.byteString(txRoot); w.byteString(receiptRoot); w.byteString(stateRoot)
    }

    /// Reads the canonical form.
    public static func read(from r: inout CanonicalReader) throws -> BlockHeader {
        guard try r.string() == domainTag else { throw ModelError.malformed("block header domain tag") }
        return BlockHeader(chainId: try r.string(), height: try r.u64(), previousHash: try r.byteString(), timestampMs: try r.i64(),
                           view: try r.u64(), proposer: try r.string(), txRoot: try r.byteString(),
                           receiptRoot: try r.byteString(), stateRoot: try r.byteString())
    }

    /// Decodes exactly one header.
    public static func decode(_ bytes: [UInt8]) throws -> BlockHeader {
        var r = CanonicalReader(bytes)
        let h = try read(from: &r)
        try r.finish()
        return h
    }

    enum CodingKeys: String, CodingKey { case chainId, height, previousHash, timestampMs, view, proposer, txRoot, receiptRoot, stateRoot }

    /// Decodes the JSON form (hashes as hex).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func hex(_ k: CodingKeys) throws -> [UInt8] {
            guard let b = Hex.decode(try c.decode(String.self, forKey: k)) else {
                throw DecodingError.dataCorruptedError(forKey: k, in: c, debugDescription: "not hex")
            }
            return b
        }
        self.init(chainId: try c.decode(String.self, forKey: .chainId), height: try c.decode(UInt64.self, forKey: .height),
                  previousHash: try hex(.previousHash), timestampMs: try c.decode(Int64.self, forKey: .timestampMs),
                  view: try c.decode(UInt64.self, forKey: .view), proposer: try c.decode(String.self, forKey: .proposer),
                  txRoot: try hex(.txRoot), receiptRoot: try hex(.receiptRoot), stateRoot: try hex(.stateRoot))
    }

    /// Encodes the JSON form (hashes as hex).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(chainId, forKey: .chainId); try c.encode(height, forKey: .height)
        try c.encode(Hex.encode(previousHash), forKey: .previousHash); try c.encode(timestampMs, forKey: .timestampMs)
        try c.encode(view, forKey: .view); try c.encode(proposer, forKey: .proposer)
        try c.encode(Hex.encode(txRoot), forKey: .txRoot); try c.encode(Hex.encode(receiptRoot), forKey: .receiptRoot)
        try c.encode(Hex.encode(stateRoot), forKey: .stateRoot)
    }
}

/// A block: header and its ordered transactions.
public struct Block: Sendable, Equatable {
    /// Maximum transactions accepted when decoding a block.
    public static let transactionsMax = 10_000

    public var header: BlockHeader
    public var transactions: [SignedTransaction]

    /// Memberwise initializer.
    public init(header: BlockHeader, transactions: [SignedTransaction]) { self.header = header; self.transactions = transactions }

    /// Canonical binary form: header, then u32 count and each signed transaction.
    public func encode() -> [UInt8] {
        var w = CanonicalWriter()
        header.write(to: &w)
        w.array(transactions) { w, t in t.write(to: &w) }
        return w.bytes
    }

    /// Decodes a block; throws on any malformed or oversized input.
    public static func decode(_ bytes: [UInt8]) throws -> Block {
        var r = CanonicalReader(bytes)
        let h = try BlockHeader.read(from: &r)
        let txs = try r.array { r in try SignedTransaction.read(from: &r) }
        guard txs.count <= transactionsMax else { throw ModelError.limitExceeded("\(txs.count) transactions in a block") }
        try r.finish()
        return Block(header: h, transactions: txs)
    }

    /// Transaction ids in block order.
    public func transactionIds(_ alg: HashAlgorithm) -> [[UInt8]] { transactions.map { $0.id(alg) } }

    /// Merkle root over the transaction ids (the header's txRoot).
    public static func txRoot(ids: [[UInt8]], _ alg: HashAlgorithm) -> [UInt8] { Merkle.root(leaves: ids, hash: alg) }
}

/// One validator's signature in a commit certificate.
public struct ValidatorSignature: Sendable, Equatable, Codable {
    public var validatorId: String
    public var signature: [UInt8]
    /// Memberwise initializer.
    public init(validatorId: String, signature: [UInt8]) { self.validatorId = validatorId; self.signature = signature }

    enum CodingKeys: String, CodingKey { case validatorId, signature }
    /// Decodes the JSON form (signature hex).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        validatorId = try c.decode(String.self, forKey: .validatorId)
        guard let s = Hex.decode(try c.decode(String.self, forKey: .signature)) else {
            throw DecodingError.dataCorruptedError(forKey: .signature, in: c, debugDescription: "not hex")
        }
        signature = s
    }
    /// Encodes the JSON form.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(validatorId, forKey: .validatorId)
        try c.encode(Hex.encode(signature), forKey: .signature)
    }
}

/// 2f+1 validator signatures over a block hash, stored beside the block.
public struct CommitCertificate: Sendable, Equatable, Codable {
    /// Domain tag of the message each validator signs.
    public static let domainTag = "certchain/commit/v1"

    public var height: UInt64
    public var blockHash: [UInt8]
    public var signatures: [ValidatorSignature]

    /// Memberwise initializer.
    public init(height: UInt64, blockHash: [UInt8], signatures: [ValidatorSignature]) {
        self.height = height; self.blockHash = blockHash; self.signatures = signatures
    }

    /// The bytes each validator signs: tag, chainId, height, blockHash.
    public static func signingBytes(chainId: String, height: UInt64, blockHash: [UInt8]) -> [UInt8] {
        var w = CanonicalWriter()
        w.string(domainTag); w.string(chainId); w.u64(height); w.byteString(blockHash)
        return w.bytes
    }

    /// Canonical binary form.
    public func encode() -> [UInt8] {
        var w = CanonicalWriter()
        w.u64(height); w.byteString(blockHash)
        w.array(signatures) { w, s in w.string(s.validatorId); w.byteString(s.signature) }
        return w.bytes
    }

    /// Decodes the canonical binary form.
    public static func decode(_ bytes: [UInt8]) throws -> CommitCertificate {
        var r = CanonicalReader(bytes)
        let c = CommitCertificate(height: try r.u64(), blockHash: try r.byteString(),
                                  signatures: try r.array { r in ValidatorSignature(validatorId: try r.string(), signature: try r.byteString()) })
        guard c.signatures.count <= 1024 else { throw ModelError.limitExceeded("signatures") }
        try r.finish()
        return c
    }

    enum CodingKeys: String, CodingKey { case height, blockHash, signatures }
    /// Decodes the JSON form.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        height = try c.decode(UInt64.self, forKey: .height)
        guard let h = Hex.decode(try c.decode(String.self, forKey: .blockHash)) else {
            throw DecodingError.dataCorruptedError(forKey: .blockHash, in: c, debugDescription: "not hex")
        }
        blockHash = h
        signatures = try c.decode([ValidatorSignature].self, forKey: .signatures)
    }
    /// Encodes the JSON form.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(height, forKey: .height)
        try c.encode(Hex.encode(blockHash), forKey: .blockHash)
        try c.encode(signatures, forKey: .signatures)
    }
}
