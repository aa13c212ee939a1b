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
    /// Most prepares per certificate, checkpoints per proof and view changes per NEW-VIEW.
    public static let replicasPerMessageMax = 256
    /// Most prepared certificates in one VIEW-CHANGE and pre-prepares in one NEW-VIEW.
    public static let sequencesPerMessageMax = 4096
}

/// Domain separation prefix of every byte string the host signs for the core.
public let pbftSigningDomain: [UInt8] = Array("certchain/pbft/v1/".utf8)

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
    /// A u32 count then that many items; the count is checked against `max` and never used to reserve.
    mutating func list<T>(max: Int, _ item: (inout PBFTReader) -> T?) -> [T]? {
        guard let count = u32().map(Int.init), count <= max else { return nil }
        var items: [T] = []
        for _ in 0..<count {
            guard let x = item(&self) else { return nil }
            items.append(x)
        }
        return items
    }
    mutating func replica() -> ReplicaIndex? {
        guard let v = u32(), Int(v) <= PBFTCodecLimits.replicaIndexMax else { return nil }
        return Int(v)
    }
}

// MARK: - Field layouts (shared by message, record and signing encodings)

extension PrePrepare {
    func write(_ w: inout PBFTWriter) {
        w.u64(view); w.u64(sequence); w.blob(digest); w.blob(payload); w.blob(signature)
    }
    static func read(_ r: inout PBFTReader, payloadBytesMax: Int) -> PrePrepare? {
        guard let view = r.u64(), let sequence = r.u64(),
              let digest = r.blob(max: PBFTCodecLimits.digestBytesMax),
              let payload = r.blob(max: payloadBytesMax),
              let signature = r.blob(max: PBFTCodecLimits.signatureBytesMax) else { return nil }
        return PrePrepare(view: view, sequence: sequence, digest: digest, payload: payload, signature: signature)
    }

    /// Canonical bytes the primary of `view` signs: domain, tag 1, view, sequence, digest (payload excluded).
    public var signingBytes: [UInt8] {
        var w = PBFTWriter()
        w.bytes = pbftSigningDomain
        w.u8(1); w.u64(view); w.u64(sequence); w.blob(digest)
        return w.bytes
    }
}

extension Prepare {
    func write(_ w: inout PBFTWriter) {
        w.u64(view); w.u64(sequence); w.blob(digest); w.replica(replica); w.blob(signature)
    }
    static func read(_ r: inout PBFTReader) -> Prepare? {
        guard let view = r.u64(), let sequence = r.u64(), let digest = r.blob(max: PBFTCodecLimits.digestBytesMax),
              let replica = r.replica(), let signature = r.blob(max: PBFTCodecLimits.signatureBytesMax) else { return nil }
        return Prepare(view: view, sequence: sequence, digest: digest, replica: replica, signature: signature)
    }

    /// Canonical bytes `replica` signs: domain, tag 2, view, sequence, digest, replica.
    public var signingBytes: [UInt8] {
        var w = PBFTWriter()
        w.bytes = pbftSigningDomain
        w.u8(2); w.u64(view); w.u64(sequence); w.blob(digest); w.replica(replica)
        return w.bytes
    }
}

extension Checkpoint {
    func write(_ w: inout PBFTWriter) {
        w.u64(sequence); w.blob(stateDigest); w.replica(replica); w.blob(signature)
    }
    static func read(_ r: inout PBFTReader) -> Checkpoint? {
        guard let sequence = r.u64(), let digest = r.blob(max: PBFTCodecLimits.digestBytesMax),
              let replica = r.replica(), let signature = r.blob(max: PBFTCodecLimits.signatureBytesMax) else { return nil }
        return Checkpoint(sequence: sequence, stateDigest: digest, replica: replica, signature: signature)
    }

    /// Canonical bytes `replica` signs: domain, tag 4, sequence, state digest, replica.
    public var signingBytes: [UInt8] {
        var w = PBFTWriter()
        w.bytes = pbftSigningDomain
        w.u8(4); w.u64(sequence); w.blob(stateDigest); w.replica(replica)
        return w.bytes
    }
}

extension StableCheckpoint {
    func write(_ w: inout PBFTWriter) {
        w.u64(sequence); w.blob(stateDigest)
        w.u32(UInt32(proof.count)); for c in proof { c.write(&w) }
    }
    static func read(_ r: inout PBFTReader) -> StableCheckpoint? {
        guard let sequence = r.u64(), let digest = r.blob(max: PBFTCodecLimits.digestBytesMax),
              let proof = r.list(max: PBFTCodecLimits.replicasPerMessageMax, Checkpoint.read) else { return nil }
        return StableCheckpoint(sequence: sequence, stateDigest: digest, proof: proof)
    }
}

