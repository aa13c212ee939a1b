import Foundation

/// Human-readable rendering of a replay summary (what `certchain replay` and `scripts/demo` print).
public enum ReplayReport {
    /// The summary as a short report: receipts, state check, nodes, throughput and latency.
    public static func text(_ summary: WorkloadReplay.Summary) -> String {
        var lines: [String] = []
        lines.append("== replay of \(summary.workload)")
        lines.append("receipts:            \(summary.receipts) of \(summary.submitted) submitted; matched \(summary.matched), mismatched \(summary.mismatches)")
        for detail in summary.mismatchDetails.prefix(10) { lines.append("  mismatch: \(detail)") }
        if summary.stateCompared {
            lines.append(
                "final state:         \(summary.stateMatchesExpected ? "matches" : "DIFFERS FROM") expected.json (\(summary.certificatesChecked) certificates checked)")
        } else {
            lines.append("final state:         not compared (--limit: a partial replay)")
        }
        for difference in summary.stateDifferences.prefix(10) { lines.append("  difference: \(difference)") }
        lines.append("refund total:        \(summary.refundTotal) CNY; exempt-credit total \(summary.exemptCreditTotal) CNY")
        let unreachable = summary.nodes.filter { $0.lastBlockHash == WorkloadReplay.NodeSummary.unreachable }
        let verdict = summary.nodesAgree ? "all agree" : unreachable.isEmpty ? "DISAGREE" : "NOT ALL ANSWERED (\(unreachable.count) unreachable)"
        lines.append("nodes:               \(verdict)")
        for node in summary.nodes {
            lines.append(node.lastBlockHash == WorkloadReplay.NodeSummary.unreachable
                ? "  \(node.id)  unreachable" : "  \(node.id)  height \(node.height)  last block \(node.lastBlockHash)")
        }
        lines.append(String(format: "throughput:          %.1f transactions/s committed (%llu blocks; %.1f s from first submission to last commit, %.1f s in all)",
                            summary.transactionsPerSecond, summary.blocks, summary.commitWindowSeconds, summary.elapsedSeconds))
        lines.append(String(format: "latency (submit→commit): p50 %.1f ms, p99 %.1f ms, max %.1f ms", summary.latencyMsP50, summary.latencyMsP99, summary.latencyMsMax))
        return lines.joined(separator: "\n")
    }
}
