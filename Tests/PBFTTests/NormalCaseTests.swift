import XCTest
@testable import PBFT

final class NormalCaseTests: XCTestCase {
    func testConfigQuorums() {
        XCTAssertEqual(PBFTConfig(replicaCount: 4, selfIndex: 0).f, 1)
        XCTAssertEqual(PBFTConfig(replicaCount: 4, selfIndex: 0).quorum, 3)
        XCTAssertEqual(PBFTConfig(replicaCount: 7, selfIndex: 0).quorum, 5)
        XCTAssertEqual(PBFTConfig(replicaCount: 10, selfIndex: 0).quorum, 7)
        // n != 3f+1: quorums must still intersect in f+1 replicas.
        for n in 1...20 {
            let c = PBFTConfig(replicaCount: n, selfIndex: 0)
            XCTAssertGreaterThanOrEqual(2 * c.quorum - n, c.f + 1, "n=\(n)")
            XCTAssertLessThanOrEqual(c.quorum, n - c.f, "n=\(n) must stay live with f silent")
        }
    }

    func testRecordKeys() {
        let pp = PrePrepare(view: 2, sequence: 7, digest: [1], payload: [2])
        XCTAssertEqual(ConsensusRecord.view(3).key, "view")
        XCTAssertEqual(ConsensusRecord.prePrepared(pp).key, "pp/7")
        XCTAssertEqual(ConsensusRecord.prepared(view: 2, sequence: 7, digest: [1]).key, "p/2/7")
        XCTAssertEqual(ConsensusRecord.committed(view: 2, sequence: 7, digest: [1]).key, "c/2/7")
        XCTAssertEqual(ConsensusRecord.committed(view: 2, sequence: 7, digest: [1]).sequence, 7)
        XCTAssertNil(ConsensusRecord.view(3).sequence)
    }

    func testPrimaryIsViewModN() {
        let r = Replica(config: PBFTConfig(replicaCount: 4, selfIndex: 1), lastCommittedSequence: 0, restoring: [.view(5)])
        XCTAssertEqual(r.view, 5)
        XCTAssertEqual(r.primary, 1)
        XCTAssertTrue(r.isPrimary)
        XCTAssertTrue(r.canPropose)
        let b = Replica(config: PBFTConfig(replicaCount: 4, selfIndex: 2), lastCommittedSequence: 9, restoring: [])
        XCTAssertEqual(b.primary, 0)
        XCTAssertFalse(b.isPrimary)
        XCTAssertFalse(b.canPropose)
        XCTAssertEqual(b.lastCommittedSequence, 9)
    }

    func testNormalCommitOfSeveralSequencesInOrder() {
        var c = Cluster(n: 4)
        XCTAssertEqual(c.proposeAndRun(count: 5), [1, 2, 3, 4, 5])
        for i in 0..<4 {
            XCTAssertEqual(c.committedSequences(i), [1, 2, 3, 4, 5], "replica \(i)")
            XCTAssertEqual(c.committed[i].map(\.digest), (1...5).map { digest(UInt64($0)) })
            XCTAssertEqual(c.committed[i].map(\.payload), (1...5).map { payload(UInt64($0)) })
            XCTAssertEqual(c.replicas[i].lastCommittedSequence, 5)
        }
        c.assertAgreement()
        XCTAssertTrue(c.inFlight.isEmpty)
    }

    func testCommitCertificatesHaveQuorumOfDistinctSortedReplicas() {
        var c = Cluster(n: 4)
        c.proposeAndRun(count: 3)
        for i in 0..<4 {
            for entry in c.committed[i] {
                let replicas = entry.commits.map(\.replica)
                XCTAssertGreaterThanOrEqual(replicas.count, 3)
                XCTAssertEqual(replicas, replicas.sorted())
                XCTAssertEqual(Set(replicas).count, replicas.count)
                for commit in entry.commits {
                    XCTAssertEqual(commit.digest, entry.digest)
                    XCTAssertEqual(commit.sequence, entry.sequence)
                    XCTAssertEqual(commit.view, entry.view)
                    // Other replicas' certificate signatures arrive as the host filled them.
                    if commit.replica != i { XCTAssertEqual(commit.certificateSignature, [0x5A, UInt8(commit.replica)]) }
                }
            }
        }
    }

