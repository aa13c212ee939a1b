import Foundation
import XCTest
import CertChainCrypto
import CertChainModel
@testable import CertChainLedger

/// A small hand-built chain: each `run` executes one transaction in its own block and commits it.
struct Chain {
    var ledger: Ledger
    var height: UInt64 = 0
    var nonce: UInt64 = 0
    var blockDate = "2021-07-25"

    static let agent = "91440300595655961F"
    static let principal = Chain.taxId("91440300MA5F00000")
    static let trader = Chain.taxId("91441900MA5F00001")
    static let other = Chain.taxId("91440300MA5F00002")
    static let declNo = "530120210123456789"
    static let hs = "8529909090"

    static func taxId(_ first17: String) -> String { first17 + String(TaxID.checkCharacter(first17)!) }

    init(historicalImport: Bool = true) {
        let reference = ReferenceData(
            organizations: [
                OrganizationInfo(id: "sz-tax-2", name: "深圳二分局", role: .taxBureau, areas: ["4403"], certificatePrefix: "440300"),
                OrganizationInfo(id: "dg-tax", name: "东莞局", role: .taxBureau, areas: ["4419"], certificatePrefix: "441900"),
                OrganizationInfo(id: "sz-customs", name: "深圳海关", role: .customs, customsCodes: ["5301"]),
                OrganizationInfo(id: "sz-commerce", name: "深圳商务局", role: .commerce),
            ],
            commodities: [
                Commodity(hsCode: Chain.hs, name: "LED模组", unit: "千克", unitCode: "035", vatRate: "0.13", refundRate: "0.13", validFrom: "2019-04-01"),
                Commodity(hsCode: "2804619000", name: "多晶硅", unit: "千克", unitCode: "035", vatRate: "0.13", refundRate: "0.00", validFrom: "2019-04-01"),
                Commodity(hsCode: "7604291000", name: "铝合金型材", unit: "千克", unitCode: "035", vatRate: "0.13", refundRate: "0.09",
                          validFrom: "2019-04-01", validTo: "2020-11-30"),
            ],
            tradeModes: [TradeMode(code: "0110", name: "一般贸易", refundable: true), TradeMode(code: "0214", name: "来料加工", refundable: false)],
            currencies: [CurrencyInfo(code: "USD", customsCode: "502")],
            deadlines: Deadlines(certificateApplication: "04-15", refundClaim: ["2021": "2022-04-20"]))
        ledger = Ledger(genesis: Fixtures.genesis(reference, historicalImport: historicalImport))
    }

    @discardableResult
    mutating func run(_ signer: String, _ body: TransactionBody, date: String = "2021-07-24") -> Receipt {
        nonce += 1
        height += 1
        let tx = SignedTransaction(transaction: Transaction(chainId: ledger.genesis.chainId, signer: signer, nonce: nonce, effectiveDate: date, body: body),
                                   signature: [])
        let exec = ledger.execute([tx], txHashes: [tx.id(ledger.genesis.hashAlgorithm)], blockDate: blockDate, height: height)
        ledger.commit(exec)
        return exec.receipts[0]
    }

    static func register(_ taxId: String, kind: String = "production", bureau: String = "sz-tax-2") -> TransactionBody {
        .registerEnterprise(RegisterEnterpriseBody(taxId: taxId, name: "企业" + taxId.suffix(4), kind: kind, bureau: bureau,
                                                   publicKey: Fixtures.fakeKey(taxId)))
    }

    static func declaration(_ no: String = Chain.declNo, consignor: String = Chain.agent, unit: String = "千克",
                            quantity: String = "990.0000", fob: String = "36408.00", hs: String = Chain.hs, mode: String = "0110") -> TransactionBody {
        .recordDeclaration(RecordDeclarationBody(declarationNo: no, customsCode: String(no.prefix(4)), exportDate: "2021-07-19",
                                                 consignorTaxId: consignor, tradeMode: mode, currency: "USD",
                                                 items: [DeclarationItem(itemNo: 1, hsCode: hs, goodsName: "LED模组", unit: unit, quantity: quantity, fob: fob)]))
    }

    static func line(_ no: String = Chain.declNo, quantity: String = "990.0000", fob: String = "36408.00", hs: String = Chain.hs,
                     mode: String = "0110", lineNo: Int = 1) -> CertificateLineInput {
        CertificateLineInput(lineNo: lineNo, declarationNo: no, itemNo: 1, exportDate: "2021-07-19", verificationFormNo: "", tradeMode: mode,
                             hsCode: hs, goodsName: "LED模组", unit: "千克", quantity: quantity, currency: "USD", fob: fob, contractNo: "YDT2021000001")
    }

