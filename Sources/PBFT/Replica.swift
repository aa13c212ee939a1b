// The PBFT replica (Castro & Liskov: normal case, checkpoints, view change) as a pure value-type state machine.
//
// Shape follows etcd-io/raft's RawNode: inputs `tick()`, `step(_:from:)`, `propose(...)`, `validated(...)`,
// `noteRequestPending()`, `noteExecuted(...)`, `skipTo(...)`; output `ready()`; acknowledgement `advance(_:)`.
// Nothing here reads a clock, randomness or Dictionary/Set iteration order: every loop over a dictionary
// iterates sorted keys, so a given input sequence always yields the same outputs.
//
// How a host drives it (one replica, one thread or actor):
//   1. feed inputs: `propose` (primary, when `canPropose`), `step` (peer messages whose envelope AND every
//      `Message.signedItems` signature verified), `validated` (answers to ValidationRequests), `tick` (fixed
//      logical interval), `noteRequestPending` (client transactions wait), `noteExecuted` (state digest after
//      applying a sequence), `skipTo` (after state transfer);
//   2. `let rd = replica.ready()`; if !rd.isEmpty: write `rd.persist` durably (key `record.key`, value
//      `record.encoded()`), delete `rd.deletableRecordKeys`, then sign (`Message.signed(by:replicaCount:using:)`,
//      plus commit certificate signatures) and send `rd.messages`, then validate `rd.validations` and apply
//      `rd.committed` in order (a null entry consumes its sequence without a block);
//   3. `replica.advance(rd)`; loop.
// On restart: `Replica(config:, lastCommittedSequence: <last applied sequence>, restoring: <all stored records>)`,
// then drain `ready()`.
//
// Signatures. Every vote that can end up inside a VIEW-CHANGE is signed by its author over canonical bytes
// (`PrePrepare.signingBytes`, `Prepare.signingBytes`, `Checkpoint.signingBytes`, `ViewChange.signingBytes`), so
// a prepared certificate or checkpoint proof can be checked by any third party. The core never signs or verifies:
// it emits empty signature fields, the host fills the ones it authors before sending and verifies all listed by
// `Message.signedItems` before stepping. The core therefore trusts every signature it is given, and checks only
// structure: quorum sizes, distinct signers, matching fields, windows.
//
// View change (PBFT section 4.4). A backup with pending work (an accepted pre-prepare above the committed prefix,
// or host-noted pending requests) that sees no commit for `viewChangeTimeoutTicks` moves to view v+1: it stops
// accepting messages of v, persists and broadcasts VIEW-CHANGE(v+1, stable checkpoint proof, prepared
// certificates above it). A replica joins a higher view once f+1 others ask for one (the (f+1)-th highest), so
// one faulty replica can never force a view change. The primary of v+1 collects a quorum of VIEW-CHANGEs
// (its own included) and sends NEW-VIEW with them and the re-issued pre-prepares: for every sequence in
// (max checkpoint, max prepared], the certificate digest of the highest view, or a null request. Backups
// recompute that set from the embedded VIEW-CHANGEs and reject a mismatch. While waiting, the timer keeps running:
// on expiry with a quorum of VIEW-CHANGEs for the current view the replica moves on to the next view with a
// doubled timeout (capped at `timeoutTicksMax`); without a quorum it retransmits its VIEW-CHANGE. The timeout
// returns to `requestTimeoutTicks` once a sequence commits.
//
// Checkpoints. After applying sequence s (a multiple of `checkpointInterval`) the host reports the state digest
// with `noteExecuted`; the core persists and broadcasts CHECKPOINT. A quorum of matching ones from distinct
// replicas makes it stable: the low watermark moves, the log below it is dropped, and the Ready lists the record
// keys the host may delete. Votes are accepted only for sequences in (low, low + logWindow].

//
// Host checklist (what a driver must do beyond the normal case):
//   - sign: before sending, `message.signed(by: selfIndex, replicaCount: n) { sign(prefix + $0) }` (prefix = a
//     chain-specific domain, the same for verifying); commit certificate signatures as before;
//   - verify: check `message.claimedSender(replicaCount:)` against the peer, then every `signedItems` entry
//     (signer in range, non-empty signature) before `step`; a NEW-VIEW with more than n view changes can be
//     dropped before verifying;
//   - records: persist `rd.persist` (replace by key), then delete `rd.deletableRecordKeys`; do NOT delete
//     records by committed height any more: prepared certificates above the stable checkpoint must survive;
//   - validations: `ValidationRequest.reissued` marks blocks built in an earlier view (old header view,
//     proposer and timestamp); the primary also receives validations now (for re-issued proposals);
//   - commits: `CommittedEntry.isNull` consumes the sequence without a block (only with windowSize > 1 or after
//     faults beyond f); then call `noteExecuted(sequence:stateDigest:)` for every applied sequence, also for
//     blocks applied by state transfer (before `skipTo`);
//   - timers: call `noteRequestPending()` each tick while client transactions wait.
//
// Known limit: a replica whose low watermark was moved past its stable checkpoint by the host (restart without a
// checkpoint record, or state transfer past a whole log) puts in its VIEW-CHANGE only certificates within one log
// above its last proven checkpoint, until the next checkpoint becomes stable.