    func testOwnSignedCommitSteppedBackIsUsedInCertificate() {
        var c = Cluster(n: 4)
        // Replica 3 hears everything late, so its own commit is stepped back before the quorum completes.
        c.drop = { $0.to == 3 }
        c.proposeAndRun(count: 1)
        c.drop = { _ in false }
        let held = c.sent.enumerated().flatMap { i, outs in outs.map { Envelope(from: i, to: 3, message: $0.message) } }
        for e in held where e.from != 3 {
            if case .commit = e.message { continue }
            c.deliver(e)
        }
        c.settleLocal()
        // Host steps its own signed commit back.
        let own = c.sent[3].compactMap { out -> Commit? in if case .commit(let x) = out.message { return x } else { return nil } }
        XCTAssertEqual(own.count, 1)
        c.replicas[3].step(.commit(own[0]), from: 3)
        for e in held where e.from != 3 {
            if case .commit = e.message { c.deliver(e) }
        }
        c.settleLocal()
        XCTAssertEqual(c.committedSequences(3), [1])
        let mine = c.committed[3][0].commits.first { $0.replica == 3 }
        XCTAssertEqual(mine?.certificateSignature, [0x5A, 3])
    }

    func testOneBackupIsolatedStillCommits() {
        var c = Cluster(n: 4)
        c.drop = { $0.from == 3 || $0.to == 3 }
        c.proposeAndRun(count: 3)
        for i in 0..<3 { XCTAssertEqual(c.committedSequences(i), [1, 2, 3]) }
        XCTAssertEqual(c.committedSequences(3), [])
        c.assertAgreement()
    }

    func testPrimaryOutgoingToOneBackupDroppedStillCommits() {
        var c = Cluster(n: 4)
        c.drop = { $0.from == 0 && $0.to == 1 }
        c.proposeAndRun(count: 2)
        for i in [0, 2, 3] { XCTAssertEqual(c.committedSequences(i), [1, 2]) }
        c.assertAgreement()
    }

    func testTwoBackupsIsolatedDoesNotCommit() {
        var c = Cluster(n: 4)
        c.drop = { [2, 3].contains($0.from) || [2, 3].contains($0.to) }
        c.proposeAndRun(count: 1)
        for i in 0..<4 { XCTAssertEqual(c.committedSequences(i), []) }
        XCTAssertFalse(c.replicas[0].canPropose, "window of 1 is full while sequence 1 is uncommitted")
        c.assertAgreement()
    }

    func testReorderedDeliveryCommitsBeforePreparesBeforePrePrepare() {
        var c = Cluster(n: 4)
        c.drop = { $0.to == 3 }
        c.proposeAndRun(count: 1)
        XCTAssertEqual(c.committedSequences(3), [])
        // Everything addressed to replica 3, delivered commits first, then prepares, then the pre-prepare.
        var inbox: [Envelope] = []
        for i in 0..<3 {
            for out in c.sent[i] where out.to == nil || out.to == 3 { inbox.append(Envelope(from: i, to: 3, message: out.message)) }
        }
        func rank(_ m: Message) -> Int {
            switch m { case .commit: return 0; case .prepare: return 1; default: return 2 }
        }
        inbox.sort { rank($0.message) < rank($1.message) }
        c.drop = { _ in false }
        for e in inbox { c.replicas[3].step(e.message, from: e.from) }
        c.settleLocal()
        XCTAssertEqual(c.committedSequences(3), [1])
        XCTAssertEqual(c.committed[3][0].digest, digest(1))
        c.assertAgreement()
    }

