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

    /// Creates a configuration; `windowSize` and `lookaheadSequences` are clamped to at least 1.
    public init(
        replicaCount: Int,
        selfIndex: ReplicaIndex,
        requestTimeoutTicks: Int = 20,
        windowSize: UInt64 = 1,
        lookaheadSequences: UInt64 = 4
    ) {
        precondition(replicaCount >= 1, "PBFTConfig: replicaCount must be positive")
        precondition(selfIndex >= 0 && selfIndex < replicaCount, "PBFTConfig: selfIndex out of range")
        self.replicaCount = replicaCount
        self.selfIndex = selfIndex
        self.requestTimeoutTicks = max(1, requestTimeoutTicks)
        self.windowSize = max(1, windowSize)
        self.lookaheadSequences = max(1, lookaheadSequences)
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
    /// The proposal itself (the encoded block); opaque to the core.
    public var payload: [UInt8]

    /// Memberwise initializer.
    public init(view: UInt64, sequence: UInt64, digest: [UInt8], payload: [UInt8]) {
        self.view = view
        self.sequence = sequence
        self.digest = digest
        self.payload = payload
    }
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

    /// Memberwise initializer.
    public init(view: UInt64, sequence: UInt64, digest: [UInt8], replica: ReplicaIndex) {
        self.view = view
        self.sequence = sequence
        self.digest = digest
        self.replica = replica
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

/// A protocol message between replicas. View change and checkpoint cases will be added later.
public enum Message: Sendable, Equatable {
    /// Primary's proposal.
    case prePrepare(PrePrepare)
    /// Backup's first-phase vote.
    case prepare(Prepare)
    /// Second-phase vote with the certificate signature.
    case commit(Commit)

    /// View the message belongs to.
    public var view: UInt64 {
        switch self {
        case .prePrepare(let m): return m.view
        case .prepare(let m): return m.view
        case .commit(let m): return m.view
        }
    }

    /// Sequence the message is about.
    public var sequence: UInt64 {
        switch self {
        case .prePrepare(let m): return m.sequence
        case .prepare(let m): return m.sequence
        case .commit(let m): return m.sequence
        }
    }
}

/// A message to send: to one replica, or (`to == nil`) to every replica except this one.
public struct Outbound: Sendable, Equatable {
    /// Destination replica, or nil to broadcast to all others.
    public var to: ReplicaIndex?
    /// The message; the host signs the envelope (and fills `certificateSignature` for commits).
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

    /// Stable storage key: "view", "pp/<seq>", "p/<view>/<seq>", "c/<view>/<seq>" (decimal numbers).
    /// A later record with the same key replaces the earlier one.
    public var key: String {
        switch self {
        case .view: return "view"
        case .prePrepared(let pp): return "pp/\(pp.sequence)"
        case .prepared(let view, let sequence, _): return "p/\(view)/\(sequence)"
        case .committed(let view, let sequence, _): return "c/\(view)/\(sequence)"
        }
    }

    /// Sequence the record is about (nil for the view record); records at or below the last committed
    /// sequence may be pruned by the host once the block is durably stored.
    public var sequence: UInt64? {
        switch self {
        case .view: return nil
        case .prePrepared(let pp): return pp.sequence
        case .prepared(_, let sequence, _): return sequence
        case .committed(_, let sequence, _): return sequence
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

    /// Memberwise initializer.
    public init(view: UInt64, sequence: UInt64, digest: [UInt8], payload: [UInt8]) {
        self.view = view
        self.sequence = sequence
        self.digest = digest
        self.payload = payload
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

    /// Memberwise initializer.
    public init(
        persist: [ConsensusRecord] = [],
        messages: [Outbound] = [],
        validations: [ValidationRequest] = [],
        committed: [CommittedEntry] = []
    ) {
        self.persist = persist
        self.messages = messages
        self.validations = validations
        self.committed = committed
    }

    /// True when there is nothing to do.
    public var isEmpty: Bool {
        persist.isEmpty && messages.isEmpty && validations.isEmpty && committed.isEmpty
    }
}
