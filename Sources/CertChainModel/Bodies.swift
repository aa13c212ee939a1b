import Foundation

/// The nine transaction kinds of SPEC section 3.
public enum TransactionKind: String, Sendable, Codable, Hashable, CaseIterable {
    case registerEnterprise, fileTradeOperator, recordDeclaration, applyCertificate, issueCertificate
    case rejectApplication, revokeCertificate, claimRefund, approveRefund, rejectRefund
}

/// Body of `registerEnterprise`.
public struct RegisterEnterpriseBody: Codable, Sendable, Equatable {
    public var taxId: String
    public var name: String
    public var kind: String
    public var bureau: String
    public var publicKey: String
    /// Memberwise initializer.
    public init(taxId: String, name: String, kind: String, bureau: String, publicKey: String) {
        self.taxId = taxId; self.name = name; self.kind = kind; self.bureau = bureau; self.publicKey = publicKey
    }
}

/// Body of `fileTradeOperator`.
public struct FileTradeOperatorBody: Codable, Sendable, Equatable {
    public var taxId: String
    public var filedOn: String
    /// Memberwise initializer.
    public init(taxId: String, filedOn: String) { self.taxId = taxId; self.filedOn = filedOn }
}

/// One item of a customs export declaration.
public struct DeclarationItem: Codable, Sendable, Equatable {
    public var itemNo: Int
    public var hsCode: String
    public var goodsName: String
    public var unit: String
    public var quantity: String
    public var fob: String
    /// Memberwise initializer.
    public init(itemNo: Int, hsCode: String, goodsName: String, unit: String, quantity: String, fob: String) {
        self.itemNo = itemNo; self.hsCode = hsCode; self.goodsName = goodsName; self.unit = unit; self.quantity = quantity; self.fob = fob
    }
}

/// Body of `recordDeclaration`.
public struct RecordDeclarationBody: Codable, Sendable, Equatable {
    public var declarationNo: String
    public var customsCode: String
    public var exportDate: String
    public var consignorTaxId: String
    public var tradeMode: String
    public var currency: String
    public var items: [DeclarationItem]
    /// Memberwise initializer.
    public init(declarationNo: String, customsCode: String, exportDate: String, consignorTaxId: String, tradeMode: String, currency: String, items: [DeclarationItem]) {
        self.declarationNo = declarationNo; self.customsCode = customsCode; self.exportDate = exportDate; self.consignorTaxId = consignorTaxId; self.tradeMode = tradeMode; self.currency = currency; self.items = items
    }
}

/// One line of a certificate application (and of the certificate).
public struct CertificateLineInput: Codable, Sendable, Equatable {
    public var lineNo: Int
    public var declarationNo: String
    public var itemNo: Int
    public var exportDate: String
    public var verificationFormNo: String?
    public var tradeMode: String
    public var hsCode: String
    public var goodsName: String
    public var unit: String
    public var quantity: String
    public var currency: String
    public var fob: String
    public var contractNo: String
    /// Memberwise initializer.
    public init(lineNo: Int, declarationNo: String, itemNo: Int, exportDate: String, verificationFormNo: String? = nil, tradeMode: String, hsCode: String, goodsName: String, unit: String, quantity: String, currency: String, fob: String, contractNo: String) {
        self.lineNo = lineNo; self.declarationNo = declarationNo; self.itemNo = itemNo; self.exportDate = exportDate; self.verificationFormNo = verificationFormNo; self.tradeMode = tradeMode; self.hsCode = hsCode; self.goodsName = goodsName; self.unit = unit; self.quantity = quantity; self.currency = currency; self.fob = fob; self.contractNo = contractNo
    }
}

/// Body of `applyCertificate`.
public struct ApplyCertificateBody: Codable, Sendable, Equatable {
    public var applicationId: String
    public var principalTaxId: String
    public var principalName: String
    public var lines: [CertificateLineInput]
    /// Memberwise initializer.
    public init(applicationId: String, principalTaxId: String, principalName: String, lines: [CertificateLineInput]) {
        self.applicationId = applicationId; self.principalTaxId = principalTaxId; self.principalName = principalName; self.lines = lines
    }
}

