import XCTest
@testable import PBFT

extension Cluster {
    /// Ticks (noting pending requests) and runs the network after each tick until `done` holds.
    @discardableResult
    mutating func tickUntil(maxTicks: Int = 2_000, pending: Bool = true, _ done: (Cluster) -> Bool) -> Bool {
        for _ in 0..<maxTicks {
            if done(self) { return true }
            tickAll(pending: pending)
            run()
        }
        return done(self)
    }

    /// True when every listed replica is active in `view`.
    func allActive(_ replicas: [ReplicaIndex], in view: UInt64) -> Bool {
        replicas.allSatisfy { self.replicas[$0].view == view && self.replicas[$0].isViewActive }
    }

    func newViews(_ i: ReplicaIndex) -> [NewView] {
        sent[i].compactMap { if case .newView(let nv) = $0.message { return nv } else { return nil } }
    }

    /// No replica ever sent two different messages for one (kind, view, sequence) — across restarts too.
    func assertNoEquivocation(file: StaticString = #filePath, line: UInt = #line) {
        for i in 0..<n {
            var seen: [String: Message] = [:]
            for out in sent[i] {
                var m = out.message
                let key: String
                switch m {
                case .prePrepare(let x): key = "pp/\(x.view)/\(x.sequence)"
                case .prepare(let x): key = "p/\(x.view)/\(x.sequence)"
                case .commit(let x): key = "c/\(x.view)/\(x.sequence)"
                case .checkpoint(let x): key = "cp/\(x.sequence)"
                case .viewChange(let x): key = "vc/\(x.newView)"
                case .newView(let x):
                    key = "nv/\(x.view)"
                    // Only the re-issued pre-prepares are the primary's promise; the proof may be re-sent as is.
                    m = .newView(NewView(view: x.view, replica: x.replica, viewChanges: [], prePrepares: x.prePrepares))
                }
                if let old = seen[key] { XCTAssertEqual(old, m, "replica \(i) equivocated on \(key)", file: file, line: line) } else { seen[key] = m }
            }
        }
    }
}

/// Drops commits (so sequences end prepared but uncommitted).
func isCommit(_ e: Envelope) -> Bool { if case .commit = e.message { return true } else { return false } }

final class ViewChangeTests: XCTestCase {
    func testPrimaryCrashViewChangeCommitsPreparedAndNewSequences() {
        var c = Cluster(n: 4, timeoutTicks: 5)
        c.proposeAndRun(count: 2)
        XCTAssertTrue(c.replicas[0].propose(digest: digest(3), payload: payload(3)))
        c.settleLocal()
        c.drop = isCommit
        c.run()
        for i in 0..<4 { XCTAssertEqual(c.committedSequences(i), [1, 2]) }
        c.drop = { _ in false }
        c.crash(0)
        XCTAssertTrue(c.tickUntil { $0.allActive([1, 2, 3], in: 1) })
        // The prepared-but-uncommitted sequence survived with its digest, committed in view 1.
        for i in 1..<4 {
            XCTAssertEqual(c.committed[i].map(\.digest), [digest(1), digest(2), digest(3)], "replica \(i)")
            XCTAssertEqual(c.committed[i].last?.view, 1)
        }
        XCTAssertEqual(c.newViews(1).first?.prePrepares.map(\.digest), [digest(1), digest(2), digest(3)])
        XCTAssertEqual(c.newViews(1).first?.viewChanges.map(\.replica), [1, 2, 3])
        for i in 1..<4 {
            // Sequence 3 was re-validated (the new primary too), flagged as built in an earlier view; 1 and 2
            // were committed already and are voted on again without the host.
            let requests = c.validationLog[i].filter { $0.view == 1 }
            XCTAssertEqual(requests.map(\.sequence), [3], "replica \(i)")
            XCTAssertEqual(requests.map(\.reissued), [true])
            // Once in view 1, the VIEW-CHANGE record is deleted and the view is recorded instead.
            XCTAssertNil(c.stored[i]["vc/1"], "replica \(i)")
            XCTAssertEqual(c.stored[i]["view"], .view(1))
            XCTAssertEqual(c.stored[i]["nv"].map { (r: ConsensusRecord) -> UInt64 in if case .newView(let nv) = r { return nv.view } else { return 99 } }, 1)
        }
        // The new primary proposes new sequences.
        c.proposeAndRun(count: 2, primary: 1, tag: 1)
        for i in 1..<4 { XCTAssertEqual(c.committedSequences(i), [1, 2, 3, 4, 5]) }
        c.assertAgreement()
        c.assertNoEquivocation()
        XCTAssertEqual(c.badSignatures, 0)
    }

