import Foundation

/// Human-readable rendering of a replay summary (what `certchain replay` and `scripts/demo` print).
public enum ReplayReport {
    /// The summary as a short report: receipts, state check, nodes, throughput and latency.
    public static func text(_ summary: WorkloadReplay.Summary) -> String {
        var lines: [String] = []
        lines.append("== replay of \(summary.workload)")
        lines.append("receipts:            \(summary.receipts) of \(summary.submitted) submitted; matched \(summary.matched), mismatched \(summary.mismatches)")
        for detail in summary.mismatchDetails.prefix(10) { lines.append("  mismatch: \(detail)") }
        lines.append(
            "final state:         \(summary.stateMatchesExpected ? "matches" : "DIFFERS FROM") expected.json (\(summary.certificatesChecked) certificates checked)")
        for difference in summary.stateDifferences.prefix(10) { lines.append("  difference: \(difference)") }
        lines.append("refund total:        \(summary.refundTotal) CNY; exempt-credit total \(summary.exemptCreditTotal) CNY")
        lines.append("nodes:               \(summary.nodesAgree ? "all agree" : "DISAGREE")")
        for node in summary.nodes { lines.append("  \(node.id)  height \(node.height)  last block \(node.lastBlockHash)") }
        lines.append(String(format: "throughput:          %.1f transactions/s committed (%llu blocks, %.1f s wall)", summary.transactionsPerSecond, summary.blocks, summary.elapsedSeconds))
        lines.append(String(format: "latency (submit→commit): p50 %.1f ms, p99 %.1f ms, max %.1f ms", summary.latencyMsP50, summary.latencyMsP99, summary.latencyMsMax))
        return lines.joined(separator: "\n")
    }
}
