import CertChainLedger
import CertChainModel
import CertChainStore
import Foundation

/// Storage without secondary indexes (the simulator's): index rows are dropped, index reads are empty.
extension NodeStorage {
    /// No index rows.
    public func indexEntries(keyPrefix: String, after: String?, limit: Int) throws -> [(key: String, value: [UInt8])] { [] }
}

/// An approved refund as listed by `GET /v1/refunds` (the value of a `q1/r/…` index row).
struct RefundRow: Codable, Sendable, Equatable {
    var claimId: String
    var principalTaxId: String
    var period: String
    var method: String
    var refund: String
    var exemptCredit: String
    var approvedAt: TxReference?
}

/// Running totals of approved refunds for one principal-month or one month (a `q1/t/…` index row).
struct RefundTotals: Codable, Sendable, Equatable {
    var claims: Int = 0
    var refund: String = "0.00"
    var exemptCredit: String = "0.00"

    /// Adds another total exactly.
    mutating func add(_ other: RefundTotals) {
        claims += other.claims
        refund = ExactDecimal.string(ExactDecimal.stored(refund) + ExactDecimal.stored(other.refund), scale: 2)
        exemptCredit = ExactDecimal.string(ExactDecimal.stored(exemptCredit) + ExactDecimal.stored(other.exemptCredit), scale: 2)
    }
}

/// Secondary index rows for the auditor queries, derived on the node from each committed block's state
/// changes and written in the block's SQLite transaction (outside the state root; see docs/ACCESS.md).
///
/// Keys (all under `q1/`, sorted by UTF-8 bytes):
/// - `q1/c/all/<certNo>`, `q1/c/agent/<taxId>/<certNo>`, `q1/c/principal/<taxId>/<certNo>`,
///   `q1/c/decl/<declNo>/<certNo>`, `q1/c/issued/<YYYY-MM-DD>/<certNo>`, `q1/c/status/<status>/<certNo>`
///   (status rows are candidates: a certificate leaves a row behind when its status changes, and queries
///   re-check the status in state);
/// - `q1/r/principal/<taxId>/<YYYYMM>/<claimId>` and `q1/r/period/<YYYYMM>/<claimId>`: approved claims (JSON `RefundRow`);
/// - `q1/t/principal/<taxId>/<YYYYMM>` and `q1/t/period/<YYYYMM>`: running totals (JSON `RefundTotals`).
enum QueryIndex {
    static let certificateAll = "q1/c/all/"
    static func certificateAgent(_ taxId: String) -> String { "q1/c/agent/\(taxId)/" }
    static func certificatePrincipal(_ taxId: String) -> String { "q1/c/principal/\(taxId)/" }
    static func certificateDeclaration(_ number: String) -> String { "q1/c/decl/\(number)/" }
    static let certificateIssued = "q1/c/issued/"
    static func certificateStatus(_ status: String) -> String { "q1/c/status/\(status)/" }
    static func refundPrincipal(_ taxId: String) -> String { "q1/r/principal/\(taxId)/" }
    static let refundPeriod = "q1/r/period/"
    static func totalsPrincipal(_ taxId: String) -> String { "q1/t/principal/\(taxId)/" }
    static let totalsPeriod = "q1/t/period/"

    /// The index rows for one block's state changes; reads existing totals from `storage` (the driver is the only writer).
    /// Records come decoded from `ledger`'s cache (it has just encoded them), so a block's records are not parsed twice.
    static func rows(for changes: [(key: String, value: [UInt8]?)], in storage: NodeStorage, ledger: Ledger) -> [(key: String, value: [UInt8])] {
        var rows: [(key: String, value: [UInt8])] = []
        var totals: [String: RefundTotals] = [:]
        for change in changes {
            guard let value = change.value else { continue }
            if change.key.hasPrefix("cert/"), let record = ledger.certificateRecord(key: change.key, bytes: value) {
                let number = Array(record.certificateNumber.utf8)
                var keys = [
                    certificateAll + record.certificateNumber,
                    certificateAgent(record.agentTaxId) + record.certificateNumber,
                    certificatePrincipal(record.principalTaxId) + record.certificateNumber,
                    certificateIssued + record.issued.effectiveDate + "/" + record.certificateNumber,
                    certificateStatus(record.status) + record.certificateNumber,
                ]
                for declaration in Set(record.lines.map(\.line.declarationNo)).sorted() {
                    keys.append(certificateDeclaration(declaration) + record.certificateNumber)
                }
                rows += keys.map { (key: $0, value: number) }
            } else if change.key.hasPrefix("claim/"), let claim = ledger.claimRecord(key: change.key, bytes: value),
                claim.status == "approved", let refund = claim.refund
            {
                let periodKey = refundPeriod + claim.period + "/" + claim.claimId
                // Approval is final; a claim already indexed is not counted twice.
                if let existing = try? storage.indexEntries(keyPrefix: periodKey, after: nil, limit: 1), existing.contains(where: { $0.key == periodKey }) {
                    continue
                }
                let row = RefundRow(
                    claimId: claim.claimId, principalTaxId: claim.principalTaxId, period: claim.period, method: refund.method,
                    refund: refund.refund, exemptCredit: refund.exemptCredit, approvedAt: claim.decided)
                let bytes = encode(row)
                rows.append((periodKey, bytes))
                rows.append((refundPrincipal(claim.principalTaxId) + claim.period + "/" + claim.claimId, bytes))
                let delta = RefundTotals(claims: 1, refund: refund.refund, exemptCredit: refund.exemptCredit)
                totals[totalsPrincipal(claim.principalTaxId) + claim.period, default: RefundTotals()].add(delta)
                totals[totalsPeriod + claim.period, default: RefundTotals()].add(delta)
            }
        }
        for key in totals.keys.sorted() {
            var total = existingTotals(key, in: storage)
            total.add(totals[key]!)
            rows.append((key, encode(total)))
        }
        return rows
    }

    /// The stored running total under exactly `key` (zero when absent).
    static func existingTotals(_ key: String, in storage: NodeStorage) -> RefundTotals {
        guard let row = ((try? storage.indexEntries(keyPrefix: key, after: nil, limit: 1)) ?? []).first(where: { $0.key == key }),
            let total = try? JSONDecoder().decode(RefundTotals.self, from: Data(row.value))
        else { return RefundTotals() }
        return total
    }

    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(value)) ?? Data())
    }
}