    func testLaggingBackupBuffersNextPrePrepareBeyondWindow() {
        var c = Cluster(n: 4)
        // Replica 3 gets no commits for sequence 1 yet, so it is one behind when sequence 2 is proposed.
        var heldCommits: [Envelope] = []
        c.proposeAndRun(count: 0)
        XCTAssertTrue(c.replicas[0].propose(digest: digest(1), payload: payload(1)))
        c.settleLocal()
        while !c.inFlight.isEmpty {
            let e = c.inFlight.removeFirst()
            if e.to == 3, case .commit = e.message { heldCommits.append(e); continue }
            c.deliver(e)
            c.settleLocal()
        }
        XCTAssertEqual(c.committedSequences(0), [1])
        XCTAssertEqual(c.committedSequences(3), [])
        XCTAssertTrue(c.replicas[0].propose(digest: digest(2), payload: payload(2)))
        c.settleLocal()
        // Sequence 2 traffic reaches replica 3 first; then the held commits for 1.
        c.run()
        for e in heldCommits { c.deliver(e) }
        c.run()
        for i in 0..<4 { XCTAssertEqual(c.committedSequences(i), [1, 2], "replica \(i)") }
        c.assertAgreement()
    }

    func testDuplicateMessagesAreHarmless() {
        var c = Cluster(n: 4)
        XCTAssertTrue(c.replicas[0].propose(digest: digest(1), payload: payload(1)))
        c.settleLocal()
        while !c.inFlight.isEmpty {
            let e = c.inFlight.removeFirst()
            c.deliver(e)
            c.deliver(e)
            c.settleLocal()
            c.deliver(e)
            c.settleLocal()
        }
        for i in 0..<4 {
            XCTAssertEqual(c.committedSequences(i), [1])
            XCTAssertEqual(c.committed[i][0].commits.count, Set(c.committed[i][0].commits.map(\.replica)).count)
            // Each replica sent each vote once.
            let prepares = c.sent[i].filter { if case .prepare = $0.message { return true } else { return false } }
            let commits = c.sent[i].filter { if case .commit = $0.message { return true } else { return false } }
            XCTAssertEqual(prepares.count, i == 0 ? 0 : 1)
            XCTAssertEqual(commits.count, 1)
        }
        // A duplicate after commit is stale and ignored.
        c.replicas[1].step(.prePrepare(PrePrepare(view: 0, sequence: 1, digest: digest(1), payload: payload(1))), from: 0)
        XCTAssertTrue(c.replicas[1].ready().isEmpty)
        c.assertAgreement()
    }

    func testPrePrepareFromNonPrimaryIgnored() {
        var c = Cluster(n: 4)
        let forged = PrePrepare(view: 0, sequence: 1, digest: digest(1, 9), payload: payload(1, 9))
        for to in [2, 3] { c.replicas[to].step(.prePrepare(forged), from: 1) }
        // Also a pre-prepare claiming the primary's view but from itself as a backup.
        c.replicas[2].step(.prePrepare(forged), from: 2)
        for i in 0..<4 { XCTAssertTrue(c.replicas[i].ready().isEmpty, "replica \(i)") }
        c.proposeAndRun(count: 1)
        for i in 0..<4 { XCTAssertEqual(c.committed[i].map(\.digest), [digest(1)]) }
        c.assertAgreement()
    }

    func testMessagesForOtherViewsAndFarSequencesIgnored() {
        var r = Replica(config: PBFTConfig(replicaCount: 4, selfIndex: 1), lastCommittedSequence: 10, restoring: [])
        r.step(.prePrepare(PrePrepare(view: 1, sequence: 11, digest: [1], payload: [1])), from: 1)
        r.step(.prePrepare(PrePrepare(view: 0, sequence: 10, digest: [1], payload: [1])), from: 0)
        r.step(.prePrepare(PrePrepare(view: 0, sequence: 1000, digest: [1], payload: [1])), from: 0)
        r.step(.prePrepare(PrePrepare(view: 0, sequence: UInt64.max, digest: [1], payload: [1])), from: 0)
        r.step(.prepare(Prepare(view: 0, sequence: 11, digest: [1], replica: 2)), from: 3)  // replica != sender
        r.step(.prepare(Prepare(view: 0, sequence: 11, digest: [1], replica: 0)), from: 0)  // primary does not prepare
        r.step(.commit(Commit(view: 0, sequence: 11, digest: [1], replica: 9)), from: 9)  // out of range
        r.step(.commit(Commit(view: 0, sequence: 11, digest: [1], replica: -1)), from: -1)
        XCTAssertTrue(r.ready().isEmpty)
        r.step(.prePrepare(PrePrepare(view: 0, sequence: 11, digest: [1], payload: [1])), from: 0)
        XCTAssertEqual(r.ready().validations, [ValidationRequest(view: 0, sequence: 11, digest: [1], payload: [1])])
    }

