import Foundation
import XCTest

@testable import CertChainNode

/// The benchmark runs end to end on a tiny workload and writes every field; it never checks how fast.
final class BenchTests: XCTestCase {
    func testBenchRunsEndToEndAndWritesEveryField() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("certchain-bench-\(UUID().uuidString)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: directory) }
        var options = Bench.Options(
            directory: directory + "/run", templatePath: NetworkTests.repositoryRoot.appendingPathComponent("genesis/template.json").path,
            executable: try NetworkTests.executable())
        options.certificates = 40
        options.clients = 4
        options.sliceTransactions = 80
        options.slicesMax = 2
        options.growthSeconds = 30
        options.phaseSeconds = 1
        options.queryThreads = 2
        options.commitTimeoutSeconds = 60
        options.catchUpTimeoutSeconds = 60
        options.label = "test"
        let results = try Bench(options: options, log: { _ in }).run()

        XCTAssertFalse(results.growth.isEmpty)
        XCTAssertGreaterThan(results.receiptsOk, 0)
        XCTAssertGreaterThan(results.chainTransactions, 0)
        XCTAssertEqual(results.neverCommitted, 0)
        XCTAssertGreaterThan(results.catchUpBlocks, 0)
        XCTAssertGreaterThan(results.bytesPerTransaction, 0)
        XCTAssertFalse(BenchReport.text(results).isEmpty)

        let path = directory + "/out/latest.json"
        try BenchReport.write(results, to: path)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        for field in [
            "suite", "validators", "transactionsPerSecond", "physicalLimitTransactionsPerSecond", "overheadRatio", "latencyMsP50",
            "latencyMsP99", "bytesPerTransaction", "growth", "catchUpRatio", "queriesPerSecond", "queryLatencyMsP99", "commit", "date",
            "loadAverageBefore", "loadAverageAfter", "targets", "receiptsUnexpected", "receiptsUnexpectedSamples",
        ] {
            XCTAssertNotNil(json[field], "latest.json lacks \(field)")
        }
        XCTAssertEqual(json["suite"] as? String, "sm2-sm3")
        XCTAssertEqual(json["validators"] as? Int, 4)
    }

    func testStateGrowthRunExecutesTheWholeWorkloadExactly() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("certchain-state-bench-\(UUID().uuidString)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: directory) }
        var options = StateGrowthBench.Options(directory: directory)
        options.certificates = 40
        options.sliceTransactions = 60
        options.blockTransactions = 20
        let results = try StateGrowthBench(options: options, log: { _ in }).run()
        XCTAssertEqual(results.mismatches, 0)
        XCTAssertEqual(results.stoppedBy, "workload")
        XCTAssertGreaterThan(results.transactions, 150)
        XCTAssertEqual(results.blocks, (results.transactions + 19) / 20)
        XCTAssertGreaterThanOrEqual(results.certificatesIssued, 40)
        XCTAssertEqual(results.slices.count, results.transactions / 60)
        XCTAssertGreaterThan(results.slices.last?.stateKeysAtEnd ?? 0, results.slices.first?.stateKeysAtEnd ?? 0)
        XCTAssertGreaterThan(results.databaseBytesPerTransaction, 0)
    }
}
