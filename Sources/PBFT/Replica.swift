// The PBFT replica (Castro & Liskov, normal case) as a pure value-type state machine.
//
// Shape follows etcd-io/raft's RawNode: inputs `tick()`, `step(_:from:)`, `propose(...)`,
// `validated(...)`, `skipTo(...)`; output `ready()`; acknowledgement `advance(_:)`.
// Nothing here reads a clock, randomness or Dictionary/Set iteration order: every loop over a
// dictionary iterates sorted keys, so a given input sequence always yields the same outputs.
//
// How a host drives it (one replica, one thread or actor):
//   1. feed inputs: `propose` (primary, when `canPropose`), `step` (verified peer messages),
//      `validated` (answers to ValidationRequests), `tick` (fixed logical interval), `skipTo`;
//   2. `let rd = replica.ready()`; if !rd.isEmpty: write `rd.persist` durably (key `record.key`,
//      value `record.encoded()`), then sign and send `rd.messages` (filling commit certificate
//      signatures), then start validating `rd.validations`, apply `rd.committed` in order;
//   3. `replica.advance(rd)`; loop.
// On restart: `Replica(config:, lastCommittedSequence: <height of the last stored block>,
// restoring: <all stored records>)`, then drain `ready()` (it may re-request a validation).
//
// Seams for the view-change/checkpoint issue: `primarySuspected` (timer expired while a request
// waited, the primary equivocated, or proposed something the host rejected), `equivocationsObserved`,
// `rejectedProposals`, the `.view` record (restored as the starting view), `ownVotes` (already
// keyed by view, so votes from earlier views stay binding), and the per-sequence `slots` from which
// a VIEW-CHANGE's prepared set (pre-prepare + matching prepares) is read.

/// One PBFT replica: feed it inputs, drain `ready()`, then `advance` with what was processed.
public struct Replica: Sendable {
    /// Per-sequence log state for the current view.
    struct Slot: Sendable {
        enum Validation: Sendable, Equatable { case none, requested, valid, invalid }
        /// Accepted pre-prepare (from the primary of the current view, or our own as primary).
        var prePrepare: PrePrepare?
        var validation: Validation = .none
        /// At most one prepare per replica (first wins); digest only.
        var prepares: [ReplicaIndex: [UInt8]] = [:]
        /// At most one commit per replica (first wins).
        var commits: [ReplicaIndex: Commit] = [:]
        var sentPrepare = false
        var sentCommit = false
    }

    /// Key of an own vote, for the no-conflicting-vote rule across restarts.
    struct VoteKey: Hashable, Sendable {
        enum Phase: Sendable, Hashable { case prePrepare, prepare, commit }
        var view: UInt64
        var sequence: UInt64
        var phase: Phase
    }

    /// This replica's configuration.
    public let config: PBFTConfig
    /// Current view; the primary is `view mod n`.
    public private(set) var view: UInt64
    /// Highest sequence committed locally (delivered in a Ready, or skipped to by state transfer).
    public private(set) var lastCommittedSequence: UInt64
    /// Highest sequence this replica proposed as primary (>= lastCommittedSequence).
    private var highestProposed: UInt64
    /// Every sequence in (lastCommitted, validatedThrough] was validated valid by the host, in order.
    private var validatedThrough: UInt64
    /// Log for sequences in (lastCommitted, lastCommitted + windowSize + lookahead], current view only.
    private var slots: [UInt64: Slot] = [:]
    /// Digests this replica has voted for (restored from records, extended as it votes).
    private var ownVotes: [VoteKey: [UInt8]] = [:]

    private var pendingPersist: [ConsensusRecord] = []
    private var pendingMessages: [Outbound] = []
    private var pendingValidations: [ValidationRequest] = []
    private var pendingCommitted: [CommittedEntry] = []

    /// Seam for view change: second different pre-prepares seen for one (view, sequence), or
    /// pre-prepares conflicting with this replica's own recorded votes.
    public private(set) var equivocationsObserved: Int = 0
    /// Seam for view change: proposals the host answered invalid.
    public private(set) var rejectedProposals: Int = 0
    /// Seam for view change: ticks since the oldest outstanding accepted request last made progress.
    public private(set) var ticksWithoutProgress: Int = 0
    /// Seam for view change: true once a request stayed uncommitted for `requestTimeoutTicks`, or the
    /// primary equivocated or proposed something invalid in this view.
    public private(set) var primarySuspected: Bool = false

