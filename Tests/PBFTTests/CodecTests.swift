import XCTest
@testable import PBFT

final class CodecTests: XCTestCase {
    let messages: [Message] = [
        .prePrepare(PrePrepare(view: 3, sequence: 9, digest: [1, 2, 3], payload: [4, 5])),
        .prePrepare(PrePrepare(view: 0, sequence: UInt64.max, digest: [], payload: [])),
        .prepare(Prepare(view: 1, sequence: 2, digest: [9, 9], replica: 3)),
        .commit(Commit(view: 7, sequence: 8, digest: [0xAA], replica: 6, certificateSignature: [1, 2, 3, 4])),
        .commit(Commit(view: 7, sequence: 8, digest: [0xAA], replica: 0)),
    ]
    let records: [ConsensusRecord] = [
        .view(12),
        .prePrepared(PrePrepare(view: 3, sequence: 9, digest: [1, 2, 3], payload: [4, 5])),
        .prepared(view: 1, sequence: 2, digest: [7]),
        .committed(view: 1, sequence: 2, digest: [8, 8]),
    ]

    func testMessagesRoundTripAndRejectMalformedBytes() {
        for m in messages {
            let bytes = m.encoded()
            XCTAssertEqual(Message(decoding: bytes), m)
            for cut in 0..<bytes.count { XCTAssertNil(Message(decoding: Array(bytes[..<cut])), "\(m) cut \(cut)") }
            XCTAssertNil(Message(decoding: bytes + [0]))
        }
        XCTAssertNil(Message(decoding: [9]))
        XCTAssertNil(Message(decoding: [2] + [UInt8](repeating: 0, count: 16) + [0xFF, 0xFF, 0xFF, 0xFF]))
        let big = Message.prePrepare(PrePrepare(view: 0, sequence: 1, digest: [1], payload: [UInt8](repeating: 1, count: 100)))
        XCTAssertNil(Message(decoding: big.encoded(), payloadBytesMax: 99))
        XCTAssertNotNil(Message(decoding: big.encoded(), payloadBytesMax: 100))
        let longDigest = Message.prepare(Prepare(view: 0, sequence: 1, digest: [UInt8](repeating: 1, count: 65), replica: 1))
        XCTAssertNil(Message(decoding: longDigest.encoded()))
    }

    func testRecordsRoundTripAndRejectMalformedBytes() {
        for rec in records {
            let bytes = rec.encoded()
            XCTAssertEqual(ConsensusRecord(decoding: bytes), rec)
            for cut in 0..<bytes.count { XCTAssertNil(ConsensusRecord(decoding: Array(bytes[..<cut]))) }
            XCTAssertNil(ConsensusRecord(decoding: bytes + [0]))
        }
    }

    func testRandomGarbageNeverTraps() {
        var rng = SplitMix64(state: 42)
        for _ in 0..<5_000 {
            let bytes = (0..<rng.below(40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            _ = Message(decoding: bytes)
            _ = ConsensusRecord(decoding: bytes)
        }
    }
}