    static func application(_ id: String = "APP-1", principal: String = Chain.principal, lines: [CertificateLineInput] = [Chain.line()]) -> TransactionBody {
        .applyCertificate(ApplyCertificateBody(applicationId: id, principalTaxId: principal, principalName: "委托方", lines: lines))
    }

    static func issue(_ app: String = "APP-1", number: String = "440300202100000001", handled: String = "2021-07-24",
                      reviewed: String = "2021-07-24") -> TransactionBody {
        .issueCertificate(IssueCertificateBody(applicationId: app, certificateNumber: number, handler: "王伟", handledOn: handled,
                                               reviewer: "李娜", reviewedOn: reviewed))
    }

    static func claim(_ id: String = "CLM-1", quantity: String = "990.0000", rate: String = "6.4929", credit: String? = "100000.00",
                      invoice: String? = nil, number: String = "440300202100000001", lineNo: Int = 1, currency: String = "USD") -> TransactionBody {
        .claimRefund(ClaimRefundBody(claimId: id, period: "202108", exchangeRates: [currency: rate],
                                     lines: [ClaimLineInput(certificateNumber: number, lineNo: lineNo, quantity: quantity, invoiceAmount: invoice)],
                                     periodEndCredit: credit))
    }

    /// Registers the agent, principal and trader, files the agent, records the pilot declaration.
    mutating func setUp() {
        for t in [Chain.agent, Chain.principal, Chain.other] { precondition(run("org:sz-tax-2", Chain.register(t)).result.isOK) }
        precondition(run("org:dg-tax", Chain.register(Chain.trader, kind: "trading", bureau: "dg-tax")).result.isOK)
        precondition(run("org:sz-commerce", .fileTradeOperator(FileTradeOperatorBody(taxId: Chain.agent, filedOn: "2021-01-04"))).result.isOK)
        precondition(run("org:sz-customs", Chain.declaration()).result.isOK)
    }

    /// setUp plus an issued pilot certificate to `principal`.
    mutating func issued(principal: String = Chain.principal) {
        setUp()
        precondition(run("ent:" + Chain.agent, Chain.application(principal: principal), date: "2021-07-22").result.isOK)
        precondition(run("org:sz-tax-2", Chain.issue()).result.isOK)
    }
}

func code(_ r: Receipt) -> String? { r.result.errorCode?.rawValue }

final class RuleTests: XCTestCase {
    func testPilotCertificateArithmetic() throws {
        var c = Chain()
        c.issued()
        XCTAssertNil(code(c.run("ent:" + Chain.principal, Chain.claim(), date: "2021-08-10")))
        let r = c.run("org:sz-tax-2", .approveRefund(ApproveRefundBody(claimId: "CLM-1")), date: "2021-08-12")
        guard case .ok(let refund?) = r.result else { return XCTFail("approval failed: \(r.result)") }
        XCTAssertEqual(refund.method, "exemptCreditRefund")
        XCTAssertEqual(refund.lines[0].fob, "36408.00")
        XCTAssertEqual(refund.lines[0].fobCny, "236393.50")
        XCTAssertEqual(refund.lines[0].exemptCreditRefund, "30731.16")
        XCTAssertEqual(refund.lines[0].nonCreditable, "0.00")
        XCTAssertEqual(refund.exemptCreditRefund, "30731.16")
        XCTAssertEqual(refund.refund, "30731.16")
        XCTAssertEqual(refund.exemptCredit, "0.00")
        let view = try XCTUnwrap(Ledger.certificate(number: "440300202100000001", in: c.ledger))
        XCTAssertEqual(view.status, "consumed")
        XCTAssertEqual(view.lines[0].consumed, "990.0000")
        XCTAssertEqual(view.fobTotals, [CertificateTotal(unit: nil, currency: "USD", total: "36408.00")])
        XCTAssertEqual(view.quantityTotals, [CertificateTotal(unit: "千克", currency: nil, total: "990.0000")])
        let history = Ledger.history(certificateNumber: "440300202100000001", in: c.ledger)
        XCTAssertEqual(history.map(\.kind), ["recordDeclaration", "applyCertificate", "issueCertificate", "claimRefund", "approveRefund"])
        let stats = Ledger.statistics(in: c.ledger)
        XCTAssertEqual(stats.refundTotal, "30731.16")
        XCTAssertEqual(stats.certificateStatus, ["consumed": 1])
    }