    func testRestartedOldPrimaryRejoinsWhenTheNewPrimaryResendsItsNewView() {
        var c = Cluster(n: 4, timeoutTicks: 5)
        c.proposeAndRun(count: 2)
        c.crash(0)
        XCTAssertTrue(c.tickUntil { $0.allActive([1, 2, 3], in: 1) })
        c.restart(0)
        c.tickAndRun(3)
        XCTAssertEqual(c.replicas[0].view, 0, "with nothing pending, a restarted replica never learns of view 1 by itself")
        c.replicas[2].resendNewView(to: 0)
        c.run()
        XCTAssertEqual(c.replicas[0].view, 0, "only the primary of the view sends its NEW-VIEW")
        c.replicas[1].resendNewView(to: 0)
        c.run()
        XCTAssertEqual(c.replicas[0].view, 1)
        XCTAssertTrue(c.replicas[0].isViewActive)
        // It votes again: with replica 3 down, 0, 1 and 2 are the quorum that commits sequence 3.
        c.crash(3)
        XCTAssertTrue(c.replicas[1].propose(digest: digest(3), payload: payload(3)))
        c.settleLocal()
        c.run()
        for i in 0..<3 { XCTAssertEqual(c.committedSequences(i), [1, 2, 3], "replica \(i)") }
    }

    func testSeveralPreparedSequencesAndANullGapSurviveViewChange() {
        var c = Cluster(n: 4, windowSize: 3, timeoutTicks: 5)
        // Sequences 1..3 in flight; 2 loses its prepares, so only 1 and 3 get prepared; no commit arrives.
        c.drop = { e in
            if isCommit(e) { return true }
            if case .prepare(let p) = e.message { return p.sequence == 2 }
            return false
        }
        for s: UInt64 in 1...3 { XCTAssertTrue(c.replicas[0].propose(digest: digest(s), payload: payload(s))) }
        c.run()
        for i in 0..<4 { XCTAssertEqual(c.committedSequences(i), []) }
        c.drop = { _ in false }
        c.crash(0)
        XCTAssertTrue(c.tickUntil { $0.allActive([1, 2, 3], in: 1) && $0.committed[1].count == 3 })
        XCTAssertEqual(c.newViews(1).first?.prePrepares.map(\.digest), [digest(1), [], digest(3)])
        for i in 1..<4 {
            XCTAssertEqual(c.committed[i].map(\.digest), [digest(1), [], digest(3)], "replica \(i)")
            XCTAssertTrue(c.committed[i][1].isNull)
            XCTAssertEqual(c.committed[i][1].payload, [])
        }
        c.proposeAndRun(count: 3, primary: 1, tag: 1)
        for i in 1..<4 { XCTAssertEqual(c.committedSequences(i), [1, 2, 3, 4, 5, 6]) }
        c.assertAgreement()
        c.assertNoEquivocation()
    }

    func testLoneTimeoutCannotForceViewChangeAndRejoinsLater() {
        var c = Cluster(n: 4, timeoutTicks: 3)
        c.proposeAndRun(count: 1)
        // Only replica 3 thinks requests are waiting.
        for _ in 0..<10 {
            c.replicas[3].noteRequestPending()
            c.replicas[3].tick()
            c.run()
        }
        XCTAssertEqual(c.replicas[3].view, 1)
        XCTAssertFalse(c.replicas[3].isViewActive)
        for i in 0..<3 { XCTAssertEqual(c.replicas[i].view, 0); XCTAssertTrue(c.replicas[i].isViewActive) }
        // It cannot escalate on its own: no quorum of view changes for view 1.
        XCTAssertEqual(c.sentViewChanges(3).map(\.newView).filter { $0 > 1 }, [])
        // The others keep committing without it.
        c.proposeAndRun(count: 2)
        for i in 0..<3 { XCTAssertEqual(c.committedSequences(i), [1, 2, 3]) }
        XCTAssertEqual(c.committedSequences(3), [1])
        // The primary fails; the others time out, find replica 3's view change and form view 1 with it.
        c.crash(0)
        XCTAssertTrue(c.tickUntil { $0.allActive([1, 2, 3], in: 1) })
        c.catchUp(3)
        c.proposeAndRun(count: 2, primary: 1, tag: 1)
        for i in 1..<4 { XCTAssertEqual(c.committedSequences(i).suffix(2), [4, 5], "replica \(i)") }
        c.assertAgreement()
    }

