import Foundation
import XCTest
import CertChainModel
@testable import CertChainLedger

final class ReplayTests: XCTestCase {
    func checkFinalState(_ ledger: Ledger, _ expected: WorkloadExpected, file: StaticString = #filePath, line: UInt = #line) {
        let stats = Ledger.statistics(in: ledger)
        XCTAssertEqual(stats.certificatesIssued, expected.certificatesIssued, file: file, line: line)
        XCTAssertEqual(stats.refundsApproved, expected.refundsApproved, file: file, line: line)
        XCTAssertEqual(ExactDecimal.stored(stats.refundTotal), ExactDecimal.stored(expected.refundTotal), file: file, line: line)
        XCTAssertEqual(ExactDecimal.stored(stats.exemptCreditTotal), ExactDecimal.stored(expected.exemptCreditTotal), file: file, line: line)
        XCTAssertEqual(stats.certificateStatus, expected.certificateStatus, file: file, line: line)
        for number in expected.certificates.keys.sorted() {
            let want = expected.certificates[number]!
            guard let got = Ledger.certificateRecord(number: number, in: ledger) else {
                XCTFail("certificate \(number) missing", file: file, line: line); continue
            }
            XCTAssertEqual(got.status, want.status, "certificate \(number)", file: file, line: line)
            XCTAssertEqual(got.principalTaxId, want.principalTaxId, file: file, line: line)
            XCTAssertEqual(got.agentTaxId, want.agentTaxId, file: file, line: line)
            for l in got.lines {
                let consumed = ExactDecimal.stored(l.consumed)
                let wanted = want.consumed[String(l.line.lineNo)].map(ExactDecimal.stored) ?? 0
                XCTAssertEqual(consumed, wanted, "certificate \(number) line \(l.line.lineNo)", file: file, line: line)
            }
        }
    }

    func replayWorkload(_ name: String) throws -> TimeInterval {
        guard let dir = WorkloadLocator.directory(name) else { throw XCTSkip("workload \(name) not found") }
        let workload = try Workload(directory: dir)
        let genesis = Fixtures.genesis(workload.reference)
        let blocks = try Fixtures.blocks(workload, genesis: genesis)
        let start = Date()
        let (ledger, receipts, roots, problems) = Fixtures.replay(blocks, genesis: genesis)
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertEqual(receipts.count, workload.transactions.count)
        XCTAssertEqual(problems, [], "\(problems.count) receipts differ from expect")
        if let expected = workload.expected {
            XCTAssertEqual(receipts.filter(\.result.isOK).count, expected.accepted)
            XCTAssertEqual(receipts.filter { !$0.result.isOK }.count, expected.rejected)
            checkFinalState(ledger, expected)
        }
        // Determinism: a fresh ledger gives the same receipts and roots; a restored ledger has the same root.
        let (again, receipts2, roots2, _) = Fixtures.replay(blocks, genesis: genesis)
        XCTAssertEqual(receipts, receipts2)
        XCTAssertEqual(roots, roots2)
        XCTAssertEqual(again.stateRoot, ledger.stateRoot)
        let restored = try Ledger(genesis: genesis, entries: ledger.sortedEntries)
        XCTAssertEqual(restored.stateRoot, ledger.stateRoot)
        return elapsed
    }

    func testReplaySmallWorkload() throws {
        let t = try replayWorkload("small")
        print("small replay: \(t) s")
    }

    func testReplayPilotWorkload() throws {
        if ProcessInfo.processInfo.environment["CERTCHAIN_SKIP_PILOT"] != nil { throw XCTSkip("CERTCHAIN_SKIP_PILOT set") }
        let t = try replayWorkload("pilot-2021")
        print("pilot-2021 replay: \(t) s")
    }

    func testRestoreThenContinueMatchesStraightRun() throws {
        guard let dir = WorkloadLocator.directory("small") else { throw XCTSkip("workload small not found") }
        let workload = try Workload(directory: dir)
        let genesis = Fixtures.genesis(workload.reference)
        let blocks = try Fixtures.blocks(workload, genesis: genesis)
        let (straight, receipts, _, _) = Fixtures.replay(blocks, genesis: genesis)
        var ledger = Ledger(genesis: genesis)
        var got: [Receipt] = []
        for (h, b) in blocks.enumerated() {
            if h == blocks.count / 2 { ledger = try Ledger(genesis: genesis, entries: ledger.sortedEntries) }
            let exec = ledger.execute(b.txs, txHashes: b.hashes, blockDate: b.date, height: UInt64(h + 1))
            XCTAssertEqual(exec.changes.map(\.key), exec.changes.map(\.key).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
            got += exec.receipts
            ledger.commit(exec)
        }
        XCTAssertEqual(got, receipts)
        XCTAssertEqual(ledger.stateRoot, straight.stateRoot)
    }

    /// Several blocks in flight: executing block h+1 (and h+2) on top of uncommitted executions gives the same
    /// receipts and state roots as executing after each commit.
    func testChainedExecutionMatchesSequential() throws {
        guard let dir = WorkloadLocator.directory("small") else { throw XCTSkip("workload small not found") }
        let workload = try Workload(directory: dir)
        let genesis = Fixtures.genesis(workload.reference)
        let blocks = try Fixtures.blocks(workload, genesis: genesis, size: 15)
        let (straight, receipts, roots, _) = Fixtures.replay(blocks, genesis: genesis)
        var ledger = Ledger(genesis: genesis)
        var inFlight: [BlockExecution] = []
        var got: [Receipt] = []
        var gotRoots: [[UInt8]] = []
        for (h, b) in blocks.enumerated() {
            let exec = ledger.execute(b.txs, txHashes: b.hashes, blockDate: b.date, height: UInt64(h + 1), after: inFlight)
            inFlight.append(exec)
            got += exec.receipts
            gotRoots.append(exec.stateRoot)
            // Commit lazily: keep up to three blocks in flight.
            while inFlight.count > 2 { ledger.commit(inFlight.removeFirst()) }
        }
        for exec in inFlight { ledger.commit(exec) }
        XCTAssertEqual(got, receipts)
        XCTAssertEqual(gotRoots, roots)
        XCTAssertEqual(ledger.stateRoot, straight.stateRoot)
    }
}
