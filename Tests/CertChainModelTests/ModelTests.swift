import Foundation
import XCTest
import CertChainCrypto
@testable import CertChainModel

final class IdentifierTests: XCTestCase {
    func testGB32100Examples() {
        XCTAssertTrue(TaxID.isValid("91440300595655961F"))
        XCTAssertFalse(TaxID.isValid("91350100M000100Y4Z"))
        XCTAssertFalse(TaxID.isValid("91440300595655961"))
        XCTAssertFalse(TaxID.isValid("91440300595655961G"))
        XCTAssertFalse(TaxID.isValid("9144030059565596IF"))  // I is not in the alphabet
        XCTAssertEqual(TaxID.checkCharacter("91440300595655961"), "F")
    }

    func testDeclarationAndCertificateNumbers() {
        XCTAssertTrue(Formats.isDeclarationNumber("530120210123456789"))
        XCTAssertFalse(Formats.isDeclarationNumber("530120211123456789"))  // import
        XCTAssertFalse(Formats.isDeclarationNumber("53012021012345678"))
        XCTAssertTrue(Formats.isCertificateNumber("440300202100000001"))
        XCTAssertFalse(Formats.isCertificateNumber("44030020210000000A"))
        XCTAssertTrue(Formats.isPeriod("202112"))
        XCTAssertFalse(Formats.isPeriod("202113"))
        XCTAssertFalse(Formats.isPeriod("202100"))
    }

    func testCalendarDates() {
        XCTAssertTrue(CalendarDate.isValid("2020-02-29"))
        XCTAssertFalse(CalendarDate.isValid("2021-02-29"))
        XCTAssertFalse(CalendarDate.isValid("1900-02-29"))
        XCTAssertTrue(CalendarDate.isValid("2000-02-29"))
        XCTAssertFalse(CalendarDate.isValid("2021-04-31"))
        XCTAssertFalse(CalendarDate.isValid("2021-7-19"))
        XCTAssertFalse(CalendarDate.isValid("2021-07-19 "))
        XCTAssertEqual(CalendarDate.adding(days: -7, to: "2021-03-03"), "2021-02-24")
        XCTAssertEqual(CalendarDate.adding(days: 1, to: "2020-12-31"), "2021-01-01")
        XCTAssertEqual(CalendarDate.date(dayNumber: 0), "1970-01-01")
    }

    func testBlockDateIsChinaTime() {
        // 2021-07-23T16:00:00Z is 2021-07-24 00:00 in Beijing
        XCTAssertEqual(BlockDate.string(timestampMs: 1_627_056_000_000), "2021-07-24")
        XCTAssertEqual(BlockDate.string(timestampMs: 1_627_056_000_000 - 1), "2021-07-23")
        XCTAssertEqual(BlockDate.string(timestampMs: 0), "1970-01-01")
    }
}

final class DecimalTests: XCTestCase {
    func testStrictParsing() {
        XCTAssertEqual(ExactDecimal.parse("36408.00", maxScale: 2), Decimal(string: "36408"))
        XCTAssertNotNil(ExactDecimal.parse("990.0000", maxScale: 4))
        for bad in ["", "-1", "+1", "1e3", " 1", "1 ", "1.", ".5", "1.234", "1,000", "0x10", "1.2.3", "NaN", "１"] {
            XCTAssertNil(ExactDecimal.parse(bad, maxScale: 2), bad)
        }
        XCTAssertEqual(ExactDecimal.scale(of: "990.0000"), 4)
    }

    func testRoundingAndFormatting() {
        XCTAssertEqual(ExactDecimal.string(Decimal(string: "0.005")!), "0.01")
        XCTAssertEqual(ExactDecimal.string(Decimal(string: "0.004999")!), "0.00")
        XCTAssertEqual(ExactDecimal.string(Decimal(string: "2.675")!), "2.68")  // no binary floating point
        XCTAssertEqual(ExactDecimal.string(Decimal(36408)), "36408.00")
        XCTAssertEqual(ExactDecimal.string(Decimal(990), scale: 4), "990.0000")
        XCTAssertEqual(ExactDecimal.string(Decimal(0)), "0.00")
    }