    func testPartialClaimsTakeRoundedShareThenRemainder() throws {
        var c = Chain()
        c.issued()
        XCTAssertNil(code(c.run("ent:" + Chain.principal, Chain.claim("C1", quantity: "333.3333", credit: "0.00"))))
        let a = c.run("org:sz-tax-2", .approveRefund(ApproveRefundBody(claimId: "C1")))
        guard case .ok(let r1?) = a.result else { return XCTFail("\(a.result)") }
        // 36408.00 × 333.3333 / 990 = 12258.5787… → 12258.58 (as Python decimal gives); credit 0 → all exempt-credit
        XCTAssertEqual(r1.lines[0].fob, "12258.58")
        XCTAssertEqual(r1.refund, "0.00")
        XCTAssertEqual(r1.exemptCredit, r1.exemptCreditRefund)
        XCTAssertEqual(Ledger.certificate(number: "440300202100000001", in: c.ledger)?.status, "partiallyConsumed")
        XCTAssertEqual(code(c.run("ent:" + Chain.principal, Chain.claim("C2", quantity: "656.6668"))), "over-consumption")
        XCTAssertNil(code(c.run("ent:" + Chain.principal, Chain.claim("C2", quantity: "656.6667"))))
        let b = c.run("org:sz-tax-2", .approveRefund(ApproveRefundBody(claimId: "C2")))
        guard case .ok(let r2?) = b.result else { return XCTFail("\(b.result)") }
        XCTAssertEqual(r2.lines[0].fob, "24149.42")  // the remainder: 36408.00 − 12258.58
        XCTAssertEqual(Ledger.certificate(number: "440300202100000001", in: c.ledger)?.status, "consumed")
    }

    func testTradingRefundUsesInvoiceAmount() {
        var c = Chain()
        c.setUp()
        XCTAssertNil(code(c.run("ent:" + Chain.agent, Chain.application(principal: Chain.trader))))
        XCTAssertNil(code(c.run("org:sz-tax-2", Chain.issue())))
        XCTAssertEqual(code(c.run("ent:" + Chain.trader, Chain.claim("T0", credit: nil, invoice: nil))), "invalid-amount")
        XCTAssertNil(code(c.run("ent:" + Chain.trader, Chain.claim("T1", credit: nil, invoice: "200000.05"))))
        XCTAssertEqual(code(c.run("org:sz-tax-2", .approveRefund(ApproveRefundBody(claimId: "T1")))), "not-competent-bureau")
        let r = c.run("org:dg-tax", .approveRefund(ApproveRefundBody(claimId: "T1")))
        guard case .ok(let refund?) = r.result else { return XCTFail("\(r.result)") }
        XCTAssertEqual(refund.method, "exemptRefund")
        XCTAssertEqual(refund.lines[0].refund, "26000.01")  // 200000.05 × 0.13 = 26000.0065 → half-up
        XCTAssertEqual(refund.exemptCredit, "0.00")
    }

    func testAuthorization() {
        var c = Chain()
        XCTAssertEqual(code(c.run("org:sz-customs", Chain.register(Chain.agent))), "unauthorized")
        XCTAssertEqual(code(c.run("org:nobody", Chain.register(Chain.agent))), "unauthorized")
        XCTAssertEqual(code(c.run("ent:" + Chain.agent, Chain.application())), "unauthorized")  // not registered
        c.setUp()
        XCTAssertEqual(code(c.run("ent:" + Chain.agent, Chain.declaration("530120210123456790"))), "unauthorized")
        XCTAssertEqual(code(c.run("org:sz-tax-2", Chain.declaration("530120210123456790"))), "unauthorized")
        XCTAssertEqual(code(c.run("org:sz-customs", .fileTradeOperator(FileTradeOperatorBody(taxId: Chain.agent, filedOn: "2021-01-04")))), "unauthorized")
        // authorization is checked before formats
        XCTAssertEqual(code(c.run("org:sz-customs", Chain.register("91350100M000100Y4Z"))), "unauthorized")
    }

