import CertChainSimulation
import Foundation

/// `certchain simulate`: runs seeded whole-cluster simulations and reports failing seeds.
func simulateCommand(_ arguments: Arguments) throws -> Int32 {
    let seeds = try arguments.int("seeds", default: 100, atLeast: 1)
    let firstSeed = UInt64(try arguments.int("first-seed", default: 1, atLeast: 0))
    let validators = try arguments.int("validators", default: 4)
    guard [4, 7].contains(validators) || (validators >= 4 && validators <= 16) else {
        throw CLIError(description: "--validators must be between 4 and 16", usage: true)
    }
    let workload = arguments.options["workload"] ?? "samples/small"
    let transactions = try arguments.int("transactions", default: 120, atLeast: 1)
    let twins = try arguments.int("twins", default: 0, atLeast: 0)
    var onlySeed: UInt64?
    if let text = ProcessInfo.processInfo.environment["CERTCHAIN_SIM_SEED"] {
        guard let seed = UInt64(text) else {
            throw CLIError(description: "CERTCHAIN_SIM_SEED=\(text): a seed is a whole number ≥ 0 (unset it to run --seeds seeds)")
        }
        onlySeed = seed
    }
    let fixture = try SimulationFixture(workloadDirectory: workload, validators: validators, transactionCount: transactions)
    let list: [UInt64] = onlySeed.map { [$0] } ?? (0..<UInt64(seeds)).map { firstSeed + $0 }
    var failed: [UInt64] = []
    var viewChanged = 0
    let start = Date()
    for (n, seed) in list.enumerated() {
        var config = SimulationConfig(seed: seed)
        config.validators = validators
        config.byzantineTwins = twins
        config.primaryFaults = arguments.flags.contains("primary-faults") || twins > (validators - 1) / 3
        let result = try Simulation(fixture: fixture, config: config).run()
        if result.highestView > 0 { viewChanged += 1 }
        if let failure = result.failure {
            failed.append(seed)
            print("seed \(seed) FAILED: \(failure)")
            for fault in result.faults { print("    \(fault)") }
            print("    replay with: CERTCHAIN_SIM_SEED=\(seed) certchain simulate --validators \(validators)\(twins > 0 ? " --twins \(twins)" : "")")
        } else if onlySeed != nil || arguments.flags.contains("verbose") {
            print("seed \(seed) ok: height \(result.height), view \(result.highestView), \(result.committedTransactions) transactions, \(result.virtualMs) virtual ms; \(result.faults.joined(separator: "; "))")
        }
        if (n + 1) % 25 == 0 || n + 1 == list.count {
            print(String(format: "… %d/%d seeds, %d failed, %.1f s", n + 1, list.count, failed.count, Date().timeIntervalSince(start)))
        }
    }
    print("(\(viewChanged) of \(list.count) seeds went through a view change)")
    print("simulated \(list.count) seeds: \(failed.count) failed")
    return failed.isEmpty ? 0 : 1
}