    func testEquivocatingPrimaryNeverYieldsTwoCommittedDigests() {
        // Primary 0 is byzantine: sends digest A to {1, 2} and digest B to {3}, then votes for both.
        for split in [[1, 2], [1], [2, 3], [3]] {
            var c = Cluster(n: 4)
            c.silenced = [0]
            let a = PrePrepare(view: 0, sequence: 1, digest: digest(1, 1), payload: payload(1, 1))
            let b = PrePrepare(view: 0, sequence: 1, digest: digest(1, 2), payload: payload(1, 2))
            for to in 1..<4 {
                c.inFlight.append(Envelope(from: 0, to: to, message: signedAs(0, .prePrepare(split.contains(to) ? a : b), n: c.n)))
                c.inFlight.append(Envelope(from: 0, to: to, message: signedAs(0, .prePrepare(split.contains(to) ? b : a), n: c.n)))
                for d in [a.digest, b.digest] {
                    c.inFlight.append(Envelope(from: 0, to: to, message: signedAs(0, .commit(Commit(view: 0, sequence: 1, digest: d, replica: 0)), n: c.n)))
                }
            }
            c.run()
            c.assertAgreement()
            let digests = Set((1..<4).flatMap { c.committed[$0].map(\.digest) })
            XCTAssertLessThanOrEqual(digests.count, 1, "split \(split)")
            for i in 1..<4 {
                XCTAssertEqual(c.replicas[i].equivocationsObserved, 1, "replica \(i) saw the second digest")
                // Equivocation makes every correct backup leave view 0 at once.
                XCTAssertGreaterThanOrEqual(c.replicas[i].view, 1)
                XCTAssertGreaterThanOrEqual(c.replicas[i].viewChangesStarted, 1)
            }
        }
    }

    func testInvalidProposalGetsNoPrepare() {
        var c = Cluster(n: 4)
        c.verdict = { i, _ in i != 1 }
        c.proposeAndRun(count: 1)
        let prepares1 = c.sent[1].filter { if case .prepare = $0.message { return true } else { return false } }
        XCTAssertEqual(prepares1, [])
        XCTAssertEqual(c.replicas[1].rejectedProposals, 1)
        XCTAssertEqual(c.committedSequences(1), [])
        for i in [0, 2, 3] { XCTAssertEqual(c.committedSequences(i), [1]) }

        var d = Cluster(n: 4)
        d.verdict = { i, _ in i == 1 }
        d.proposeAndRun(count: 1)
        for i in 0..<4 { XCTAssertEqual(d.committedSequences(i), []) }
        d.assertAgreement()
    }

    func testValidationsAreRequestedInSequenceOrderOneAtATime() {
        var r = Replica(config: PBFTConfig(replicaCount: 4, selfIndex: 2, windowSize: 3), lastCommittedSequence: 0, restoring: [])
        for s: UInt64 in [3, 2] { r.step(.prePrepare(PrePrepare(view: 0, sequence: s, digest: digest(s), payload: payload(s))), from: 0) }
        XCTAssertTrue(r.ready().validations.isEmpty, "sequence 1 not yet known")
        r.step(.prePrepare(PrePrepare(view: 0, sequence: 1, digest: digest(1), payload: payload(1))), from: 0)
        XCTAssertEqual(r.ready().validations.map(\.sequence), [1])
        r.advance(r.ready())
        r.validated(view: 0, sequence: 2, digest: digest(2), valid: true)  // not requested: ignored
        XCTAssertTrue(r.ready().isEmpty)
        r.validated(view: 0, sequence: 1, digest: digest(1), valid: true)
        let rd = r.ready()
        XCTAssertEqual(rd.validations.map(\.sequence), [2])
        XCTAssertEqual(rd.persist, [.prePrepared(PrePrepare(view: 0, sequence: 1, digest: digest(1), payload: payload(1))),
                                    .prepared(view: 0, sequence: 1, digest: digest(1))])
        XCTAssertEqual(rd.messages, [Outbound(to: nil, message: .prepare(Prepare(view: 0, sequence: 1, digest: digest(1), replica: 2)))])
    }

