import CertChainLedger
import CertChainModel
import CertChainNet
import Foundation

/// Equality of decimal strings by value ("990.0000" equals "990"); false if either does not parse.
func sameDecimal(_ a: String, _ b: String) -> Bool {
    guard let x = ExactDecimal.parse(a, maxScale: 12), let y = ExactDecimal.parse(b, maxScale: 12) else { return a == b }
    return x == y
}

extension LedgerStatistics {
    /// How the chain's totals and status counts differ from a workload's expected.json (empty: they agree).
    func differences(from expected: WorkloadExpected) -> [String] {
        var out: [String] = []
        if certificatesIssued != expected.certificatesIssued {
            out.append("certificatesIssued \(certificatesIssued), expected \(expected.certificatesIssued)")
        }
        if refundsApproved != expected.refundsApproved {
            out.append("refundsApproved \(refundsApproved), expected \(expected.refundsApproved)")
        }
        if !sameDecimal(refundTotal, expected.refundTotal) {
            out.append("refundTotal \(refundTotal), expected \(expected.refundTotal)")
        }
        if !sameDecimal(exemptCreditTotal, expected.exemptCreditTotal) {
            out.append("exemptCreditTotal \(exemptCreditTotal), expected \(expected.exemptCreditTotal)")
        }
        let statuses = Set(certificateStatus.keys).union(expected.certificateStatus.keys).sorted()
        for status in statuses where (certificateStatus[status] ?? 0) != (expected.certificateStatus[status] ?? 0) {
            out.append("\(status) certificates \(certificateStatus[status] ?? 0), expected \(expected.certificateStatus[status] ?? 0)")
        }
        return out
    }
}

extension CertificateView {
    /// How this certificate differs from its expected.json entry (nil: status, parties and consumption agree).
    func difference(from expected: ExpectedCertificate) -> String? {
        var problems: [String] = []
        if status != expected.status { problems.append("status \(status), expected \(expected.status)") }
        if principal.taxId != expected.principalTaxId { problems.append("principal \(principal.taxId), expected \(expected.principalTaxId)") }
        if agent.taxId != expected.agentTaxId { problems.append("agent \(agent.taxId), expected \(expected.agentTaxId)") }
        for line in lines {
            let want = expected.consumed[String(line.lineNo)] ?? "0"
            if !sameDecimal(line.consumed, want) { problems.append("line \(line.lineNo) consumed \(line.consumed), expected \(want)") }
        }
        for key in expected.consumed.keys where !lines.contains(where: { String($0.lineNo) == key }) {
            problems.append("line \(key) expected but missing")
        }
        return problems.isEmpty ? nil : problems.joined(separator: "; ")
    }
}

/// An HTTP client for `http://host:port` with a given timeout.
func makeClient(_ url: String, timeoutSeconds: Double) throws -> CertChainNet.HTTPClient {
    let parsed = try CertChainNet.HTTPClient(url: url)
    return CertChainNet.HTTPClient(host: parsed.host, port: parsed.port, timeoutSeconds: timeoutSeconds)
}