    /// Creates a replica, restoring its view and own votes from durable records so that after a
    /// restart it never sends a vote conflicting with one it sent before for the same (view, sequence).
    public init(config: PBFTConfig, lastCommittedSequence: UInt64, restoring records: [ConsensusRecord]) {
        self.config = config
        self.lastCommittedSequence = lastCommittedSequence
        self.highestProposed = lastCommittedSequence
        self.validatedThrough = lastCommittedSequence
        var restoredView: UInt64 = 0
        var prePrepares: [UInt64: PrePrepare] = [:]
        for record in records {
            switch record {
            case .view(let v):
                restoredView = max(restoredView, v)
            case .prePrepared(let pp):
                restoredView = max(restoredView, pp.view)
                let key = VoteKey(view: pp.view, sequence: pp.sequence, phase: .prePrepare)
                ownVotes[key] = pp.digest
                if let existing = prePrepares[pp.sequence], existing.view > pp.view { continue }
                prePrepares[pp.sequence] = pp
            case .prepared(let v, let s, let d):
                restoredView = max(restoredView, v)
                ownVotes[VoteKey(view: v, sequence: s, phase: .prepare)] = d
            case .committed(let v, let s, let d):
                restoredView = max(restoredView, v)
                ownVotes[VoteKey(view: v, sequence: s, phase: .commit)] = d
            }
        }
        self.view = restoredView
        // Re-enter this view's accepted pre-prepares above the committed prefix. As primary they are our
        // own proposals (already validated by the host); as backup the host validates them again.
        for sequence in prePrepares.keys.sorted() {
            guard let pp = prePrepares[sequence], pp.view == view, sequence > lastCommittedSequence else { continue }
            if isPrimary {
                // Never reuse a sequence already proposed in this view, even outside the log window.
                highestProposed = max(highestProposed, sequence)
            }
            guard isInLog(sequence) else { continue }
            var slot = Slot()
            slot.prePrepare = pp
            if isPrimary {
                slot.validation = .valid
                validatedThrough = max(validatedThrough, sequence)
            }
            slots[sequence] = slot
        }
        progress()
    }

    // MARK: - Queries

    /// Replica count n.
    private var n: Int { config.replicaCount }

    /// Primary of the current view: view mod n.
    public var primary: ReplicaIndex { Int(view % UInt64(n)) }

    /// True when this replica is the primary of the current view.
    public var isPrimary: Bool { primary == config.selfIndex }

    /// True when this replica is primary and the window has room for the next sequence.
    public var canPropose: Bool {
        isPrimary && highestProposed - lastCommittedSequence < config.windowSize
    }

    /// Sequence the next `propose` will assign (meaningful when `canPropose`).
    public var nextProposalSequence: UInt64 { highestProposed + 1 }

    /// True when `ready()` would return a non-empty batch.
    public var hasReady: Bool {
        !(pendingPersist.isEmpty && pendingMessages.isEmpty && pendingValidations.isEmpty && pendingCommitted.isEmpty)
    }

    /// Sequences this replica may vote on: (lastCommitted, lastCommitted + windowSize].
    private func isInWindow(_ sequence: UInt64) -> Bool {
        sequence > lastCommittedSequence && sequence - lastCommittedSequence <= config.windowSize
    }

    /// Sequences whose messages are kept: the window plus the lookahead.
    private func isInLog(_ sequence: UInt64) -> Bool {
        sequence > lastCommittedSequence
            && sequence - lastCommittedSequence <= config.windowSize + config.lookaheadSequences
    }

    // MARK: - Inputs

    /// Primary only: assigns the next sequence to an already validated proposal and broadcasts it.
    /// Returns false (and does nothing) when `canPropose` is false.
    @discardableResult
    public mutating func propose(digest: [UInt8], payload: [UInt8]) -> Bool {
        guard canPropose else { return false }
        let sequence = highestProposed + 1
        let pp = PrePrepare(view: view, sequence: sequence, digest: digest, payload: payload)
        let key = VoteKey(view: view, sequence: sequence, phase: .prePrepare)
        // A restored own proposal for this (view, sequence) already raised highestProposed; double-check.
        guard ownVotes[key] == nil || ownVotes[key] == digest else { return false }
        ownVotes[key] = digest
        highestProposed = sequence
        validatedThrough = max(validatedThrough, sequence)
        var slot = slots[sequence] ?? Slot()
        slot.prePrepare = pp
        slot.validation = .valid
        slots[sequence] = slot
        pendingPersist.append(.prePrepared(pp))
        pendingMessages.append(Outbound(to: nil, message: .prePrepare(pp)))
        progress()
        return true
    }

    /// Feeds a message whose envelope signature the host verified as coming from `sender`.
    public mutating func step(_ message: Message, from sender: ReplicaIndex) {
        guard sender >= 0, sender < n, message.view == view, isInLog(message.sequence) else { return }
        switch message {
        case .prePrepare(let pp): onPrePrepare(pp, from: sender)
        case .prepare(let p): onPrepare(p, from: sender)
        case .commit(let c): onCommit(c, from: sender)
        }
        progress()
    }

