// Value types of the PBFT core: configuration, protocol messages, durable records and the Ready batch.
//
// Everything here is plain data: no crypto, no I/O, no clock. Signatures are opaque bytes that the
// host makes and checks (`Commit.certificateSignature`); digests are opaque bytes the host computes.

/// Index of a replica in the ordered validator list, `0..<replicaCount`.
public typealias ReplicaIndex = Int

/// Static parameters of one replica: cluster size, its own index, the timeout and the sequence window.
public struct PBFTConfig: Sendable, Equatable {
    /// Number of replicas n (n >= 4 to tolerate one fault).
    public var replicaCount: Int
    /// This replica's index in the ordered validator list.
    public var selfIndex: ReplicaIndex
    /// Ticks a backup waits for an accepted request to commit before it suspects the primary.
    public var requestTimeoutTicks: Int
    /// Maximum sequences in flight above the last committed one (the proposal/voting window).
    public var windowSize: UInt64
    /// Extra sequences above the window whose messages are buffered (not voted on) so that a replica one
    /// commit behind the primary does not lose a pre-prepare. Messages beyond it are dropped.
    public var lookaheadSequences: UInt64
    /// A replica emits a CHECKPOINT after executing every sequence that is a multiple of this (K).
    public var checkpointInterval: UInt64
    /// Log size L: messages are accepted only for sequences in (low, low + L], low = stable checkpoint.
    public var logWindow: UInt64
    /// Cap on the doubling view-change timeout. Default 600 ticks = 60 s at the node's 100 ms tick.
    public var timeoutTicksMax: Int
    /// VIEW-CHANGEs for views more than this above the current view are stored only as a number per
    /// replica (for the f+1 join rule); a single replica cannot make others move arbitrarily far.
    public var viewsAheadMax: UInt64

    /// Creates a configuration; sizes are clamped so that the log always holds the window and one checkpoint.
    public init(
        replicaCount: Int,
        selfIndex: ReplicaIndex,
        requestTimeoutTicks: Int = 20,
        windowSize: UInt64 = 1,
        lookaheadSequences: UInt64 = 4,
        checkpointInterval: UInt64 = 128,
        logWindow: UInt64? = nil,
        timeoutTicksMax: Int = 600,
        viewsAheadMax: UInt64 = 16
    ) {
        precondition(replicaCount >= 1, "PBFTConfig: replicaCount must be positive")
        precondition(selfIndex >= 0 && selfIndex < replicaCount, "PBFTConfig: selfIndex out of range")
        self.replicaCount = replicaCount
        self.selfIndex = selfIndex
        self.requestTimeoutTicks = max(1, requestTimeoutTicks)
        self.windowSize = max(1, windowSize)
        self.lookaheadSequences = max(1, lookaheadSequences)
        self.checkpointInterval = max(1, checkpointInterval)
        let window = max(1, windowSize) + max(1, lookaheadSequences)
        // The log must span a checkpoint interval plus the window, or the primary could stall before the
        // next checkpoint becomes stable. Default 2K (PBFT's usual choice).
        self.logWindow = max(logWindow ?? 2 * self.checkpointInterval, self.checkpointInterval + window)
        self.timeoutTicksMax = max(self.requestTimeoutTicks, timeoutTicksMax)
        self.viewsAheadMax = max(1, viewsAheadMax)
    }

    /// Faults tolerated: f = (n - 1) / 3.
    public var f: Int { (replicaCount - 1) / 3 }

    /// Votes that make a certificate: the smallest q with 2q - n >= f + 1, i.e. floor((n + f) / 2) + 1.
    ///
    /// This equals 2f + 1 when n = 3f + 1 (the usual sizes 4, 7, 10, ...). For other n (5, 6, 8, ...)
    /// plain 2f + 1 would let two quorums intersect only in possibly faulty replicas, so the larger
    /// intersection-safe value is used. Hosts that verify commit certificates must use this number.
    public var quorum: Int { (replicaCount + f) / 2 + 1 }
}