extension PreparedCertificate {
    func write(_ w: inout PBFTWriter) {
        prePrepare.write(&w)
        w.u32(UInt32(prepares.count)); for p in prepares { p.write(&w) }
    }
    static func read(_ r: inout PBFTReader, payloadBytesMax: Int) -> PreparedCertificate? {
        guard let pp = PrePrepare.read(&r, payloadBytesMax: payloadBytesMax),
              let prepares = r.list(max: PBFTCodecLimits.replicasPerMessageMax, Prepare.read) else { return nil }
        return PreparedCertificate(prePrepare: pp, prepares: prepares)
    }
}

extension ViewChange {
    func write(_ w: inout PBFTWriter) {
        w.u64(newView); w.replica(replica); checkpoint.write(&w)
        w.u32(UInt32(prepared.count)); for c in prepared { c.write(&w) }
        w.blob(signature)
    }
    static func read(_ r: inout PBFTReader, payloadBytesMax: Int) -> ViewChange? {
        guard let newView = r.u64(), let replica = r.replica(), let checkpoint = StableCheckpoint.read(&r),
              let prepared = r.list(max: PBFTCodecLimits.sequencesPerMessageMax, { PreparedCertificate.read(&$0, payloadBytesMax: payloadBytesMax) }),
              let signature = r.blob(max: PBFTCodecLimits.signatureBytesMax) else { return nil }
        return ViewChange(newView: newView, replica: replica, checkpoint: checkpoint, prepared: prepared, signature: signature)
    }

    /// Canonical bytes `replica` signs: domain, tag 5, new view, replica, the checkpoint proof and every
    /// certificate WITH their embedded signatures but WITHOUT payloads (which the digests bind).
    public var signingBytes: [UInt8] {
        var w = PBFTWriter()
        w.bytes = pbftSigningDomain
        w.u8(5); w.u64(newView); w.replica(replica)
        w.u64(checkpoint.sequence); w.blob(checkpoint.stateDigest)
        w.u32(UInt32(checkpoint.proof.count)); for c in checkpoint.proof { c.write(&w) }
        w.u32(UInt32(prepared.count))
        for cert in prepared {
            var pp = cert.prePrepare
            pp.payload = []
            pp.write(&w)
            w.u32(UInt32(cert.prepares.count)); for p in cert.prepares { p.write(&w) }
        }
        return w.bytes
    }

    /// Every signature this VIEW-CHANGE carries (its own, the checkpoint proof's, each certificate's
    /// pre-prepare and prepares): the host verifies all of them before stepping the message.
    public func signedItems(replicaCount: Int) -> [SignedItem] {
        var items: [SignedItem] = []
        for c in checkpoint.proof { items.append(SignedItem(signer: c.replica, bytes: c.signingBytes, signature: c.signature)) }
        for cert in prepared {
            let pp = cert.prePrepare
            items.append(SignedItem(signer: Int(pp.view % UInt64(max(1, replicaCount))), bytes: pp.signingBytes, signature: pp.signature))
            for p in cert.prepares { items.append(SignedItem(signer: p.replica, bytes: p.signingBytes, signature: p.signature)) }
        }
        items.append(SignedItem(signer: replica, bytes: signingBytes, signature: signature))
        return items
    }

    /// Fills every empty signature whose signer is `replica` (embedded items first, then the message itself).
    func signed(by signer: ReplicaIndex, replicaCount: Int, using sign: ([UInt8]) throws -> [UInt8]) rethrows -> ViewChange {
        var vc = self
        for i in vc.checkpoint.proof.indices where vc.checkpoint.proof[i].replica == signer && vc.checkpoint.proof[i].signature.isEmpty {
            vc.checkpoint.proof[i].signature = try sign(vc.checkpoint.proof[i].signingBytes)
        }
        for i in vc.prepared.indices {
            let pp = vc.prepared[i].prePrepare
            if Int(pp.view % UInt64(max(1, replicaCount))) == signer && pp.signature.isEmpty {
                vc.prepared[i].prePrepare.signature = try sign(pp.signingBytes)
            }
            for j in vc.prepared[i].prepares.indices where vc.prepared[i].prepares[j].replica == signer && vc.prepared[i].prepares[j].signature.isEmpty {
                vc.prepared[i].prepares[j].signature = try sign(vc.prepared[i].prepares[j].signingBytes)
            }
        }
        if vc.replica == signer && vc.signature.isEmpty { vc.signature = try sign(vc.signingBytes) }
        return vc
    }
}