    /// The host's answer to a `ValidationRequest`; stale or unknown answers are ignored.
    public mutating func validated(view: UInt64, sequence: UInt64, digest: [UInt8], valid: Bool) {
        guard view == self.view, var slot = slots[sequence], let pp = slot.prePrepare,
              pp.digest == digest, slot.validation == .requested else { return }
        guard valid else {
            slot.validation = .invalid
            slots[sequence] = slot
            rejectedProposals += 1
            primarySuspected = true
            return
        }
        guard sequence == validatedThrough + 1 else {
            // The base moved under the request (state transfer); ask again when its turn comes.
            slot.validation = .none
            slots[sequence] = slot
            progress()
            return
        }
        slot.validation = .valid
        slots[sequence] = slot
        validatedThrough = sequence
        sendPrepare(sequence)
        progress()
    }

    /// Advances logical time by one tick (drives the view-change timer seam).
    public mutating func tick() {
        let waiting = slots.values.contains { $0.prePrepare != nil }
        guard waiting, !isPrimary else {
            ticksWithoutProgress = 0
            return
        }
        ticksWithoutProgress += 1
        if ticksWithoutProgress >= config.requestTimeoutTicks {
            primarySuspected = true
        }
    }

    /// The host caught up to `committedSequence` by state transfer; drops log entries at or below it.
    public mutating func skipTo(committedSequence: UInt64) {
        guard committedSequence > lastCommittedSequence else { return }
        lastCommittedSequence = committedSequence
        highestProposed = max(highestProposed, committedSequence)
        validatedThrough = max(validatedThrough, committedSequence)
        pruneLog()
        pendingValidations.removeAll { $0.sequence <= committedSequence }
        pendingCommitted.removeAll { $0.sequence <= committedSequence }
        ticksWithoutProgress = 0
        progress()
    }

    // MARK: - Ready

    /// The work accumulated since the last `advance`: persist, then send, then validate and apply.
    public func ready() -> Ready {
        Ready(
            persist: pendingPersist,
            messages: pendingMessages,
            validations: pendingValidations,
            committed: pendingCommitted)
    }

    /// Acknowledges that the host processed `ready` (a value previously returned by `ready()`).
    public mutating func advance(_ ready: Ready) {
        pendingPersist.removeFirst(min(ready.persist.count, pendingPersist.count))
        pendingMessages.removeFirst(min(ready.messages.count, pendingMessages.count))
        pendingValidations.removeFirst(min(ready.validations.count, pendingValidations.count))
        pendingCommitted.removeFirst(min(ready.committed.count, pendingCommitted.count))
    }

    // MARK: - Message handlers

    private mutating func onPrePrepare(_ pp: PrePrepare, from sender: ReplicaIndex) {
        guard sender == primary, sender != config.selfIndex else { return }
        if conflictsWithOwnVote(view: pp.view, sequence: pp.sequence, digest: pp.digest) {
            equivocationsObserved += 1
            primarySuspected = true
            return
        }
        var slot = slots[pp.sequence] ?? Slot()
        if let existing = slot.prePrepare {
            if existing.digest != pp.digest {
                equivocationsObserved += 1
                primarySuspected = true
            }
            return
        }
        slot.prePrepare = pp
        slots[pp.sequence] = slot
    }

    private mutating func onPrepare(_ p: Prepare, from sender: ReplicaIndex) {
        // The primary does not prepare; a replica's own prepare is recorded when it is sent.
        guard p.replica == sender, sender != primary, sender != config.selfIndex else { return }
        var slot = slots[p.sequence] ?? Slot()
        guard slot.prepares[sender] == nil else { return }
        slot.prepares[sender] = p.digest
        slots[p.sequence] = slot
    }

    private mutating func onCommit(_ c: Commit, from sender: ReplicaIndex) {
        guard c.replica == sender else { return }
        var slot = slots[c.sequence] ?? Slot()
        if sender == config.selfIndex {
            // The host may step its own signed commit back in so certificates carry its signature.
            if let own = slot.commits[sender], own.digest == c.digest, own.view == c.view {
                slot.commits[sender] = c
                slots[c.sequence] = slot
            }
            return
        }
        guard slot.commits[sender] == nil else { return }
        slot.commits[sender] = c
        slots[c.sequence] = slot
    }

    // MARK: - Protocol progress

    /// Runs every enabled transition to a fixed point: commits, in-order delivery, next validation.
    private mutating func progress() {
        var changed = true
        while changed {
            changed = false
            for sequence in slots.keys.sorted() where isPreparedAwaitingCommit(sequence) {
                sendCommit(sequence)
                changed = true
            }
            while deliverNextIfCommitted() { changed = true }
            if requestNextValidation() { changed = true }
        }
    }

