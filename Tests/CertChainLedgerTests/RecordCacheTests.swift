import Foundation
import XCTest
@testable import CertChainLedger

/// The decoded-record cache and the deferred encoding of records written in a block never change a result.
final class RecordCacheTests: XCTestCase {
    func testCacheAnswersOnlyForIdenticalBytes() {
        let cache = DecodedRecordCache(entriesMax: 2)
        var stats = LedgerStatistics()
        stats.certificatesIssued = 1
        let one = StateCodec.encode(stats)
        stats.certificatesIssued = 2
        let two = StateCodec.encode(stats)
        XCTAssertEqual(cache.record(LedgerStatistics.self, key: "stats", bytes: one)?.certificatesIssued, 1)
        XCTAssertEqual(cache.record(LedgerStatistics.self, key: "stats", bytes: two)?.certificatesIssued, 2, "other bytes are decoded again")
        XCTAssertEqual(cache.record(LedgerStatistics.self, key: "stats", bytes: one)?.certificatesIssued, 1)
        XCTAssertNil(cache.record(ClaimRecord.self, key: "stats", bytes: one), "a record of another type is not served")
        XCTAssertNil(cache.record(LedgerStatistics.self, key: "x", bytes: Array("not json".utf8)))
        cache.remember(key: "stats", bytes: one, record: EnterpriseRecordFixture.make())
        XCTAssertEqual(cache.record(LedgerStatistics.self, key: "stats", bytes: one)?.certificatesIssued, 1, "a mismatched type decodes")
    }

    func testOverlayDefersEncodingAndDropsUnchangedValues() {
        var base = LedgerStatistics()
        base.refundClaims = 5
        let baseBytes = StateCodec.encode(base)
        var overlay = Overlay(base: DictionaryStateReader(["stats": baseBytes]))
        var changed = base
        changed.refundClaims = 6
        overlay.put("stats", record: changed)
        XCTAssertEqual(overlay.record(LedgerStatistics.self, "stats")?.refundClaims, 6, "a pending record is read back")
        XCTAssertEqual(overlay.get("stats"), StateCodec.encode(changed))
        overlay.commitPending()
        overlay.put("stats", record: base)
        overlay.commitPending()
        XCTAssertTrue(overlay.sortedChanges.isEmpty, "writing back the committed value is no change")
        overlay.put("other", record: changed)
        overlay.put("gone", nil)
        XCTAssertTrue(overlay.exists("other"))
        XCTAssertFalse(overlay.exists("gone"))
        overlay.commitPending()
        let changes = overlay.sortedChanges
        XCTAssertEqual(changes.map(\.key), ["other"], "a deletion of an absent key is no change")
        XCTAssertEqual(changes.first?.value, StateCodec.encode(changed), "records are encoded canonically at the end of the block")
    }
}

/// A record of another type than statistics.
enum EnterpriseRecordFixture {
    static func make() -> EnterpriseRecord {
        EnterpriseRecord(
            taxId: "T", name: "N", kind: "k", bureau: "b", publicKey: "00", tradeOperator: false, filedOn: nil,
            registered: TxReference(txHash: "aa", kind: "registerEnterprise", height: 1, index: 0, effectiveDate: "2021-01-01", signer: "org:x"),
            filed: nil)
    }
}