    func testJoinsOnlyWhenFPlusOneOthersAskForAHigherView() {
        for n in [4, 7] {
            let f = (n - 1) / 3
            var r = Replica(config: PBFTConfig(replicaCount: n, selfIndex: 0), lastCommittedSequence: 0, restoring: [])
            for k in 1...f {
                r.step(.viewChange(ViewChange(newView: UInt64(k + 1), replica: k, checkpoint: .genesis, prepared: [])), from: k)
                XCTAssertEqual(r.view, 0, "n=\(n): \(k) asking is not enough")
                XCTAssertTrue(r.ready().isEmpty)
            }
            // The (f+1)th asks for view 5: join the highest view f+1 replicas support (here 2, the lowest asked).
            r.step(.viewChange(ViewChange(newView: 5, replica: f + 1, checkpoint: .genesis, prepared: [])), from: f + 1)
            XCTAssertEqual(r.view, 2, "n=\(n)")
            XCTAssertFalse(r.isViewActive)
            let rd = r.ready()
            XCTAssertEqual(rd.persist.last, .viewChange(ViewChange(newView: 2, replica: 0, checkpoint: .genesis, prepared: [])))
            XCTAssertEqual(rd.messages.map(\.message), [.viewChange(ViewChange(newView: 2, replica: 0, checkpoint: .genesis, prepared: []))])
            // A view change claimed by one replica for another replica is ignored.
            var s = Replica(config: PBFTConfig(replicaCount: n, selfIndex: 0), lastCommittedSequence: 0, restoring: [])
            for k in 1...(f + 1) { s.step(.viewChange(ViewChange(newView: 1, replica: 1, checkpoint: .genesis, prepared: [])), from: k) }
            XCTAssertEqual(s.view, 0)
        }
    }

    func testViewChangeTimeoutDoublesAndIsCapped() {
        var c = Cluster(n: 4, timeoutTicks: 4) { $0.timeoutTicksMax = 20 }
        c.proposeAndRun(count: 1)
        c.crash(0)
        // No NEW-VIEW ever arrives: views keep failing.
        c.drop = { if case .newView = $0.message { return true } else { return false } }
        var timeouts: [UInt64: Int] = [:]
        c.tickUntil(maxTicks: 400) { c in
            timeouts[c.replicas[2].view] = c.replicas[2].viewChangeTimeoutTicks
            return c.replicas[2].view >= 6
        }
        XCTAssertEqual((1...6).map { timeouts[UInt64($0)] }, [4, 8, 16, 20, 20, 20])
        // Once NEW-VIEWs flow again the cluster settles in a view with a live primary and commits; the timeout resets.
        c.drop = { _ in false }
        XCTAssertTrue(c.tickUntil { c in (1..<4).allSatisfy { c.replicas[$0].isViewActive && c.replicas[$0].view == c.replicas[1].view } && c.replicas[1].primary != 0 })
        let p = c.replicas[1].primary
        c.proposeAndRun(count: 1, primary: p, tag: 2)
        for i in 1..<4 {
            XCTAssertEqual(c.committedSequences(i), [1, 2])
            XCTAssertEqual(c.replicas[i].viewChangeTimeoutTicks, 4)
        }
        c.assertAgreement()
    }