/// PRE-PREPARE: the primary of `view` assigns `sequence` to the proposal with `digest`.
public struct PrePrepare: Sendable, Equatable {
    /// View in which the primary proposes.
    public var view: UInt64
    /// Sequence number (block height) assigned.
    public var sequence: UInt64
    /// Digest of the payload (the block hash); identity of the proposal for voting.
    public var digest: [UInt8]
    /// The proposal itself (the encoded block); opaque to the core. Empty (with an empty digest) for a
    /// null request re-issued by NEW-VIEW for a sequence nobody prepared: it stands for "no block".
    /// Also empty inside a VIEW-CHANGE certificate for a sequence the sender already committed.
    public var payload: [UInt8]
    /// Signature of the view's primary over `signingBytes` (payload excluded: the digest binds it).
    /// Empty in pre-prepares the core emits; the host fills it (see `Message.signed(by:replicaCount:using:)`).
    public var signature: [UInt8]

    /// Memberwise initializer.
    public init(view: UInt64, sequence: UInt64, digest: [UInt8], payload: [UInt8], signature: [UInt8] = []) {
        self.view = view
        self.sequence = sequence
        self.digest = digest
        self.payload = payload
        self.signature = signature
    }

    /// True for a null request (no block at this sequence).
    public var isNull: Bool { digest.isEmpty }
}

/// PREPARE: a backup accepted and validated the pre-prepare for (view, sequence, digest).
public struct Prepare: Sendable, Equatable {
    /// View of the vote.
    public var view: UInt64
    /// Sequence of the vote.
    public var sequence: UInt64
    /// Digest voted for.
    public var digest: [UInt8]
    /// Voting replica (must equal the authenticated sender).
    public var replica: ReplicaIndex
    /// Signature of `replica` over `signingBytes`, so that prepared certificates inside a VIEW-CHANGE
    /// can be checked by third parties. Empty in prepares the core emits; the host fills it.
    public var signature: [UInt8]

    /// Memberwise initializer.
    public init(view: UInt64, sequence: UInt64, digest: [UInt8], replica: ReplicaIndex, signature: [UInt8] = []) {
        self.view = view
        self.sequence = sequence
        self.digest = digest
        self.replica = replica
        self.signature = signature
    }
}

/// CHECKPOINT: `replica` executed every sequence up to `sequence` and its state digest is `stateDigest`.
public struct Checkpoint: Sendable, Equatable {
    /// Executed sequence, a multiple of `checkpointInterval`.
    public var sequence: UInt64
    /// Host-computed digest of the state after executing `sequence` (the block's state root).
    public var stateDigest: [UInt8]
    /// Reporting replica (must equal the authenticated sender).
    public var replica: ReplicaIndex
    /// Signature of `replica` over `signingBytes`; empty when emitted by the core, filled by the host.
    public var signature: [UInt8]

    /// Memberwise initializer.
    public init(sequence: UInt64, stateDigest: [UInt8], replica: ReplicaIndex, signature: [UInt8] = []) {
        self.sequence = sequence
        self.stateDigest = stateDigest
        self.replica = replica
        self.signature = signature
    }
}

/// A stable checkpoint: `quorum` matching CHECKPOINT messages from distinct replicas (sorted by replica).
/// Sequence 0 with an empty proof is the genesis checkpoint every replica starts from.
public struct StableCheckpoint: Sendable, Equatable {
    /// Checkpointed sequence: the low watermark.
    public var sequence: UInt64
    /// Agreed state digest.
    public var stateDigest: [UInt8]
    /// The matching checkpoint messages (empty only for the genesis checkpoint at sequence 0).
    public var proof: [Checkpoint]

    /// Memberwise initializer.
    public init(sequence: UInt64, stateDigest: [UInt8], proof: [Checkpoint]) {
        self.sequence = sequence
        self.stateDigest = stateDigest
        self.proof = proof
    }

    /// The genesis checkpoint (sequence 0, no proof).
    public static let genesis = StableCheckpoint(sequence: 0, stateDigest: [], proof: [])
}