    func testPersistRecordsAreInTheSameReadyAsTheMessagesTheyCover() {
        var c = Cluster(n: 4)
        c.proposeAndRun(count: 4)
        XCTAssertEqual(c.persistViolations, [])
        // And concretely for the primary's proposal.
        var p = Replica(config: PBFTConfig(replicaCount: 4, selfIndex: 0), lastCommittedSequence: 0, restoring: [])
        p.propose(digest: [7], payload: [8])
        let rd = p.ready()
        XCTAssertEqual(rd.persist, [.prePrepared(PrePrepare(view: 0, sequence: 1, digest: [7], payload: [8]))])
        XCTAssertEqual(rd.messages.count, 1)
        XCTAssertFalse(p.canPropose)
        XCTAssertFalse(p.propose(digest: [9], payload: [9]))
    }

    func testWindowAllowsSeveralInFlight() {
        var c = Cluster(n: 4, windowSize: 3)
        for s: UInt64 in 1...3 { XCTAssertTrue(c.replicas[0].propose(digest: digest(s), payload: payload(s))) }
        XCTAssertFalse(c.replicas[0].canPropose)
        c.run()
        for i in 0..<4 { XCTAssertEqual(c.committedSequences(i), [1, 2, 3]) }
        XCTAssertTrue(c.replicas[0].canPropose)
        c.assertAgreement()
    }

    func testSevenReplicasToleratesTwoSilent() {
        var c = Cluster(n: 7)
        c.drop = { [5, 6].contains($0.from) || [5, 6].contains($0.to) }
        c.proposeAndRun(count: 3)
        for i in 0..<5 {
            XCTAssertEqual(c.committedSequences(i), [1, 2, 3])
            for e in c.committed[i] { XCTAssertGreaterThanOrEqual(e.commits.count, 5) }
        }
        c.assertAgreement()

        var d = Cluster(n: 7)
        d.drop = { [4, 5, 6].contains($0.from) || [4, 5, 6].contains($0.to) }
        d.proposeAndRun(count: 1)
        for i in 0..<7 { XCTAssertEqual(d.committedSequences(i), []) }
    }

    func testSkipToDropsOldLogAndRejoins() {
        var c = Cluster(n: 4)
        c.drop = { $0.to == 3 || $0.from == 3 }
        c.proposeAndRun(count: 3)
        XCTAssertEqual(c.committedSequences(3), [])
        c.replicas[3].skipTo(committedSequence: 3)
        XCTAssertEqual(c.replicas[3].lastCommittedSequence, 3)
        c.drop = { _ in false }
        c.proposeAndRun(count: 2)
        XCTAssertEqual(c.committedSequences(3), [4, 5])
        for i in 0..<3 { XCTAssertEqual(c.committedSequences(i), [1, 2, 3, 4, 5]) }
        c.assertAgreement()
    }

    func testTickSuspectsPrimaryOnlyWhileWaiting() {
        var r = Replica(config: PBFTConfig(replicaCount: 4, selfIndex: 1, requestTimeoutTicks: 3), lastCommittedSequence: 0, restoring: [])
        for _ in 0..<10 { r.tick() }
        XCTAssertFalse(r.primarySuspected)
        r.step(.prePrepare(PrePrepare(view: 0, sequence: 1, digest: [1], payload: [1])), from: 0)
        for _ in 0..<2 { r.tick() }
        XCTAssertFalse(r.primarySuspected)
        r.tick()
        XCTAssertTrue(r.primarySuspected)
    }
}
