import CertChainLedger
import CertChainModel
import CertChainNet
import Foundation

/// Limits of the query endpoints.
enum QueryLimits {
    /// Page size when `limit` is absent.
    static let defaultLimit = 50
    /// Largest page; a larger `limit` is capped to it.
    static let maxLimit = 200
    /// Most index rows one request examines; a page may end short (with a `next` cursor) when filters skip many rows.
    static let scanMax = 5_000
    /// Index rows read from the store at a time.
    static let batch = 500
}

/// `GET /v1/certificates?…`: a page of certificates as printed.
struct CertificatePage: Codable {
    var items: [CertificateView]
    var limit: Int
    /// Opaque cursor for the next page (`after=`); absent on the last page.
    var next: String?
}

/// `GET /v1/refunds?…`: a page of approved refunds and the totals of the whole selection.
struct RefundPage: Codable {
    struct Totals: Codable {
        var claims: Int
        var refund: String
        var exemptCredit: String
    }
    var items: [RefundRow]
    var limit: Int
    var next: String?
    /// Exact sums over every approved claim the filters select (all pages).
    var totals: Totals
}

extension Node {
    /// Auditor and enterprise query routes (lists, searches); nil when the request is not one of them.
    func handleQueryRoutes(_ request: HTTPRequest, _ parts: [String]) -> HTTPResponse? {
        guard request.method == "GET", parts.count == 2, parts[0] == "v1" else { return nil }
        do {
            switch parts[1] {
            case "certificates": return json(200, try certificateQuery(request.query))
            case "refunds": return json(200, try refundQuery(request.query))
            default: return nil
            }
        } catch let refusal as AccessRefusal {
            return .error(refusal.status, code: refusal.code, message: refusal.message)
        } catch {
            return .error(500, code: "internal", message: "query failed: \(error)")
        }
    }

    /// Filters: agent, principal, declaration, status, issuedFrom/issuedTo (YYYY-MM-DD, inclusive, the issuing
    /// transaction's effective date); all given filters must hold. Order: by the index the query scans (see docs/ACCESS.md).
    func certificateQuery(_ query: [String: String]) throws -> CertificatePage {
        try checkParameters(query, allowed: ["agent", "principal", "declaration", "status", "issuedFrom", "issuedTo", "limit", "after"])
        let limit = try pageLimit(query)
        for name in ["agent", "principal"] {
            if let taxId = query[name], !TaxID.isValid(taxId) { throw invalid("invalid-tax-id", "\(name)=\(taxId) is not a valid tax id") }
        }
        if let number = query["declaration"], !Formats.isDeclarationNumber(number) {
            throw invalid("invalid-declaration-number", "declaration=\(number) is not an export declaration number")
        }
        let statuses = ["issued", "partiallyConsumed", "consumed", "revoked"]
        if let status = query["status"], !statuses.contains(status) {
            throw invalid("invalid-status", "status must be one of \(statuses.joined(separator: ", "))")
        }
        for name in ["issuedFrom", "issuedTo"] {
            if let date = query[name], !CalendarDate.isValid(date) { throw invalid("invalid-date", "\(name)=\(date) is not a YYYY-MM-DD date") }
        }
        let from = query["issuedFrom"], to = query["issuedTo"]
        if let from, let to, from > to { throw invalid("invalid-range", "issuedFrom=\(from) is after issuedTo=\(to)") }
        // The most selective index drives the scan; the other filters are checked on each certificate.
        var prefix = QueryIndex.certificateAll
        var start: String?
        var stop: ((String) -> Bool)?
        if let number = query["declaration"] {
            prefix = QueryIndex.certificateDeclaration(number)
        } else if let taxId = query["agent"] {
            prefix = QueryIndex.certificateAgent(taxId)
        } else if let taxId = query["principal"] {
            prefix = QueryIndex.certificatePrincipal(taxId)
        } else if from != nil || to != nil {
            prefix = QueryIndex.certificateIssued
            start = from.map { prefix + $0 }
            if let to { stop = { key in String(key.dropFirst(prefix.count).prefix(10)) > to } }
        } else if let status = query["status"] {
            prefix = QueryIndex.certificateStatus(status)
        }
        let state = reader
        var items: [CertificateView] = []
        let next = try scan(prefix: prefix, after: try cursor(query, prefix: prefix) ?? start, limit: limit, stop: stop) { row in
            let number = String(decoding: row.value, as: UTF8.self)
            guard let record = Ledger.certificateRecord(number: number, in: state) else { return false }
            if let taxId = query["agent"], record.agentTaxId != taxId { return false }
            if let taxId = query["principal"], record.principalTaxId != taxId { return false }
            if let declaration = query["declaration"], !record.lines.contains(where: { $0.line.declarationNo == declaration }) { return false }
            if let status = query["status"], record.status != status { return false }
            if let from, record.issued.effectiveDate < from { return false }
            if let to, record.issued.effectiveDate > to { return false }
            guard let view = Ledger.certificate(number: number, in: state) else { return false }
            items.append(view)
            return true
        }
        return CertificatePage(items: items, limit: limit, next: next)
    }