/// prepared(v, s, d): a pre-prepare and `quorum - 1` matching prepares from distinct backups of its view,
/// all signed, so that any replica can check it inside a VIEW-CHANGE.
public struct PreparedCertificate: Sendable, Equatable {
    /// The pre-prepare (signed by the primary of its view; payload may be stripped, see `PrePrepare.payload`).
    public var prePrepare: PrePrepare
    /// Matching prepares from distinct non-primary replicas, sorted by replica.
    public var prepares: [Prepare]

    /// Memberwise initializer.
    public init(prePrepare: PrePrepare, prepares: [Prepare]) {
        self.prePrepare = prePrepare
        self.prepares = prepares
    }
}

/// VIEW-CHANGE: `replica` moves to `newView`, proving its stable checkpoint and what it prepared above it.
public struct ViewChange: Sendable, Equatable {
    /// The view the sender wants to move to.
    public var newView: UInt64
    /// Sender (must equal the authenticated sender).
    public var replica: ReplicaIndex
    /// The sender's latest stable checkpoint with its proof.
    public var checkpoint: StableCheckpoint
    /// A prepared certificate for every sequence above the checkpoint the sender prepared (highest view
    /// each), sorted by sequence.
    public var prepared: [PreparedCertificate]
    /// Signature of `replica` over `signingBytes`; empty when emitted by the core, filled by the host.
    public var signature: [UInt8]

    /// Memberwise initializer.
    public init(
        newView: UInt64, replica: ReplicaIndex, checkpoint: StableCheckpoint, prepared: [PreparedCertificate],
        signature: [UInt8] = []
    ) {
        self.newView = newView
        self.replica = replica
        self.checkpoint = checkpoint
        self.prepared = prepared
        self.signature = signature
    }
}

/// NEW-VIEW: the primary of `view` proves the view change with `quorum` VIEW-CHANGEs and re-issues a
/// pre-prepare (signed by itself, view = `view`) for every sequence in (max checkpoint, max prepared].
public struct NewView: Sendable, Equatable {
    /// The new view.
    public var view: UInt64
    /// The new primary (must equal `view mod n` and the authenticated sender).
    public var replica: ReplicaIndex
    /// At least `quorum` VIEW-CHANGEs for `view` from distinct replicas, sorted by replica.
    public var viewChanges: [ViewChange]
    /// The re-issued pre-prepares, sorted by sequence; null requests for gaps.
    public var prePrepares: [PrePrepare]

    /// Memberwise initializer.
    public init(view: UInt64, replica: ReplicaIndex, viewChanges: [ViewChange], prePrepares: [PrePrepare]) {
        self.view = view
        self.replica = replica
        self.viewChanges = viewChanges
        self.prePrepares = prePrepares
    }
}

/// COMMIT: a replica is prepared for (view, sequence, digest); carries its certificate signature.
public struct Commit: Sendable, Equatable {
    /// View of the vote.
    public var view: UInt64
    /// Sequence of the vote.
    public var sequence: UInt64
    /// Digest voted for (the block hash).
    public var digest: [UInt8]
    /// Voting replica (must equal the authenticated sender).
    public var replica: ReplicaIndex
    /// Host-made signature over the block hash for the commit certificate; opaque to the core.
    /// Empty in commits the core emits; the host fills it before sending.
    public var certificateSignature: [UInt8]

    /// Memberwise initializer.
    public init(view: UInt64, sequence: UInt64, digest: [UInt8], replica: ReplicaIndex, certificateSignature: [UInt8] = []) {
        self.view = view
        self.sequence = sequence
        self.digest = digest
        self.replica = replica
        self.certificateSignature = certificateSignature
    }
}

/// A protocol message between replicas.
public enum Message: Sendable, Equatable {
    /// Primary's proposal.
    case prePrepare(PrePrepare)
    /// Backup's first-phase vote.
    case prepare(Prepare)
    /// Second-phase vote with the certificate signature.
    case commit(Commit)
    /// Executed-state report every `checkpointInterval` sequences.
    case checkpoint(Checkpoint)
    /// Request to move to a higher view.
    case viewChange(ViewChange)
    /// The new primary's proof of the view change and its re-issued pre-prepares.
    case newView(NewView)