    func testRegisterEnterpriseRules() {
        var c = Chain()
        XCTAssertEqual(code(c.run("org:sz-tax-2", Chain.register("91350100M000100Y4Z"))), "invalid-tax-id")
        var bad = RegisterEnterpriseBody(taxId: Chain.agent, name: "x", kind: "production", bureau: "sz-tax-2", publicKey: "04abcd")
        XCTAssertEqual(code(c.run("org:sz-tax-2", .registerEnterprise(bad))), "invalid-public-key")
        bad.publicKey = "05" + String(Fixtures.fakeKey("a").dropFirst(2))
        XCTAssertEqual(code(c.run("org:sz-tax-2", .registerEnterprise(bad))), "invalid-public-key")
        bad.publicKey = Fixtures.fakeKey("a")
        bad.kind = "shop"
        XCTAssertEqual(code(c.run("org:sz-tax-2", .registerEnterprise(bad))), "invalid-field")
        XCTAssertEqual(code(c.run("org:sz-tax-2", Chain.register(Chain.agent, bureau: "dg-tax"))), "not-competent-bureau")
        XCTAssertNil(code(c.run("org:sz-tax-2", Chain.register(Chain.agent))))
        XCTAssertEqual(code(c.run("org:sz-tax-2", Chain.register(Chain.agent))), "duplicate-enterprise")
        XCTAssertEqual(c.ledger.publicKeyHex(forSigner: "ent:" + Chain.agent), Fixtures.fakeKey(Chain.agent))
        XCTAssertEqual(c.ledger.publicKeyHex(forSigner: "org:sz-tax-2"), Fixtures.fakeKey("org:sz-tax-2"))
        XCTAssertNil(c.ledger.publicKeyHex(forSigner: "ent:" + Chain.principal))
        XCTAssertEqual(Ledger.publicKeyHex(forSigner: "ent:" + Chain.agent, genesis: c.ledger.genesis, in: c.ledger), Fixtures.fakeKey(Chain.agent))
        XCTAssertNil(c.ledger.publicKeyHex(forSigner: "auditor"))
        XCTAssertEqual(code(c.run("org:sz-commerce", .fileTradeOperator(FileTradeOperatorBody(taxId: Chain.principal, filedOn: "2021-01-04")))),
                       "enterprise-not-found")
        XCTAssertEqual(code(c.run("org:sz-commerce", .fileTradeOperator(FileTradeOperatorBody(taxId: Chain.agent, filedOn: "2021-02-30")))),
                       "invalid-date")
    }

    func testDeclarationRules() {
        var c = Chain()
        c.setUp()
        XCTAssertEqual(code(c.run("org:sz-customs", Chain.declaration())), "duplicate-declaration")
        XCTAssertEqual(code(c.run("org:sz-customs", Chain.declaration("530120211123456789"))), "invalid-declaration-number")
        XCTAssertEqual(code(c.run("org:sz-customs", Chain.declaration("530120210000000001", consignor: Chain.principal))), "consignor-not-trade-operator")
        XCTAssertEqual(code(c.run("org:sz-customs", Chain.declaration("530120210000000001", unit: "台"))), "unit-mismatch")
        XCTAssertEqual(code(c.run("org:sz-customs", Chain.declaration("530120210000000001", quantity: "1.00001"))), "invalid-quantity")
        XCTAssertEqual(code(c.run("org:sz-customs", Chain.declaration("530120210000000001", quantity: "-1"))), "invalid-quantity")
        XCTAssertEqual(code(c.run("org:sz-customs", Chain.declaration("530120210000000001", fob: "1e3"))), "invalid-amount")
        XCTAssertEqual(code(c.run("org:sz-customs", Chain.declaration("530120210000000001", fob: "0"))), "invalid-amount")
        XCTAssertEqual(code(c.run("org:sz-customs", Chain.declaration("530120210000000001", hs: "1234567890"))), "invalid-hs-code")
        XCTAssertEqual(code(c.run("org:sz-customs", Chain.declaration("530120210000000001", hs: "7604291000"))), "invalid-hs-code")  // expired
        XCTAssertEqual(code(c.run("org:sz-customs", Chain.declaration("530120210000000001", mode: "9999"))), "invalid-trade-mode")
    }

