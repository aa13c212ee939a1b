import XCTest
@testable import PBFT

final class RestartTests: XCTestCase {
    func testRestartedBackupNeverVotesForConflictingDigest() {
        var c = Cluster(n: 4)
        c.drop = { $0.from != 0 }  // only the pre-prepare flows: backups prepare but never get prepared
        c.proposeAndRun(count: 1)
        let records = c.persisted[1]
        XCTAssertTrue(records.contains(.prepared(view: 0, sequence: 1, digest: digest(1))))

        var restarted = Replica(config: c.replicas[1].config, lastCommittedSequence: 0, restoring: records)
        XCTAssertEqual(restarted.view, 0)
        // The restored pre-prepare is validated again (the host lost its execution state) ...
        XCTAssertEqual(restarted.ready().validations.map(\.digest), [digest(1)])
        restarted.advance(restarted.ready())
        // ... and a conflicting one is refused.
        let conflicting = PrePrepare(view: 0, sequence: 1, digest: digest(1, 7), payload: payload(1, 7))
        restarted.step(.prePrepare(conflicting), from: 0)
        XCTAssertTrue(castsNoVote(restarted.ready()))
        XCTAssertEqual(restarted.equivocationsObserved, 1)
        // The equivocation makes it leave view 0 with a VIEW-CHANGE carrying no certificate (it never prepared).
        XCTAssertEqual(restarted.view, 1)
        XCTAssertEqual(restarted.ready().messages.map(\.message), [.viewChange(ViewChange(newView: 1, replica: 1, checkpoint: .genesis, prepared: []))])

        // A restart that lost only the pre-prepare record still refuses a conflicting digest.
        var fresh = Replica(
            config: c.replicas[1].config, lastCommittedSequence: 0,
            restoring: records.filter { if case .prePrepared = $0 { return false } else { return true } })
        fresh.step(.prePrepare(conflicting), from: 0)
        XCTAssertTrue(castsNoVote(fresh.ready()))
        // Prepares and commits for the conflicting digest from others never make it vote.
        for i in [2, 3] {
            fresh.step(.prepare(Prepare(view: 0, sequence: 1, digest: conflicting.digest, replica: i)), from: i)
            fresh.step(.commit(Commit(view: 0, sequence: 1, digest: conflicting.digest, replica: i)), from: i)
        }
        XCTAssertTrue(castsNoVote(fresh.ready()))
    }

    /// No pre-prepare, prepare or commit sent, and no validation requested.
    func castsNoVote(_ rd: Ready) -> Bool {
        rd.validations.isEmpty && rd.messages.allSatisfy {
            switch $0.message {
            case .prePrepare, .prepare, .commit: return false
            default: return true
            }
        }
    }

    func testRestoredBackupRevalidatesAndRevotesSameDigest() {
        var c = Cluster(n: 4)
        c.drop = { $0.from != 0 }
        c.proposeAndRun(count: 1)
        var r = Replica(config: c.replicas[2].config, lastCommittedSequence: 0, restoring: c.persisted[2])
        // The restored pre-prepare is in the log; validation is requested right away.
        let rd = r.ready()
        XCTAssertEqual(rd.validations.map(\.digest), [digest(1)])
        r.advance(rd)
        r.validated(view: 0, sequence: 1, digest: digest(1), valid: true)
        let votes = r.ready().messages.map(\.message)
        XCTAssertEqual(votes, [.prepare(Prepare(view: 0, sequence: 1, digest: digest(1), replica: 2))])
    }

    func testWholeClusterRestartMidwayCompletesWithoutConflicts() {
        var c = Cluster(n: 4)
        c.proposeAndRun(count: 2)
        // Sequence 3: deliver only the pre-prepare and prepares, then crash everyone.
        XCTAssertTrue(c.replicas[0].propose(digest: digest(3), payload: payload(3)))
        c.settleLocal()
        c.drop = { if case .commit = $0.message { return true } else { return false } }
        c.run()
        for i in 0..<4 { XCTAssertEqual(c.committedSequences(i), [1, 2]) }
        var restarted = Cluster(n: 4)
        restarted.replicas = (0..<4).map {
            Replica(config: c.replicas[$0].config, lastCommittedSequence: 2, restoring: c.persisted[$0])
        }
        restarted.persisted = c.persisted
        // Primary remembers it proposed 3 and cannot propose a different block at 3.
        XCTAssertFalse(restarted.replicas[0].canPropose)
        XCTAssertEqual(restarted.replicas[0].nextProposalSequence, 4)
        // The primary re-sends its pre-prepare (as a view-change retransmission would).
        for to in 1..<4 {
            restarted.inFlight.append(Envelope(from: 0, to: to, message: signedAs(0, .prePrepare(PrePrepare(view: 0, sequence: 3, digest: digest(3), payload: payload(3))), n: 4)))
        }
        restarted.run()
        for i in 0..<4 { XCTAssertEqual(restarted.committedSequences(i), [3], "replica \(i)") }
        // No replica ever sent two different digests for one (view, sequence, phase).
        for i in 0..<4 {
            var seen: [String: [UInt8]] = [:]
            for out in c.sent[i] + restarted.sent[i] {
                let key: String
                let d: [UInt8]
                switch out.message {
                case .prePrepare(let m): key = "pp\(m.view)/\(m.sequence)"; d = m.digest
                case .prepare(let m): key = "p\(m.view)/\(m.sequence)"; d = m.digest
                case .commit(let m): key = "c\(m.view)/\(m.sequence)"; d = m.digest
                default: continue
                }
                if let old = seen[key] { XCTAssertEqual(old, d) } else { seen[key] = d }
            }
        }
        restarted.assertAgreement()
    }
}