    func testPilotArithmetic() {
        let fob = ExactDecimal.parse("36408.00", maxScale: 2)!
        let fobCny = ExactDecimal.round(fob * ExactDecimal.parse("6.4929", maxScale: 6)!)
        XCTAssertEqual(ExactDecimal.string(fobCny), "236393.50")
        XCTAssertEqual(ExactDecimal.string(ExactDecimal.round(fobCny * Decimal(string: "0.13")!)), "30731.16")
        XCTAssertEqual(ExactDecimal.string(ExactDecimal.mulDivRound(fob, Decimal(string: "333.3333")!, Decimal(990))), "12258.58")
        XCTAssertEqual(ExactDecimal.string(ExactDecimal.mulDivRound(Decimal(1), Decimal(1), Decimal(3))), "0.33")
        XCTAssertEqual(ExactDecimal.string(ExactDecimal.mulDivRound(Decimal(1), Decimal(1), Decimal(8) / Decimal(5))), "0.63")  // 0.625 half-up
    }
}

func sampleBodies() -> [TransactionBody] {
    [
        .registerEnterprise(RegisterEnterpriseBody(taxId: "91440300595655961F", name: "一达通", kind: "integratedService", bureau: "sz-tax-2", publicKey: "04ab")),
        .fileTradeOperator(FileTradeOperatorBody(taxId: "91440300595655961F", filedOn: "2021-01-04")),
        .recordDeclaration(RecordDeclarationBody(declarationNo: "530120210123456789", customsCode: "5301", exportDate: "2021-07-19",
                                                 consignorTaxId: "91440300595655961F", tradeMode: "0110", currency: "USD",
                                                 items: [DeclarationItem(itemNo: 1, hsCode: "8529909090", goodsName: "LED模组", unit: "千克", quantity: "990.0000", fob: "36408.00")])),
        .applyCertificate(ApplyCertificateBody(applicationId: "APP-1", principalTaxId: "91440300595655961F", principalName: "委托方",
                                               lines: [CertificateLineInput(lineNo: 1, declarationNo: "530120210123456789", itemNo: 1, exportDate: "2021-07-19",
                                                                            verificationFormNo: nil, tradeMode: "0110", hsCode: "8529909090", goodsName: "LED模组",
                                                                            unit: "千克", quantity: "990.0000", currency: "USD", fob: "36408.00", contractNo: "YDT1")])),
        .issueCertificate(IssueCertificateBody(applicationId: "APP-1", certificateNumber: "440300202100000001", handler: "王", handledOn: "2021-07-24",
                                               reviewer: "李", reviewedOn: "2021-07-24")),
        .rejectApplication(RejectApplicationBody(applicationId: "APP-1", reason: "r")),
        .revokeCertificate(RevokeCertificateBody(certificateNumber: "440300202100000001", reason: "r")),
        .claimRefund(ClaimRefundBody(claimId: "C", period: "202108", exchangeRates: ["USD": "6.4929", "EUR": "7.6784"],
                                     lines: [ClaimLineInput(certificateNumber: "440300202100000001", lineNo: 1, quantity: "990", invoiceAmount: "1.00")],
                                     periodEndCredit: nil)),
        .approveRefund(ApproveRefundBody(claimId: "C")),
        .rejectRefund(RejectRefundBody(claimId: "C", reason: "r")),
    ]
}

func sampleTransactions() -> [SignedTransaction] {
    sampleBodies().enumerated().map { i, b in
        SignedTransaction(transaction: Transaction(chainId: "c", signer: "org:sz-tax-2", nonce: UInt64(i), effectiveDate: "2021-07-24", body: b),
                          signature: [UInt8](repeating: UInt8(i), count: 64))
    }
}

final class EncodingTests: XCTestCase {
    func testTransactionBinaryAndJSONRoundTrip() throws {
        for stx in sampleTransactions() {
            XCTAssertEqual(try SignedTransaction.decode(stx.encode()), stx)
            let json = try JSONEncoder().encode(stx)
            XCTAssertEqual(try JSONDecoder().decode(SignedTransaction.self, from: json), stx)
            XCTAssertEqual(stx.id(.sm3).count, 32)
            XCTAssertEqual(stx.id(.sha256), Digest.sha256(stx.signingBytes))
            XCTAssertEqual(Array(stx.signingBytes.prefix(19)), [0, 0, 0, 15] + Array("certchain/tx/v1".utf8))
        }
    }

    func testSignatureIsNotPartOfId() {
        var a = sampleTransactions()[0]
        let id = a.id(.sm3)
        a.signature = [1, 2, 3]
        XCTAssertEqual(a.id(.sm3), id)
        a.transaction.nonce += 1
        XCTAssertNotEqual(a.id(.sm3), id)
    }