/// One PBFT replica: feed it inputs, drain `ready()`, then `advance` with what was processed.
public struct Replica: Sendable {
    /// Per-sequence log state for the current view.
    struct Slot: Sendable {
        enum Validation: Sendable, Equatable { case none, requested, valid, invalid }
        /// Accepted pre-prepare (from the primary of the current view, our own, or re-issued by NEW-VIEW).
        var prePrepare: PrePrepare?
        /// Set when the pre-prepare came from a NEW-VIEW.
        var reissued = false
        var validation: Validation = .none
        /// At most one prepare per replica (first wins), with its signature.
        var prepares: [ReplicaIndex: Prepare] = [:]
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
    /// Current view; the primary is `view mod n`. Only grows.
    public private(set) var view: UInt64
    /// False between sending VIEW-CHANGE for `view` and accepting (or sending) its NEW-VIEW.
    public private(set) var isViewActive: Bool
    /// Highest sequence committed locally (delivered in a Ready, or skipped to by state transfer).
    public private(set) var lastCommittedSequence: UInt64
    /// Latest stable checkpoint (genesis until the first one becomes stable).
    public private(set) var stableCheckpoint: StableCheckpoint = .genesis
    /// Low watermark: the stable checkpoint, or a higher base the host vouched for (restart without a
    /// checkpoint record, or state transfer past the whole log). Votes are taken in (low, low + logWindow].
    public private(set) var lowWatermark: UInt64
    /// Ticks without commit progress before this replica moves to the next view; doubles per failed view.
    public private(set) var viewChangeTimeoutTicks: Int
    /// Set by `noteRequestPending`; cleared when a sequence commits. Starts the request timer on backups.
    public var hasPendingRequests = false

    /// Highest sequence proposed in this view (as primary), or re-issued by its NEW-VIEW (>= lastCommitted).
    private var highestProposed: UInt64
    /// Every sequence in (lastCommitted, validatedThrough] was validated valid, in order, in this view.
    private var validatedThrough: UInt64
    /// Log for the current view, sequences in (lowWatermark, lowWatermark + logWindow].
    private var slots: [UInt64: Slot] = [:]
    /// Digests this replica has voted for (restored from records, extended as it votes).
    private var ownVotes: [VoteKey: [UInt8]] = [:]
    /// Highest-view prepared certificate per sequence above the stable checkpoint.
    private var preparedCertificates: [UInt64: PreparedCertificate] = [:]
    /// Digests committed locally above the low watermark, to vote again on them when a NEW-VIEW re-issues them.
    private var committedDigests: [UInt64: [UInt8]] = [:]
    /// Payloads of pre-prepares accepted above the committed prefix, to fill NEW-VIEW pre-prepares without one.
    private var knownPayloads: [UInt64: (digest: [UInt8], payload: [UInt8])] = [:]
    /// Checkpoint messages above the stable checkpoint, one per replica and sequence (own included).
    private var checkpointVotes: [UInt64: [ReplicaIndex: Checkpoint]] = [:]
    /// Stored VIEW-CHANGEs for views in [view, view + viewsAheadMax], one per replica (first wins).
    private var viewChanges: [UInt64: [ReplicaIndex: ViewChange]] = [:]
    /// Highest view each other replica asked for (any distance): the f+1 join rule.
    private var viewClaims: [ReplicaIndex: UInt64] = [:]
    /// The NEW-VIEW that started the current view (sent as primary, or accepted), for retransmission.
    private var currentNewView: NewView?
    /// Consecutive view changes without a commit, for the doubling timeout.
    private var failedViews = 0
    /// Ticks since this replica last (re)sent its newest unstable checkpoint.
    private var checkpointResendTicks = 0
    /// Replicas answered with our stable checkpoint in the current resend period.
    private var laggardsAnswered: [ReplicaIndex] = []
    /// Keys of persisted records by sequence, and views of persisted VIEW-CHANGE records, for deletion lists.
    private var persistedKeys: [UInt64: [String]] = [:]
    private var persistedViewChangeViews: [UInt64] = []

    private var pendingPersist: [ConsensusRecord] = []
    private var pendingMessages: [Outbound] = []
    private var pendingValidations: [ValidationRequest] = []
    private var pendingCommitted: [CommittedEntry] = []
    private var pendingStable: StableCheckpoint?
    private var pendingDeletable: [String] = []

    /// Second different pre-prepares seen for one (view, sequence), or conflicting with own recorded votes.
    public private(set) var equivocationsObserved: Int = 0
    /// Proposals the host answered invalid.
    public private(set) var rejectedProposals: Int = 0
    /// NEW-VIEW messages rejected because their pre-prepare set or proof did not check out.
    public private(set) var rejectedNewViews: Int = 0
    /// View changes this replica started or joined.
    public private(set) var viewChangesStarted: Int = 0
    /// Ticks without commit progress while work is pending (or since the view change started).
    public private(set) var ticksWithoutProgress: Int = 0
    /// True once, in the current view, a request timed out or the primary equivocated or proposed something invalid.
    public private(set) var primarySuspected: Bool = false

