import CertChainModel
import Foundation

/// Deterministic pseudo-random numbers for the workload generator: xoshiro256** seeded through splitmix64.
public struct WorkloadRandom: Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// A generator whose whole sequence is fixed by `seed`.
    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(); s1 = splitmix(); s2 = splitmix(); s3 = splitmix()
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// A uniform integer in `low...high` (both inclusive, like Python's randint).
    public mutating func int(_ low: Int, _ high: Int) -> Int {
        let span = UInt64(high - low + 1)
        return low + Int(next().multipliedFullWidth(by: span).high)
    }

    /// A uniform number in [0, 1) from 53 random bits (used only to decide, never as an amount).
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { unit() < p }

    /// A uniformly chosen element of a non-empty array.
    public mutating func pick<T>(_ a: [T]) -> T { a[int(0, a.count - 1)] }
}

/// Writes chunks to a file on a background queue (at most a few in flight), so formatting and disk I/O overlap.
final class ChunkWriter: @unchecked Sendable {
    private let handle: FileHandle
    private let queue = DispatchQueue(label: "certchain.workload.writer")
    private let slots = DispatchSemaphore(value: 4)
    private let lock = NSLock()
    private var failure: Error?

    init(handle: FileHandle) { self.handle = handle }

    func write(_ chunk: [UInt8]) throws {
        try check()
        slots.wait()
        queue.async {
            defer { self.slots.signal() }
            do { try self.handle.write(contentsOf: chunk) } catch { self.lock.withLock { if self.failure == nil { self.failure = error } } }
        }
    }

    /// Waits for every queued chunk; throws the first write error.
    func finish() throws {
        queue.sync {}
        try check()
    }

    private func check() throws {
        if let e = lock.withLock({ failure }) { throw e }
    }
}

/// Appends JSON text as UTF-8 bytes; hands full chunks to a `ChunkWriter`.
struct JSONBytes {
    var bytes: [UInt8] = []
    let writer: ChunkWriter?
    static let flushSize = 1 << 20

    init(handle: FileHandle?) {
        writer = handle.map(ChunkWriter.init)
        if handle != nil { bytes.reserveCapacity(JSONBytes.flushSize + 65536) }
    }

    mutating func flushIfFull() throws { if bytes.count >= JSONBytes.flushSize { try send() } }

    private mutating func send() throws {
        guard let writer, !bytes.isEmpty else { return }
        let chunk = bytes
        bytes = []
        bytes.reserveCapacity(JSONBytes.flushSize + 65536)
        try writer.write(chunk)
    }

    /// Writes what is buffered and waits until it is on disk (in the file).
    mutating func flush() throws {
        try send()
        try writer?.finish()
    }

    /// Raw text (no quoting).
    mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func raw(_ s: String) {
        var s = s
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }

    mutating func raw(_ b: [UInt8]) { bytes.append(contentsOf: b) }

