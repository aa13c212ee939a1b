import Foundation

/// Renders benchmark results as the table `scripts/bench` prints, and writes them as JSON.
public enum BenchReport {
    /// The figures as an aligned text table, targets marked met / not met.
    public static func text(_ r: Bench.Results) -> String {
        func f(_ value: Double, _ digits: Int = 0) -> String { String(format: "%.\(digits)f", value) }
        let load = { (l: [Double]) in l.map { f($0, 2) }.joined(separator: " ") }
        var rows: [(String, String)] = [
            ("run", "\(r.label), \(r.suite), \(r.validators) validators, \(r.cores) cores, \(r.clients) clients, commit \(r.commit)"),
            ("load average before / after", "\(load(r.loadAverageBefore)) / \(load(r.loadAverageAfter))"),
            ("committed transactions per second", f(r.transactionsPerSecond)),
            ("physical limit (cores × verif/s ÷ validators)", "\(f(r.physicalLimitTransactionsPerSecond)) tx/s (\(f(r.verificationsPerSecondPerCore)) verif/s/core, \(f(r.verificationMicroseconds, 1)) µs each through OpenSSL's EVP_DigestVerify)"),
            ("one verification as validators do it", "\(f(r.nodeVerificationMicroseconds, 1)) µs with a frequent signer's key (SM2: its precomputed table)"),
            ("share of the physical limit", f(r.physicalLimitShare, 3)),
            ("validator CPU per committed tx", "\(f(r.cpuSecondsPerTransaction * 1e6)) µs per validator (\(f(r.cpuSecondsPerTransactionAllValidators * 1e6)) µs all)"),
            ("CPU per committed tx by process", r.cpuMicrosecondsPerTransactionByValidator.enumerated().map { index, micros in
                "node\(index)\("node\(index)" == r.primaryValidator ? " (primary)" : "") \(f(micros))"
            }.joined(separator: ", ") + " µs; bench clients \(f(r.clientCpuMicrosecondsPerTransaction)) µs"),
            ("overhead ratio (CPU per tx ÷ one verification)", f(r.overheadRatio, 2)),
            ("latency at full speed p50 / p99 / max", "\(f(r.saturatedLatencyMsP50, 1)) / \(f(r.saturatedLatencyMsP99, 1)) / \(f(r.saturatedLatencyMsMax, 1)) ms"),
            ("latency at half rate p50 / p99 / max", "\(f(r.latencyMsP50, 1)) / \(f(r.latencyMsP99, 1)) / \(f(r.latencyMsMax, 1)) ms (offered \(f(r.latencyRunOfferedPerSecond)) tx/s, got \(f(r.latencyRunTransactionsPerSecond)))"),
            ("half rate: submit → proposal p50 / p99", "\(f(r.latencySplitMs.submitToProposalP50, 1)) / \(f(r.latencySplitMs.submitToProposalP99, 1)) ms (answer \(f(r.latencySplitMs.admissionP50, 1)) / \(f(r.latencySplitMs.admissionP99, 1)) ms)"),
            ("half rate: proposal → commit seen p50 / p99", "\(f(r.latencySplitMs.proposalToCommitSeenP50, 1)) / \(f(r.latencySplitMs.proposalToCommitSeenP99, 1)) ms"),
            ("receipts ok / error / refused / never committed", "\(r.receiptsOk) / \(r.receiptsError) / \(r.refused) / \(r.neverCommitted) (\(r.receiptsErrorExpected) errors expected by the workload)"),
            ("receipts the workload did not expect", "\(r.receiptsUnexpected)" + (r.receiptsUnexpectedSamples.isEmpty ? "" : " (" + r.receiptsUnexpectedSamples.prefix(3).joined(separator: "; ") + (r.receiptsUnexpected > 3 ? "; …" : "") + ")")),
            ("error receipts by code", r.receiptErrorCodes.sorted { $0.value > $1.value }.prefix(6).map { "\($0.key) \($0.value)" }.joined(separator: ", ")),
            ("bytes on disk per transaction", "\(f(r.bytesPerTransaction)) (\(r.chainTransactions) txs, \(r.chainHeight) blocks)"),
            ("validator resident memory (largest)", "\(f(r.validatorResidentMegabytes)) MB"),
            ("growth, tx/s per \(r.growthSliceTransactions)-tx slice", r.growth.map { f($0.transactionsPerSecond) }.joined(separator: ", ") + " (last ÷ first \(f(r.growthLastToFirst, 2)))"),
            ("growth, validator CPU µs per tx per slice", r.growth.map { f($0.cpuMicrosecondsPerTransaction) }.joined(separator: ", ")),
            ("catch-up", "\(r.catchUpBlocks) blocks in \(f(r.catchUpSeconds, 2)) s = \(f(r.catchUpBlocksPerSecond)) blocks/s, \(f(r.catchUpTransactionsPerSecond)) tx/s (live \(f(r.liveBlocksPerSecond, 1)) blocks/s); ratio \(f(r.catchUpRatio, 1))"),
            ("queries (\(r.queryThreads) threads, under load)", "\(f(r.queriesPerSecond)) /s, p50 \(f(r.queryLatencyMsP50, 2)) ms, p99 \(f(r.queryLatencyMsP99, 2)) ms, \(r.queryErrors) errors"),
        ]
        rows += r.targets.map { ("target: \($0.name) \($0.goal)", "\(f($0.value, 2))  \($0.met ? "met" : "NOT MET")") }
        let width = rows.map { $0.0.count }.max() ?? 0
        return rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n")
    }

    /// Writes the results as pretty JSON to `path` (creating its folder).
    public static func write(_ results: Bench.Results, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(results).write(to: url)
    }
}