    /// View the message belongs to (the target view for view changes; 0 for checkpoints).
    public var view: UInt64 {
        switch self {
        case .prePrepare(let m): return m.view
        case .prepare(let m): return m.view
        case .commit(let m): return m.view
        case .checkpoint: return 0
        case .viewChange(let m): return m.newView
        case .newView(let m): return m.view
        }
    }

    /// Sequence the message is about (the checkpoint's sequence; 0 for view changes and new views).
    public var sequence: UInt64 {
        switch self {
        case .prePrepare(let m): return m.sequence
        case .prepare(let m): return m.sequence
        case .commit(let m): return m.sequence
        case .checkpoint(let m): return m.sequence
        case .viewChange, .newView: return 0
        }
    }

    /// The replica the message claims to come from; the host checks it against the authenticated peer.
    public func claimedSender(replicaCount: Int) -> ReplicaIndex {
        switch self {
        case .prePrepare(let m): return Int(m.view % UInt64(max(1, replicaCount)))
        case .prepare(let m): return m.replica
        case .commit(let m): return m.replica
        case .checkpoint(let m): return m.replica
        case .viewChange(let m): return m.replica
        case .newView(let m): return m.replica
        }
    }
}

/// A message to send: to one replica, or (`to == nil`) to every replica except this one.
public struct Outbound: Sendable, Equatable {
    /// Destination replica, or nil to broadcast to all others.
    public var to: ReplicaIndex?
    /// The message; the host signs the envelope unless the message `isSelfAuthenticating` (and fills
    /// `certificateSignature` for commits).
    public var message: Message

    /// Memberwise initializer.
    public init(to: ReplicaIndex?, message: Message) {
        self.to = to
        self.message = message
    }
}

/// State that must be durable BEFORE the messages of the same Ready are sent.
public enum ConsensusRecord: Sendable, Equatable {
    /// The replica's current view.
    case view(UInt64)
    /// A pre-prepare this replica sent (as primary) or accepted and voted on (as backup).
    case prePrepared(PrePrepare)
    /// This replica sent PREPARE for (view, sequence, digest).
    case prepared(view: UInt64, sequence: UInt64, digest: [UInt8])
    /// This replica sent COMMIT for (view, sequence, digest).
    case committed(view: UInt64, sequence: UInt64, digest: [UInt8])
    /// This replica became prepared: the certificate it must put in later VIEW-CHANGEs (highest view wins).
    case preparedCertificate(PreparedCertificate)
    /// This replica sent CHECKPOINT.
    case checkpoint(Checkpoint)
    /// The latest stable checkpoint (low watermark) with its proof.
    case stableCheckpoint(StableCheckpoint)
    /// This replica sent VIEW-CHANGE for `newView` (and so left every lower view for good).
    case viewChange(ViewChange)
    /// The NEW-VIEW this replica sent (as primary) or accepted (as backup) for its current view.
    case newView(NewView)

    /// Stable storage key: "view", "pp/<seq>", "p/<view>/<seq>", "c/<view>/<seq>", "pc/<seq>", "cp/<seq>",
    /// "scp", "vc/<view>", "nv" (decimal numbers). A later record with the same key replaces the earlier one.
    /// Records are deleted only when a Ready lists their key in `deletableRecordKeys`.
    public var key: String {
        switch self {
        case .view: return "view"
        case .prePrepared(let pp): return "pp/\(pp.sequence)"
        case .prepared(let view, let sequence, _): return "p/\(view)/\(sequence)"
        case .committed(let view, let sequence, _): return "c/\(view)/\(sequence)"
        case .preparedCertificate(let c): return "pc/\(c.prePrepare.sequence)"
        case .checkpoint(let c): return "cp/\(c.sequence)"
        case .stableCheckpoint: return "scp"
        case .viewChange(let vc): return "vc/\(vc.newView)"
        case .newView: return "nv"
        }
    }

