// Canonical binary encoding of PBFT messages and consensus records, so hosts can sign, send and
// store them without writing their own. Fixed layout: a one-byte tag, big-endian fixed-width
// integers, u32 length prefixes for byte strings. Decoding never traps on peer input: every length
// is checked against the remaining bytes and a limit before anything is allocated; trailing bytes
// are rejected, so each value has exactly one encoding.

/// Limits applied when decoding untrusted bytes.
public enum PBFTCodecLimits {
    /// Largest digest accepted (bytes).
    public static let digestBytesMax = 64
    /// Largest certificate signature accepted (bytes).
    public static let signatureBytesMax = 256
    /// Largest payload accepted by default (bytes); hosts may pass their own bound.
    public static let payloadBytesMaxDefault = 16 * 1024 * 1024
    /// Largest replica index accepted.
    public static let replicaIndexMax = 1 << 16
}

/// Appends canonical fields to a byte buffer.
struct PBFTWriter {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u64(_ v: UInt64) { for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) } }
    mutating func u32(_ v: UInt32) { for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(shift))) } }
    mutating func blob(_ b: [UInt8]) { u32(UInt32(b.count)); bytes.append(contentsOf: b) }
    mutating func replica(_ r: ReplicaIndex) { u32(UInt32(clamping: r)) }
}

/// Reads canonical fields; every read returns nil instead of trapping on short or oversized input.
struct PBFTReader {
    let bytes: [UInt8]
    var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    var atEnd: Bool { offset == bytes.count }
    mutating func u8() -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }
    mutating func u64() -> UInt64? {
        guard bytes.count - offset >= 8 else { return nil }
        var v: UInt64 = 0
        for i in 0..<8 { v = v << 8 | UInt64(bytes[offset + i]) }
        offset += 8
        return v
    }
    mutating func u32() -> UInt32? {
        guard bytes.count - offset >= 4 else { return nil }
        var v: UInt32 = 0
        for i in 0..<4 { v = v << 8 | UInt32(bytes[offset + i]) }
        offset += 4
        return v
    }
    mutating func blob(max: Int) -> [UInt8]? {
        guard let length = u32().map(Int.init), length <= max, bytes.count - offset >= length else { return nil }
        defer { offset += length }
        return Array(bytes[offset..<offset + length])
    }
    mutating func replica() -> ReplicaIndex? {
        guard let v = u32(), Int(v) <= PBFTCodecLimits.replicaIndexMax else { return nil }
        return Int(v)
    }
}

extension PrePrepare {
    fileprivate func write(_ w: inout PBFTWriter) {
        w.u64(view); w.u64(sequence); w.blob(digest); w.blob(payload)
    }
    fileprivate static func read(_ r: inout PBFTReader, payloadBytesMax: Int) -> PrePrepare? {
        guard let view = r.u64(), let sequence = r.u64(),
              let digest = r.blob(max: PBFTCodecLimits.digestBytesMax),
              let payload = r.blob(max: payloadBytesMax) else { return nil }
        return PrePrepare(view: view, sequence: sequence, digest: digest, payload: payload)
    }
}

extension Message {
    /// Canonical bytes: tag 1 pre-prepare, 2 prepare, 3 commit; then the fields in declaration order.
    public func encoded() -> [UInt8] {
        var w = PBFTWriter()
        switch self {
        case .prePrepare(let m):
            w.u8(1); m.write(&w)
        case .prepare(let m):
            w.u8(2); w.u64(m.view); w.u64(m.sequence); w.blob(m.digest); w.replica(m.replica)
        case .commit(let m):
            w.u8(3); w.u64(m.view); w.u64(m.sequence); w.blob(m.digest); w.replica(m.replica); w.blob(m.certificateSignature)
        }
        return w.bytes
    }

    /// Decodes canonical bytes from an untrusted peer; nil on any malformed, oversized or trailing input.
    public init?(decoding bytes: [UInt8], payloadBytesMax: Int = PBFTCodecLimits.payloadBytesMaxDefault) {
        var r = PBFTReader(bytes)
        guard let tag = r.u8() else { return nil }
        switch tag {
        case 1:
            guard let pp = PrePrepare.read(&r, payloadBytesMax: payloadBytesMax) else { return nil }
            self = .prePrepare(pp)
        case 2:
            guard let view = r.u64(), let sequence = r.u64(),
                  let digest = r.blob(max: PBFTCodecLimits.digestBytesMax), let replica = r.replica() else { return nil }
            self = .prepare(Prepare(view: view, sequence: sequence, digest: digest, replica: replica))
        case 3:
            guard let view = r.u64(), let sequence = r.u64(),
                  let digest = r.blob(max: PBFTCodecLimits.digestBytesMax), let replica = r.replica(),
                  let signature = r.blob(max: PBFTCodecLimits.signatureBytesMax) else { return nil }
            self = .commit(Commit(view: view, sequence: sequence, digest: digest, replica: replica, certificateSignature: signature))
        default:
            return nil
        }
        guard r.atEnd else { return nil }
    }
}

extension ConsensusRecord {
    /// Canonical bytes for the consensus log: tag 1 view, 2 pre-prepared, 3 prepared, 4 committed.
    public func encoded() -> [UInt8] {
        var w = PBFTWriter()
        switch self {
        case .view(let v):
            w.u8(1); w.u64(v)
        case .prePrepared(let pp):
            w.u8(2); pp.write(&w)
        case .prepared(let view, let sequence, let digest):
            w.u8(3); w.u64(view); w.u64(sequence); w.blob(digest)
        case .committed(let view, let sequence, let digest):
            w.u8(4); w.u64(view); w.u64(sequence); w.blob(digest)
        }
        return w.bytes
    }

    /// Decodes a stored record; nil on malformed input.
    public init?(decoding bytes: [UInt8], payloadBytesMax: Int = PBFTCodecLimits.payloadBytesMaxDefault) {
        var r = PBFTReader(bytes)
        guard let tag = r.u8() else { return nil }
        switch tag {
        case 1:
            guard let v = r.u64() else { return nil }
            self = .view(v)
        case 2:
            guard let pp = PrePrepare.read(&r, payloadBytesMax: payloadBytesMax) else { return nil }
            self = .prePrepared(pp)
        case 3, 4:
            guard let view = r.u64(), let sequence = r.u64(),
                  let digest = r.blob(max: PBFTCodecLimits.digestBytesMax) else { return nil }
            self = tag == 3
                ? .prepared(view: view, sequence: sequence, digest: digest)
                : .committed(view: view, sequence: sequence, digest: digest)
        default:
            return nil
        }
        guard r.atEnd else { return nil }
    }
}