    func testForgedNewViewIsRejected() {
        var c = Cluster(n: 4, timeoutTicks: 3)
        c.proposeAndRun(count: 1)
        XCTAssertTrue(c.replicas[0].propose(digest: digest(2), payload: payload(2)))
        c.settleLocal()
        c.drop = isCommit
        c.run()
        c.crash(0)
        // Hold back the new primary's NEW-VIEW to replica 2.
        c.drop = { if case .newView = $0.message { return $0.to == 2 } else { return false } }
        XCTAssertTrue(c.tickUntil { $0.allActive([1, 3], in: 1) })
        XCTAssertFalse(c.replicas[2].isViewActive)
        guard let genuine = c.newViews(1).first else { return XCTFail("no NEW-VIEW") }
        XCTAssertEqual(genuine.prePrepares.map(\.digest), [digest(1), digest(2)])
        c.drop = { _ in false }
        var forgeries: [NewView] = []
        var wrongDigest = genuine
        wrongDigest.prePrepares[1] = PrePrepare(view: 1, sequence: 2, digest: digest(2, 9), payload: payload(2, 9))
        forgeries.append(wrongDigest)
        var dropped = genuine
        dropped.prePrepares.removeLast()
        forgeries.append(dropped)
        var nulled = genuine
        nulled.prePrepares[1] = PrePrepare(view: 1, sequence: 2, digest: [], payload: [])
        forgeries.append(nulled)
        var extra = genuine
        extra.prePrepares.append(PrePrepare(view: 1, sequence: 3, digest: digest(3, 9), payload: payload(3, 9)))
        forgeries.append(extra)
        var tooFew = genuine
        tooFew.viewChanges.removeLast()
        forgeries.append(tooFew)
        var duplicated = genuine
        duplicated.viewChanges[2] = duplicated.viewChanges[1]
        forgeries.append(duplicated)
        var strippedCertificate = genuine
        strippedCertificate.viewChanges[0].prepared[1].prepares.removeLast()
        strippedCertificate.viewChanges[0].signature = []  // its author re-signs the altered VIEW-CHANGE
        forgeries.append(strippedCertificate)
        for (k, forged) in forgeries.enumerated() {
            // Altered parts re-signed by their authors (colluding), so only the core's checks can catch it.
            var message = Message.newView(forged)
            for author in 0..<4 { message = signedAs(author, message, n: 4) }
            c.deliver(Envelope(from: 1, to: 2, message: message))
            XCTAssertEqual(c.replicas[2].rejectedNewViews, k + 1, "forgery \(k) view \(c.replicas[2].view) bad \(c.badSignatures)")
            XCTAssertFalse(c.replicas[2].isViewActive, "forgery \(k)")
        }
        // A NEW-VIEW sent by someone other than the new primary is ignored.
        c.deliver(Envelope(from: 3, to: 2, message: signedAs(3, .newView(NewView(view: 1, replica: 3, viewChanges: genuine.viewChanges, prePrepares: genuine.prePrepares)), n: 4)))
        XCTAssertFalse(c.replicas[2].isViewActive)
        c.drop = { _ in false }
        c.deliver(Envelope(from: 1, to: 2, message: .newView(genuine)))
        XCTAssertTrue(c.replicas[2].isViewActive)
        c.run()
        for i in 1..<4 { XCTAssertEqual(c.committedSequences(i), [1, 2], "replica \(i)") }
        c.assertAgreement()
    }

    func testHugeAndFarViewNumbersIgnored() {
        var r = Replica(config: PBFTConfig(replicaCount: 4, selfIndex: 2), lastCommittedSequence: 0, restoring: [])
        r.step(.viewChange(ViewChange(newView: UInt64.max, replica: 3, checkpoint: .genesis, prepared: [])), from: 3)
        r.step(.viewChange(ViewChange(newView: 17, replica: 1, checkpoint: .genesis, prepared: [])), from: 1)
        // Two replicas asking for far views: f+1 = 2, so the node joins, but only the view both support (17).
        XCTAssertEqual(r.view, 17)
        var q = Replica(config: PBFTConfig(replicaCount: 4, selfIndex: 2), lastCommittedSequence: 0, restoring: [])
        q.step(.viewChange(ViewChange(newView: UInt64.max, replica: 3, checkpoint: .genesis, prepared: [])), from: 3)
        q.step(.newView(NewView(view: UInt64.max, replica: 3, viewChanges: [], prePrepares: [])), from: 3)
        q.step(.prePrepare(PrePrepare(view: UInt64.max, sequence: 1, digest: [1], payload: [1])), from: 3)
        XCTAssertEqual(q.view, 0)
        XCTAssertTrue(q.isViewActive)
        XCTAssertTrue(q.ready().isEmpty)
        XCTAssertEqual(q.rejectedNewViews, 1)
        // At the largest view, timeouts cannot overflow the view number.
        var top = Replica(config: PBFTConfig(replicaCount: 4, selfIndex: 1, requestTimeoutTicks: 1), lastCommittedSequence: 0, restoring: [.view(UInt64.max)])
        top.noteRequestPending()
        for _ in 0..<5 { top.tick() }
        XCTAssertEqual(top.view, UInt64.max)
    }

    func testEquivocatingPrimaryLeadsToViewChangeAndSafety() {
        for split in [[1, 2], [1], [2, 3], [3]] {
            var c = Cluster(n: 4, timeoutTicks: 4)
            c.silenced = [0]
            let a = PrePrepare(view: 0, sequence: 1, digest: digest(1, 1), payload: payload(1, 1))
            let b = PrePrepare(view: 0, sequence: 1, digest: digest(1, 2), payload: payload(1, 2))
            for to in 1..<4 {
                c.inFlight.append(Envelope(from: 0, to: to, message: signedAs(0, .prePrepare(split.contains(to) ? a : b), n: 4)))
            }
            c.run()
            XCTAssertTrue(c.tickUntil { $0.allActive([1, 2, 3], in: 1) || $0.allActive([1, 2, 3], in: 2) }, "split \(split)")
            let view = c.replicas[1].view
            let p = c.replicas[1].primary
            XCTAssertNotEqual(p, 0)
            c.proposeAndRun(count: 2, primary: p, tag: 3)
            XCTAssertTrue(c.tickUntil { c in (1..<4).allSatisfy { c.replicas[$0].lastCommittedSequence >= 2 } }, "split \(split) view \(view)")
            c.assertAgreement()
            // Sequence 1 is a, or a fresh proposal, never both a and b.
            let firsts = Set((1..<4).compactMap { c.committed[$0].first?.digest })
            XCTAssertEqual(firsts.count, 1)
            c.assertNoEquivocation()
        }
    }

