import CertChainSimulation
import Foundation
import XCTest

/// Seeded whole-cluster simulations: the real node driver, ledger and PBFT core over a simulated
/// network, clock and disk. A failing seed is printed; `CERTCHAIN_SIM_SEED=N` replays it alone.
final class SimulationTests: XCTestCase {
    static let workload = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("samples/small").path

    func seeds(_ range: ClosedRange<UInt64>) -> [UInt64] {
        if let text = ProcessInfo.processInfo.environment["CERTCHAIN_SIM_SEED"], let seed = UInt64(text) { return [seed] }
        return Array(range)
    }

    func runSeeds(_ seeds: [UInt64], validators: Int, twins: Int = 0, primaryFaults: Bool = false, transactions: Int = 80) throws
        -> [SimulationResult]
    {
        let fixture = try SimulationFixture(workloadDirectory: Self.workload, validators: validators, transactionCount: transactions)
        return try seeds.map { seed in
            var config = SimulationConfig(seed: seed)
            config.validators = validators
            config.byzantineTwins = twins
            config.primaryFaults = primaryFaults || twins > (validators - 1) / 3
            return try Simulation(fixture: fixture, config: config).run()
        }
    }

    func assertAllPass(_ results: [SimulationResult], file: StaticString = #filePath, line: UInt = #line) {
        for result in results where result.failure != nil {
            XCTFail(
                "seed \(result.seed) failed: \(result.failure!)\n  \(result.faults.joined(separator: "\n  "))\n  replay: CERTCHAIN_SIM_SEED=\(result.seed) swift test --filter SimulationTests",
                file: file, line: line)
        }
        XCTAssertTrue(results.allSatisfy { $0.committedTransactions > 0 }, file: file, line: line)
    }

    /// 300 seeds of loss, duplication, reordering, backup crashes (some with wiped disks), pauses and isolation.
    func testFourValidatorsSurviveFaultsOver300Seeds() throws {
        assertAllPass(try runSeeds(seeds(1...300), validators: 4))
    }

    /// Faults that hit the primary too (crash, pause, isolation, a 2–2 split, replayed and forged view changes with
    /// huge view numbers): view changes must keep the chain safe and live.
    func testPrimaryFaultsAndViewChanges() throws {
        let results = try runSeeds(seeds(4001...4120), validators: 4, primaryFaults: true)
        assertAllPass(results)
        if ProcessInfo.processInfo.environment["CERTCHAIN_SIM_SEED"] == nil {
            XCTAssertGreaterThan(results.filter { $0.highestView > 0 }.count, 10, "too few seeds exercised a view change")
        }
    }

    /// An equivocating primary: a twin signing with the primary's key (f = 1) sends different blocks.
    func testEquivocatingPrimaryTwin() throws {
        let fixture = try SimulationFixture(workloadDirectory: Self.workload, validators: 4, transactionCount: 80)
        let results = try seeds(5001...5030).map { seed -> SimulationResult in
            var config = SimulationConfig(seed: seed)
            config.byzantineTwins = 1
            config.primaryFaults = true
            return try Simulation(fixture: fixture, config: config).run()
        }
        assertAllPass(results)
    }

    /// Seven validators (f = 2): two backups may fail at once.
    func testSevenValidators() throws {
        assertAllPass(try runSeeds(seeds(1001...1030), validators: 7))
    }

    /// A byzantine twin signing with a backup's key (f = 1) cannot break agreement.
    func testOneByzantineTwinIsTolerated() throws {
        assertAllPass(try runSeeds(seeds(2001...2030), validators: 4, twins: 1))
    }

    /// Negative control: with f+1 twins (the primary's among them) two quorums form and the checker must see it.
    func testTooManyByzantineTwinsAreDetected() throws {
        let results = try runSeeds(seeds(3001...3005), validators: 4, twins: 2)
        for result in results {
            XCTAssertTrue(result.failure?.contains("divergence") == true, "seed \(result.seed): \(result.failure ?? "no failure reported")")
        }
    }

    /// The same seed replays exactly.
    func testSameSeedSameRun() throws {
        let first = try runSeeds([77], validators: 4)[0]
        let second = try runSeeds([77], validators: 4)[0]
        XCTAssertEqual(first.faults, second.faults)
        XCTAssertEqual(first.height, second.height)
        XCTAssertEqual(first.virtualMs, second.virtualMs)
    }
}