    func testApplicationRules() {
        var c = Chain()
        c.setUp()
        let agent = "ent:" + Chain.agent
        XCTAssertEqual(code(c.run(agent, Chain.application(lines: [Chain.line(lineNo: 2)]))), "invalid-line-number")
        XCTAssertEqual(code(c.run(agent, Chain.application(lines: [Chain.line(), Chain.line(lineNo: 2)]))), "duplicate-line")
        XCTAssertEqual(code(c.run(agent, Chain.application(lines: [Chain.line(fob: "36408.001")]))), "invalid-amount")
        XCTAssertEqual(code(c.run(agent, Chain.application(lines: [Chain.line(quantity: "0")]))), "invalid-quantity")
        XCTAssertEqual(code(c.run(agent, Chain.application(principal: Chain.taxId("91440300MA5F00009")))), "enterprise-not-found")
        XCTAssertEqual(code(c.run(agent, Chain.application(lines: [Chain.line("530120210000000001")]))), "declaration-not-found")
        XCTAssertEqual(code(c.run("ent:" + Chain.other, Chain.application())), "consignor-mismatch")
        XCTAssertEqual(code(c.run(agent, Chain.application(lines: [Chain.line(quantity: "991.0000")]))), "declaration-mismatch")
        XCTAssertEqual(code(c.run(agent, Chain.application(lines: [Chain.line(fob: "36408.01")]))), "declaration-mismatch")
        XCTAssertEqual(code(c.run(agent, Chain.application(), date: "2022-04-16")), "deadline-passed")
        XCTAssertNil(code(c.run(agent, Chain.application(), date: "2022-04-15")))
        XCTAssertEqual(code(c.run(agent, Chain.application())), "duplicate-application")
        XCTAssertEqual(code(c.run(agent, Chain.application("APP-2"))), "declaration-item-certified")
        // rejecting frees the item
        XCTAssertEqual(code(c.run("org:dg-tax", .rejectApplication(RejectApplicationBody(applicationId: "APP-1", reason: "x")))), "not-competent-bureau")
        XCTAssertNil(code(c.run("org:sz-tax-2", .rejectApplication(RejectApplicationBody(applicationId: "APP-1", reason: "不符")))))
        XCTAssertEqual(code(c.run("org:sz-tax-2", .rejectApplication(RejectApplicationBody(applicationId: "APP-1", reason: "x")))), "application-not-pending")
        XCTAssertNil(code(c.run(agent, Chain.application("APP-2"))))
    }

    func testIssueRules() {
        var c = Chain()
        c.setUp()
        XCTAssertNil(code(c.run("ent:" + Chain.agent, Chain.application())))
        XCTAssertEqual(code(c.run("org:sz-tax-2", Chain.issue("APP-9"))), "application-not-found")
        XCTAssertEqual(code(c.run("org:sz-tax-2", Chain.issue(number: "44030020210000001"))), "invalid-certificate-number")
        XCTAssertEqual(code(c.run("org:dg-tax", Chain.issue(number: "441900202100000001"))), "not-competent-bureau")
        XCTAssertEqual(code(c.run("org:sz-tax-2", Chain.issue(number: "441900202100000001"))), "invalid-certificate-number")
        XCTAssertEqual(code(c.run("org:sz-tax-2", Chain.issue(handled: "2021-07-25", reviewed: "2021-07-24"))), "invalid-date-order")
        XCTAssertEqual(code(c.run("org:sz-tax-2", Chain.issue(handled: "2021-07-18", reviewed: "2021-07-24"))), "invalid-date-order")
        XCTAssertEqual(code(c.run("org:sz-tax-2", Chain.issue(handled: "2021-07-32"))), "invalid-date")
        XCTAssertNil(code(c.run("org:sz-tax-2", Chain.issue())))
        XCTAssertEqual(code(c.run("org:sz-tax-2", Chain.issue())), "application-not-pending")
        // a second application for another declaration cannot reuse the number
        XCTAssertNil(code(c.run("org:sz-customs", Chain.declaration("530120210000000001"))))
        XCTAssertNil(code(c.run("ent:" + Chain.agent, Chain.application("APP-2", lines: [Chain.line("530120210000000001")]))))
        XCTAssertEqual(code(c.run("org:sz-tax-2", Chain.issue("APP-2"))), "duplicate-certificate-number")
    }

    func testRevokeRules() {
        var c = Chain()
        c.issued()
        XCTAssertEqual(code(c.run("org:sz-tax-2", .revokeCertificate(RevokeCertificateBody(certificateNumber: "440300202100000009", reason: "x")))),
                       "certificate-not-found")
        XCTAssertEqual(code(c.run("org:dg-tax", .revokeCertificate(RevokeCertificateBody(certificateNumber: "440300202100000001", reason: "x")))),
                       "not-competent-bureau")
        XCTAssertNil(code(c.run("ent:" + Chain.principal, Chain.claim(quantity: "1"))))
        XCTAssertEqual(code(c.run("org:sz-tax-2", .revokeCertificate(RevokeCertificateBody(certificateNumber: "440300202100000001", reason: "x")))),
                       "certificate-in-use")
        XCTAssertNil(code(c.run("org:sz-tax-2", .rejectRefund(RejectRefundBody(claimId: "CLM-1", reason: "单证不齐")))))
        XCTAssertEqual(code(c.run("org:sz-tax-2", .approveRefund(ApproveRefundBody(claimId: "CLM-1")))), "claim-not-pending")
        XCTAssertNil(code(c.run("org:sz-tax-2", .revokeCertificate(RevokeCertificateBody(certificateNumber: "440300202100000001", reason: "误开")))))
        XCTAssertEqual(Ledger.certificate(number: "440300202100000001", in: c.ledger)?.status, "revoked")
        XCTAssertEqual(code(c.run("org:sz-tax-2", .revokeCertificate(RevokeCertificateBody(certificateNumber: "440300202100000001", reason: "x")))),
                       "certificate-revoked")
        XCTAssertEqual(code(c.run("ent:" + Chain.principal, Chain.claim("CLM-2"))), "certificate-revoked")
        // the declaration item is free again
        XCTAssertNil(code(c.run("ent:" + Chain.agent, Chain.application("APP-1R"))))
        XCTAssertNil(code(c.run("org:sz-tax-2", Chain.issue("APP-1R", number: "440300202100000002"))))
        XCTAssertEqual(Ledger.statistics(in: c.ledger).certificateStatus, ["issued": 1, "revoked": 1])
    }