/// Body of `issueCertificate`.
public struct IssueCertificateBody: Codable, Sendable, Equatable {
    public var applicationId: String
    public var certificateNumber: String
    public var handler: String
    public var handledOn: String
    public var reviewer: String
    public var reviewedOn: String
    /// Memberwise initializer.
    public init(applicationId: String, certificateNumber: String, handler: String, handledOn: String, reviewer: String, reviewedOn: String) {
        self.applicationId = applicationId; self.certificateNumber = certificateNumber; self.handler = handler; self.handledOn = handledOn; self.reviewer = reviewer; self.reviewedOn = reviewedOn
    }
}

/// Body of `rejectApplication`.
public struct RejectApplicationBody: Codable, Sendable, Equatable {
    public var applicationId: String
    public var reason: String
    /// Memberwise initializer.
    public init(applicationId: String, reason: String) {
        self.applicationId = applicationId; self.reason = reason
    }
}

/// Body of `revokeCertificate`.
public struct RevokeCertificateBody: Codable, Sendable, Equatable {
    public var certificateNumber: String
    public var reason: String
    /// Memberwise initializer.
    public init(certificateNumber: String, reason: String) {
        self.certificateNumber = certificateNumber; self.reason = reason
    }
}

/// One line of a refund claim.
public struct ClaimLineInput: Codable, Sendable, Equatable {
    public var certificateNumber: String
    public var lineNo: Int
    public var quantity: String
    public var invoiceAmount: String?
    /// Memberwise initializer.
    public init(certificateNumber: String, lineNo: Int, quantity: String, invoiceAmount: String? = nil) {
        self.certificateNumber = certificateNumber; self.lineNo = lineNo; self.quantity = quantity; self.invoiceAmount = invoiceAmount
    }
}

/// Body of `claimRefund`.
public struct ClaimRefundBody: Codable, Sendable, Equatable {
    public var claimId: String
    public var period: String
    public var exchangeRates: [String: String]
    public var lines: [ClaimLineInput]
    public var periodEndCredit: String?
    /// Memberwise initializer.
    public init(claimId: String, period: String, exchangeRates: [String: String], lines: [ClaimLineInput], periodEndCredit: String? = nil) {
        self.claimId = claimId; self.period = period; self.exchangeRates = exchangeRates; self.lines = lines; self.periodEndCredit = periodEndCredit
    }
}

/// Body of `approveRefund`.
public struct ApproveRefundBody: Codable, Sendable, Equatable {
    public var claimId: String
    /// Memberwise initializer.
    public init(claimId: String) {
        self.claimId = claimId
    }
}

/// Body of `rejectRefund`.
public struct RejectRefundBody: Codable, Sendable, Equatable {
    public var claimId: String
    public var reason: String
    /// Memberwise initializer.
    public init(claimId: String, reason: String) {
        self.claimId = claimId; self.reason = reason
    }
}

/// A typed transaction body, one case per kind.
public enum TransactionBody: Sendable, Equatable {
    case registerEnterprise(RegisterEnterpriseBody)
    case fileTradeOperator(FileTradeOperatorBody)
    case recordDeclaration(RecordDeclarationBody)
    case applyCertificate(ApplyCertificateBody)
    case issueCertificate(IssueCertificateBody)
    case rejectApplication(RejectApplicationBody)
    case revokeCertificate(RevokeCertificateBody)
    case claimRefund(ClaimRefundBody)
    case approveRefund(ApproveRefundBody)
    case rejectRefund(RejectRefundBody)

    /// The kind of this body.
    public var kind: TransactionKind {
        switch self {
        case .registerEnterprise: return .registerEnterprise
        case .fileTradeOperator: return .fileTradeOperator
        case .recordDeclaration: return .recordDeclaration
        case .applyCertificate: return .applyCertificate
        case .issueCertificate: return .issueCertificate
        case .rejectApplication: return .rejectApplication
        case .revokeCertificate: return .revokeCertificate
        case .claimRefund: return .claimRefund
        case .approveRefund: return .approveRefund
        case .rejectRefund: return .rejectRefund
        }
    }

