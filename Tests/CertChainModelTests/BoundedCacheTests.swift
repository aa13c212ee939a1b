import CertChainModel
import XCTest

/// The shared bounded cache: values read back, removal, and a fresh start when full.
final class BoundedCacheTests: XCTestCase {
    func testStartsOverWhenFullAndUpdatesInPlace() {
        let cache = BoundedCache<String, Int>(entriesMax: 2)
        cache["a"] = 1
        cache["b"] = 2
        cache["a"] = 3
        XCTAssertEqual(cache["a"], 3, "replacing a value does not count as a new entry")
        XCTAssertEqual(cache["b"], 2)
        cache["c"] = 4
        XCTAssertNil(cache["a"], "a new key in a full cache starts it over")
        XCTAssertEqual(cache["c"], 4)
        cache["c"] = nil
        XCTAssertNil(cache["c"])
    }

    func testByteKeysAreEqualExactlyWhenTheirBytesAre() {
        var set = Set<ByteKey>()
        XCTAssertTrue(set.insert(ByteKey([1, 2, 3])).inserted)
        XCTAssertFalse(set.insert(ByteKey([1, 2, 3])).inserted, "the same bytes are the same key")
        XCTAssertTrue(set.insert(ByteKey([1, 2])).inserted, "a prefix is another key")
        XCTAssertTrue(set.insert(ByteKey([])).inserted)
        XCTAssertTrue(set.insert(ByteKey([3, 2, 1])).inserted)
        XCTAssertEqual(set.count, 4)
        XCTAssertEqual(ByteKey([7, 8]).hashValue, ByteKey([7, 8]).hashValue)
    }
}
