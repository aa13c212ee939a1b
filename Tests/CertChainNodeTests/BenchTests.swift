import Foundation
import XCTest
import CertChainModel

@testable import CertChainNode

/// The benchmark runs end to end on a tiny workload and writes every field; it never checks how fast.
final class BenchTests: XCTestCase {
    func testDependencyGroupsOrderWhatNeedsAnEnterpriseRegisteredInTheSameBatch() throws {
        let agent = "91440300595655961F", principal = "914403098TYYU13C0X", earlier = "91440305RQ6RJDYF5C"
        let lines = [
            #"{"seq":1,"kind":"registerEnterprise","signer":"org:sz-tax-2","effectiveDate":"2021-01-04","body":{"taxId":"\#(agent)","name":"A","kind":"integratedService","bureau":"sz-tax-2"},"expect":{"ok":true}}"#,
            #"{"seq":2,"kind":"registerEnterprise","signer":"org:sz-tax-2","effectiveDate":"2021-01-04","body":{"taxId":"\#(principal)","name":"P","kind":"production","bureau":"sz-tax-2"},"expect":{"ok":true}}"#,
            #"{"seq":3,"kind":"fileTradeOperator","signer":"org:sz-commerce","effectiveDate":"2021-01-04","body":{"taxId":"\#(agent)","filedOn":"2021-01-04"},"expect":{"ok":true}}"#,
            #"{"seq":4,"kind":"registerEnterprise","signer":"org:sz-tax-2","effectiveDate":"2021-01-04","body":{"taxId":"\#(principal)","name":"P","kind":"production","bureau":"sz-tax-2"},"expect":{"error":"duplicate-enterprise"}}"#,
            #"{"seq":5,"kind":"recordDeclaration","signer":"org:sz-customs","effectiveDate":"2021-07-19","body":{"declarationNo":"530120210369943787","consignorTaxId":"\#(agent)","items":[]},"expect":{"ok":true}}"#,
            #"{"seq":6,"kind":"recordDeclaration","signer":"org:sz-customs","effectiveDate":"2021-07-19","body":{"declarationNo":"530120210369943788","consignorTaxId":"\#(earlier)","items":[]},"expect":{"ok":true}}"#,
            #"{"seq":7,"kind":"claimRefund","signer":"ent:\#(principal)","effectiveDate":"2021-08-19","body":{"claimId":"CLM-1","lines":[{"certificateNumber":"440300202100000009","lineNo":1}]},"expect":{"ok":true}}"#,
            #"{"seq":8,"kind":"claimRefund","signer":"ent:\#(earlier)","effectiveDate":"2021-08-19","body":{"claimId":"CLM-2","lines":[{"certificateNumber":"440300202100000010","lineNo":1}]},"expect":{"ok":true}}"#,
        ]
        let items = try lines.map { try JSONDecoder().decode(WorkloadTransaction.self, from: Data($0.utf8)) }
        let groups = dependencyGroups(items)
        XCTAssertEqual(groups[2], groups[0], "filing waits for the registration")
        XCTAssertEqual(groups[4], groups[0], "a declaration waits for its consignor's filing")
        XCTAssertEqual(groups[3], groups[1], "the duplicate registration comes after the first")
        XCTAssertEqual(groups[6], groups[1], "a claim signed by an enterprise registered in the batch waits for it")
        XCTAssertNotEqual(groups[0], groups[1])
        // Enterprises registered before the batch order nothing: those items stay free.
        XCTAssertEqual(Set([groups[0], groups[1], groups[5], groups[7]]).count, 4)
    }

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
        XCTAssertEqual(results.receiptsUnexpected, 0, results.receiptsUnexpectedSamples.joined(separator: "\n"))
        XCTAssertGreaterThan(results.catchUpBlocks, 0)
        XCTAssertGreaterThan(results.bytesPerTransaction, 0)
        XCTAssertFalse(BenchReport.text(results).isEmpty)

        let path = directory + "/out/latest.json"
        try BenchReport.write(results, to: path)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        for field in [
            "suite", "validators", "transactionsPerSecond", "physicalLimitTransactionsPerSecond", "overheadRatio", "latencyMsP50",
            "latencyMsP99", "bytesPerTransaction", "growth", "catchUpRatio", "queriesPerSecond", "queryLatencyMsP99", "commit", "date",
            "loadAverageBefore", "loadAverageAfter", "targets", "receiptsUnexpected", "receiptsUnexpectedSamples", "latencySplitMs",
        ] {
            XCTAssertNotNil(json[field], "latest.json lacks \(field)")
        }
        XCTAssertEqual(json["suite"] as? String, "sm2-sm3")
        XCTAssertEqual(json["validators"] as? Int, 4)
        let byValidator = try XCTUnwrap(json["cpuMicrosecondsPerTransactionByValidator"] as? [Double])
        XCTAssertEqual(byValidator.count, 4, "one CPU figure per validator")
        XCTAssertTrue(byValidator.allSatisfy { $0 > 0 }, "every validator worked: \(byValidator)")
        XCTAssertEqual(
            byValidator.reduce(0, +), results.cpuSecondsPerTransactionAllValidators * 1e6,
            accuracy: results.cpuSecondsPerTransactionAllValidators * 1e3, "the validators' figures add up to the total")
        XCTAssertNotNil(json["clientCpuMicrosecondsPerTransaction"])
        XCTAssertEqual(json["primaryValidator"] as? String, "node0")
        let reference = try XCTUnwrap(json["verificationMicroseconds"] as? Double)
        let node = try XCTUnwrap(json["nodeVerificationMicroseconds"] as? Double)
        XCTAssertTrue(reference > 0 && node > 0, "both verification costs are measured: \(reference) µs, \(node) µs")
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