    /// Creates a replica, restoring its view, votes, certificates, checkpoints and view-change state from durable
    /// records so that after a restart it never sends a message conflicting with one it sent before.
    public init(config: PBFTConfig, lastCommittedSequence: UInt64, restoring records: [ConsensusRecord]) {
        self.config = config
        self.lastCommittedSequence = lastCommittedSequence
        self.highestProposed = lastCommittedSequence
        self.validatedThrough = lastCommittedSequence
        self.viewChangeTimeoutTicks = config.requestTimeoutTicks
        var restoredView: UInt64 = 0
        var activeViews: Set<UInt64> = [0]
        var prePrepares: [UInt64: PrePrepare] = [:]
        var newView: NewView?
        var ownViewChanges: [UInt64: ViewChange] = [:]
        var stable = StableCheckpoint.genesis
        for record in records {
            if let s = record.sequence, !(persistedKeys[s]?.contains(record.key) ?? false) {
                persistedKeys[s, default: []].append(record.key)
            }
            switch record {
            case .view(let v):
                restoredView = max(restoredView, v)
                activeViews.insert(v)
            case .prePrepared(let pp):
                restoredView = max(restoredView, pp.view)
                activeViews.insert(pp.view)
                ownVotes[VoteKey(view: pp.view, sequence: pp.sequence, phase: .prePrepare)] = pp.digest
                if let existing = prePrepares[pp.sequence], existing.view > pp.view { continue }
                prePrepares[pp.sequence] = pp
            case .prepared(let v, let s, let d):
                restoredView = max(restoredView, v)
                activeViews.insert(v)
                ownVotes[VoteKey(view: v, sequence: s, phase: .prepare)] = d
            case .committed(let v, let s, let d):
                restoredView = max(restoredView, v)
                activeViews.insert(v)
                ownVotes[VoteKey(view: v, sequence: s, phase: .commit)] = d
            case .preparedCertificate(let c):
                let s = c.prePrepare.sequence
                if let existing = preparedCertificates[s], existing.prePrepare.view >= c.prePrepare.view { continue }
                preparedCertificates[s] = c
            case .checkpoint(let c):
                checkpointVotes[c.sequence, default: [:]][config.selfIndex] = c
            case .stableCheckpoint(let c):
                if c.sequence > stable.sequence { stable = c }
            case .viewChange(let vc):
                restoredView = max(restoredView, vc.newView)
                ownViewChanges[vc.newView] = vc
                if !persistedViewChangeViews.contains(vc.newView) { persistedViewChangeViews.append(vc.newView) }
            case .newView(let nv):
                restoredView = max(restoredView, nv.view)
                activeViews.insert(nv.view)
                if nv.view >= (newView?.view ?? 0) { newView = nv }
            }
        }
        self.view = restoredView
        self.isViewActive = activeViews.contains(restoredView)
        self.stableCheckpoint = stable
        self.lowWatermark = stable.sequence
        if lastCommittedSequence > stable.sequence,
           lastCommittedSequence - stable.sequence > config.logWindow - config.windowSize - config.lookaheadSequences {
            // The log cannot hold the window above the committed prefix: start from the host's certified blocks.
            lowWatermark = lastCommittedSequence
        }
        preparedCertificates = preparedCertificates.filter { $0.key > stable.sequence }
        checkpointVotes = checkpointVotes.filter { $0.key > stable.sequence }
        if isViewActive, let nv = newView, nv.view == view {
            currentNewView = nv
            for pp in nv.prePrepares where pp.sequence > lowWatermark {
                if isPrimary { ownVotes[VoteKey(view: view, sequence: pp.sequence, phase: .prePrepare)] = pp.digest }
                highestProposed = max(highestProposed, pp.sequence)
                var slot = Slot()
                slot.prePrepare = pp
                slot.reissued = true
                slots[pp.sequence] = slot
            }
        } else if !isViewActive, let own = ownViewChanges[view] {
            viewChanges[view] = [config.selfIndex: own]
        }
        // Re-enter this view's accepted pre-prepares above the committed prefix. As primary they are our
        // own proposals (already validated by the host); as backup the host validates them again.
        for sequence in prePrepares.keys.sorted() {
            guard isViewActive, let pp = prePrepares[sequence], pp.view == view, sequence > lastCommittedSequence else { continue }
            if isPrimary {
                // Never reuse a sequence already proposed in this view, even outside the log window.
                highestProposed = max(highestProposed, sequence)
            }
            guard isAcceptable(sequence) else { continue }
            var slot = slots[sequence] ?? Slot()
            if slot.prePrepare == nil || slot.prePrepare?.digest == pp.digest { slot.prePrepare = pp }
            if isPrimary && !slot.reissued {
                slot.validation = .valid
            }
            slots[sequence] = slot
        }
        if isPrimary {
            // Own proposals count as validated in order; re-issued ones are validated by the host again.
            while let slot = slots[validatedThrough + 1], slot.validation == .valid { validatedThrough += 1 }
        }
        markNullAndCommittedSlots()
        progress()
    }

    // MARK: - Queries

    /// Replica count n.
    private var n: Int { config.replicaCount }

    /// Primary of the current view: view mod n.
    public var primary: ReplicaIndex { Int(view % UInt64(n)) }

    /// True when this replica is the primary of the current view.
    public var isPrimary: Bool { primary == config.selfIndex }

    /// True when this replica is the primary of an active view and the window has room for the next sequence.
    public var canPropose: Bool {
        isPrimary && isViewActive && lastCommittedSequence >= lowWatermark
            && highestProposed - lastCommittedSequence < config.windowSize
            && highestProposed + 1 - lowWatermark <= config.logWindow
    }

    /// Sequence the next `propose` will assign (meaningful when `canPropose`).
    public var nextProposalSequence: UInt64 { highestProposed + 1 }

    /// True when `ready()` would return a non-empty batch.
    public var hasReady: Bool {
        !(pendingPersist.isEmpty && pendingMessages.isEmpty && pendingValidations.isEmpty && pendingCommitted.isEmpty
            && pendingStable == nil && pendingDeletable.isEmpty)
    }

    /// Peer messages currently held (pre-prepares, prepares, commits, checkpoints, view changes): for tests
    /// that check a flooding peer cannot grow the replica's memory without bound.
    var bufferedMessageCount: Int {
        let log = slots.values.reduce(0) { $0 + ($1.prePrepare == nil ? 0 : 1) + $1.prepares.count + $1.commits.count }
        return log + checkpointVotes.values.reduce(0) { $0 + $1.count } + viewChanges.values.reduce(0) { $0 + $1.count }
            + viewClaims.count
    }

    /// High watermark: votes are accepted for sequences up to here.
    public var highWatermark: UInt64 { lowWatermark &+ config.logWindow }

