import XCTest
@testable import PBFT

/// A message on the simulated wire.
struct Envelope: Equatable {
    var from: ReplicaIndex
    var to: ReplicaIndex
    var message: Message
}

/// splitmix64: a tiny deterministic PRNG for seeded delivery tests.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}

/// Digest/payload helpers: the "block" for (seq, tag) is a few bytes; its digest is derived from them.
func payload(_ sequence: UInt64, _ tag: UInt8 = 0) -> [UInt8] { [0xB1, UInt8(truncatingIfNeeded: sequence), tag] }
func digest(_ sequence: UInt64, _ tag: UInt8 = 0) -> [UInt8] { [0xD1, UInt8(truncatingIfNeeded: sequence), tag] }

/// FNV-1a, 64 bit: a stand-in hash for fake signatures and state digests.
func fnv(_ bytes: [UInt8], seed: UInt64 = 0xCBF2_9CE4_8422_2325) -> UInt64 {
    var h = seed
    for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
    return h
}

func bytes64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

/// The test host's "signature" of replica `signer` over `bytes` (checkable, unforgeable by the core).
func fakeSign(_ signer: ReplicaIndex, _ bytes: [UInt8]) -> [UInt8] { [0x51, UInt8(truncatingIfNeeded: signer)] + bytes64(fnv(bytes)) }

/// A cluster of replicas driven in a plain loop, like raft's interaction tests: no threads, no sleeps.
/// It plays the host for every replica: persists (into `persisted`), sends, answers validations, applies.
struct Cluster {
    var replicas: [Replica]
    var inFlight: [Envelope] = []
    /// Everything each replica persisted, in order.
    var persisted: [[ConsensusRecord]]
    /// Everything each replica applied, in order.
    var committed: [[CommittedEntry]]
    /// Everything each replica sent, in order (after the host filled commit signatures).
    var sent: [[Outbound]]
    /// Validations each replica was asked for, answered when `answerValidations` runs.
    var pendingValidations: [[ValidationRequest]]
    /// Host's validation verdict.
    var verdict: (ReplicaIndex, ValidationRequest) -> Bool = { _, _ in true }
    /// Envelopes matching this are lost.
    var drop: (Envelope) -> Bool = { _ in false }
    /// Replicas whose Ready output is discarded (crashed or byzantine, played by the test).
    var silenced: Set<ReplicaIndex> = []
    /// Violations of persist-before-send found while processing readies.
    var persistViolations: [String] = []
    /// The simulated consensus-record table of each replica: key -> record (replace on write, delete on request).
    var stored: [[String: ConsensusRecord]]
    /// Stable checkpoints each replica reported, in order.
    var stables: [[StableCheckpoint]]
    /// Crashed replicas: they neither receive, tick nor process; `restart` brings them back from `stored`.
    var crashed: Set<ReplicaIndex> = []
    /// Messages dropped because a signature did not verify.
    var badSignatures = 0
    /// Every validation request each replica received, in order.
    var validationLog: [[ValidationRequest]]

    init(n: Int, windowSize: UInt64 = 1, timeoutTicks: Int = 20, configure: (inout PBFTConfig) -> Void = { _ in }) {
        replicas = (0..<n).map {
            var config = PBFTConfig(replicaCount: n, selfIndex: $0, requestTimeoutTicks: timeoutTicks, windowSize: windowSize)
            configure(&config)
            return Replica(config: config, lastCommittedSequence: 0, restoring: [])
        }
        persisted = Array(repeating: [], count: n)
        committed = Array(repeating: [], count: n)
        sent = Array(repeating: [], count: n)
        pendingValidations = Array(repeating: [], count: n)
        stored = Array(repeating: [:], count: n)
        stables = Array(repeating: [], count: n)
        validationLog = Array(repeating: [], count: n)
    }

    /// The state digest a host would report after applying `entries` (a fold over the agreed history).
    static func stateDigest(_ entries: [CommittedEntry]) -> [UInt8] {
        var h: UInt64 = 1
        for e in entries { h = fnv(e.digest + bytes64(e.sequence), seed: h) }
        return bytes64(h)
    }

    /// Records of replica i as a restarted host would load them (sorted by key: order must not matter).
    func storedRecords(_ i: ReplicaIndex) -> [ConsensusRecord] {
        stored[i].keys.sorted().compactMap { stored[i][$0] }
    }

    /// Crashes replica i: its unprocessed Ready and queued validations are lost, like process memory.
    mutating func crash(_ i: ReplicaIndex) {
        crashed.insert(i)
        pendingValidations[i] = []
    }