    func testMapIsSortedInSigningBytes() {
        let a = ClaimRefundBody(claimId: "C", period: "202108", exchangeRates: ["USD": "1", "EUR": "2", "HKD": "3"], lines: [], periodEndCredit: nil)
        var w1 = CanonicalWriter(); TransactionBody.claimRefund(a).write(to: &w1)
        var w2 = CanonicalWriter(); TransactionBody.claimRefund(a).write(to: &w2)
        XCTAssertEqual(w1.bytes, w2.bytes)
        let text = String(decoding: w1.bytes, as: UTF8.self)
        XCTAssertLessThan(text.range(of: "EUR")!.lowerBound, text.range(of: "USD")!.lowerBound)
    }

    func testJSONDecodeFailuresVsInvalidValues() throws {
        let ok = #"{"chainId":"c","kind":"fileTradeOperator","signer":"org:x","nonce":1,"effectiveDate":"2021-13-45","body":{"taxId":"bad","filedOn":"x"},"signature":"00"}"#
        XCTAssertNoThrow(try JSONDecoder().decode(SignedTransaction.self, from: Data(ok.utf8)))  // bad values are receipts, not decode errors
        let bad = [
            #"{"chainId":"c","kind":"fileTradeOperator","signer":"org:x","nonce":1,"effectiveDate":"d","body":{"taxId":"t"},"signature":"00"}"#,
            #"{"chainId":"c","kind":"nope","signer":"org:x","nonce":1,"effectiveDate":"d","body":{},"signature":"00"}"#,
            #"{"chainId":"c","kind":"approveRefund","signer":"org:x","nonce":"1","effectiveDate":"d","body":{"claimId":"c"},"signature":"00"}"#,
            #"{"chainId":"c","kind":"approveRefund","signer":"org:x","nonce":1,"effectiveDate":"d","body":{"claimId":5},"signature":"00"}"#,
            #"{"chainId":"c","kind":"approveRefund","signer":"org:x","nonce":1,"effectiveDate":"d","body":{"claimId":"c"},"signature":"zz"}"#,
            #"{"chainId":"c","kind":"approveRefund","signer":"org:x","nonce":1,"effectiveDate":"d","body":{"claimId":"c"}}"#,
        ]
        for b in bad { XCTAssertThrowsError(try JSONDecoder().decode(SignedTransaction.self, from: Data(b.utf8)), b) }
    }