extension NewView {
    func write(_ w: inout PBFTWriter) {
        w.u64(view); w.replica(replica)
        w.u32(UInt32(viewChanges.count)); for vc in viewChanges { vc.write(&w) }
        w.u32(UInt32(prePrepares.count)); for pp in prePrepares { pp.write(&w) }
    }
    static func read(_ r: inout PBFTReader, payloadBytesMax: Int) -> NewView? {
        guard let view = r.u64(), let replica = r.replica(),
              let vcs = r.list(max: PBFTCodecLimits.replicasPerMessageMax, { ViewChange.read(&$0, payloadBytesMax: payloadBytesMax) }),
              let pps = r.list(max: PBFTCodecLimits.sequencesPerMessageMax, { PrePrepare.read(&$0, payloadBytesMax: payloadBytesMax) })
        else { return nil }
        return NewView(view: view, replica: replica, viewChanges: vcs, prePrepares: pps)
    }
}

/// One signature the host must verify: `signature` by replica `signer` over `bytes`.
public struct SignedItem: Sendable, Equatable {
    /// Replica whose key must have made the signature.
    public var signer: ReplicaIndex
    /// Canonical signed bytes (already domain-separated by `pbftSigningDomain`).
    public var bytes: [UInt8]
    /// The signature to check.
    public var signature: [UInt8]

    /// Memberwise initializer.
    public init(signer: ReplicaIndex, bytes: [UInt8], signature: [UInt8]) {
        self.signer = signer
        self.bytes = bytes
        self.signature = signature
    }
}

extension Message {
    /// Canonical bytes: tag 1 pre-prepare, 2 prepare, 3 commit, 4 checkpoint, 5 view-change, 6 new-view.
    public func encoded() -> [UInt8] {
        var w = PBFTWriter()
        switch self {
        case .prePrepare(let m): w.u8(1); m.write(&w)
        case .prepare(let m): w.u8(2); m.write(&w)
        case .commit(let m):
            w.u8(3); w.u64(m.view); w.u64(m.sequence); w.blob(m.digest); w.replica(m.replica); w.blob(m.certificateSignature)
        case .checkpoint(let m): w.u8(4); m.write(&w)
        case .viewChange(let m): w.u8(5); m.write(&w)
        case .newView(let m): w.u8(6); m.write(&w)
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
            guard let p = Prepare.read(&r) else { return nil }
            self = .prepare(p)
        case 3:
            guard let view = r.u64(), let sequence = r.u64(),
                  let digest = r.blob(max: PBFTCodecLimits.digestBytesMax), let replica = r.replica(),
                  let signature = r.blob(max: PBFTCodecLimits.signatureBytesMax) else { return nil }
            self = .commit(Commit(view: view, sequence: sequence, digest: digest, replica: replica, certificateSignature: signature))
        case 4:
            guard let c = Checkpoint.read(&r) else { return nil }
            self = .checkpoint(c)
        case 5:
            guard let vc = ViewChange.read(&r, payloadBytesMax: payloadBytesMax) else { return nil }
            self = .viewChange(vc)
        case 6:
            guard let nv = NewView.read(&r, payloadBytesMax: payloadBytesMax) else { return nil }
            self = .newView(nv)
        default:
            return nil
        }
        guard r.atEnd else { return nil }
    }

    /// Whether the sender's own signatures inside the message already cover everything a receiver acts on, so
    /// that a host's envelope signature over the whole message would only repeat them: pre-prepares (the payload
    /// is bound by the signed digest and checked against it), prepares, checkpoints and view changes (payloads
    /// likewise), and commits of a block: the host's commit certificate signature binds sender, sequence and digest.
    /// Their view is signed by nobody, and need not be: a digest prepared at a sequence by a quorum in any view is the
    /// only one any later view can prepare there, so a commit counted in another view than its sender's still vouches
    /// for the one digest that can commit. Commits of null sequences (empty digest, certificate signed over a block
    /// the receiver builds later) and new views (nothing in them is the sender's own signature when no pre-prepare is
    /// re-issued) are not self-authenticating, and need the envelope.
    public var isSelfAuthenticating: Bool {
        switch self {
        case .prePrepare, .prepare, .checkpoint, .viewChange: return true
        case .commit(let commit): return !commit.digest.isEmpty
        case .newView: return false
        }
    }