final class RandomDeliveryTests: XCTestCase {
    /// Random order, duplicates, random validation timing; no loss: everyone commits everything, in agreement.
    func testRandomDeliveryAgreementAndProgress() {
        for seed: UInt64 in 0..<200 {
            var rng = SplitMix64(state: seed)
            let n = seed % 5 == 0 ? 7 : 4
            let window: UInt64 = seed % 3 == 0 ? 2 : 1
            var c = Cluster(n: n, windowSize: window)
            let target: UInt64 = 6
            var steps = 0
            while steps < 50_000 {
                steps += 1
                if c.replicas[0].canPropose && c.replicas[0].nextProposalSequence <= target && rng.chance(30) {
                    let s = c.replicas[0].nextProposalSequence
                    c.replicas[0].propose(digest: digest(s), payload: payload(s))
                }
                let i = rng.below(n)
                _ = c.processReady(i)
                if rng.chance(50) { _ = c.answerValidations(i) }
                if !c.inFlight.isEmpty && rng.chance(80) {
                    let k = rng.below(c.inFlight.count)
                    let e = c.inFlight[k]
                    if rng.chance(10) { c.deliver(e) } else { c.inFlight.remove(at: k); c.deliver(e) }
                }
                let done = (0..<n).allSatisfy { c.replicas[$0].lastCommittedSequence == target }
                if done { break }
            }
            c.settleLocal()
            for i in 0..<n {
                XCTAssertEqual(c.committedSequences(i), Array(1...target), "seed \(seed) replica \(i)")
            }
            c.assertAgreement()
        }
    }

    /// Random loss, duplication and an equivocating primary: safety only.
    func testRandomLossAndEquivocationSafety() {
        for seed: UInt64 in 0..<200 {
            var rng = SplitMix64(state: seed &* 7919 &+ 1)
            let n = 4
            var c = Cluster(n: n, windowSize: 2)
            c.silenced = [0]
            // The byzantine primary sends random digests (tag 1 or 2) per recipient and votes for both.
            for s: UInt64 in 1...4 {
                for to in 1..<n {
                    let tag = UInt8(1 + rng.below(2))
                    c.inFlight.append(Envelope(from: 0, to: to, message: signedAs(0, .prePrepare(PrePrepare(view: 0, sequence: s, digest: digest(s, tag), payload: payload(s, tag))), n: c.n)))
                    for t: UInt8 in [1, 2] {
                        c.inFlight.append(Envelope(from: 0, to: to, message: signedAs(0, .commit(Commit(view: 0, sequence: s, digest: digest(s, t), replica: 0)), n: c.n)))
                    }
                }
            }
            var steps = 0
            while !c.inFlight.isEmpty && steps < 20_000 {
                steps += 1
                let i = 1 + rng.below(n - 1)
                _ = c.processReady(i)
                if rng.chance(60) { _ = c.answerValidations(i) }
                let k = rng.below(c.inFlight.count)
                let e = c.inFlight[k]
                if rng.chance(15) { c.inFlight.remove(at: k); continue }  // lost
                if rng.chance(10) { c.deliver(e) } else { c.inFlight.remove(at: k); c.deliver(e) }
            }
            c.settleLocal()
            c.assertAgreement()
        }
    }
}

final class RestartEdgeTests: XCTestCase {
    func testRestartedPrimaryNeverReusesAProposedSequenceEvenBeyondItsLog() {
        let pp = PrePrepare(view: 0, sequence: 20, digest: [1], payload: [1])
        var p = Replica(config: PBFTConfig(replicaCount: 4, selfIndex: 0), lastCommittedSequence: 0, restoring: [.prePrepared(pp)])
        XCTAssertFalse(p.canPropose)
        XCTAssertEqual(p.nextProposalSequence, 21)
        XCTAssertFalse(p.propose(digest: [2], payload: [2]))
        p.skipTo(committedSequence: 20)
        XCTAssertTrue(p.canPropose)
        XCTAssertTrue(p.propose(digest: [2], payload: [2]))
        XCTAssertEqual(p.ready().persist, [.prePrepared(PrePrepare(view: 0, sequence: 21, digest: [2], payload: [2]))])
    }

    func testRestoredViewFromVotesAndRecords() {
        let r = Replica(
            config: PBFTConfig(replicaCount: 4, selfIndex: 1), lastCommittedSequence: 0,
            restoring: [.view(2), .prepared(view: 3, sequence: 1, digest: [1])])
        XCTAssertEqual(r.view, 3)
        XCTAssertEqual(r.primary, 3)
    }
}
