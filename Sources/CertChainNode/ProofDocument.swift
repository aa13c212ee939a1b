import CertChainCrypto
import CertChainModel
import Foundation

/// The self-contained proof document returned with `?proof=true` and checked by `certchain verify` and
/// `scripts/verify.py` (layout: docs/PROOFS.md). `answer` is the plain API answer; everything else proves it.
public struct ProofDocument: Sendable, Codable {
    /// The only format this build writes and reads.
    public static let formatName = "certchain-proof/v1"

    /// `certchain-proof/v1`.
    public var format: String
    /// `certificate`, `transaction` or `history`.
    public var type: String
    /// The chain the answer is about (must equal genesis).
    public var chainId: String
    /// The crypto suite (must equal genesis).
    public var suite: String
    /// State values at the latest block (certificate and history answers).
    public var state: ProofState?
    /// Inclusion proofs of transactions and their receipts.
    public var transactions: [ProofTransaction]
    // `answer` is read separately as raw JSON so that every byte of it can be compared.

    /// Memberwise initializer.
    public init(type: String, chainId: String, suite: String, state: ProofState?, transactions: [ProofTransaction]) {
        format = ProofDocument.formatName; self.type = type; self.chainId = chainId; self.suite = suite
        self.state = state; self.transactions = transactions
    }
}

/// A block header with its hash and commit certificate (2f+1 signatures over `CommitCertificate.signingBytes`).
public struct ProofBlock: Sendable, Codable, Equatable {
    /// Header fields; hashes in lowercase hex.
    public struct Header: Sendable, Codable, Equatable {
        public var chainId: String
        public var height: UInt64
        public var previousHash: String
        public var timestampMs: Int64
        public var view: UInt64
        public var proposer: String
        public var txRoot: String
        public var receiptRoot: String
        public var stateRoot: String
    }

    /// One validator signature.
    public struct Signature: Sendable, Codable, Equatable {
        public var validator: String
        public var signature: String
    }

    /// The commit certificate stored beside the block.
    public struct Certificate: Sendable, Codable, Equatable {
        public var height: UInt64
        public var blockHash: String
        public var signatures: [Signature]
    }

    public var header: Header
    /// H(canonical header bytes), hex.
    public var hash: String
    public var commitCertificate: Certificate

    /// Builds the JSON form of a stored header and certificate.
    public init(header h: BlockHeader, hash: [UInt8], certificate c: CommitCertificate) {
        header = Header(chainId: h.chainId, height: h.height, previousHash: Hex.encode(h.previousHash), timestampMs: h.timestampMs,
                        view: h.view, proposer: h.proposer, txRoot: Hex.encode(h.txRoot), receiptRoot: Hex.encode(h.receiptRoot),
                        stateRoot: Hex.encode(h.stateRoot))
        self.hash = Hex.encode(hash)
        commitCertificate = Certificate(height: c.height, blockHash: Hex.encode(c.blockHash),
                                        signatures: c.signatures.map { Signature(validator: $0.validatorId, signature: Hex.encode($0.signature)) })
    }
}

/// State values proven against the `stateRoot` of `block` (the latest block when the proof was made).
public struct ProofState: Sendable, Codable {
    /// One key, its raw value bytes (hex; the JSON record) and its bucket proof.
    public struct Value: Sendable, Codable {
        public var key: String
        public var value: String
        public var proof: StateProof
    }

    public var block: ProofBlock
    public var values: [Value]
}

/// A transaction and its receipt in a committed block.
public struct ProofTransaction: Sendable, Codable {
    /// H(transaction), hex: the txRoot leaf data.
    public var txHash: String
    /// The transaction's canonical signing bytes (hex); its hash is `txHash`.
    public var transaction: String
    public var height: UInt64
    public var index: Int
    /// Number of transactions in the block (the Merkle tree size).
    public var txCount: Int
    /// Audit path of `txHash` under `txRoot`.
    public var txPath: [String]
    /// The receipt's canonical bytes (hex): the receiptRoot leaf data.
    public var receipt: String
    /// Audit path of the receipt under `receiptRoot`.
    public var receiptPath: [String]
    public var block: ProofBlock
}