    /// Filters: principal, and period (YYYYMM) or from/to (YYYYMM, inclusive). Order: by period then claim id
    /// (within the principal when given). Totals cover the whole selection, from the per-month running totals.
    func refundQuery(_ query: [String: String]) throws -> RefundPage {
        try checkParameters(query, allowed: ["principal", "period", "from", "to", "limit", "after"])
        let limit = try pageLimit(query)
        if let taxId = query["principal"], !TaxID.isValid(taxId) { throw invalid("invalid-tax-id", "principal=\(taxId) is not a valid tax id") }
        for name in ["period", "from", "to"] {
            if let period = query[name], !Formats.isPeriod(period) { throw invalid("invalid-period", "\(name)=\(period) is not a YYYYMM period") }
        }
        if query["period"] != nil, query["from"] != nil || query["to"] != nil {
            throw invalid("invalid-query", "give either period= or from=/to=, not both")
        }
        let from = query["period"] ?? query["from"], to = query["period"] ?? query["to"]
        if let from, let to, from > to { throw invalid("invalid-range", "from=\(from) is after to=\(to)") }
        let prefix = query["principal"].map(QueryIndex.refundPrincipal) ?? QueryIndex.refundPeriod
        let totalsPrefix = query["principal"].map(QueryIndex.totalsPrincipal) ?? QueryIndex.totalsPeriod
        let beyond: (String, String) -> Bool = { key, prefix in to.map { String(key.dropFirst(prefix.count).prefix(6)) > $0 } ?? false }

        var items: [RefundRow] = []
        let next = try scan(prefix: prefix, after: try cursor(query, prefix: prefix) ?? from.map { prefix + $0 }, limit: limit,
                            stop: { beyond($0, prefix) }) { row in
            guard let refund = try? JSONDecoder().decode(RefundRow.self, from: Data(row.value)) else { return false }
            items.append(refund)
            return true
        }
        var totals = RefundTotals()
        // Totals rows are keyed by the period itself: start just before `from` (the key of the month before it sorts lower).
        var after = from.flatMap { Int($0) }.flatMap { $0 > 0 ? totalsPrefix + String(format: "%06d", $0 - 1) : nil }
        scanning: while true {
            let rows = try store.indexEntries(keyPrefix: totalsPrefix, after: after, limit: QueryLimits.batch)
            for row in rows {
                if beyond(row.key, totalsPrefix) { break scanning }
                if let total = try? JSONDecoder().decode(RefundTotals.self, from: Data(row.value)) { totals.add(total) }
            }
            guard rows.count == QueryLimits.batch, let last = rows.last else { break }
            after = last.key
        }
        return RefundPage(
            items: items, limit: limit, next: next,
            totals: .init(claims: totals.claims, refund: totals.refund, exemptCredit: totals.exemptCredit))
    }

    /// Walks index rows under `prefix` after `after`, offering each to `take` (true = it went on the page) until the page
    /// is full, `stop` says the range ended, the rows run out, or `QueryLimits.scanMax` rows were examined.
    /// Returns the cursor of the last examined row when more may follow.
    func scan(
        prefix: String, after: String?, limit: Int, stop: ((String) -> Bool)?, take: ((key: String, value: [UInt8])) -> Bool
    ) throws -> String? {
        var after = after
        var taken = 0
        var examined = 0
        while true {
            let rows = try store.indexEntries(keyPrefix: prefix, after: after, limit: QueryLimits.batch)
            for row in rows {
                if let stop, stop(row.key) { return nil }
                examined += 1
                after = row.key
                if take(row) { taken += 1 }
                if taken == limit || examined >= QueryLimits.scanMax { return encodeCursor(row.key) }
            }
            if rows.count < QueryLimits.batch { return nil }
        }
    }

    /// `limit`: 1… (default 50, capped at 200).
    func pageLimit(_ query: [String: String]) throws -> Int {
        guard let text = query["limit"] else { return QueryLimits.defaultLimit }
        // Digits only (no sign, no spaces); a number too large for Int is simply above the cap.
        guard !text.isEmpty, text.utf8.count <= 40, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            text.contains(where: { $0 != "0" })
        else { throw invalid("invalid-limit", "limit must be a whole number ≥ 1 (at most \(QueryLimits.maxLimit))") }
        return min(Int(text) ?? QueryLimits.maxLimit, QueryLimits.maxLimit)
    }

    /// Decodes `after=`; it must come from the same kind of query (same index prefix).
    func cursor(_ query: [String: String], prefix: String) throws -> String? {
        guard let text = query["after"] else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let decoded = String(data: data, encoding: .utf8), decoded.hasPrefix("c1:"),
            decoded.dropFirst(3).hasPrefix(prefix)
        else { throw invalid("invalid-cursor", "after= is not a cursor of this query (use the `next` value of the previous page)") }
        return String(decoded.dropFirst(3))
    }

    /// An opaque, URL-safe cursor for the row `key` (base64url without padding).
    func encodeCursor(_ key: String) -> String {
        Data(("c1:" + key).utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// Refuses unknown parameters (a typo would otherwise silently widen the search).
    func checkParameters(_ query: [String: String], allowed: Set<String>) throws {
        if let unknown = query.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw invalid("invalid-query", "unknown parameter \(unknown) (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    func invalid(_ code: String, _ message: String) -> AccessRefusal { AccessRefusal(400, code, message) }
}
