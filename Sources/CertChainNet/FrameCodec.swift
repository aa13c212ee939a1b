/// Errors raised while decoding length-prefixed frames.
public enum FrameError: Error, Equatable, Sendable {
    /// The 4-byte prefix announced a frame longer than `frameBytesMax`.
    case frameTooLarge(Int)
}

/// Encodes frames as a u32 big-endian length prefix followed by the payload.
public enum FrameCodec {
    /// Bytes in the length prefix.
    public static let prefixBytes = 4

    /// Returns `payload` prefixed with its length as a u32 big-endian integer.
    public static func encode(_ payload: [UInt8]) -> [UInt8] {
        precondition(payload.count <= Int(UInt32.max), "frame payload exceeds u32 length")
        let n = UInt32(payload.count)
        var out = [UInt8]()
        out.reserveCapacity(payload.count + prefixBytes)
        out.append(UInt8(truncatingIfNeeded: n >> 24))
        out.append(UInt8(truncatingIfNeeded: n >> 16))
        out.append(UInt8(truncatingIfNeeded: n >> 8))
        out.append(UInt8(truncatingIfNeeded: n))
        out.append(contentsOf: payload)
        return out
    }
}

/// Incremental decoder of length-prefixed frames (pure; feed bytes, pull frames).
///
/// As soon as a complete prefix announces more than `frameBytesMax`, the decoder is poisoned:
/// the buffer is dropped, further input is discarded (never buffered) and `nextFrame()` throws
/// `frameTooLarge` from then on. Frames decoded before the bad prefix are still returned.
public struct FrameDecoder: Sendable {
    /// Largest payload accepted, in bytes.
    public let frameBytesMax: Int
    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// Complete frames found in the buffer before a bad prefix poisoned it.
    private var ready: [[UInt8]] = []
    private var oversizedLength: Int? = nil

    /// Creates a decoder that rejects frames longer than `frameBytesMax` bytes.
    public init(frameBytesMax: Int) {
        precondition(frameBytesMax >= 0, "frameBytesMax must be non-negative")
        self.frameBytesMax = frameBytesMax
    }

    /// Bytes buffered but not yet returned as frames.
    public var bufferedBytes: Int { buffer.count - readIndex }

    /// True once an oversized prefix has been seen.
    public var isPoisoned: Bool { oversizedLength != nil }

    /// Appends received bytes.
    public mutating func append(_ bytes: ArraySlice<UInt8>) {
        guard oversizedLength == nil else { return }
        if readIndex > 0 && readIndex >= buffer.count / 2 {
            buffer.removeFirst(readIndex)
            readIndex = 0
        }
        buffer.append(contentsOf: bytes)
        scanForOversizedPrefix()
    }

    /// Appends received bytes.
    public mutating func append(_ bytes: [UInt8]) {
        append(bytes[...])
    }

    /// Returns the next complete frame payload, nil if more bytes are needed; throws on an oversized prefix.
    public mutating func nextFrame() throws -> [UInt8]? {
        if !ready.isEmpty { return ready.removeFirst() }
        if let n = oversizedLength { throw FrameError.frameTooLarge(n) }
        guard let length = length(at: readIndex) else { return nil }
        let start = readIndex + FrameCodec.prefixBytes
        guard buffer.count - start >= length else { return nil }
        let frame = Array(buffer[start..<(start + length)])
        readIndex = start + length
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 16)
            readIndex = 0
        }
        return frame
    }

    /// Walks the complete frames in the buffer; if a prefix is oversized, keeps the frames before it and poisons.
    private mutating func scanForOversizedPrefix() {
        var at = readIndex
        var frames: [(Int, Int)] = []
        // Bounded: every step advances `at` by at least the 4-byte prefix.
        while let length = length(at: at) {
            if length > frameBytesMax {
                ready = frames.map { Array(buffer[$0.0..<($0.0 + $0.1)]) }
                oversizedLength = length
                buffer = []
                readIndex = 0
                return
            }
            let start = at + FrameCodec.prefixBytes
            guard buffer.count - start >= length else { return }
            frames.append((start, length))
            at = start + length
        }
    }

    private func length(at index: Int) -> Int? {
        guard buffer.count - index >= FrameCodec.prefixBytes else { return nil }
        var n = 0
        for i in 0..<FrameCodec.prefixBytes { n = (n << 8) | Int(buffer[index + i]) }
        return n
    }
}
