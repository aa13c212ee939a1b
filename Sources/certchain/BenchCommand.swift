import CertChainNode
import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `certchain bench [--profile quick|full|state] [--validators N] [--suite S] [--dir DIR] [--out FILE] …`: runs the benchmark suite.
func benchCommand(_ arguments: Arguments) throws -> Int32 {
    if arguments.options["profile"] == "state" { return try stateGrowthCommand(arguments) }
    let directory = arguments.options["dir"] ?? "bench-results/network"
    var options = Bench.Options(
        directory: directory, templatePath: arguments.options["template"] ?? "genesis/template.json", executable: currentExecutablePath())
    let profile = arguments.options["profile"] ?? "quick"
    guard profile == "quick" || profile == "full" else { throw CLIError(description: "bench: --profile is quick, full or state", usage: true) }
    if profile == "full" {
        options.label = "full"
        options.certificates = 1_000_000
        options.sliceTransactions = 100_000
        options.slicesMax = 1_000
        options.growthSeconds = 3_600
        options.phaseSeconds = 30
        options.commitTimeoutSeconds = 900
        options.catchUpTimeoutSeconds = 3_600
    }
    options.validators = try arguments.int("validators", default: options.validators)
    options.suite = try arguments.suite()
    options.certificates = try arguments.int("certificates", default: options.certificates)
    options.clients = try arguments.int("clients", default: options.clients)
    options.sliceTransactions = try arguments.int("slice", default: options.sliceTransactions)
    options.slicesMax = try arguments.int("slices", default: options.slicesMax)
    options.growthSeconds = Double(try arguments.int("growth-seconds", default: Int(options.growthSeconds)))
    options.phaseSeconds = Double(try arguments.int("phase-seconds", default: Int(options.phaseSeconds)))
    options.queryThreads = try arguments.int("query-threads", default: options.queryThreads)
    if let text = arguments.options["latency-rate"] {
        guard let rate = Double(text), rate > 0 else { throw CLIError(description: "--latency-rate must be a positive number", usage: true) }
        options.latencyRate = rate
    }
    options.perfSeconds = try arguments.int("perf-seconds", default: 0)
    options.workloadDirectory = arguments.options["workload"]
    options.commit = arguments.options["commit"] ?? options.commit
    if let label = arguments.options["label"] { options.label = label }
    guard options.validators >= 1, options.clients >= 1, options.sliceTransactions >= 1, options.slicesMax >= 1, options.queryThreads >= 1,
        options.phaseSeconds >= 1
    else { throw CLIError(description: "bench: counts and durations must be at least 1", usage: true) }
    let out = arguments.options["out"] ?? "bench-results/latest.json"
    let sources = stopValidatorsOnSignal(Testnet(directory: directory + "/network"))
    defer { sources.forEach { $0.cancel() } }
    let results = try Bench(options: options) { line in print("bench: \(line)") }.run()
    print(BenchReport.text(results))
    try BenchReport.write(results, to: out)
    print("results written to \(out)")
    return 0
}

/// `certchain bench --profile state [--certificates N] [--slice N] [--block N] [--growth-seconds S] [--workload DIR]`: the
/// state growth run (`StateGrowthBench`): a workload through ledger, state tree and store, rate and memory per slice.
func stateGrowthCommand(_ arguments: Arguments) throws -> Int32 {
    var options = StateGrowthBench.Options(directory: arguments.options["dir"] ?? "bench-results/state")
    options.certificates = try arguments.int("certificates", default: options.certificates)
    // About 5.7 transactions per certificate: 100,000-transaction slices from 20,000 certificates up, about ten slices below.
    let sliceDefault = options.certificates >= 20_000 ? options.sliceTransactions : max(100, options.certificates / 2)
    options.sliceTransactions = try arguments.int("slice", default: sliceDefault)
    options.blockTransactions = try arguments.int("block", default: min(options.blockTransactions, options.sliceTransactions))
    options.timeBudgetSeconds = Double(try arguments.int("growth-seconds", default: Int(options.timeBudgetSeconds)))
    options.workloadDirectory = arguments.options["workload"]
    options.commit = arguments.options["commit"] ?? options.commit
    guard options.certificates >= 1, options.sliceTransactions >= 1, options.blockTransactions >= 1, options.timeBudgetSeconds >= 1 else {
        throw CLIError(description: "bench: counts and durations must be at least 1", usage: true)
    }
    let out = arguments.options["out"] ?? "bench-results/state-growth.json"
    let results = try StateGrowthBench(options: options) { line in print("bench: \(line)") }.run()
    print(String(format: "state growth: %d transactions, %d blocks, %d certificates issued, %d receipts differ from the workload; %.0f s",
                 results.transactions, results.blocks, results.certificatesIssued, results.mismatches, results.seconds))
    print("slice  transactions  state keys  tx/s    µs CPU/tx  RSS MB  database MB")
    for slice in results.slices {
        print(String(format: "%5d  %12d  %10d  %6.0f  %9.0f  %6.0f  %11.0f", slice.index, slice.transactions, slice.stateKeysAtEnd,
                     slice.transactionsPerSecond, slice.cpuMicrosecondsPerTransaction, slice.residentMB, slice.databaseMB))
    }
    print(String(format: "last slice ÷ first: rate %.2f, memory %.2f; %.0f database bytes per transaction; stopped by %@",
                 results.lastOverFirst, results.residentLastOverFirst, results.databaseBytesPerTransaction, results.stoppedBy))
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try FileManager.default.createDirectory(
        at: URL(fileURLWithPath: out).deletingLastPathComponent(), withIntermediateDirectories: true)
    try encoder.encode(results).write(to: URL(fileURLWithPath: out))
    print("results written to \(out)")
    return results.mismatches == 0 ? 0 : 1
}

/// On SIGINT/SIGTERM, stops the benchmark's validators (they run in sessions of their own) before exiting.
func stopValidatorsOnSignal(_ testnet: Testnet) -> [DispatchSourceSignal] {
    [SIGINT, SIGTERM].map { signalNumber in
        signal(signalNumber, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: DispatchQueue(label: "certchain.bench.signals"))
        source.setEventHandler {
            FileHandle.standardError.write(Data("bench: interrupted; stopping validators\n".utf8))
            for index in 0..<64 where testnet.runningPid(index) != nil { testnet.stopNode(index, graceSeconds: 5) }
            exit(130)
        }
        source.resume()
        return source
    }
}