    /// Decodes the JSON body of `kind` (a type error or missing field throws; invalid values do not).
    public static func decode(kind: TransactionKind, from decoder: Decoder) throws -> TransactionBody {
        switch kind {
        case .registerEnterprise: return .registerEnterprise(try RegisterEnterpriseBody(from: decoder))
        case .fileTradeOperator: return .fileTradeOperator(try FileTradeOperatorBody(from: decoder))
        case .recordDeclaration: return .recordDeclaration(try RecordDeclarationBody(from: decoder))
        case .applyCertificate: return .applyCertificate(try ApplyCertificateBody(from: decoder))
        case .issueCertificate: return .issueCertificate(try IssueCertificateBody(from: decoder))
        case .rejectApplication: return .rejectApplication(try RejectApplicationBody(from: decoder))
        case .revokeCertificate: return .revokeCertificate(try RevokeCertificateBody(from: decoder))
        case .claimRefund: return .claimRefund(try ClaimRefundBody(from: decoder))
        case .approveRefund: return .approveRefund(try ApproveRefundBody(from: decoder))
        case .rejectRefund: return .rejectRefund(try RejectRefundBody(from: decoder))
        }
    }

    /// Decodes a JSON body of `kind` from raw JSON bytes.
    public static func decodeJSON(kind: TransactionKind, data: Data) throws -> TransactionBody {
        try JSONDecoder().decode(BodyBox.self, from: data, configuration: kind).body
    }

    /// Encodes the body's JSON fields into `encoder`.
    public func encode(to encoder: Encoder) throws {
        switch self {
        case .registerEnterprise(let b): try b.encode(to: encoder)
        case .fileTradeOperator(let b): try b.encode(to: encoder)
        case .recordDeclaration(let b): try b.encode(to: encoder)
        case .applyCertificate(let b): try b.encode(to: encoder)
        case .issueCertificate(let b): try b.encode(to: encoder)
        case .rejectApplication(let b): try b.encode(to: encoder)
        case .revokeCertificate(let b): try b.encode(to: encoder)
        case .claimRefund(let b): try b.encode(to: encoder)
        case .approveRefund(let b): try b.encode(to: encoder)
        case .rejectRefund(let b): try b.encode(to: encoder)
        }
    }

    /// Writes the canonical binary form of the body (fields in declaration order; see docs/ENCODING.md).
    public func write(to w: inout CanonicalWriter) {
        switch self {
        case .registerEnterprise(let b):
            w.string(b.taxId); w.string(b.name); w.string(b.kind); w.string(b.bureau); w.string(b.publicKey)
        case .fileTradeOperator(let b):
            w.string(b.taxId); w.string(b.filedOn)
        case .recordDeclaration(let b):
            w.string(b.declarationNo); w.string(b.customsCode); w.string(b.exportDate); w.string(b.consignorTaxId)
            w.string(b.tradeMode); w.string(b.currency)
            w.array(b.items) { w, i in
                w.int(i.itemNo); w.string(i.hsCode); w.string(i.goodsName); w.string(i.unit); w.string(i.quantity); w.string(i.fob)
            }
        case .applyCertificate(let b):
            w.string(b.applicationId); w.string(b.principalTaxId); w.string(b.principalName)
            w.array(b.lines) { w, l in
                w.int(l.lineNo); w.string(l.declarationNo); w.int(l.itemNo); w.string(l.exportDate)
                w.optionalString(l.verificationFormNo); w.string(l.tradeMode); w.string(l.hsCode); w.string(l.goodsName)
                w.string(l.unit); w.string(l.quantity); w.string(l.currency); w.string(l.fob); w.string(l.contractNo)
            }
        case .issueCertificate(let b):
            w.string(b.applicationId); w.string(b.certificateNumber); w.string(b.handler); w.string(b.handledOn)
            w.string(b.reviewer); w.string(b.reviewedOn)
        case .rejectApplication(let b):
            w.string(b.applicationId); w.string(b.reason)
        case .revokeCertificate(let b):
            w.string(b.certificateNumber); w.string(b.reason)
        case .claimRefund(let b):
            w.string(b.claimId); w.string(b.period); w.stringMap(b.exchangeRates)
            w.array(b.lines) { w, l in
                w.string(l.certificateNumber); w.int(l.lineNo); w.string(l.quantity); w.optionalString(l.invoiceAmount)
            }
            w.optionalString(b.periodEndCredit)
        case .approveRefund(let b):
            w.string(b.claimId)
        case .rejectRefund(let b):
            w.string(b.claimId); w.string(b.reason)
        }
    }

