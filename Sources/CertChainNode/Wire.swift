import CertChainCrypto
import PBFT

/// Limits on what a peer may send; exceeding one closes nothing but drops the message.
public enum WireLimits {
    /// Largest frame a peer may send (a block response with several blocks fits).
    public static let frameBytesMax = 32 << 20
    /// Largest digest or signature field accepted in a consensus message.
    public static let fieldBytesMax = 1024
    /// Largest block payload accepted inside a pre-prepare.
    public static let payloadBytesMax = 16 << 20
    /// Most blocks returned for one block request.
    public static let blocksPerResponseMax = 64
}

/// Error decoding bytes from a peer or from disk.
public struct WireError: Error, CustomStringConvertible {
    /// What was wrong with the bytes.
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Appends big-endian integers and length-prefixed byte strings.
struct WireWriter {
    private(set) var bytes: [UInt8] = []

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u16(_ value: UInt16) { bytes.append(UInt8(value >> 8)); bytes.append(UInt8(value & 0xff)) }
    mutating func u32(_ value: UInt32) { for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8((value >> UInt32(shift)) & 0xff)) } }
    mutating func u64(_ value: UInt64) { for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8((value >> UInt64(shift)) & 0xff)) } }
    mutating func data(_ value: [UInt8]) { u32(UInt32(value.count)); bytes.append(contentsOf: value) }
    mutating func string(_ value: String) { data(Array(value.utf8)) }
}

/// Reads what `WireWriter` wrote, bounds-checked: garbage throws, never traps.
struct WireReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset == bytes.count }

    mutating func u8() throws -> UInt8 {
        guard offset < bytes.count else { throw WireError("truncated") }
        defer { offset += 1 }
        return bytes[offset]
    }
    mutating func u16() throws -> UInt16 { UInt16(try u8()) << 8 | UInt16(try u8()) }
    mutating func u32() throws -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 { value = value << 8 | UInt32(try u8()) }
        return value
    }
    mutating func u64() throws -> UInt64 {
        var value: UInt64 = 0
        for _ in 0..<8 { value = value << 8 | UInt64(try u8()) }
        return value
    }
    mutating func data(max: Int) throws -> [UInt8] {
        let count = Int(try u32())
        guard count <= max else { throw WireError("field of \(count) bytes exceeds \(max)") }
        guard count <= bytes.count - offset else { throw WireError("truncated field") }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }
    mutating func string(max: Int = 256) throws -> String {
        guard let value = String(validating: try data(max: max), as: UTF8.self) else { throw WireError("invalid UTF-8") }
        return value
    }
    func finish() throws { guard isAtEnd else { throw WireError("trailing bytes") } }
}

/// Everything validators say to each other over the peer transport.
enum PeerMessage: Equatable {
    /// A PBFT message, signed by the sending validator's node key over `Envelope.signingBytes`.
    case consensus(Envelope)
    /// A client transaction forwarded to the primary (it carries its own signature).
    case transaction([UInt8])
    /// Periodic status: lets a lagging node notice it is behind.
    case status(height: UInt64, view: UInt64)
    /// Ask for committed blocks starting at `fromHeight`.
    case blockRequest(fromHeight: UInt64, countMax: UInt16)
    /// Committed blocks with their commit certificates, in height order.
    case blockResponse([SyncedBlock])

    struct Envelope: Equatable {
        var message: Message
        var signature: [UInt8]
    }

    struct SyncedBlock: Equatable {
        var blockBytes: [UInt8]
        var certificateBytes: [UInt8]
    }

    func encode() -> [UInt8] {
        var writer = WireWriter()
        switch self {
        case .consensus(let envelope):
            writer.u8(1)
            writer.data(ConsensusCodec.encode(envelope.message))
            writer.data(envelope.signature)
        case .transaction(let bytes):
            writer.u8(2)
            writer.data(bytes)
        case .status(let height, let view):
            writer.u8(3)
            writer.u64(height)
            writer.u64(view)
        case .blockRequest(let fromHeight, let countMax):
            writer.u8(4)
            writer.u64(fromHeight)
            writer.u16(countMax)
        case .blockResponse(let blocks):
            writer.u8(5)
            writer.u32(UInt32(blocks.count))
            for block in blocks {
                writer.data(block.blockBytes)
                writer.data(block.certificateBytes)
            }
        }
        return writer.bytes
    }

    static func decode(_ bytes: [UInt8]) throws -> PeerMessage {
        var reader = WireReader(bytes)
        let message: PeerMessage
        switch try reader.u8() {
        case 1:
            let body = try reader.data(max: WireLimits.payloadBytesMax + 4096)
            let signature = try reader.data(max: WireLimits.fieldBytesMax)
            message = .consensus(Envelope(message: try ConsensusCodec.decodeMessage(body), signature: signature))
        case 2:
            message = .transaction(try reader.data(max: 1 << 20))
        case 3:
            message = .status(height: try reader.u64(), view: try reader.u64())
        case 4:
            message = .blockRequest(fromHeight: try reader.u64(), countMax: try reader.u16())
        case 5:
            let count = Int(try reader.u32())
            guard count <= WireLimits.blocksPerResponseMax else { throw WireError("too many blocks in response") }
            var blocks: [SyncedBlock] = []
            for _ in 0..<count {
                blocks.append(
                    SyncedBlock(
                        blockBytes: try reader.data(max: WireLimits.payloadBytesMax),
                        certificateBytes: try reader.data(max: 64 << 10)))
            }
            message = .blockResponse(blocks)
        case let tag:
            throw WireError("unknown peer message type \(tag)")
        }
        try reader.finish()
        return message
    }
}

/// Domain tag and helpers around the PBFT module's canonical message codec.
enum ConsensusCodec {
    static let domainTag = Array("certchain/pbft/v1/".utf8)

    static func encode(_ message: Message) -> [UInt8] { message.encoded() }

    static func decodeMessage(_ bytes: [UInt8]) throws -> Message {
        guard let message = Message(decoding: bytes, payloadBytesMax: WireLimits.payloadBytesMax) else {
            throw WireError("malformed PBFT message")
        }
        return message
    }

    /// The replica index a message claims to come from (the primary for pre-prepares).
    static func claimedSender(_ message: Message, replicaCount: Int) -> ReplicaIndex {
        message.claimedSender(replicaCount: replicaCount)
    }

    static func encode(_ record: ConsensusRecord) -> [UInt8] { record.encoded() }

    static func decodeRecord(_ bytes: [UInt8]) throws -> ConsensusRecord {
        guard let record = ConsensusRecord(decoding: bytes, payloadBytesMax: WireLimits.payloadBytesMax) else {
            throw WireError("malformed consensus record")
        }
        return record
    }
}