    func testGarbageNeverCrashes() {
        var rng = SystemRandomNumberGenerator()
        let valid = Block(header: sampleHeader(), transactions: sampleTransactions()).encode()
        for cut in stride(from: 0, to: valid.count, by: 7) {
            XCTAssertThrowsError(try Block.decode(Array(valid.prefix(cut))))
        }
        for _ in 0..<2000 {
            var bytes = valid
            for _ in 0..<Int.random(in: 1...8, using: &rng) { bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            _ = try? Block.decode(bytes)
            let junk = (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = try? Block.decode(junk)
            _ = try? SignedTransaction.decode(junk)
            _ = try? Receipt.decode(junk)
            _ = try? CommitCertificate.decode(junk)
        }
        XCTAssertThrowsError(try Block.decode([0xff, 0xff, 0xff, 0xff]))
        XCTAssertThrowsError(try SignedTransaction.decode(sampleTransactions()[0].encode() + [0]))
    }

    func sampleHeader() -> BlockHeader {
        BlockHeader(chainId: "c", height: 7, previousHash: [UInt8](repeating: 1, count: 32), timestampMs: 1_627_056_000_000, view: 2,
                    proposer: "node1", txRoot: [UInt8](repeating: 2, count: 32), receiptRoot: [UInt8](repeating: 3, count: 32),
                    stateRoot: [UInt8](repeating: 4, count: 32))
    }

    func testBlockHeaderCertificateReceiptRoundTrip() throws {
        let h = sampleHeader()
        XCTAssertEqual(try BlockHeader.decode(h.canonicalBytes), h)
        XCTAssertEqual(try JSONDecoder().decode(BlockHeader.self, from: JSONEncoder().encode(h)), h)
        XCTAssertEqual(h.date, "2021-07-24")
        var h2 = h; h2.view = 3
        XCTAssertNotEqual(h.hash(.sm3), h2.hash(.sm3))
        let block = Block(header: h, transactions: sampleTransactions())
        XCTAssertEqual(try Block.decode(block.encode()), block)
        let cc = CommitCertificate(height: 7, blockHash: h.hash(.sm3), signatures: [ValidatorSignature(validatorId: "node0", signature: [9, 9])])
        XCTAssertEqual(try CommitCertificate.decode(cc.encode()), cc)
        XCTAssertEqual(try JSONDecoder().decode(CommitCertificate.self, from: JSONEncoder().encode(cc)), cc)
        XCTAssertNotEqual(CommitCertificate.signingBytes(chainId: "a", height: 1, blockHash: [1]),
                          CommitCertificate.signingBytes(chainId: "b", height: 1, blockHash: [1]))
        let refund = RefundResult(method: "exemptCreditRefund",
                                  lines: [RefundLine(certificateNumber: "440300202100000001", lineNo: 1, quantity: "990.0000", fob: "36408.00",
                                                     fobCny: "236393.50", refundRate: "0.13", exemptCreditRefund: "30731.16", nonCreditable: "0.00")],
                                  exemptCreditRefund: "30731.16", nonCreditable: "0.00", refund: "30731.16", exemptCredit: "0.00")
        for r in [Receipt(txHash: [1, 2], result: .ok(refund: nil)), Receipt(txHash: [3], result: .ok(refund: refund)),
                  Receipt(txHash: [4], result: .error(code: .overConsumption, message: "too much"))] {
            XCTAssertEqual(try Receipt.decode(r.encode()), r)
            XCTAssertEqual(try JSONDecoder().decode(Receipt.self, from: JSONEncoder().encode(r)), r)
        }
        let json = String(decoding: try JSONEncoder().encode(ReceiptResult.error(code: .overConsumption, message: "m")), as: UTF8.self)
        XCTAssertTrue(json.contains(#""error":"over-consumption""#))
    }

    func testReceiptMismatch() {
        let refund = RefundResult(method: "exemptRefund",
                                  lines: [RefundLine(certificateNumber: "1", lineNo: 1, quantity: "1.0", fob: "10.00", fobCny: "64.93", refundRate: "0.13", refund: "8.44")],
                                  exemptCreditRefund: nil, nonCreditable: nil, refund: "8.44", exemptCredit: "0.00")
        let ok = Receipt(txHash: [], result: .ok(refund: refund))
        XCTAssertNil(ok.mismatch(against: WorkloadExpect(ok: true)))
        XCTAssertNil(ok.mismatch(against: WorkloadExpect(ok: true, refund: refund)))
        var cents = refund; cents.lines[0].refund = "8.4400"; cents.lines[0].quantity = "1"
        XCTAssertNil(ok.mismatch(against: WorkloadExpect(ok: true, refund: cents)))
        var off = refund; off.refund = "8.45"
        XCTAssertNotNil(ok.mismatch(against: WorkloadExpect(ok: true, refund: off)))
        var offLine = refund; offLine.lines[0].fobCny = "64.94"
        XCTAssertNotNil(ok.mismatch(against: WorkloadExpect(ok: true, refund: offLine)))
        XCTAssertNotNil(ok.mismatch(against: WorkloadExpect(error: "over-consumption")))
        let err = Receipt(txHash: [], result: .error(code: .overConsumption, message: ""))
        XCTAssertNil(err.mismatch(against: WorkloadExpect(error: "over-consumption")))
        XCTAssertNotNil(err.mismatch(against: WorkloadExpect(error: "duplicate-line")))
        XCTAssertNotNil(err.mismatch(against: WorkloadExpect(ok: true)))
    }
}

final class MerkleTests: XCTestCase {
    func testRootsAndProofs() {
        for alg in [HashAlgorithm.sm3, .sha256] {
            XCTAssertEqual(Merkle.root(leaves: [], hash: alg), alg.hash([]))
            XCTAssertEqual(Merkle.root(leaves: [[7]], hash: alg), alg.hash([0, 7]))
            XCTAssertEqual(Merkle.root(leaves: [[1], [2]], hash: alg), alg.hash([1] + alg.hash([0, 1]) + alg.hash([0, 2])))
            for n in 1...33 {
                let leaves = (0..<n).map { [UInt8(truncatingIfNeeded: $0), 0xAA] }
                let root = Merkle.root(leaves: leaves, hash: alg)
                for i in 0..<n {
                    let path = Merkle.proof(index: i, leaves: leaves, hash: alg)
                    XCTAssertTrue(Merkle.verify(leaf: leaves[i], index: i, count: n, path: path, root: root, hash: alg), "n=\(n) i=\(i)")
                    XCTAssertFalse(Merkle.verify(leaf: [0xFF], index: i, count: n, path: path, root: root, hash: alg))
                    if n > 1 { XCTAssertFalse(Merkle.verify(leaf: leaves[i], index: (i + 1) % n, count: n, path: path, root: root, hash: alg)) }
                }
            }
        }
    }

    func testRFC6962SHA256Vector() {
        // RFC 6962 test vector: the empty tree root is SHA-256 of the empty string.
        XCTAssertEqual(Hex.encode(Merkle.root(leaves: [], hash: .sha256)), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // one empty leaf: SHA-256(0x00)
        XCTAssertEqual(Hex.encode(Merkle.root(leaves: [[]], hash: .sha256)), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    }
}

final class GenesisAndWorkloadTests: XCTestCase {
    static var workloadDir: URL? {
        var c: [URL] = []
        if let env = ProcessInfo.processInfo.environment["CERTCHAIN_WORKLOAD_DIR"] { c.append(URL(fileURLWithPath: env).appendingPathComponent("small")) }
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        c.append(repo.appendingPathComponent("samples/small"))
        c.append(repo.deletingLastPathComponent().appendingPathComponent("shared/workload/small"))
        c.append(URL(fileURLWithPath: "/work/shared/workload/small"))
        return c.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("reference.json").path) }
    }

    func testWorkloadLoadsAndGenesisRoundTrips() throws {
        guard let dir = Self.workloadDir else { throw XCTSkip("no workload") }
        let w = try Workload(directory: dir)
        XCTAssertEqual(w.transactions.count, w.expected?.transactions)
        XCTAssertEqual(w.transactions.first?.kind, .registerEnterprise)
        let body = try w.transactions[0].typedBody(publicKey: "04ff")
        guard case .registerEnterprise(let r) = body else { return XCTFail("kind") }
        XCTAssertEqual(r.publicKey, "04ff")
        for t in w.transactions { XCTAssertNoThrow(try t.typedBody(publicKey: "04")) }
        let template = GenesisTemplate(reference: w.reference, chainId: "test")
        XCTAssertEqual(template.validators.map(\.id), ["node0", "node1", "node2", "node3"])
        XCTAssertEqual(template.validators[1].p2pAddress, "127.0.0.1:26601")
        var keys: [String: String] = [:]
        for o in template.organizations { keys[o.id] = "04" + o.id }
        var vkeys: [String: String] = [:]
        for v in template.validators { vkeys[v.id] = "04" + v.id }
        let g = try template.genesis(organizationKeys: keys, validatorKeys: vkeys, auditorKeys: ["auditor": "04aa"])
        let decoded = try JSONDecoder().decode(Genesis.self, from: g.jsonData())
        XCTAssertEqual(decoded, g)
        XCTAssertEqual(decoded.hash(), g.hash())
        XCTAssertEqual(g.consensus.maxBlockTransactions, 500)
        var g2 = g; g2.historicalImport.toggle()
        XCTAssertNotEqual(g2.hash(), g.hash())
        XCTAssertThrowsError(try template.genesis(organizationKeys: [:], validatorKeys: vkeys, auditorKeys: [:]))
        let t = try JSONDecoder().decode(GenesisTemplate.self, from: JSONEncoder().encode(template))
        XCTAssertEqual(t, template)
    }

    func testConsensusDefaults() throws {
        let p = try JSONDecoder().decode(ConsensusParameters.self, from: Data(#"{"requestTimeoutMs":900}"#.utf8))
        XCTAssertEqual(p.requestTimeoutMs, 900)
        XCTAssertEqual(p.checkpointInterval, 128)
        XCTAssertEqual(p.maxClockSkewMs, 5000)
        XCTAssertEqual(p.blockIntervalMs, 20)
    }
}

final class ErrorCodeTests: XCTestCase {
    func testEverySpecCodeExists() {
        let spec = """
        unauthorized unknown-signer bad-signature invalid-tax-id invalid-declaration-number invalid-certificate-number
        duplicate-certificate-number invalid-line-number duplicate-line invalid-hs-code invalid-trade-mode invalid-currency
        invalid-quantity invalid-amount invalid-date duplicate-enterprise enterprise-not-found duplicate-declaration
        consignor-not-trade-operator unit-mismatch duplicate-application declaration-not-found consignor-mismatch
        declaration-mismatch declaration-item-certified deadline-passed application-not-found application-not-pending
        not-competent-bureau invalid-date-order certificate-in-use duplicate-claim certificate-not-found certificate-revoked
        principal-mismatch certificate-line-not-found missing-exchange-rate over-consumption non-refundable-trade-mode
        claim-not-found claim-not-pending invalid-public-key invalid-field invalid-item-number invalid-period
        invalid-exchange-rate invalid-transaction
        """
        for code in spec.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            XCTAssertNotNil(ErrorCode(rawValue: String(code)), String(code))
        }
    }
}
