import CertChainLedger
import Foundation
import XCTest

@testable import CertChainNode

/// The certificate answer cache serves an answer only for the exact state value it was computed from.
final class AnswerCacheTests: XCTestCase {
    func record(consumed: String) throws -> (value: [UInt8], record: CertificateRecord) {
        let reference = #"{"txHash":"aa","kind":"issueCertificate","height":3,"index":0,"effectiveDate":"2021-03-01","signer":"org:x"}"#
        let line = #"{"lineNo":1,"declarationNo":"440120210000000001","itemNo":1,"exportDate":"2021-02-01","tradeMode":"0110","hsCode":"61091000","goodsName":"T恤","unit":"件","quantity":"100","currency":"USD","fob":"1000.00","contractNo":"C1"}"#
        let text = #"{"certificateNumber":"440300202100000001","applicationId":"A1","bureau":"b","agentTaxId":"AG","agentName":"代理","principalTaxId":"PR","principalName":"委托","handler":"h","handledOn":"2021-03-01","reviewer":"r","reviewedOn":"2021-03-01","lines":[{"line":"#
            + line + #","reserved":"0","consumed":""# + consumed + #"","fobUsed":"0"}],"revoked":false,"issued":"# + reference + #","history":["# + reference + "]}"
        let value = Array(text.utf8)
        return (value, try JSONDecoder().decode(CertificateRecord.self, from: Data(value)))
    }

    func testCachedOnlyForIdenticalStateValues() throws {
        let cache = CertificateAnswerCache(entriesMax: 2)
        let issued = try record(consumed: "0"), partial = try record(consumed: "40")
        var computed = 0
        func answer(_ r: (value: [UInt8], record: CertificateRecord)) -> CertificateAnswerCache.Entry? {
            cache.answer(number: "440300202100000001", stateValue: r.value) {
                computed += 1
                return (r.record, Array(r.record.status.utf8))
            }
        }
        XCTAssertEqual(answer(issued).map { String(decoding: $0.body, as: UTF8.self) }, "issued")
        XCTAssertEqual(answer(issued).map { String(decoding: $0.body, as: UTF8.self) }, "issued")
        XCTAssertEqual(computed, 1, "the same bytes are answered from the cache")
        XCTAssertEqual(answer(partial).map { String(decoding: $0.body, as: UTF8.self) }, "partiallyConsumed")
        XCTAssertEqual(computed, 2, "changed bytes are recomputed, never served stale")
        XCTAssertNil(cache.answer(number: "x", stateValue: [1]) { nil }, "an undecodable value gives no answer")
        for i in 0..<5 { _ = cache.answer(number: "n\(i)", stateValue: [UInt8(i)]) { (issued.record, []) } }
        _ = answer(partial)
        XCTAssertEqual(computed, 3, "a full cache starts over (bounded)")
    }
}
