import CertChainNode
import Foundation

/// `certchain workload generate --certificates N [--seed S] [--bad-rate F] [--max-principals P] [--force] OUT`.
func workloadCommand(_ arguments: Arguments) throws {
    guard arguments.positional.first == "generate" else { throw CLIError(description: "workload: use `workload generate`", usage: true) }
    guard arguments.positional.count == 2 else { throw CLIError(description: "workload generate: OUT directory is required", usage: true) }
    var options = WorkloadGenerator.Options()
    options.certificates = try arguments.int("certificates", default: options.certificates)
    guard options.certificates >= 1 else { throw CLIError(description: "--certificates must be at least 1", usage: true) }
    if let text = arguments.options["seed"] {
        guard let seed = UInt64(text) else { throw CLIError(description: "--seed must be a whole number ≥ 0", usage: true) }
        options.seed = seed
    }
    if let text = arguments.options["bad-rate"] {
        guard let rate = Double(text), rate >= 0, rate <= 1 else { throw CLIError(description: "--bad-rate must be a number in 0…1", usage: true) }
        options.badRate = rate
    }
    options.principalCap = try arguments.int("max-principals", default: options.principalCap, atLeast: 1)
    let out = URL(fileURLWithPath: arguments.positional[1])
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: out.path, isDirectory: &isDirectory) {
        guard isDirectory.boolValue else { throw CLIError(description: "workload generate: \(out.path) is a file, not a folder") }
        if FileManager.default.fileExists(atPath: out.appendingPathComponent("transactions.jsonl").path) && !arguments.flags.contains("force") {
            throw CLIError(description: "workload generate: \(out.path) already holds a workload; pass --force to replace it")
        }
    }
    let start = Date()
    let summary = try WorkloadGenerator(options: options).write(to: out)
    let seconds = Date().timeIntervalSince(start)
    print("""
        wrote \(out.path): \(summary.transactions) transactions (\(summary.accepted) accepted, \(summary.rejected) rejected), \
        \(summary.certificatesIssued) certificates, \(summary.enterprises) enterprises, \(summary.refundsApproved) refunds approved \
        totalling \(summary.refundTotal) yuan
        \(String(format: "%.2f", seconds)) s, \(Int(Double(options.certificates) / max(seconds, 0.001))) certificates/s
        """)
}