    /// Sequences this replica may validate and vote on: (lastCommitted, lastCommitted + windowSize].
    private func isInWindow(_ sequence: UInt64) -> Bool {
        sequence > lastCommittedSequence && sequence - lastCommittedSequence <= config.windowSize
    }

    /// Sequences whose messages are kept: (low, high], and at most window + lookahead above the committed prefix.
    private func isAcceptable(_ sequence: UInt64) -> Bool {
        guard sequence > lowWatermark, sequence - lowWatermark <= config.logWindow else { return false }
        return sequence <= lastCommittedSequence
            || sequence - lastCommittedSequence <= config.windowSize + config.lookaheadSequences
    }

    // MARK: - Inputs

    /// Primary only: assigns the next sequence to an already validated proposal and broadcasts it.
    /// Returns false (and does nothing) when `canPropose` is false.
    @discardableResult
    public mutating func propose(digest: [UInt8], payload: [UInt8]) -> Bool {
        guard canPropose, !digest.isEmpty else { return false }
        let sequence = highestProposed + 1
        let pp = PrePrepare(view: view, sequence: sequence, digest: digest, payload: payload)
        let key = VoteKey(view: view, sequence: sequence, phase: .prePrepare)
        // A restored own proposal for this (view, sequence) already raised highestProposed; double-check.
        guard ownVotes[key] == nil || ownVotes[key] == digest else { return false }
        ownVotes[key] = digest
        highestProposed = sequence
        if validatedThrough + 1 == sequence { validatedThrough = sequence }
        var slot = slots[sequence] ?? Slot()
        slot.prePrepare = pp
        slot.validation = .valid
        slots[sequence] = slot
        knownPayloads[sequence] = (digest, payload)
        persist(.prePrepared(pp))
        pendingMessages.append(Outbound(to: nil, message: .prePrepare(pp)))
        progress()
        return true
    }

    /// Feeds a message from `sender` whose envelope and every `signedItems` signature the host verified.
    public mutating func step(_ message: Message, from sender: ReplicaIndex) {
        guard sender >= 0, sender < n else { return }
        switch message {
        case .prePrepare(let pp):
            guard pp.view == view, isAcceptable(pp.sequence) else { return }
            onPrePrepare(pp, from: sender)
        case .prepare(let p):
            guard p.view == view, isAcceptable(p.sequence) else { return }
            onPrepare(p, from: sender)
        case .commit(let c):
            guard c.view == view, isAcceptable(c.sequence) else { return }
            onCommit(c, from: sender)
        case .checkpoint(let c):
            onCheckpoint(c, from: sender)
        case .viewChange(let vc):
            onViewChange(vc, from: sender)
        case .newView(let nv):
            onNewView(nv, from: sender)
        }
        progress()
    }

