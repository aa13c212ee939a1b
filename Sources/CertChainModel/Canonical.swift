import Foundation

/// Limits for decoding untrusted canonical bytes.
public enum CanonicalLimits {
    /// Maximum byte length of one string or byte string.
    public static let lengthMax = 16 * 1024 * 1024
    /// Maximum element count of one array.
    public static let countMax = 1_000_000
}

/// Appends values in the canonical binary encoding (big-endian, u32 length prefixes); see docs/ENCODING.md.
public struct CanonicalWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []

    /// Creates an empty writer.
    public init() {}

    /// Writes one byte.
    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    /// Writes a boolean as 0 or 1.
    public mutating func bool(_ v: Bool) { bytes.append(v ? 1 : 0) }
    /// Writes a big-endian u32.
    public mutating func u32(_ v: UInt32) { for s in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(s))) } }
    /// Writes a big-endian u64.
    public mutating func u64(_ v: UInt64) { for s in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(s))) } }
    /// Writes a big-endian two's-complement i64.
    public mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    /// Writes an Int as i64.
    public mutating func int(_ v: Int) { i64(Int64(v)) }
    /// Writes a u32-length-prefixed byte string.
    public mutating func byteString(_ b: [UInt8]) { u32(UInt32(b.count)); bytes.append(contentsOf: b) }
    /// Writes a u32-length-prefixed UTF-8 string.
    public mutating func string(_ s: String) { byteString(Array(s.utf8)) }
    /// Writes an optional string as tag 0, or tag 1 and the string.
    public mutating func optionalString(_ s: String?) {
        if let s { u8(1); string(s) } else { u8(0) }
    }
    /// Writes an array as u32 count then each element.
    public mutating func array<T>(_ a: [T], _ element: (inout CanonicalWriter, T) -> Void) {
        u32(UInt32(a.count))
        for e in a { element(&self, e) }
    }
    /// Writes a string map sorted by key: u32 count, then key and value strings.
    public mutating func stringMap(_ m: [String: String]) {
        let keys = m.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        u32(UInt32(keys.count))
        for k in keys { string(k); string(m[k]!) }
    }
    /// Appends raw bytes without a prefix.
    public mutating func raw(_ b: [UInt8]) { bytes.append(contentsOf: b) }
}

/// Reads the canonical binary encoding with bounds checks; never traps on garbage.
public struct CanonicalReader: Sendable {
    private let bytes: [UInt8]
    /// The read position.
    public private(set) var offset: Int = 0

    /// Creates a reader over `bytes`.
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// True when every byte has been read.
    public var isAtEnd: Bool { offset == bytes.count }

    /// Throws unless every byte has been read.
    public func finish() throws { if !isAtEnd { throw ModelError.malformed("\(bytes.count - offset) trailing bytes") } }

    private mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, bytes.count - offset >= n else { throw ModelError.truncated }
        defer { offset += n }
        return bytes[offset..<offset + n]
    }

    /// Reads one byte.
    public mutating func u8() throws -> UInt8 { try take(1).first! }
    /// Reads a boolean (0 or 1 only).
    public mutating func bool() throws -> Bool {
        switch try u8() { case 0: return false; case 1: return true; default: throw ModelError.malformed("boolean tag") }
    }
    /// Reads a big-endian u32.
    public mutating func u32() throws -> UInt32 { try take(4).reduce(0) { $0 << 8 | UInt32($1) } }
    /// Reads a big-endian u64.
    public mutating func u64() throws -> UInt64 { try take(8).reduce(0) { $0 << 8 | UInt64($1) } }
    /// Reads a big-endian i64.
    public mutating func i64() throws -> Int64 { Int64(bitPattern: try u64()) }
    /// Reads an i64 as Int.
    public mutating func int() throws -> Int {
        let v = try i64()
        guard let i = Int(exactly: v) else { throw ModelError.malformed("integer out of range") }
        return i
    }
    /// Reads a u32-length-prefixed byte string.
    public mutating func byteString() throws -> [UInt8] {
        let n = Int(try u32())
        guard n <= CanonicalLimits.lengthMax else { throw ModelError.limitExceeded("byte string of \(n) bytes") }
        return Array(try take(n))
    }
    /// Reads a u32-length-prefixed UTF-8 string.
    public mutating func string() throws -> String {
        let b = try byteString()
        guard let s = String(validating: b, as: UTF8.self) else { throw ModelError.malformed("invalid UTF-8") }
        return s
    }
    /// Reads an optional string.
    public mutating func optionalString() throws -> String? {
        try bool() ? try string() : nil
    }
    /// Reads a u32 count then that many elements.
    public mutating func array<T>(_ element: (inout CanonicalReader) throws -> T) throws -> [T] {
        let n = Int(try u32())
        guard n <= CanonicalLimits.countMax, n <= bytes.count - offset else { throw ModelError.limitExceeded("array of \(n) elements") }
        var out: [T] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try element(&self)) }
        return out
    }
    /// Reads a sorted string map; rejects unsorted or repeated keys.
    public mutating func stringMap() throws -> [String: String] {
        let pairs: [(String, String)] = try array { r in (try r.string(), try r.string()) }
        var m: [String: String] = [:]
        var previous: [UInt8]?
        for (k, v) in pairs {
            let kb = Array(k.utf8)
            if let p = previous, !p.lexicographicallyPrecedes(kb) { throw ModelError.malformed("map keys not sorted") }
            previous = kb
            m[k] = v
        }
        return m
    }
}