    /// Reads the canonical binary form of a body of `kind`.
    public static func read(kind: TransactionKind, from r: inout CanonicalReader) throws -> TransactionBody {
        switch kind {
        case .registerEnterprise:
            return .registerEnterprise(RegisterEnterpriseBody(taxId: try r.string(), name: try r.string(), kind: try r.string(),
                                                              bureau: try r.string(), publicKey: try r.string()))
        case .fileTradeOperator:
            return .fileTradeOperator(FileTradeOperatorBody(taxId: try r.string(), filedOn: try r.string()))
        case .recordDeclaration:
            return .recordDeclaration(RecordDeclarationBody(
                declarationNo: try r.string(), customsCode: try r.string(), exportDate: try r.string(),
                consignorTaxId: try r.string(), tradeMode: try r.string(), currency: try r.string(),
                items: try r.array { r in
                    DeclarationItem(itemNo: try r.int(), hsCode: try r.string(), goodsName: try r.string(), unit: try r.string(),
                                    quantity: try r.string(), fob: try r.string())
                }))
        case .applyCertificate:
            return .applyCertificate(ApplyCertificateBody(
                applicationId: try r.string(), principalTaxId: try r.string(), principalName: try r.string(),
                lines: try r.array { r in
                    CertificateLineInput(lineNo: try r.int(), declarationNo: try r.string(), itemNo: try r.int(),
                                         exportDate: try r.string(), verificationFormNo: try r.optionalString(),
                                         tradeMode: try r.string(), hsCode: try r.string(), goodsName: try r.string(),
                                         unit: try r.string(), quantity: try r.string(), currency: try r.string(),
                                         fob: try r.string(), contractNo: try r.string())
                }))
        case .issueCertificate:
            return .issueCertificate(IssueCertificateBody(applicationId: try r.string(), certificateNumber: try r.string(),
                                                          handler: try r.string(), handledOn: try r.string(),
                                                          reviewer: try r.string(), reviewedOn: try r.string()))
        case .rejectApplication:
            return .rejectApplication(RejectApplicationBody(applicationId: try r.string(), reason: try r.string()))
        case .revokeCertificate:
            return .revokeCertificate(RevokeCertificateBody(certificateNumber: try r.string(), reason: try r.string()))
        case .claimRefund:
            return .claimRefund(ClaimRefundBody(
                claimId: try r.string(), period: try r.string(), exchangeRates: try r.stringMap(),
                lines: try r.array { r in
                    ClaimLineInput(certificateNumber: try r.string(), lineNo: try r.int(), quantity: try r.string(),
                                   invoiceAmount: try r.optionalString())
                },
                periodEndCredit: try r.optionalString()))
        case .approveRefund:
            return .approveRefund(ApproveRefundBody(claimId: try r.string()))
        case .rejectRefund:
            return .rejectRefund(RejectRefundBody(claimId: try r.string(), reason: try r.string()))
        }
    }
}

/// Decodes a body whose kind is passed as the decoding configuration.
struct BodyBox: DecodableWithConfiguration {
    let body: TransactionBody
    init(from decoder: Decoder, configuration: TransactionKind) throws {
        body = try TransactionBody.decode(kind: configuration, from: decoder)
    }
}
