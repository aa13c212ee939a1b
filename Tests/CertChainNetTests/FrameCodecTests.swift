import XCTest

@testable import CertChainNet

final class FrameCodecTests: XCTestCase {
    func testEncodePrefix() {
        XCTAssertEqual(FrameCodec.encode([0xAA, 0xBB]), [0, 0, 0, 2, 0xAA, 0xBB])
        XCTAssertEqual(FrameCodec.encode([]), [0, 0, 0, 0])
        let big = [UInt8](repeating: 7, count: 0x010203)
        XCTAssertEqual(Array(FrameCodec.encode(big).prefix(4)), [0, 1, 2, 3])
    }

    func testSplitAcrossAppends() throws {
        var d = FrameDecoder(frameBytesMax: 100)
        let bytes = FrameCodec.encode(Array("hello".utf8)) + FrameCodec.encode(Array("world!".utf8))
        var frames: [[UInt8]] = []
        for b in bytes {
            d.append([b])
            while let f = try d.nextFrame() { frames.append(f) }
        }
        XCTAssertEqual(frames, [Array("hello".utf8), Array("world!".utf8)])
        XCTAssertEqual(d.bufferedBytes, 0)
        XCTAssertNil(try d.nextFrame())
    }

    func testManyFramesInOneAppend() throws {
        var d = FrameDecoder(frameBytesMax: 1000)
        var all: [UInt8] = []
        let payloads = (0..<500).map { i in [UInt8](repeating: UInt8(i & 0xff), count: i % 37) }
        for p in payloads { all += FrameCodec.encode(p) }
        d.append(all[...])
        var got: [[UInt8]] = []
        while let f = try d.nextFrame() { got.append(f) }
        XCTAssertEqual(got, payloads)
    }

    func testEmptyFrame() throws {
        var d = FrameDecoder(frameBytesMax: 10)
        d.append([0, 0, 0, 0])
        XCTAssertEqual(try d.nextFrame(), [])
        XCTAssertNil(try d.nextFrame())
    }

    func testOversizeRejectedBeforeBuffering() throws {
        var d = FrameDecoder(frameBytesMax: 16)
        d.append([0, 0])
        XCTAssertNil(try d.nextFrame())
        d.append([0, 17])
        XCTAssertThrowsError(try d.nextFrame()) { XCTAssertEqual($0 as? FrameError, .frameTooLarge(17)) }
        // Further input is discarded, not buffered.
        d.append([UInt8](repeating: 1, count: 10_000))
        XCTAssertEqual(d.bufferedBytes, 0)
        XCTAssertTrue(d.isPoisoned)
        XCTAssertThrowsError(try d.nextFrame())
    }

    func testOversizeAnnouncedGiantLengthNotBuffered() {
        var d = FrameDecoder(frameBytesMax: 1 << 20)
        d.append([0xFF, 0xFF, 0xFF, 0xFF] + [UInt8](repeating: 0, count: 4096))
        XCTAssertEqual(d.bufferedBytes, 0)
        XCTAssertThrowsError(try d.nextFrame()) { XCTAssertEqual($0 as? FrameError, .frameTooLarge(0xFFFF_FFFF)) }
    }

    func testGoodFramesBeforeOversizedStillDelivered() throws {
        var d = FrameDecoder(frameBytesMax: 4)
        d.append(FrameCodec.encode([1, 2]) + FrameCodec.encode([3]) + [0, 0, 0, 5, 9, 9])
        XCTAssertEqual(try d.nextFrame(), [1, 2])
        XCTAssertEqual(try d.nextFrame(), [3])
        XCTAssertThrowsError(try d.nextFrame())
    }

    func testExactlyMaxAccepted() throws {
        var d = FrameDecoder(frameBytesMax: 8)
        d.append(FrameCodec.encode([UInt8](repeating: 5, count: 8)))
        XCTAssertEqual(try d.nextFrame()?.count, 8)
    }

    func testRandomChunking() throws {
        var rng = SystemRandomNumberGenerator()
        let payloads = (0..<200).map { _ in (0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) } }
        let stream = payloads.flatMap { FrameCodec.encode($0) }
        var d = FrameDecoder(frameBytesMax: 300)
        var got: [[UInt8]] = []
        var i = 0
        while i < stream.count {
            let n = min(Int.random(in: 1...700, using: &rng), stream.count - i)
            d.append(stream[i..<(i + n)])
            i += n
            while let f = try d.nextFrame() { got.append(f) }
        }
        XCTAssertEqual(got, payloads)
    }
}