    /// The host's answer to a `ValidationRequest`; stale or unknown answers are ignored.
    public mutating func validated(view: UInt64, sequence: UInt64, digest: [UInt8], valid: Bool) {
        guard view == self.view, isViewActive, var slot = slots[sequence], let pp = slot.prePrepare,
              pp.digest == digest, slot.validation == .requested else { return }
        guard valid else {
            slot.validation = .invalid
            slots[sequence] = slot
            rejectedProposals += 1
            suspectPrimary()
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

    /// The host has client requests waiting (call every tick while its pool is non-empty): starts the
    /// request timer on backups, so a primary that stops proposing is replaced.
    public mutating func noteRequestPending() {
        hasPendingRequests = true
    }

    /// The host applied `sequence` (a block or a null request; committed here or fetched by state transfer, in
    /// which case it may come before `skipTo`) and its state digest is `stateDigest`. At multiples of
    /// `checkpointInterval` this emits a CHECKPOINT; other calls are ignored.
    public mutating func noteExecuted(sequence: UInt64, stateDigest: [UInt8]) {
        guard sequence % config.checkpointInterval == 0, sequence > stableCheckpoint.sequence,
              checkpointVotes[sequence]?[config.selfIndex] == nil,
              stateDigest.count <= PBFTCodecLimits.digestBytesMax else { return }
        let c = Checkpoint(sequence: sequence, stateDigest: stateDigest, replica: config.selfIndex)
        checkpointVotes[sequence, default: [:]][config.selfIndex] = c
        persist(.checkpoint(c))
        pendingMessages.append(Outbound(to: nil, message: .checkpoint(c)))
        checkStable(sequence)
        progress()
    }

    /// Advances logical time by one tick: the request timer in an active view, the view-change timer otherwise.
    /// Every `requestTimeoutTicks` it also re-sends its newest checkpoint that is not stable yet (one lost
    /// CHECKPOINT must not leave the primary stuck at the high watermark).
    public mutating func tick() {
        resendCheckpointIfDue()
        if isViewActive {
            let waiting = !isPrimary && (hasPendingRequests || slots.contains { $0.key > lastCommittedSequence && $0.value.prePrepare != nil })
            guard waiting else {
                ticksWithoutProgress = 0
                return
            }
            ticksWithoutProgress += 1
            if ticksWithoutProgress >= viewChangeTimeoutTicks {
                suspectPrimary()
            }
        } else {
            ticksWithoutProgress += 1
            guard ticksWithoutProgress >= viewChangeTimeoutTicks else { return }
            ticksWithoutProgress = 0
            if (viewChanges[view]?.count ?? 0) >= config.quorum {
                // A quorum moved here but the new primary did not deliver a NEW-VIEW in time: next view.
                moveToNextView()
            } else if let own = viewChanges[view]?[config.selfIndex] {
                pendingMessages.append(Outbound(to: nil, message: .viewChange(own)))
            }
        }
        progress()
    }

    private mutating func resendCheckpointIfDue() {
        checkpointResendTicks += 1
        guard checkpointResendTicks >= config.requestTimeoutTicks else { return }
        checkpointResendTicks = 0
        laggardsAnswered = []
        let own = checkpointVotes.keys.sorted().last { checkpointVotes[$0]?[config.selfIndex] != nil }
        if let s = own, let c = checkpointVotes[s]?[config.selfIndex] {
            pendingMessages.append(Outbound(to: nil, message: .checkpoint(c)))
        }
    }

    /// The host caught up to `committedSequence` by state transfer; drops log entries at or below it.
    /// Sends this primary's NEW-VIEW to `replica`, which reported an older view: a replica that restarted (or was cut
    /// off) during the view change missed it and would otherwise never vote again; it checks the NEW-VIEW like any.
    public mutating func resendNewView(to replica: ReplicaIndex) {
        guard isPrimary, isViewActive, let nv = currentNewView, replica != config.selfIndex, replica >= 0, replica < n else { return }
        pendingMessages.append(Outbound(to: replica, message: .newView(nv)))
    }

    public mutating func skipTo(committedSequence: UInt64) {
        guard committedSequence > lastCommittedSequence else { return }
        lastCommittedSequence = committedSequence
        highestProposed = max(highestProposed, committedSequence)
        validatedThrough = max(validatedThrough, committedSequence)
        if committedSequence > lowWatermark,
           committedSequence - lowWatermark > config.logWindow - config.windowSize - config.lookaheadSequences {
            lowWatermark = committedSequence
        }
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
            committed: pendingCommitted,
            stableCheckpoint: pendingStable,
            deletableRecordKeys: pendingDeletable)
    }

    /// Acknowledges that the host processed `ready` (a value previously returned by `ready()`).
    public mutating func advance(_ ready: Ready) {
        pendingPersist.removeFirst(min(ready.persist.count, pendingPersist.count))
        pendingMessages.removeFirst(min(ready.messages.count, pendingMessages.count))
        pendingValidations.removeFirst(min(ready.validations.count, pendingValidations.count))
        pendingCommitted.removeFirst(min(ready.committed.count, pendingCommitted.count))
        pendingDeletable.removeFirst(min(ready.deletableRecordKeys.count, pendingDeletable.count))
        if ready.stableCheckpoint != nil && ready.stableCheckpoint == pendingStable { pendingStable = nil }
    }

    // MARK: - Normal-case handlers

    private mutating func onPrePrepare(_ pp: PrePrepare, from sender: ReplicaIndex) {
        guard sender == primary, sender != config.selfIndex, !pp.isNull else { return }
        if conflictsWithOwnVote(view: pp.view, sequence: pp.sequence, digest: pp.digest) {
            equivocationsObserved += 1
            suspectPrimary()
            return
        }
        var slot = slots[pp.sequence] ?? Slot()
        if let existing = slot.prePrepare {
            if existing.digest != pp.digest {
                equivocationsObserved += 1
                suspectPrimary()
            }
            return
        }
        slot.prePrepare = pp
        slots[pp.sequence] = slot
        if pp.sequence > lastCommittedSequence { knownPayloads[pp.sequence] = (pp.digest, pp.payload) }
        markNullAndCommittedSlots()
    }

    private mutating func onPrepare(_ p: Prepare, from sender: ReplicaIndex) {
        // The primary does not prepare; a replica's own prepare is recorded when it is sent.
        guard p.replica == sender, sender != primary, sender != config.selfIndex else { return }
        var slot = slots[p.sequence] ?? Slot()
        guard slot.prepares[sender] == nil else { return }
        slot.prepares[sender] = p
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

    // MARK: - Checkpoints

    private mutating func onCheckpoint(_ c: Checkpoint, from sender: ReplicaIndex) {
        guard c.replica == sender, sender != config.selfIndex else { return }
        if c.sequence <= stableCheckpoint.sequence {
            // The sender lags behind our stable checkpoint: answer with our own vote for it, so that it can
            // assemble the proof (and then fetch the state) even if the original broadcast was lost.
            // At most once per sender per resend period: two replicas at the same checkpoint must not ping-pong.
            if !laggardsAnswered.contains(sender), let own = stableCheckpoint.proof.first(where: { $0.replica == config.selfIndex }) {
                laggardsAnswered.append(sender)
                pendingMessages.append(Outbound(to: sender, message: .checkpoint(own)))
            }
            return
        }
        guard c.sequence % config.checkpointInterval == 0,
              c.sequence > stableCheckpoint.sequence,
              c.sequence - stableCheckpoint.sequence <= config.logWindow || c.sequence <= checkpointHorizon
                || c.sequence - checkpointHorizon <= config.logWindow,
              checkpointVotes[c.sequence]?[sender] == nil else { return }
        checkpointVotes[c.sequence, default: [:]][sender] = c
        checkStable(c.sequence)
    }

    /// Checkpoints are accepted up to one log above the furthest point this replica knows it reached, so a
    /// replica that skipped ahead by state transfer can still learn its next stable checkpoint.
    private var checkpointHorizon: UInt64 { max(lowWatermark, lastCommittedSequence) }

    /// Makes `sequence` stable once a quorum of distinct replicas reported the same state digest for it.
    private mutating func checkStable(_ sequence: UInt64) {
        guard let votes = checkpointVotes[sequence] else { return }
        let ordered = votes.keys.sorted().compactMap { votes[$0] }
        for candidate in ordered {
            let proof = ordered.filter { $0.stateDigest == candidate.stateDigest }
            if proof.count >= config.quorum {
                adoptStable(StableCheckpoint(sequence: sequence, stateDigest: candidate.stateDigest, proof: proof))
                return
            }
        }
    }

    /// Moves the low watermark to a proven checkpoint and drops everything below it.
    private mutating func adoptStable(_ checkpoint: StableCheckpoint) {
        guard checkpoint.sequence > stableCheckpoint.sequence else { return }
        stableCheckpoint = checkpoint
        pendingStable = checkpoint
        persist(.stableCheckpoint(checkpoint))
        lowWatermark = max(lowWatermark, checkpoint.sequence)
        pruneLog()
    }

    // MARK: - View change

    /// The current primary misbehaved or stalled: leave its view.
    private mutating func suspectPrimary() {
        primarySuspected = true
        if isViewActive { moveToNextView() }
    }

    private mutating func moveToNextView() {
        let (next, overflow) = view.addingReportingOverflow(1)
        guard !overflow else { return }
        startViewChange(to: next)
    }

    /// Leaves the current view for `newView` (> view): persist and broadcast VIEW-CHANGE, wait for NEW-VIEW.
    private mutating func startViewChange(to newView: UInt64) {
        guard newView > view else { return }
        view = newView
        isViewActive = false
        currentNewView = nil
        viewChangesStarted += 1
        viewChangeTimeoutTicks = min(config.timeoutTicksMax, config.requestTimeoutTicks << min(failedViews, 30))
        failedViews += 1
        ticksWithoutProgress = 0
        slots = [:]
        highestProposed = lastCommittedSequence
        validatedThrough = lastCommittedSequence
        pendingValidations.removeAll()
        let checkpoint = stableCheckpoint
        let certificates = preparedCertificates.keys.sorted().compactMap { s -> PreparedCertificate? in
            guard s > checkpoint.sequence, s - checkpoint.sequence <= config.logWindow, var c = preparedCertificates[s] else { return nil }
            if s <= lastCommittedSequence { c.prePrepare.payload = [] }  // others fetch committed blocks by state transfer
            return c
        }
        let vc = ViewChange(newView: newView, replica: config.selfIndex, checkpoint: checkpoint, prepared: certificates)
        for v in viewChanges.keys.sorted() where v < newView { viewChanges[v] = nil }
        viewChanges[newView, default: [:]][config.selfIndex] = vc
        persist(.viewChange(vc))
        pendingMessages.append(Outbound(to: nil, message: .viewChange(vc)))
        tryNewView()
    }

    private mutating func onViewChange(_ vc: ViewChange, from sender: ReplicaIndex) {
        guard vc.replica == sender, sender != config.selfIndex, vc.newView > 0 else { return }
        if vc.newView < view { return }
        if vc.newView == view && isViewActive {
            // A late replica: the primary re-sends the NEW-VIEW that started this view.
            if isPrimary, let nv = currentNewView { pendingMessages.append(Outbound(to: sender, message: .newView(nv))) }
            return
        }
        viewClaims[sender] = max(viewClaims[sender] ?? 0, vc.newView)
        if vc.newView - view <= config.viewsAheadMax, isWellFormed(vc), viewChanges[vc.newView]?[sender] == nil {
            viewChanges[vc.newView, default: [:]][sender] = vc
        }
        joinIfFPlusOneAhead()
        tryNewView()
    }

    /// Joins the highest view that at least f+1 other replicas asked for, if it is above the current one.
    private mutating func joinIfFPlusOneAhead() {
        let ahead = viewClaims.keys.sorted().compactMap { viewClaims[$0] }.filter { $0 > view }.sorted(by: >)
        guard ahead.count >= config.f + 1 else { return }
        startViewChange(to: ahead[config.f])
    }

    /// Structure of a VIEW-CHANGE (signatures were verified by the host): checkpoint proof and certificates.
    private func isWellFormed(_ vc: ViewChange) -> Bool {
        guard isValidProof(vc.checkpoint), vc.prepared.count <= Int(clamping: config.logWindow) else { return false }
        var previous = vc.checkpoint.sequence
        for cert in vc.prepared {
            let pp = cert.prePrepare
            guard pp.sequence > previous, pp.sequence - vc.checkpoint.sequence <= config.logWindow,
                  pp.view < vc.newView, pp.isNull == pp.payload.isEmpty || !pp.isNull else { return false }
            previous = pp.sequence
            let primaryOfView = Int(pp.view % UInt64(n))
            var signers: [ReplicaIndex] = []
            for p in cert.prepares {
                guard p.view == pp.view, p.sequence == pp.sequence, p.digest == pp.digest, p.replica >= 0, p.replica < n,
                      p.replica != primaryOfView, !signers.contains(p.replica) else { return false }
                signers.append(p.replica)
            }
            guard signers.count >= config.quorum - 1 else { return false }
        }
        return true
    }

    private func isValidProof(_ c: StableCheckpoint) -> Bool {
        if c.sequence == 0 { return c.proof.isEmpty }
        // Far below UInt64.max, so that checkpoint + logWindow arithmetic can never overflow.
        guard c.sequence % config.checkpointInterval == 0, c.sequence <= UInt64.max / 2 else { return false }
        var signers: [ReplicaIndex] = []
        for m in c.proof {
            guard m.sequence == c.sequence, m.stateDigest == c.stateDigest, m.replica >= 0, m.replica < n,
                  !signers.contains(m.replica) else { return false }
            signers.append(m.replica)
        }
        return signers.count >= config.quorum
    }

    /// The NEW-VIEW content any replica derives from a set of VIEW-CHANGEs: the highest checkpoint and, for each
    /// sequence above it up to the highest prepared one, the highest-view certificate's digest or a null request.
    static func newViewPrePrepares(view: UInt64, from viewChanges: [ViewChange]) -> (StableCheckpoint, [PrePrepare]) {
        var checkpoint = StableCheckpoint.genesis
        for vc in viewChanges where vc.checkpoint.sequence > checkpoint.sequence { checkpoint = vc.checkpoint }
        var best: [UInt64: PrePrepare] = [:]
        for vc in viewChanges {
            for cert in vc.prepared where cert.prePrepare.sequence > checkpoint.sequence {
                let pp = cert.prePrepare
                if let current = best[pp.sequence] {
                    if pp.view > current.view {
                        best[pp.sequence] = pp
                    } else if pp.view == current.view, pp.digest == current.digest, current.payload.isEmpty {
                        best[pp.sequence] = pp  // same proposal, one that still carries the payload
                    }
                } else {
                    best[pp.sequence] = pp
                }
            }
        }
        guard let maxSequence = best.keys.max() else { return (checkpoint, []) }
        var prePrepares: [PrePrepare] = []
        var s = checkpoint.sequence + 1
        while s <= maxSequence {
            if let pp = best[s] {
                prePrepares.append(PrePrepare(view: view, sequence: s, digest: pp.digest, payload: pp.payload))
            } else {
                prePrepares.append(PrePrepare(view: view, sequence: s, digest: [], payload: []))
            }
            s += 1
        }
        return (checkpoint, prePrepares)
    }

    /// New primary: once a quorum of VIEW-CHANGEs (own included) is in, send NEW-VIEW and enter the view.
    private mutating func tryNewView() {
        guard !isViewActive, isPrimary, let stored = viewChanges[view], stored[config.selfIndex] != nil,
              stored.count >= config.quorum else { return }
        let chosen = stored.keys.sorted().compactMap { stored[$0] }
        var (checkpoint, prePrepares) = Replica.newViewPrePrepares(view: view, from: chosen)
        for i in prePrepares.indices where !prePrepares[i].isNull && prePrepares[i].payload.isEmpty {
            if let known = knownPayloads[prePrepares[i].sequence], known.digest == prePrepares[i].digest {
                prePrepares[i].payload = known.payload
            }
        }
        let nv = NewView(view: view, replica: config.selfIndex, viewChanges: chosen, prePrepares: prePrepares)
        persist(.view(view))
        persist(.newView(nv))
        pendingMessages.append(Outbound(to: nil, message: .newView(nv)))
        enterView(nv, checkpoint: checkpoint)
    }

    private mutating func onNewView(_ nv: NewView, from sender: ReplicaIndex) {
        guard nv.replica == sender, sender != config.selfIndex, Int(nv.view % UInt64(n)) == sender,
              nv.view > view || (nv.view == view && !isViewActive) else { return }
        guard nv.viewChanges.count >= config.quorum, nv.viewChanges.count <= n else {
            rejectedNewViews += 1
            return
        }
        var previous = -1
        for vc in nv.viewChanges {
            guard vc.newView == nv.view, vc.replica > previous, vc.replica < n, isWellFormed(vc) else {
                rejectedNewViews += 1
                return
            }
            previous = vc.replica
        }
        let (checkpoint, expected) = Replica.newViewPrePrepares(view: nv.view, from: nv.viewChanges)
        let matches = expected.count == nv.prePrepares.count
            && zip(expected, nv.prePrepares).allSatisfy {
                $0.view == $1.view && $0.sequence == $1.sequence && $0.digest == $1.digest && (!$1.isNull || $1.payload.isEmpty)
            }
        guard matches else {
            rejectedNewViews += 1
            return
        }
        if nv.view > view {
            // Jumping over views we never asked for: keep the promise not to return to them.
            view = nv.view
            slots = [:]
        }
        persist(.view(nv.view))
        persist(.newView(nv))
        enterView(nv, checkpoint: checkpoint)
    }

    /// Enters `nv.view` as an active view: adopts its checkpoint and installs the re-issued pre-prepares, keeping
    /// prepares/commits of this view that arrived while waiting.
    private mutating func enterView(_ nv: NewView, checkpoint: StableCheckpoint) {
        isViewActive = true
        currentNewView = nv
        primarySuspected = false
        ticksWithoutProgress = 0
        pendingValidations.removeAll()
        adoptStable(checkpoint)
        highestProposed = lastCommittedSequence
        validatedThrough = lastCommittedSequence
        for pp in nv.prePrepares where pp.sequence > lowWatermark {
            var installed = pp
            if !pp.isNull, pp.payload.isEmpty, let known = knownPayloads[pp.sequence], known.digest == pp.digest {
                installed.payload = known.payload
            }
            var slot = slots[pp.sequence] ?? Slot()
            slot.prePrepare = installed
            slot.reissued = true
            slot.validation = .none
            slot.sentPrepare = false
            slot.sentCommit = false
            slot.prepares = slot.prepares.filter { $0.value.digest == pp.digest }
            slot.commits = slot.commits.filter { $0.value.digest == pp.digest }
            slots[pp.sequence] = slot
            if isPrimary { ownVotes[VoteKey(view: view, sequence: pp.sequence, phase: .prePrepare)] = pp.digest }
            highestProposed = max(highestProposed, pp.sequence)
        }
        for s in slots.keys.sorted() where slots[s]?.reissued == false && s <= highestProposed {
            slots[s] = nil  // a stray pre-prepare for a sequence the NEW-VIEW covers
        }
        for v in viewChanges.keys.sorted() where v <= view { viewChanges[v] = nil }
        for v in persistedViewChangeViews where v <= view { pendingDeletable.append("vc/\(v)") }
        persistedViewChangeViews.removeAll { $0 <= view }
        markNullAndCommittedSlots()
    }

    /// Null requests need no validation; re-issued sequences this replica already committed are voted on again
    /// when the digest is the one it committed (it always is, unless a quorum was faulty).
    private mutating func markNullAndCommittedSlots() {
        guard isViewActive else { return }
        for s in slots.keys.sorted() {
            guard var slot = slots[s], let pp = slot.prePrepare, slot.validation == .none else { continue }
            if s <= lastCommittedSequence {
                guard committedDigests[s] == pp.digest else { continue }
                slot.validation = .valid
                slots[s] = slot
                sendPrepare(s)
            } else if pp.isNull {
                slot.validation = .valid
                slots[s] = slot
            }
        }
    }

    // MARK: - Protocol progress

    /// Runs every enabled transition to a fixed point: commits, in-order delivery, next validation.
    private mutating func progress() {
        guard isViewActive else { return }
        var changed = true
        while changed {
            changed = false
            for sequence in slots.keys.sorted() where isPreparedAwaitingCommit(sequence) {
                sendCommit(sequence)
                changed = true
            }
            while deliverNextIfCommitted() { changed = true }
            if advanceValidation() { changed = true }
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
        let matching = slot.prepares.values.filter { $0.digest == pp.digest }.count
        return matching >= config.quorum - 1
    }

    private mutating func sendPrepare(_ sequence: UInt64) {
        guard var slot = slots[sequence], let pp = slot.prePrepare, !slot.sentPrepare, !isPrimary else { return }
        guard !conflictsWithOwnVote(view: pp.view, sequence: sequence, digest: pp.digest) else { return }
        ownVotes[VoteKey(view: pp.view, sequence: sequence, phase: .prePrepare)] = pp.digest
        ownVotes[VoteKey(view: pp.view, sequence: sequence, phase: .prepare)] = pp.digest
        let prepare = Prepare(view: pp.view, sequence: sequence, digest: pp.digest, replica: config.selfIndex)
        slot.sentPrepare = true
        slot.prepares[config.selfIndex] = prepare
        slots[sequence] = slot
        persist(.prePrepared(pp))
        persist(.prepared(view: pp.view, sequence: sequence, digest: pp.digest))
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
        // The prepared certificate goes to disk with the commit: a restarted replica must still be able to
        // prove in a VIEW-CHANGE what it prepared, or a committed sequence could be lost.
        let prepares = slot.prepares.keys.sorted().compactMap { slot.prepares[$0] }.filter { $0.digest == pp.digest }
        var certified = pp
        if sequence <= lastCommittedSequence { certified.payload = [] }
        let certificate = PreparedCertificate(prePrepare: certified, prepares: prepares)
        if sequence > stableCheckpoint.sequence {
            preparedCertificates[sequence] = certificate
            persist(.preparedCertificate(certificate))
        }
        persist(.committed(view: pp.view, sequence: sequence, digest: pp.digest))
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
        committedDigests[sequence] = pp.digest
        knownPayloads[sequence] = nil
        highestProposed = max(highestProposed, sequence)
        validatedThrough = max(validatedThrough, sequence)
        ticksWithoutProgress = 0
        hasPendingRequests = false
        failedViews = 0
        viewChangeTimeoutTicks = config.requestTimeoutTicks
        pruneLog()
        return true
    }

    /// Moves validation forward strictly in sequence order: null requests pass at once, proposals are handed
    /// to the host one at a time. Returns true when something changed.
    private mutating func advanceValidation() -> Bool {
        let sequence = validatedThrough + 1
        guard isInWindow(sequence), var slot = slots[sequence], let pp = slot.prePrepare else { return false }
        if slot.validation == .valid {
            validatedThrough = sequence
            sendPrepare(sequence)
            return true
        }
        guard slot.validation == .none, !pp.payload.isEmpty else { return false }  // no payload: state transfer
        if conflictsWithOwnVote(view: pp.view, sequence: sequence, digest: pp.digest) { return false }
        slot.validation = .requested
        slots[sequence] = slot
        pendingValidations.append(ValidationRequest(
            view: pp.view, sequence: sequence, digest: pp.digest, payload: pp.payload, reissued: slot.reissued))
        return true
    }

    /// Drops log entries at or below the low watermark, and own votes that can no longer matter.
    private mutating func pruneLog() {
        let low = lowWatermark
        for sequence in slots.keys.sorted() where sequence <= low { slots[sequence] = nil }
        for key in ownVotes.keys where key.sequence <= lastCommittedSequence && key.sequence <= low { ownVotes[key] = nil }
        let stable = stableCheckpoint.sequence
        for s in preparedCertificates.keys.sorted() where s <= stable { preparedCertificates[s] = nil }
        for s in checkpointVotes.keys.sorted() where s <= stable { checkpointVotes[s] = nil }
        for s in committedDigests.keys.sorted() where s <= low { committedDigests[s] = nil }
        for s in knownPayloads.keys.sorted() where s <= max(low, lastCommittedSequence) { knownPayloads[s] = nil }
        for s in persistedKeys.keys.sorted() where s <= stable {
            pendingDeletable.append(contentsOf: persistedKeys[s] ?? [])
            persistedKeys[s] = nil
        }
    }

    /// Queues a record for durable storage and remembers its key for later deletion lists.
    private mutating func persist(_ record: ConsensusRecord) {
        pendingPersist.append(record)
        if let s = record.sequence {
            if !(persistedKeys[s]?.contains(record.key) ?? false) { persistedKeys[s, default: []].append(record.key) }
        } else if case .viewChange(let vc) = record, !persistedViewChangeViews.contains(vc.newView) {
            persistedViewChangeViews.append(vc.newView)
        }
    }
}
