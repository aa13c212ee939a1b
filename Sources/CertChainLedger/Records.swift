import Foundation
import CertChainModel

/// Which transaction did something: what history and "issued at" answers carry.
public struct TxReference: Sendable, Equatable, Codable {
    public var txHash: String
    public var kind: String
    public var height: UInt64
    public var index: Int
    public var effectiveDate: String
    public var signer: String
}

/// One entry of a certificate's history, oldest first.
public typealias HistoryEntry = TxReference

/// A registered enterprise (state "ent/<taxId>").
public struct EnterpriseRecord: Sendable, Equatable, Codable {
    public var taxId: String
    public var name: String
    public var kind: String
    public var bureau: String
    public var publicKey: String
    public var tradeOperator: Bool
    public var filedOn: String?
    public var registered: TxReference
    public var filed: TxReference?
}

/// One item of a recorded declaration, with the application or certificate holding it.
public struct DeclarationItemRecord: Sendable, Equatable, Codable {
    public var itemNo: Int
    public var hsCode: String
    public var goodsName: String
    public var unit: String
    public var quantity: String
    public var fob: String
    /// "application:<id>" while a pending application holds it, "certificate:<no>" while a live certificate does.
    public var heldBy: String?
}

/// A recorded customs export declaration (state "decl/<no>").
public struct DeclarationRecord: Sendable, Equatable, Codable {
    public var declarationNo: String
    public var customsCode: String
    public var exportDate: String
    public var consignorTaxId: String
    public var tradeMode: String
    public var currency: String
    public var items: [DeclarationItemRecord]
    public var recorded: TxReference
}

/// A certificate application (state "app/<id>"); status pending, issued or rejected.
public struct ApplicationRecord: Sendable, Equatable, Codable {
    public var applicationId: String
    public var agentTaxId: String
    public var principalTaxId: String
    public var principalName: String
    public var lines: [CertificateLineInput]
    public var status: String
    public var certificateNumber: String?
    public var reason: String?
    public var applied: TxReference
    public var decided: TxReference?
}

/// One certificate line with its reservation and consumption.
public struct CertificateLineRecord: Sendable, Equatable, Codable {
    public var line: CertificateLineInput
    public var reserved: String
    public var consumed: String
    public var fobUsed: String
}

/// An issued certificate (state "cert/<no>").
public struct CertificateRecord: Sendable, Equatable, Codable {
    public var certificateNumber: String
    public var applicationId: String
    public var bureau: String
    public var agentTaxId: String
    public var agentName: String
    public var principalTaxId: String
    public var principalName: String
    public var handler: String
    public var handledOn: String
    public var reviewer: String
    public var reviewedOn: String
    public var lines: [CertificateLineRecord]
    public var revoked: Bool
    public var revocationReason: String?
    public var issued: TxReference
    /// Issuance, claims, approvals, rejections, revocation, oldest first.
    public var history: [TxReference]

    /// issued | partiallyConsumed | consumed | revoked, derived from the lines.
    public var status: String {
        if revoked { return "revoked" }
        let consumed = lines.map { ExactDecimal.stored($0.consumed) }
        if zip(lines, consumed).allSatisfy({ ExactDecimal.stored($0.0.line.quantity) == $0.1 }) { return "consumed" }
        return consumed.contains { $0 > 0 } ? "partiallyConsumed" : "issued"
    }
}

/// A refund claim (state "claim/<id>"); status pending, approved or rejected.
public struct ClaimRecord: Sendable, Equatable, Codable {
    public var claimId: String
    public var principalTaxId: String
    public var period: String
    public var exchangeRates: [String: String]
    public var lines: [ClaimLineInput]
    public var periodEndCredit: String?
    public var status: String
    public var refund: RefundResult?
    public var reason: String?
    public var claimed: TxReference
    public var decided: TxReference?
}

/// Chain-wide counters and totals (state "stats").
public struct LedgerStatistics: Sendable, Equatable, Codable {
    public var certificatesIssued: Int = 0
    public var certificateStatus: [String: Int] = [:]
    public var refundClaims: Int = 0
    public var refundsApproved: Int = 0
    public var refundTotal: String = "0.00"
    public var exemptCreditTotal: String = "0.00"
    /// Empty statistics.
    public init() {}
}

/// Canonical state value encoding: JSON with sorted keys, no slash escaping, UTF-8 (see docs/ENCODING.md).
enum StateCodec {
    /// The canonical bytes of `v`: what Foundation's JSONEncoder writes with sorted keys and unescaped slashes.
    static func encode<T: Encodable>(_ v: T) -> [UInt8] {
        // Records are plain structs of strings, ints and bools: encoding cannot fail.
        (try? CanonicalJSON.encode(v)) ?? []
    }

    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]?) -> T? {
        guard let bytes else { return nil }
        return try? JSONDecoder().decode(type, from: Data(bytes))
    }
}

/// State keys.
enum Keys {
    static func enterprise(_ taxId: String) -> String { "ent/" + taxId }
    static func declaration(_ no: String) -> String { "decl/" + no }
    static func application(_ id: String) -> String { "app/" + id }
    static func certificate(_ no: String) -> String { "cert/" + no }
    static func claim(_ id: String) -> String { "claim/" + id }
    static let stats = "stats"
}