    /// Every signature the host must verify before `step` (commit certificate signatures excepted: the
    /// host checks those over its own certificate bytes). Empty signatures are listed too and must fail.
    public func signedItems(replicaCount: Int) -> [SignedItem] {
        let n = UInt64(max(1, replicaCount))
        switch self {
        case .prePrepare(let m): return [SignedItem(signer: Int(m.view % n), bytes: m.signingBytes, signature: m.signature)]
        case .prepare(let m): return [SignedItem(signer: m.replica, bytes: m.signingBytes, signature: m.signature)]
        case .commit: return []
        case .checkpoint(let m): return [SignedItem(signer: m.replica, bytes: m.signingBytes, signature: m.signature)]
        case .viewChange(let m): return m.signedItems(replicaCount: replicaCount)
        case .newView(let m):
            var items = m.viewChanges.flatMap { $0.signedItems(replicaCount: replicaCount) }
            for pp in m.prePrepares { items.append(SignedItem(signer: Int(pp.view % n), bytes: pp.signingBytes, signature: pp.signature)) }
            return items
        }
    }

    /// Before sending: fills every empty signature field whose signer is `signer` (this replica), including
    /// those embedded in VIEW-CHANGE certificates and NEW-VIEW pre-prepares. `sign` signs canonical bytes.
    /// Commit certificate signatures are not touched (the host fills them as before).
    public func signed(by signer: ReplicaIndex, replicaCount: Int, using sign: ([UInt8]) throws -> [UInt8]) rethrows -> Message {
        let n = UInt64(max(1, replicaCount))
        switch self {
        case .prePrepare(var m):
            if Int(m.view % n) == signer && m.signature.isEmpty { m.signature = try sign(m.signingBytes) }
            return .prePrepare(m)
        case .prepare(var m):
            if m.replica == signer && m.signature.isEmpty { m.signature = try sign(m.signingBytes) }
            return .prepare(m)
        case .commit:
            return self
        case .checkpoint(var m):
            if m.replica == signer && m.signature.isEmpty { m.signature = try sign(m.signingBytes) }
            return .checkpoint(m)
        case .viewChange(let m):
            return .viewChange(try m.signed(by: signer, replicaCount: replicaCount, using: sign))
        case .newView(var m):
            // Embedded VIEW-CHANGEs are other replicas' (already signed); only the own one may lack signatures.
            for i in m.viewChanges.indices { m.viewChanges[i] = try m.viewChanges[i].signed(by: signer, replicaCount: replicaCount, using: sign) }
            for i in m.prePrepares.indices where Int(m.prePrepares[i].view % n) == signer && m.prePrepares[i].signature.isEmpty {
                m.prePrepares[i].signature = try sign(m.prePrepares[i].signingBytes)
            }
            return .newView(m)
        }
    }
}

extension ConsensusRecord {
    /// Canonical bytes for the consensus log: tag 1 view, 2 pre-prepared, 3 prepared, 4 committed,
    /// 5 prepared certificate, 6 checkpoint, 7 stable checkpoint, 8 view change, 9 new view.
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
        case .preparedCertificate(let c): w.u8(5); c.write(&w)
        case .checkpoint(let c): w.u8(6); c.write(&w)
        case .stableCheckpoint(let c): w.u8(7); c.write(&w)
        case .viewChange(let vc): w.u8(8); vc.write(&w)
        case .newView(let nv): w.u8(9); nv.write(&w)
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
        case 5:
            guard let c = PreparedCertificate.read(&r, payloadBytesMax: payloadBytesMax) else { return nil }
            self = .preparedCertificate(c)
        case 6:
            guard let c = Checkpoint.read(&r) else { return nil }
            self = .checkpoint(c)
        case 7:
            guard let c = StableCheckpoint.read(&r) else { return nil }
            self = .stableCheckpoint(c)
        case 8:
            guard let vc = ViewChange.read(&r, payloadBytesMax: payloadBytesMax) else { return nil }
            self = .viewChange(vc)
        case 9:
            guard let nv = NewView.read(&r, payloadBytesMax: payloadBytesMax) else { return nil }
            self = .newView(nv)
        default:
            return nil
        }
        guard r.atEnd else { return nil }
    }
}