    /// Sequence the record is about (nil for view-level records).
    public var sequence: UInt64? {
        switch self {
        case .view, .stableCheckpoint, .viewChange, .newView: return nil
        case .prePrepared(let pp): return pp.sequence
        case .prepared(_, let sequence, _): return sequence
        case .committed(_, let sequence, _): return sequence
        case .preparedCertificate(let c): return c.prePrepare.sequence
        case .checkpoint(let c): return c.sequence
        }
    }
}

/// A proposal the host must check (decode, execute on top of sequence - 1, compare roots) and answer.
public struct ValidationRequest: Sendable, Equatable {
    /// View of the pre-prepare.
    public var view: UInt64
    /// Sequence (height) of the proposal.
    public var sequence: UInt64
    /// Digest the pre-prepare claims for the payload; the host must check it matches.
    public var digest: [UInt8]
    /// The proposal bytes.
    public var payload: [UInt8]
    /// True when the pre-prepare was re-issued by a NEW-VIEW: the block was built in an earlier view, so
    /// its header's view/proposer are that view's and its timestamp may be old; the host must accept that
    /// (it was prepared by a quorum in that view) and check only the digest, height, parent and execution.
    public var reissued: Bool

    /// Memberwise initializer.
    public init(view: UInt64, sequence: UInt64, digest: [UInt8], payload: [UInt8], reissued: Bool = false) {
        self.view = view
        self.sequence = sequence
        self.digest = digest
        self.payload = payload
        self.reissued = reissued
    }
}

/// A committed proposal with its commit certificate, delivered once, in sequence order.
public struct CommittedEntry: Sendable, Equatable {
    /// Sequence (height).
    public var sequence: UInt64
    /// View in which it committed.
    public var view: UInt64
    /// Digest (block hash).
    public var digest: [UInt8]
    /// The proposal bytes.
    public var payload: [UInt8]
    /// At least `quorum` matching commits from distinct replicas, sorted by replica. This replica's own
    /// commit carries an empty `certificateSignature` unless the host stepped its signed commit back in;
    /// the host signs the digest itself for its own entry.
    public var commits: [Commit]

    /// Memberwise initializer.
    public init(sequence: UInt64, view: UInt64, digest: [UInt8], payload: [UInt8], commits: [Commit]) {
        self.sequence = sequence
        self.view = view
        self.digest = digest
        self.payload = payload
        self.commits = commits
    }

    /// True for a committed null request: the sequence is consumed but carries no block.
    public var isNull: Bool { digest.isEmpty }
}

/// One batch of work for the host: persist, then send, then validate/apply; then call `advance`.
public struct Ready: Sendable, Equatable {
    /// Records the host writes durably first.
    public var persist: [ConsensusRecord]
    /// Messages the host sends after persisting (signing each; filling commit certificate signatures).
    public var messages: [Outbound]
    /// Proposals the host must validate and answer with `Replica.validated(...)`.
    public var validations: [ValidationRequest]
    /// Newly committed entries, in sequence order, each exactly once; the host applies them.
    public var committed: [CommittedEntry]
    /// A checkpoint that became stable since the last Ready (the new low watermark), with its proof.
    /// If its sequence is above `Replica.lastCommittedSequence` the host must fetch blocks (state transfer).
    public var stableCheckpoint: StableCheckpoint?
    /// Keys of records the host may now delete (below the stable checkpoint, or of views left behind).
    /// Delete them after persisting `persist`.
    public var deletableRecordKeys: [String]

    /// Memberwise initializer.
    public init(
        persist: [ConsensusRecord] = [],
        messages: [Outbound] = [],
        validations: [ValidationRequest] = [],
        committed: [CommittedEntry] = [],
        stableCheckpoint: StableCheckpoint? = nil,
        deletableRecordKeys: [String] = []
    ) {
        self.persist = persist
        self.messages = messages
        self.validations = validations
        self.committed = committed
        self.stableCheckpoint = stableCheckpoint
        self.deletableRecordKeys = deletableRecordKeys
    }

    /// True when there is nothing to do.
    public var isEmpty: Bool {
        persist.isEmpty && messages.isEmpty && validations.isEmpty && committed.isEmpty && stableCheckpoint == nil
            && deletableRecordKeys.isEmpty
    }
}
