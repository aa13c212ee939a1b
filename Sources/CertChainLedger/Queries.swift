import Foundation
import CertChainModel

/// A certificate line as printed, with its claim status.
public struct CertificateLineView: Sendable, Equatable, Codable {
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
    /// Quantity reserved by pending claims.
    public var claimPending: String
    /// Quantity consumed by approved claims.
    public var consumed: String
    /// Quantity still claimable.
    public var remaining: String
}

/// A 合计 total of one unit or currency.
public struct CertificateTotal: Sendable, Equatable, Codable {
    public var unit: String?
    public var currency: String?
    public var total: String
}

/// A party (enterprise) printed on a certificate.
public struct CertificateParty: Sendable, Equatable, Codable {
    public var taxId: String
    public var name: String
}

/// The certificate as printed, with status and per-line consumption.
public struct CertificateView: Sendable, Equatable, Codable {
    public var certificateNumber: String
    public var status: String
    public var applicationId: String
    public var bureau: String
    public var agent: CertificateParty
    public var principal: CertificateParty
    public var handler: String
    public var handledOn: String
    public var reviewer: String
    public var reviewedOn: String
    public var lines: [CertificateLineView]
    /// Total quantity per unit (exact sums), sorted by unit.
    public var quantityTotals: [CertificateTotal]
    /// Total FOB per currency (exact sums), sorted by currency.
    public var fobTotals: [CertificateTotal]
    public var revocationReason: String?
    public var issuedAt: TxReference
}

extension Ledger {
    /// The certificate `number` as printed, or nil.
    public static func certificate(number: String, in state: StateReader) -> CertificateView? {
        guard let c = StateCodec.decode(CertificateRecord.self, state.value(forKey: Keys.certificate(number))) else { return nil }
        var qty: [String: Decimal] = [:], fob: [String: Decimal] = [:]
        var lines: [CertificateLineView] = []
        for r in c.lines {
            let l = r.line
            qty[l.unit, default: 0] += ExactDecimal.stored(l.quantity)
            fob[l.currency, default: 0] += ExactDecimal.stored(l.fob)
            let remaining = ExactDecimal.stored(l.quantity) - ExactDecimal.stored(r.reserved) - ExactDecimal.stored(r.consumed)
            lines.append(CertificateLineView(lineNo: l.lineNo, declarationNo: l.declarationNo, itemNo: l.itemNo, exportDate: l.exportDate,
                                             verificationFormNo: l.verificationFormNo, tradeMode: l.tradeMode, hsCode: l.hsCode,
                                             goodsName: l.goodsName, unit: l.unit, quantity: l.quantity, currency: l.currency, fob: l.fob,
                                             contractNo: l.contractNo, claimPending: ExactDecimal.string(ExactDecimal.stored(r.reserved), scale: 4),
                                             consumed: ExactDecimal.string(ExactDecimal.stored(r.consumed), scale: 4),
                                             remaining: ExactDecimal.string(remaining, scale: 4)))
        }
        return CertificateView(certificateNumber: c.certificateNumber, status: c.status, applicationId: c.applicationId, bureau: c.bureau,
                               agent: CertificateParty(taxId: c.agentTaxId, name: c.agentName),
                               principal: CertificateParty(taxId: c.principalTaxId, name: c.principalName),
                               handler: c.handler, handledOn: c.handledOn, reviewer: c.reviewer, reviewedOn: c.reviewedOn, lines: lines,
                               quantityTotals: qty.keys.sorted(by: keyPrecedes).map {
                                   CertificateTotal(unit: $0, currency: nil, total: ExactDecimal.string(qty[$0]!, scale: 4))
                               },
                               fobTotals: fob.keys.sorted(by: keyPrecedes).map {
                                   CertificateTotal(unit: nil, currency: $0, total: ExactDecimal.string(fob[$0]!, scale: 2))
                               },
                               revocationReason: c.revocationReason, issuedAt: c.issued)
    }

    /// The stored certificate record (with reserved/consumed/fobUsed per line), or nil.
    public static func certificateRecord(number: String, in state: StateReader) -> CertificateRecord? {
        StateCodec.decode(CertificateRecord.self, state.value(forKey: Keys.certificate(number)))
    }

    /// The application `id`, or nil.
    public static func application(id: String, in state: StateReader) -> ApplicationRecord? {
        StateCodec.decode(ApplicationRecord.self, state.value(forKey: Keys.application(id)))
    }

    /// The refund claim `id` (with its refund once approved), or nil.
    public static func claim(id: String, in state: StateReader) -> ClaimRecord? {
        StateCodec.decode(ClaimRecord.self, state.value(forKey: Keys.claim(id)))
    }

    /// The declaration `number` (items show which application or certificate holds them), or nil.
    public static func declaration(number: String, in state: StateReader) -> DeclarationRecord? {
        StateCodec.decode(DeclarationRecord.self, state.value(forKey: Keys.declaration(number)))
    }

    /// The enterprise `taxId`, or nil.
    public static func enterprise(taxId: String, in state: StateReader) -> EnterpriseRecord? {
        StateCodec.decode(EnterpriseRecord.self, state.value(forKey: Keys.enterprise(taxId)))
    }

    /// Every transaction that changed the certificate, oldest first: declarations, application, issuance, claims, decisions, revocation.
    public static func history(certificateNumber: String, in state: StateReader) -> [HistoryEntry] {
        guard let c = certificateRecord(number: certificateNumber, in: state) else { return [] }
        var refs: [TxReference] = []
        var declSeen = Set<String>()
        for l in c.lines where declSeen.insert(l.line.declarationNo).inserted {
            if let d = declaration(number: l.line.declarationNo, in: state) { refs.append(d.recorded) }
        }
        if let app = application(id: c.applicationId, in: state) { refs.append(app.applied) }
        refs.append(contentsOf: c.history)
        var seen = Set<String>()
        return refs.filter { seen.insert($0.txHash).inserted }
            .sorted { ($0.height, $0.index) < ($1.height, $1.index) }
    }

    /// Counters and totals: certificates per status, issued, claims, approvals, refund and exempt-credit totals.
    public static func statistics(in state: StateReader) -> LedgerStatistics {
        var s = StateCodec.decode(LedgerStatistics.self, state.value(forKey: Keys.stats)) ?? LedgerStatistics()
        s.certificateStatus = s.certificateStatus.filter { $0.value != 0 }
        return s
    }
}
