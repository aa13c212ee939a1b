import CertChainCrypto
import CertChainLedger
import CertChainModel
import Foundation
import XCTest

@testable import CertChainNode

/// The generated workload must be exactly what the ledger does: every receipt, every refund to the cent, the final state.
final class WorkloadGeneratorTests: XCTestCase {
    var directories: [URL] = []

    override func tearDown() {
        for d in directories { try? FileManager.default.removeItem(at: d) }
        directories = []
        super.tearDown()
    }

    func generate(certificates: Int, seed: UInt64, badRate: Double) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("workgen-\(UUID().uuidString)")
        directories.append(dir)
        _ = try WorkloadGenerator(options: .init(certificates: certificates, seed: seed, badRate: badRate)).write(to: dir)
        return dir
    }

    // MARK: in-process replay (as Tests/CertChainLedgerTests/ReplaySupport.swift: fake keys, no signatures)

    static func fakeKey(_ seed: String) -> String { StateGrowthBench.fakeKey(seed) }

    static func genesis(_ reference: ReferenceData) throws -> Genesis { try StateGrowthBench.genesis(reference) }

    /// Executes the workload in blocks of 20; returns the ledger and every difference from `expect`.
    func replay(_ workload: Workload) throws -> (Ledger, [String], accepted: Int, rejected: Int) {
        let genesis = try WorkloadGeneratorTests.genesis(workload.reference)
        var ledger = Ledger(genesis: genesis)
        var problems: [String] = []
        var accepted = 0, rejected = 0
        var height: UInt64 = 0
        var i = 0
        while i < workload.transactions.count {
            let chunk = Array(workload.transactions[i..<min(i + 20, workload.transactions.count)])
            i += 20
            let txs = try chunk.map { try StateGrowthBench.unsigned($0, chainId: genesis.chainId) }
            height += 1
            let exec = ledger.execute(txs, txHashes: txs.map { $0.id(genesis.hashAlgorithm) }, blockDate: chunk.map(\.effectiveDate).max()!,
                                      height: height)
            for (r, w) in zip(exec.receipts, chunk) {
                if r.result.isOK { accepted += 1 } else { rejected += 1 }
                if let m = r.mismatch(against: w.expect) { problems.append("seq \(w.seq) \(w.kind.rawValue): \(m)") }
                // Stricter than mismatch(against:), which compares at cent precision: the very strings must agree.
                if case .ok(let got?) = r.result, let want = w.expect.refund, got != want {
                    problems.append("seq \(w.seq): refund \(got) differs from expected \(want)")
                }
            }
            ledger.commit(exec)
        }
        return (ledger, problems, accepted, rejected)
    }

    func checkFinalState(_ ledger: Ledger, _ expected: WorkloadExpected) {
        let stats = Ledger.statistics(in: ledger)
        XCTAssertEqual(stats.certificatesIssued, expected.certificatesIssued)
        XCTAssertEqual(stats.refundsApproved, expected.refundsApproved)
        XCTAssertEqual(stats.refundTotal, expected.refundTotal)
        XCTAssertEqual(stats.exemptCreditTotal, expected.exemptCreditTotal)
        XCTAssertEqual(stats.certificateStatus, expected.certificateStatus)
        XCTAssertEqual(expected.certificates.count, expected.certificatesIssued)
        for number in expected.certificates.keys.sorted() {
            let want = expected.certificates[number]!
            guard let got = Ledger.certificateRecord(number: number, in: ledger) else { XCTFail("certificate \(number) missing"); continue }
            XCTAssertEqual(got.status, want.status, "certificate \(number)")
            XCTAssertEqual(got.principalTaxId, want.principalTaxId, "certificate \(number)")
            XCTAssertEqual(got.agentTaxId, want.agentTaxId, "certificate \(number)")
            for l in got.lines {
                let wanted = want.consumed[String(l.line.lineNo)].map(ExactDecimal.stored) ?? 0
                XCTAssertEqual(ExactDecimal.stored(l.consumed), wanted, "certificate \(number) line \(l.line.lineNo)")
            }
        }
    }

    func field(_ body: JSONValue, _ name: String) -> String? {
        if case .object(let o) = body, case .string(let s)? = o[name] { return s }
        return nil
    }

    // MARK: tests

    func testGeneratedWorkloadReplaysExactlyOnTheLedger() throws {
        let dir = try generate(certificates: 80, seed: 7, badRate: 0.1)
        let workload = try Workload(directory: dir)
        let expected = try XCTUnwrap(workload.expected)
        XCTAssertEqual(workload.transactions.count, expected.transactions)
        XCTAssertEqual(workload.transactions.map(\.seq), Array(1...workload.transactions.count))
        let (ledger, problems, accepted, rejected) = try replay(workload)
        XCTAssertEqual(problems, [], "\(problems.count) receipts differ from expect")
        XCTAssertEqual(accepted, expected.accepted)
        XCTAssertEqual(rejected, expected.rejected)
        checkFinalState(ledger, expected)
        // Business content: approvals with amounts, partial claims, split declarations, revocations and re-applications.
        XCTAssertGreaterThan(workload.transactions.filter { $0.expect.refund != nil }.count, 50)
        XCTAssertGreaterThan(expected.certificatesIssued, 80)
        XCTAssertTrue(workload.transactions.contains { $0.kind == .revokeCertificate && $0.expect.error == nil })
        XCTAssertTrue(workload.transactions.contains { $0.kind == .applyCertificate && $0.expect.error == nil && field($0.body, "applicationId")?.hasSuffix("R") == true })
        let refundLines = workload.transactions.compactMap(\.expect.refund).flatMap(\.lines)
        XCTAssertTrue(refundLines.contains { $0.refund != nil }, "trading (免退) approvals")
        XCTAssertTrue(refundLines.contains { $0.exemptCreditRefund != nil }, "production (免抵退) approvals")
    }

    func testEveryEnterpriseCodeIsValidAndUnique() throws {
        let dir = try generate(certificates: 120, seed: 11, badRate: 0.05)
        let workload = try Workload(directory: dir)
        var seen = Set<String>()
        for t in workload.transactions where t.kind == .registerEnterprise {
            let taxId = try XCTUnwrap(t.registeredTaxId)
            if t.expect.error == "invalid-tax-id" {
                XCTAssertFalse(TaxID.isValid(taxId), taxId)
            } else {
                XCTAssertTrue(TaxID.isValid(taxId), taxId)
                if t.expect.error == nil { XCTAssertTrue(seen.insert(taxId).inserted, "duplicate \(taxId)") }
            }
        }
        XCTAssertEqual(seen.count, 12 + max(8, 120 / 5))
    }

    func testSameSeedSameBytesDifferentSeedDifferentBytes() throws {
        let a = try generate(certificates: 60, seed: 42, badRate: 0.1)
        let b = try generate(certificates: 60, seed: 42, badRate: 0.1)
        let c = try generate(certificates: 60, seed: 43, badRate: 0.1)
        for name in ["reference.json", "transactions.jsonl", "expected.json"] {
            let x = try Data(contentsOf: a.appendingPathComponent(name))
            XCTAssertEqual(x, try Data(contentsOf: b.appendingPathComponent(name)), name)
            XCTAssertFalse(x.isEmpty, name)
        }
        XCTAssertNotEqual(try Data(contentsOf: a.appendingPathComponent("transactions.jsonl")),
                          try Data(contentsOf: c.appendingPathComponent("transactions.jsonl")))
        XCTAssertNotEqual(try Data(contentsOf: a.appendingPathComponent("expected.json")),
                          try Data(contentsOf: c.appendingPathComponent("expected.json")))
    }

    func testEveryBadRequestKindAppearsWithItsCode() throws {
        let dir = try generate(certificates: 200, seed: 5, badRate: 0.2)
        let workload = try Workload(directory: dir)
        var found = Set<String>()
        for t in workload.transactions {
            guard let error = t.expect.error else { continue }
            found.insert(t.kind.rawValue + ":" + error)
            if let note = t.note { found.insert("note " + note + ":" + error) }
        }
        let wanted = [
            "registerEnterprise:invalid-tax-id", "registerEnterprise:duplicate-enterprise", "registerEnterprise:unauthorized",
            "note mismatch-qty:declaration-mismatch", "note mismatch-hs:declaration-mismatch",
            "note unknown-decl:declaration-not-found", "note principal-unknown:enterprise-not-found",
            "note not-consignor:consignor-mismatch", "note bad-decl-number:invalid-declaration-number",
            "note duplicate-line:duplicate-line", "note zero-qty:invalid-quantity", "note precision:invalid-amount",
            "note already-certified:declaration-item-certified",
            "issueCertificate:not-competent-bureau", "issueCertificate:application-not-pending",
            "note over-quantity:over-consumption", "note wrong-principal:principal-mismatch", "note unknown-cert:certificate-not-found",
            "note duplicate-line:duplicate-line", "note missing-rate:missing-exchange-rate",
            "revokeCertificate:certificate-in-use",
            "note double refund of a consumed line:over-consumption", "note claim on a revoked certificate:certificate-revoked",
        ]
        for w in wanted { XCTAssertTrue(found.contains(w), "missing bad request \(w)") }
        // And the ledger agrees with every one of them.
        let (_, problems, _, _) = try replay(workload)
        XCTAssertEqual(problems, [], "\(problems.count) receipts differ from expect")
    }

    func testPilotCertificateAndReferenceData() throws {
        let dir = try generate(certificates: 10, seed: 1, badRate: 0)
        let workload = try Workload(directory: dir)
        XCTAssertEqual(workload.reference.commodities.count, 22)
        XCTAssertEqual(workload.reference.deadlines.refundClaim["2021"], "2022-04-20")
        let first = try XCTUnwrap(workload.transactions.first { $0.kind == .applyCertificate })
        XCTAssertEqual(first.signer, "ent:91440300595655961F")
        let text = "\(first.body)"
        for fragment in ["990.0000", "36408.00", "2021-07-19", "LED模组"] { XCTAssertTrue(text.contains(fragment), fragment) }
        // Bad rate 0 keeps only the fixed bad registrations and the double claims that close every workload.
        for t in workload.transactions where t.expect.error != nil {
            XCTAssertTrue(t.kind == .registerEnterprise || t.note?.hasPrefix("double refund") == true || t.note?.hasPrefix("claim on a revoked") == true,
                          "seq \(t.seq) \(t.kind.rawValue)")
        }
        if let shared = URL(string: "file:///work/shared/workload/small/reference.json"),
           let want = try? Data(contentsOf: shared) {
            XCTAssertEqual(try Data(contentsOf: dir.appendingPathComponent("reference.json")), want, "reference.json as generate.py writes it")
        }
    }
}