    func testClaimRules() {
        var c = Chain()
        c.issued()
        let p = "ent:" + Chain.principal
        XCTAssertEqual(code(c.run(p, Chain.claim(number: "440300202199999999"))), "certificate-not-found")
        XCTAssertEqual(code(c.run("ent:" + Chain.other, Chain.claim())), "principal-mismatch")
        XCTAssertEqual(code(c.run(p, Chain.claim(lineNo: 2))), "certificate-line-not-found")
        XCTAssertEqual(code(c.run(p, Chain.claim(lineNo: 100))), "invalid-line-number")
        XCTAssertEqual(code(c.run(p, Chain.claim(currency: "EUR"))), "invalid-currency")
        XCTAssertEqual(code(c.run(p, Chain.claim(rate: "6.49291234"))), "invalid-exchange-rate")
        XCTAssertEqual(code(c.run(p, Chain.claim(rate: "0"))), "invalid-exchange-rate")
        XCTAssertEqual(code(c.run(p, Chain.claim(quantity: "991"))), "over-consumption")
        XCTAssertEqual(code(c.run(p, Chain.claim(credit: nil))), "invalid-amount")
        XCTAssertEqual(code(c.run(p, Chain.claim(credit: "-1.00"))), "invalid-amount")
        XCTAssertEqual(code(c.run(p, Chain.claim(), date: "2022-04-21")), "deadline-passed")
        var dup = ClaimRefundBody(claimId: "D", period: "202108", exchangeRates: ["USD": "6.4929"],
                                  lines: [ClaimLineInput(certificateNumber: "440300202100000001", lineNo: 1, quantity: "1")], periodEndCredit: "0")
        dup.lines.append(dup.lines[0])
        XCTAssertEqual(code(c.run(p, .claimRefund(dup))), "duplicate-line")
        dup.lines = [dup.lines[0]]
        dup.exchangeRates = [:]
        XCTAssertEqual(code(c.run(p, .claimRefund(dup))), "missing-exchange-rate")
        dup.period = "202113"
        XCTAssertEqual(code(c.run(p, .claimRefund(dup))), "invalid-period")
        XCTAssertNil(code(c.run(p, Chain.claim())))
        XCTAssertEqual(code(c.run(p, Chain.claim())), "duplicate-claim")
        XCTAssertEqual(code(c.run(p, Chain.claim("CLM-2", quantity: "1"))), "over-consumption")  // all reserved
        XCTAssertEqual(code(c.run("org:sz-tax-2", .approveRefund(ApproveRefundBody(claimId: "CLM-9")))), "claim-not-found")
        XCTAssertEqual(code(c.run("org:dg-tax", .approveRefund(ApproveRefundBody(claimId: "CLM-1")))), "not-competent-bureau")
        let view = Ledger.certificate(number: "440300202100000001", in: c.ledger)!
        XCTAssertEqual(view.lines[0].claimPending, "990.0000")
        XCTAssertEqual(view.status, "issued")
    }

    func testNonRefundableTradeMode() {
        var c = Chain()
        c.setUp()
        XCTAssertNil(code(c.run("org:sz-customs", Chain.declaration("530120210000000001", mode: "0214"))))
        XCTAssertNil(code(c.run("ent:" + Chain.agent, Chain.application(lines: [Chain.line("530120210000000001", mode: "0214")]))))
        XCTAssertNil(code(c.run("org:sz-tax-2", Chain.issue())))
        XCTAssertEqual(code(c.run("ent:" + Chain.principal, Chain.claim())), "non-refundable-trade-mode")
    }

