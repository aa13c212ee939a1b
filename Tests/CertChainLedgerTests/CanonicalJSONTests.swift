import CertChainModel
import Foundation
import XCTest

@testable import CertChainLedger

/// State values are hashed into the state root: the ledger's own encoder must write exactly the bytes Foundation's
/// JSONEncoder writes with sorted keys and unescaped slashes (docs/ENCODING.md), for every record and every string.
final class CanonicalJSONTests: XCTestCase {
    func foundation<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    func assertSameBytes<T: Encodable>(_ value: T, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let mine = try CanonicalJSON.encode(value)
        let theirs = try foundation(value)
        XCTAssertEqual(String(decoding: mine, as: UTF8.self), String(decoding: theirs, as: UTF8.self), what, file: file, line: line)
        XCTAssertEqual(mine, theirs, what, file: file, line: line)
    }

    /// Every value the small workload leaves in state, decoded as its record and encoded again both ways.
    func testEveryRecordOfTheSmallWorkloadEncodesAsFoundationDoes() throws {
        guard let dir = WorkloadLocator.directory("small") else { throw XCTSkip("workload small not found") }
        let workload = try Workload(directory: dir)
        let genesis = Fixtures.genesis(workload.reference)
        let (ledger, _, _, _) = Fixtures.replay(try Fixtures.blocks(workload, genesis: genesis), genesis: genesis)
        var checked: [String: Int] = [:]
        for (key, value) in ledger.sortedEntries {
            let prefix = String(key.prefix { $0 != "/" })
            switch prefix {
            case "ent": try assertSameBytes(try XCTUnwrap(StateCodec.decode(EnterpriseRecord.self, value)), key)
            case "decl": try assertSameBytes(try XCTUnwrap(StateCodec.decode(DeclarationRecord.self, value)), key)
            case "app": try assertSameBytes(try XCTUnwrap(StateCodec.decode(ApplicationRecord.self, value)), key)
            case "cert": try assertSameBytes(try XCTUnwrap(StateCodec.decode(CertificateRecord.self, value)), key)
            case "claim": try assertSameBytes(try XCTUnwrap(StateCodec.decode(ClaimRecord.self, value)), key)
            case "stats": try assertSameBytes(try XCTUnwrap(StateCodec.decode(LedgerStatistics.self, value)), key)
            default: XCTFail("unexpected state key \(key)")
            }
            XCTAssertEqual(value, try foundation(try XCTUnwrap(StateCodec.decode(AnyRecord.self, value))), "stored bytes of \(key)")
            checked[prefix, default: 0] += 1
        }
        XCTAssertEqual(Set(checked.keys), ["ent", "decl", "app", "cert", "claim", "stats"], "every kind of record was checked")
    }

    /// Strings with every escape, keys that sort differently by bytes, by case and by number, optionals, nesting.
    func testEscapesKeyOrderOptionalsAndNestingMatchFoundation() throws {
        struct Inner: Encodable {
            var list: [String]
            var map: [String: Int]
            var numbers: [Int: String]
            var flag: Bool
        }
        struct Sample: Encodable {
            var text: String
            var a10: Int
            var a9: Int64
            var B: String?
            var b: String?
            var é: UInt64
            var nested: [Inner]
            var empty: [String]
            var emptyMap: [String: String]
        }
        var controls = (0..<0x20).map { String(UnicodeScalar(UInt8($0))) }.joined()
        controls += "\u{7f} \"quoted\" back\\slash a/b/c 中文 代理出口货物证明 🚢 \u{2028}"
        let sample = Sample(
            text: controls, a10: -1, a9: Int64.min, B: nil, b: "present", é: UInt64.max,
            nested: [
                Inner(list: ["x", "", "y/z"], map: ["z": 1, "A": 2, "a": 3, "10": 4, "9": 5, "": 6], numbers: [10: "ten", 9: "nine", -1: "minus"], flag: true),
                Inner(list: [], map: [:], numbers: [:], flag: false),
            ],
            empty: [], emptyMap: [:])
        try assertSameBytes(sample, "sample")
        try assertSameBytes(["k": [["deep": ["deeper": true]]]], "nested maps")
        try assertSameBytes([String?.none, "x"], "null in an array")
    }
}

/// Any JSON value, to re-encode stored bytes through Foundation without knowing their record type.
enum AnyRecord: Codable, Equatable {
    case string(String), number(Int64), bool(Bool), null, array([AnyRecord]), object([String: AnyRecord])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let flag = try? container.decode(Bool.self) {
            self = .bool(flag)
        } else if let number = try? container.decode(Int64.self) {
            self = .number(number)
        } else if let string = try? container.decode(String.self) {
            self = .string(string)
        } else if let array = try? container.decode([AnyRecord].self) {
            self = .array(array)
        } else {
            self = .object(try container.decode([String: AnyRecord].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let string): try container.encode(string)
        case .number(let number): try container.encode(number)
        case .bool(let flag): try container.encode(flag)
        case .null: try container.encodeNil()
        case .array(let array): try container.encode(array)
        case .object(let object): try container.encode(object)
        }
    }
}