    func testSevenReplicasViewChangeWithTwoFaults() {
        var c = Cluster(n: 7, windowSize: 2, timeoutTicks: 4)
        c.proposeAndRun(count: 3)
        XCTAssertTrue(c.replicas[0].propose(digest: digest(4), payload: payload(4)))
        c.settleLocal()
        c.drop = isCommit
        c.run()
        c.crash(0)
        c.crash(6)
        c.drop = { _ in false }
        XCTAssertTrue(c.tickUntil { $0.allActive([1, 2, 3, 4, 5], in: 1) })
        for i in 1..<6 { XCTAssertEqual(c.committedSequences(i), [1, 2, 3, 4], "replica \(i)") }
        XCTAssertGreaterThanOrEqual(c.newViews(1).first?.viewChanges.count ?? 0, 5)
        c.proposeAndRun(count: 3, primary: 1, tag: 1)
        for i in 1..<6 { XCTAssertEqual(c.committedSequences(i), [1, 2, 3, 4, 5, 6, 7], "replica \(i)") }
        // Replica 6 comes back (restarted from its records), catches up and takes part in view 1.
        c.restart(6)
        XCTAssertTrue(c.tickUntil(pending: false) { $0.replicas[6].view == 1 && $0.replicas[6].isViewActive })
        c.catchUp(6)
        c.proposeAndRun(count: 1, primary: 1, tag: 1)
        for i in 1..<7 { XCTAssertEqual(c.committedSequences(i).last, 8, "replica \(i)") }
        c.assertAgreement()
        c.assertNoEquivocation()
    }

    func testRestartInTheMiddleOfAViewChangeDoesNotEquivocate() {
        var c = Cluster(n: 4, timeoutTicks: 3)
        c.proposeAndRun(count: 1)
        XCTAssertTrue(c.replicas[0].propose(digest: digest(2), payload: payload(2)))
        c.settleLocal()
        c.drop = isCommit
        c.run()
        c.crash(0)
        c.drop = { _ in true }  // view changes are sent but not delivered yet
        XCTAssertTrue(c.tickUntil { c in (1..<4).allSatisfy { !c.replicas[$0].isViewActive } })
        // Replica 2 restarts: it remembers view 1 and re-sends the very same VIEW-CHANGE.
        c.crash(2)
        c.restart(2)
        XCTAssertEqual(c.replicas[2].view, 1)
        XCTAssertFalse(c.replicas[2].isViewActive)
        c.drop = { _ in false }
        // The new primary sends its NEW-VIEW to 3 only, then restarts: it restores the same NEW-VIEW.
        c.drop = { if case .newView = $0.message { return $0.to != 3 } else { return false } }
        XCTAssertTrue(c.tickUntil { $0.replicas[1].isViewActive && $0.replicas[3].isViewActive })
        let sentBefore = c.newViews(1)
        XCTAssertEqual(sentBefore.count, 1)
        c.crash(1)
        c.restart(1)
        XCTAssertTrue(c.replicas[1].isViewActive)
        XCTAssertEqual(c.replicas[1].view, 1)
        c.drop = { _ in false }
        // Replica 1 lost the prepares it had counted; the cluster may need further views to finish sequence 2.
        XCTAssertTrue(c.tickUntil { c in
            c.allActive([1, 2, 3], in: c.replicas[1].view) && (1..<4).allSatisfy { c.replicas[$0].lastCommittedSequence == 2 }
        })
        XCTAssertEqual(c.committed[2].map(\.digest), [digest(1), digest(2)])
        XCTAssertEqual(c.sentViewChanges(2).map(\.newView).first, 1)
        c.proposeAndRun(count: 1, primary: c.replicas[1].primary, tag: 1)
        for i in 1..<4 { XCTAssertEqual(c.committedSequences(i), [1, 2, 3], "replica \(i)") }
        c.assertAgreement()
        c.assertNoEquivocation()
        XCTAssertEqual(c.persistViolations, [])
    }
}