    func testEffectiveDateWindowWithoutHistoricalImport() {
        var c = Chain(historicalImport: false)
        c.blockDate = "2021-07-24"
        XCTAssertNil(code(c.run("org:sz-tax-2", Chain.register(Chain.agent), date: "2021-07-17")))
        XCTAssertEqual(code(c.run("org:sz-tax-2", Chain.register(Chain.principal), date: "2021-07-16")), "invalid-date")
        XCTAssertEqual(code(c.run("org:sz-tax-2", Chain.register(Chain.principal), date: "2021-07-25")), "invalid-date")
        XCTAssertEqual(code(c.run("org:sz-tax-2", Chain.register(Chain.principal), date: "2021-7-24")), "invalid-date")
        XCTAssertNil(code(c.run("org:sz-tax-2", Chain.register(Chain.principal), date: "2021-07-24")))
    }

    func testWrongChainAndFailedTransactionsLeaveNoTrace() {
        var c = Chain()
        let before = c.ledger.stateRoot
        let tx = SignedTransaction(transaction: Transaction(chainId: "other", signer: "org:sz-tax-2", nonce: 1, effectiveDate: "2021-07-24",
                                                            body: Chain.register(Chain.agent)), signature: [])
        let exec = c.ledger.execute([tx], txHashes: [[1]], blockDate: "2021-07-24", height: 1)
        XCTAssertEqual(exec.receipts[0].result.errorCode, .wrongChain)
        XCTAssertTrue(exec.changes.isEmpty)
        XCTAssertEqual(exec.stateRoot, before)
        XCTAssertEqual(code(c.run("org:sz-tax-2", Chain.register("91350100M000100Y4Z"))), "invalid-tax-id")
        XCTAssertEqual(c.ledger.stateRoot, before)
        XCTAssertEqual(c.ledger.keyCount, 0)
    }

    func testExecuteIsPureAndOrderWithinBlockMatters() {
        let c = Chain()
        let reg = SignedTransaction(transaction: Transaction(chainId: c.ledger.genesis.chainId, signer: "org:sz-tax-2", nonce: 1,
                                                             effectiveDate: "2021-07-24", body: Chain.register(Chain.agent)), signature: [])
        let file = SignedTransaction(transaction: Transaction(chainId: c.ledger.genesis.chainId, signer: "org:sz-commerce", nonce: 2,
                                                              effectiveDate: "2021-07-24",
                                                              body: .fileTradeOperator(FileTradeOperatorBody(taxId: Chain.agent, filedOn: "2021-07-24"))),
                                   signature: [])
        let e1 = c.ledger.execute([reg, file], txHashes: [[1], [2]], blockDate: "2021-07-24", height: 1)
        XCTAssertTrue(e1.receipts.allSatisfy(\.result.isOK))
        XCTAssertEqual(c.ledger.keyCount, 0)
        let e2 = c.ledger.execute([file, reg], txHashes: [[2], [1]], blockDate: "2021-07-24", height: 1)
        XCTAssertEqual(e2.receipts[0].result.errorCode, .enterpriseNotFound)
        XCTAssertNotEqual(e1.stateRoot, e2.stateRoot)
        let e3 = c.ledger.execute([reg, file], txHashes: [[1], [2]], blockDate: "2021-07-24", height: 1)
        XCTAssertEqual(e1.stateRoot, e3.stateRoot)
        XCTAssertEqual(e1.receipts, e3.receipts)
    }

    func testStateRootMatchesMerkleRootOverBuckets() {
        var c = Chain()
        c.issued()
        let hash = c.ledger.genesis.hashAlgorithm
        var buckets = Array(repeating: [BucketEntry](), count: StateTree.bucketCount)
        for (k, v) in c.ledger.sortedEntries { buckets[StateTree.bucket(of: k, hash)].append((key: k, valueHash: hash.hash(v))) }
        let leaves = buckets.map { StateTree.bucketHash($0, hash) }
        XCTAssertEqual(Merkle.root(leaves: leaves, hash: hash), c.ledger.stateRoot)
    }
}

final class StateProofTests: XCTestCase {
    func testProofsOfPresenceAndAbsence() {
        var c = Chain()
        c.issued()
        let hash = c.ledger.genesis.hashAlgorithm
        let key = Ledger.certificateKey("440300202100000001")
        let value = c.ledger.value(forKey: key)!
        let proof = c.ledger.stateProof(forKey: key)
        XCTAssertTrue(proof.verify(value: value, stateRoot: c.ledger.stateRoot, hash: hash))
        XCTAssertFalse(proof.verify(value: value + [0x20], stateRoot: c.ledger.stateRoot, hash: hash))
        XCTAssertFalse(proof.verify(value: nil, stateRoot: c.ledger.stateRoot, hash: hash))
        let absent = c.ledger.stateProof(forKey: Ledger.certificateKey("440300202100000099"))
        XCTAssertTrue(absent.verify(value: nil, stateRoot: c.ledger.stateRoot, hash: hash))
        XCTAssertFalse(absent.verify(value: [1], stateRoot: c.ledger.stateRoot, hash: hash))
        var forged = proof
        forged.entries.removeAll { $0.key != key }
        if proof.entries.count > 1 { XCTAssertFalse(forged.verify(value: value, stateRoot: c.ledger.stateRoot, hash: hash)) }
    }
}