    private func conflictsWithOwnVote(view: UInt64, sequence: UInt64, digest: [UInt8]) -> Bool {
        for phase in [VoteKey.Phase.prePrepare, .prepare, .commit] {
            if let voted = ownVotes[VoteKey(view: view, sequence: sequence, phase: phase)], voted != digest {
                return true
            }
        }
        return false
    }

    /// prepared(v, s, d): accepted and validated pre-prepare plus quorum - 1 (2f) matching prepares
    /// from distinct backups, own included.
    private func isPreparedAwaitingCommit(_ sequence: UInt64) -> Bool {
        guard let slot = slots[sequence], !slot.sentCommit, slot.validation == .valid,
              let pp = slot.prePrepare else { return false }
        let matching = slot.prepares.values.filter { $0 == pp.digest }.count
        return matching >= config.quorum - 1
    }

    private mutating func sendPrepare(_ sequence: UInt64) {
        guard var slot = slots[sequence], let pp = slot.prePrepare, !slot.sentPrepare, !isPrimary else { return }
        guard !conflictsWithOwnVote(view: pp.view, sequence: sequence, digest: pp.digest) else { return }
        ownVotes[VoteKey(view: pp.view, sequence: sequence, phase: .prePrepare)] = pp.digest
        ownVotes[VoteKey(view: pp.view, sequence: sequence, phase: .prepare)] = pp.digest
        slot.sentPrepare = true
        slot.prepares[config.selfIndex] = pp.digest
        slots[sequence] = slot
        pendingPersist.append(.prePrepared(pp))
        pendingPersist.append(.prepared(view: pp.view, sequence: sequence, digest: pp.digest))
        let prepare = Prepare(view: pp.view, sequence: sequence, digest: pp.digest, replica: config.selfIndex)
        pendingMessages.append(Outbound(to: nil, message: .prepare(prepare)))
    }

    private mutating func sendCommit(_ sequence: UInt64) {
        guard var slot = slots[sequence], let pp = slot.prePrepare, !slot.sentCommit else { return }
        guard !conflictsWithOwnVote(view: pp.view, sequence: sequence, digest: pp.digest) else { return }
        ownVotes[VoteKey(view: pp.view, sequence: sequence, phase: .commit)] = pp.digest
        let commit = Commit(view: pp.view, sequence: sequence, digest: pp.digest, replica: config.selfIndex)
        slot.sentCommit = true
        if slot.commits[config.selfIndex]?.digest != pp.digest {
            slot.commits[config.selfIndex] = commit
        }
        slots[sequence] = slot
        pendingPersist.append(.committed(view: pp.view, sequence: sequence, digest: pp.digest))
        pendingMessages.append(Outbound(to: nil, message: .commit(commit)))
    }

    /// committed-local(v, s, d): prepared, own commit sent, and quorum matching commits (own included);
    /// delivered only when every lower sequence has been delivered.
    private mutating func deliverNextIfCommitted() -> Bool {
        let sequence = lastCommittedSequence + 1
        guard let slot = slots[sequence], slot.sentCommit, let pp = slot.prePrepare else { return false }
        let matching = slot.commits.keys.sorted().compactMap { replica -> Commit? in
            guard let c = slot.commits[replica], c.digest == pp.digest else { return nil }
            return c
        }
        guard matching.count >= config.quorum else { return false }
        pendingCommitted.append(CommittedEntry(
            sequence: sequence, view: pp.view, digest: pp.digest, payload: pp.payload, commits: matching))
        lastCommittedSequence = sequence
        highestProposed = max(highestProposed, sequence)
        validatedThrough = max(validatedThrough, sequence)
        ticksWithoutProgress = 0
        pruneLog()
        return true
    }

    /// Hands the host the next pre-prepare to validate, strictly in sequence order, one at a time.
    private mutating func requestNextValidation() -> Bool {
        let sequence = validatedThrough + 1
        guard !isPrimary, isInWindow(sequence), var slot = slots[sequence], let pp = slot.prePrepare,
              slot.validation == .none else { return false }
        if conflictsWithOwnVote(view: pp.view, sequence: sequence, digest: pp.digest) { return false }
        slot.validation = .requested
        slots[sequence] = slot
        pendingValidations.append(ValidationRequest(
            view: pp.view, sequence: sequence, digest: pp.digest, payload: pp.payload))
        return true
    }

    /// Drops log entries at or below the committed prefix and own votes that can no longer matter.
    private mutating func pruneLog() {
        for sequence in slots.keys.sorted() where !isInLog(sequence) {
            slots[sequence] = nil
        }
        for key in ownVotes.keys where key.sequence <= lastCommittedSequence {
            ownVotes[key] = nil
        }
    }
}