    /// A quoted JSON string; non-ASCII text stays UTF-8 (like Python's ensure_ascii=False).
    mutating func string(_ s: String) {
        bytes.append(34)
        var s = s
        s.withUTF8 { u in
            if !u.contains(where: { $0 < 32 || $0 == 34 || $0 == 92 }) {
                bytes.append(contentsOf: u)
                return
            }
            for c in u {
                switch c {
                case 34: bytes.append(92); bytes.append(34)
                case 92: bytes.append(92); bytes.append(92)
                case 10: bytes.append(92); bytes.append(110)
                case 13: bytes.append(92); bytes.append(114)
                case 9: bytes.append(92); bytes.append(116)
                case 0..<32:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [92, 117, 48, 48, hex[Int(c >> 4)], hex[Int(c & 15)]])
                default: bytes.append(c)
                }
            }
        }
        bytes.append(34)
    }

    /// `"key":` (compact).
    mutating func key(_ k: StaticString) {
        bytes.append(34); raw(k); bytes.append(34); bytes.append(58)
    }

    /// A non-negative or negative integer in decimal.
    mutating func int(_ v: Int) {
        if v < 0 { bytes.append(45); int(-v); return }
        digits(UInt64(v), width: 1)
    }

    /// `v` in decimal, zero-padded to at least `width` digits.
    mutating func digits(_ v: UInt64, width: Int) {
        var count = 1
        var t = v
        while t >= 10 { t /= 10; count += 1 }
        let n = Swift.max(count, width)
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(48, count: n))
        var x = v
        var i = start + n - 1
        while x > 0 {
            bytes[i] = UInt8(48 + x % 10)
            x /= 10
            i -= 1
        }
    }

    /// A fixed-point value `units / 10^scale` written with exactly `scale` fraction digits (no quotes).
    mutating func fixed(_ units: Int64, scale: Int) {
        var u = units
        if u < 0 { bytes.append(45); u = -u }
        var p: Int64 = 1
        for _ in 0..<scale { p *= 10 }
        digits(UInt64(u / p), width: 1)
        if scale > 0 {
            bytes.append(46)
            digits(UInt64(u % p), width: scale)
        }
    }
}

/// Fixed-point text helpers shared by the generator.
enum FixedPoint {
    /// "36408.00" for 3640800 cents.
    static func money(_ cents: Int64) -> String { text(cents, scale: 2) }

    /// A value of `units / 10^scale` with exactly `scale` decimals.
    static func text(_ units: Int64, scale: Int) -> String {
        var w = JSONBytes(handle: nil)
        w.fixed(units, scale: scale)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// A quantity in 1/10000 units: 4 decimals for weights or fractions, a whole number for whole counted units.
    static func quantity(_ units: Int64, fourDecimals: Bool) -> String {
        if !fourDecimals && units % 10_000 == 0 { return String(units / 10_000) }
        return text(units, scale: 4)
    }

    /// Exact Foundation decimal of `units / 10^scale`.
    static func decimal(_ units: Int64, scale: Int) -> Decimal {
        Decimal(sign: units < 0 ? .minus : .plus, exponent: -scale, significand: Decimal(UInt64(units.magnitude)))
    }

    /// Whole cents of a decimal already rounded to 0.01.
    static func cents(_ d: Decimal) -> Int64 {
        var x = d * 100
        var r = Decimal()
        NSDecimalRound(&r, &x, 0, .plain)
        return NSDecimalNumber(decimal: r).int64Value
    }
}

/// A small ordered JSON tree, printed like Python's `json.dump(indent=1, ensure_ascii=False)`.
indirect enum PrettyJSON {
    case null
    case bool(Bool)
    case int(Int)
    case string(String)
    case array([PrettyJSON])
    case object([(String, PrettyJSON)])

    func write(to w: inout JSONBytes, depth: Int) {
        switch self {
        case .null: w.raw("null")
        case .bool(let b): w.raw(b ? "true" : "false")
        case .int(let i): w.int(i)
        case .string(let s): w.string(s)
        case .array(let a):
            if a.isEmpty { w.raw("[]"); return }
            w.raw("[")
            for (i, v) in a.enumerated() {
                w.raw(i == 0 ? "\n" : ",\n")
                PrettyJSON.indent(&w, depth + 1)
                v.write(to: &w, depth: depth + 1)
            }
            w.raw("\n"); PrettyJSON.indent(&w, depth); w.raw("]")
        case .object(let o):
            if o.isEmpty { w.raw("{}"); return }
            w.raw("{")
            for (i, (k, v)) in o.enumerated() {
                w.raw(i == 0 ? "\n" : ",\n")
                PrettyJSON.indent(&w, depth + 1)
                w.string(k); w.raw(": ")
                v.write(to: &w, depth: depth + 1)
            }
            w.raw("\n"); PrettyJSON.indent(&w, depth); w.raw("}")
        }
    }

    static func indent(_ w: inout JSONBytes, _ depth: Int) {
        for _ in 0..<depth { w.bytes.append(32) }
    }
}