final class SuiteTests: XCTestCase {
    func testEd25519KeysAre32Bytes() throws {
        let c = Chain()
        var g = c.ledger.genesis
        g.suite = .ed25519sha256
        var ledger = Ledger(genesis: g)
        func register(_ key: String) -> Receipt {
            let tx = SignedTransaction(transaction: Transaction(chainId: g.chainId, signer: "org:sz-tax-2", nonce: 1, effectiveDate: "2021-07-24",
                                                                body: .registerEnterprise(RegisterEnterpriseBody(taxId: Chain.agent, name: "a",
                                                                                                                 kind: "trading", bureau: "sz-tax-2", publicKey: key))),
                                       signature: [])
            let e = ledger.execute([tx], txHashes: [tx.id(g.hashAlgorithm)], blockDate: "2021-07-24", height: 1)
            ledger.commit(e)
            return e.receipts[0]
        }
        XCTAssertEqual(register(Fixtures.fakeKey("x")).result.errorCode, .invalidPublicKey)  // 65-byte SM2 key
        XCTAssertEqual(register(String(repeating: "AB", count: 32)).result.errorCode, .invalidPublicKey)  // uppercase
        XCTAssertTrue(register(String(repeating: "ab", count: 32)).result.isOK)
    }
}

/// The tree's incremental update (writes merged into a bucket's sorted entries) gives the root a full rebuild gives,
/// in crowded buckets: updates, inserts before, between and after existing keys, deletes, and deleting the absent.
final class StateTreeUpdateTests: XCTestCase {
    func testIncrementalUpdateMatchesRebuildInCrowdedBuckets() throws {
        let hash = HashAlgorithm.sm3
        var byBucket: [Int: [String]] = [:]
        for i in 0..<150_000 { byBucket[StateTree.bucket(of: "k/\(i)", hash), default: []].append("k/\(i)") }
        let crowded = byBucket.values.filter { $0.count >= 5 }.prefix(40)
        XCTAssertEqual(crowded.count, 40)
        var before: [(key: String, value: [UInt8])] = []
        var changes: [BucketChange] = []
        var after: [String: [UInt8]] = [:]
        for (n, keys) in crowded.enumerated() {
            for (i, key) in keys.enumerated() {
                let old: [UInt8] = [UInt8(n), UInt8(i)]
                // Every other key exists before; of those, some are rewritten and some deleted; the rest are inserted.
                if i % 2 == 0 {
                    before.append((key: key, value: old))
                    after[key] = old
                    if i % 4 == 0 {
                        changes.append((bucket: StateTree.bucket(of: key, hash), key: key, valueHash: hash.hash(old + [1])))
                        after[key] = old + [1]
                    } else {
                        changes.append((bucket: StateTree.bucket(of: key, hash), key: key, valueHash: nil))
                        after[key] = nil
                    }
                } else if i % 3 == 0 {
                    changes.append((bucket: StateTree.bucket(of: key, hash), key: key, valueHash: nil))
                } else {
                    changes.append((bucket: StateTree.bucket(of: key, hash), key: key, valueHash: hash.hash(old)))
                    after[key] = old
                }
            }
        }
        let state = try MemoryCommittedState(hash: hash, entries: before)
        var tree = StateTree(hash: hash, state: state)
        let update = tree.update(changes.shuffled(), state: state)
        let rebuilt = StateTree(hash: hash, state: try MemoryCommittedState(hash: hash, entries: after.map { (key: $0.key, value: $0.value) }))
        XCTAssertEqual(update.root, rebuilt.root)
        tree.apply(update)
        XCTAssertEqual(tree.root, rebuilt.root)
        XCTAssertNotEqual(StateTree(hash: hash, state: state).root, rebuilt.root)

        let sorted: [BucketEntry] = ["a", "b", "d"].map { (key: $0, valueHash: []) }
        XCTAssertEqual(["", "a", "c", "d", "e"].map { StateTree.position(of: $0, in: sorted) }, [0, 0, 2, 2, 3])
    }
}