    /// Restarts replica i from its stored records and applied height.
    mutating func restart(_ i: ReplicaIndex) {
        crashed.remove(i)
        pendingValidations[i] = []
        replicas[i] = Replica(config: replicas[i].config, lastCommittedSequence: committed[i].last?.sequence ?? 0, restoring: storedRecords(i))
    }

    /// One tick on every live replica; with `pending`, each first notes waiting client requests.
    mutating func tickAll(pending: Bool = false) {
        for i in 0..<n where !crashed.contains(i) {
            if pending { replicas[i].noteRequestPending() }
            replicas[i].tick()
        }
    }

    /// Ticks `count` times, running the network to quiescence after each tick.
    mutating func tickAndRun(_ count: Int, pending: Bool = false) {
        for _ in 0..<count {
            tickAll(pending: pending)
            run()
        }
    }

    /// State transfer: a live replica behind the most advanced live one copies its missing entries and skips.
    mutating func catchUp(_ i: ReplicaIndex) {
        guard !crashed.contains(i) else { return }
        let best = (0..<n).filter { !crashed.contains($0) }.max { committed[$0].count < committed[$1].count } ?? i
        let mine = committed[i].count
        guard committed[best].count > mine, committed[i].last?.sequence ?? 0 == UInt64(mine) else { return }
        for e in committed[best][mine...] {
            committed[i].append(e)
            replicas[i].noteExecuted(sequence: e.sequence, stateDigest: Cluster.stateDigest(committed[i]))
        }
        replicas[i].skipTo(committedSequence: UInt64(committed[i].count))
    }

    /// NEW-VIEW messages sent by anyone.
    var newViewsSent: Int {
        sent.reduce(0) { $0 + $1.filter { if case .newView = $0.message { return true } else { return false } }.count }
    }

    /// Messages replica i sent of one kind.
    func sentViewChanges(_ i: ReplicaIndex) -> [ViewChange] {
        sent[i].compactMap { if case .viewChange(let vc) = $0.message { return vc } else { return nil } }
    }

    var n: Int { replicas.count }

    /// Processes replica i's Ready like a host: persist, then send, then queue validations, then apply.
    mutating func processReady(_ i: ReplicaIndex) -> Bool {
        let rd = replicas[i].ready()
        if rd.isEmpty { return false }
        replicas[i].advance(rd)
        XCTAssertTrue(replicas[i].ready().isEmpty, "advance must clear the ready it was given")
        if silenced.contains(i) || crashed.contains(i) { return true }
        persisted[i].append(contentsOf: rd.persist)
        for record in rd.persist { stored[i][record.key] = record }
        for key in rd.deletableRecordKeys { stored[i][key] = nil }
        if let stable = rd.stableCheckpoint { stables[i].append(stable) }
        for out in rd.messages {
            checkPersisted(i, out.message)
            var message = out.message.signed(by: i, replicaCount: n) { fakeSign(i, $0) }
            if case .commit(var c) = message {
                c.certificateSignature = [0x5A, UInt8(i)]
                message = .commit(c)
            }
            sent[i].append(Outbound(to: out.to, message: message))
            let targets = out.to.map { [$0] } ?? (0..<n).filter { $0 != i }
            for to in targets {
                inFlight.append(Envelope(from: i, to: to, message: message))
            }
        }
        pendingValidations[i].append(contentsOf: rd.validations)
        validationLog[i].append(contentsOf: rd.validations)
        for e in rd.committed {
            // A host skips entries it already has (state transfer got there first).
            guard e.sequence > (committed[i].last?.sequence ?? 0) else { continue }
            committed[i].append(e)
            replicas[i].noteExecuted(sequence: e.sequence, stateDigest: Cluster.stateDigest(committed[i]))
        }
        return true
    }

    /// Persist-before-send: every vote sent must be covered by a record persisted no later than its Ready.
    mutating func checkPersisted(_ i: ReplicaIndex, _ message: Message) {
        let records = persisted[i]
        switch message {
        case .prePrepare(let pp):
            if !records.contains(.prePrepared(pp)) { persistViolations.append("pp \(pp.sequence) by \(i)") }
        case .prepare(let p):
            if !records.contains(.prepared(view: p.view, sequence: p.sequence, digest: p.digest))
                || !records.contains(where: {
                    if case .prePrepared(let pp) = $0 { return pp.view == p.view && pp.sequence == p.sequence && pp.digest == p.digest }
                    return false
                })
            {
                persistViolations.append("prepare \(p.sequence) by \(i)")
            }
        case .commit(let c):
            if !records.contains(.committed(view: c.view, sequence: c.sequence, digest: c.digest)) {
                persistViolations.append("commit \(c.sequence) by \(i)")
            }
        case .checkpoint(let c):
            // A re-sent vote may come from a stable proof, where it already carries the host's signature.
            var unsigned = c
            unsigned.signature = []
            if !records.contains(.checkpoint(unsigned)) { persistViolations.append("checkpoint \(c.sequence) by \(i)") }
        case .viewChange(let vc):
            if !records.contains(.viewChange(vc)) { persistViolations.append("view-change \(vc.newView) by \(i)") }
        case .newView(let nv):
            if !records.contains(.newView(nv)) { persistViolations.append("new-view \(nv.view) by \(i)") }
        }
    }

