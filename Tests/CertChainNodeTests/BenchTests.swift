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
            "loadAverageBefore", "loadAverageAfter", "targets",
        ] {
            XCTAssertNotNil(json[field], "latest.json lacks \(field)")
        }
        XCTAssertEqual(json["suite"] as? String, "sm2-sm3")
        XCTAssertEqual(json["validators"] as? Int, 4)
    }
}