    /// Answers every queued validation with `verdict`.
    mutating func answerValidations(_ i: ReplicaIndex) -> Bool {
        let requests = pendingValidations[i]
        pendingValidations[i] = []
        for r in requests where !crashed.contains(i) {
            replicas[i].validated(view: r.view, sequence: r.sequence, digest: r.digest, valid: verdict(i, r))
        }
        return !requests.isEmpty
    }

    /// Delivers one envelope (unless dropped).
    mutating func deliver(_ e: Envelope) {
        if drop(e) || crashed.contains(e.to) { return }
        // The host verifies every signature the message carries before stepping it.
        for item in e.message.signedItems(replicaCount: n) where item.signature != fakeSign(item.signer, item.bytes) {
            badSignatures += 1
            return
        }
        replicas[e.to].step(e.message, from: e.from)
    }

    /// Processes all readies and validations until none is left (no delivery).
    mutating func settleLocal() {
        var progressed = true
        while progressed {
            progressed = false
            for i in 0..<n {
                if processReady(i) { progressed = true }
                if answerValidations(i) { progressed = true }
            }
        }
    }

    /// FIFO delivery until quiescent. Returns the number of envelopes delivered.
    @discardableResult
    mutating func run(maxSteps: Int = 100_000) -> Int {
        var steps = 0
        settleLocal()
        while !inFlight.isEmpty && steps < maxSteps {
            let e = inFlight.removeFirst()
            deliver(e)
            settleLocal()
            steps += 1
        }
        return steps
    }

    /// Proposes `count` blocks from the current primary of replica 0's view, one per free window slot,
    /// running the cluster between proposals. Returns the sequences proposed.
    @discardableResult
    mutating func proposeAndRun(count: Int, primary p: ReplicaIndex = 0, tag: UInt8 = 0) -> [UInt64] {
        var proposed: [UInt64] = []
        var remaining = count
        while remaining > 0 {
            guard replicas[p].canPropose else {
                if inFlight.isEmpty { break }
                run()
                continue
            }
            let s = replicas[p].nextProposalSequence
            XCTAssertTrue(replicas[p].propose(digest: digest(s, tag), payload: payload(s, tag)))
            proposed.append(s)
            remaining -= 1
            run()
        }
        return proposed
    }

    /// Agreement: no two replicas applied different digests for one sequence; each applied in order once.
    func assertAgreement(file: StaticString = #filePath, line: UInt = #line) {
        var bySequence: [UInt64: [UInt8]] = [:]
        for i in 0..<n {
            var expected: UInt64? = nil
            for e in committed[i] {
                if let x = expected { XCTAssertEqual(e.sequence, x, "replica \(i) applied out of order", file: file, line: line) }
                expected = e.sequence + 1
                if let d = bySequence[e.sequence] {
                    XCTAssertEqual(d, e.digest, "disagreement at \(e.sequence)", file: file, line: line)
                } else {
                    bySequence[e.sequence] = e.digest
                }
            }
        }
        XCTAssertEqual(persistViolations, [], file: file, line: line)
    }

    func committedSequences(_ i: ReplicaIndex) -> [UInt64] { committed[i].map(\.sequence) }
}

/// A message as replica `author` would sign it (for tests that play a byzantine or restarted sender).
func signedAs(_ author: ReplicaIndex, _ message: Message, n: Int) -> Message {
    message.signed(by: author, replicaCount: n) { fakeSign(author, $0) }
}

/// A Cluster `configure` closure that sets the checkpoint interval (the log window follows its default, 2K).
func checkpointEvery(_ interval: UInt64) -> (inout PBFTConfig) -> Void {
    { config in
        config = PBFTConfig(
            replicaCount: config.replicaCount, selfIndex: config.selfIndex, requestTimeoutTicks: config.requestTimeoutTicks,
            windowSize: config.windowSize, lookaheadSequences: config.lookaheadSequences, checkpointInterval: interval,
            timeoutTicksMax: config.timeoutTicksMax, viewsAheadMax: config.viewsAheadMax)
    }
}
