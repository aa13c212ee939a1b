import XCTest
@testable import PBFT

func isCheckpoint(_ e: Envelope) -> Bool { if case .checkpoint = e.message { return true } else { return false } }

final class CheckpointTests: XCTestCase {
    func testConfigLogWindowHoldsACheckpointIntervalAndTheWindow() {
        let d = PBFTConfig(replicaCount: 4, selfIndex: 0)
        XCTAssertEqual(d.checkpointInterval, 128)
        XCTAssertEqual(d.logWindow, 256)
        XCTAssertEqual(d.timeoutTicksMax, 600)
        let small = PBFTConfig(replicaCount: 4, selfIndex: 0, windowSize: 3, checkpointInterval: 4, logWindow: 2)
        XCTAssertEqual(small.logWindow, 4 + 3 + 4)
    }

    func testCheckpointBecomesStableWithQuorumAndPrunesLogAndRecords() {
        var c = Cluster(n: 4, configure: checkpointEvery(4))
        XCTAssertEqual(c.replicas[0].config.logWindow, 9)
        c.proposeAndRun(count: 8)
        for i in 0..<4 {
            XCTAssertEqual(c.stables[i].map(\.sequence), [4, 8], "replica \(i)")
            let stable = c.replicas[i].stableCheckpoint
            XCTAssertEqual(stable.sequence, 8)
            XCTAssertEqual(stable.stateDigest, Cluster.stateDigest(Array(c.committed[i].prefix(8))))
            XCTAssertGreaterThanOrEqual(stable.proof.count, 3)
            XCTAssertEqual(stable.proof.map(\.replica), stable.proof.map(\.replica).sorted())
            XCTAssertEqual(Set(stable.proof.map(\.replica)).count, stable.proof.count)
            XCTAssertEqual(c.replicas[i].lowWatermark, 8)
            XCTAssertEqual(c.replicas[i].highWatermark, 17)
            // Every record about sequences up to the checkpoint was listed for deletion; the proof is kept.
            XCTAssertEqual(c.stored[i].values.compactMap(\.sequence).filter { $0 <= 8 }, [], "replica \(i)")
            XCTAssertEqual(c.stored[i]["scp"], .stableCheckpoint(stable))
        }
        c.assertAgreement()
        XCTAssertEqual(c.persistViolations, [])
    }

    func testTwoOfFourCheckpointsAreNotEnoughAndThePrimaryStopsAtTheHighWatermark() {
        var c = Cluster(n: 4, configure: checkpointEvery(4))
        c.drop = { isCheckpoint($0) && $0.from >= 2 }
        XCTAssertEqual(c.proposeAndRun(count: 12), Array(1...9))
        // Replicas 0 and 1 hear only two checkpoints (theirs); 2 and 3 hear three (0, 1 and their own).
        for i in 0..<2 {
            XCTAssertEqual(c.stables[i], [])
            XCTAssertEqual(c.replicas[i].lowWatermark, 0)
        }
        for i in 2..<4 { XCTAssertEqual(c.replicas[i].lowWatermark, 8) }
        XCTAssertFalse(c.replicas[0].canPropose, "sequence 10 is above the high watermark 0 + 9")
        // Checkpoints are re-sent on the tick; once they get through, the window slides and proposals resume.
        c.drop = { _ in false }
        c.tickAndRun(20)
        for i in 0..<4 { XCTAssertEqual(c.replicas[i].lowWatermark, 8, "replica \(i)") }
        XCTAssertEqual(c.proposeAndRun(count: 3), [10, 11, 12])
        for i in 0..<4 { XCTAssertEqual(c.committedSequences(i).count, 12) }
        c.assertAgreement()
    }

    func testMessagesOutsideTheWatermarksAreIgnored() {
        var c = Cluster(n: 4, configure: checkpointEvery(4))
        c.proposeAndRun(count: 8)
        var r = c.replicas[1]
        XCTAssertEqual(r.lowWatermark, 8)
        r.step(.prePrepare(PrePrepare(view: 0, sequence: 8, digest: [1], payload: [1])), from: 0)
        r.step(.prePrepare(PrePrepare(view: 0, sequence: 18, digest: [1], payload: [1])), from: 0)
        r.step(.prepare(Prepare(view: 0, sequence: 7, digest: [1], replica: 2)), from: 2)
        // A quorum of checkpoints far above the log (more than a log beyond what it knows) is ignored.
        for k in [0, 2, 3] { r.step(.checkpoint(Checkpoint(sequence: 400, stateDigest: [9], replica: k)), from: k) }
        // Malformed ones too: not a multiple of K, claimed for another replica, below the stable one.
        for k in [0, 2, 3] {
            r.step(.checkpoint(Checkpoint(sequence: 14, stateDigest: [9], replica: k)), from: k)
            r.step(.checkpoint(Checkpoint(sequence: 12, stateDigest: [9], replica: (k + 1) % 4)), from: k)
            r.step(.checkpoint(Checkpoint(sequence: 4, stateDigest: [9], replica: k)), from: k)
        }
        // The only output: one answer per lagging sender with its own vote for the stable checkpoint.
        let answers = r.ready().messages
        XCTAssertFalse(answers.isEmpty)
        XCTAssertEqual(Set(answers.compactMap(\.to)).count, answers.count)
        XCTAssertTrue(answers.allSatisfy { [0, 2, 3].contains($0.to ?? -1) })
        XCTAssertTrue(answers.allSatisfy { if case .checkpoint(let x) = $0.message { return x.sequence == 8 && x.replica == 1 } else { return false } })
        XCTAssertEqual(r.ready().persist, [])
        r.advance(r.ready())
        XCTAssertEqual(r.stableCheckpoint.sequence, 8)
        // A quorum for the next checkpoint above its execution: stable, and the host learns it must catch up.
        for k in [0, 2, 3] { r.step(.checkpoint(Checkpoint(sequence: 12, stateDigest: [7], replica: k)), from: k) }
        XCTAssertEqual(r.ready().stableCheckpoint?.sequence, 12)
        XCTAssertEqual(r.lastCommittedSequence, 8)
        XCTAssertEqual(r.lowWatermark, 12)
    }

    func testRestartRestoresTheStableCheckpoint() {
        var c = Cluster(n: 4, configure: checkpointEvery(4))
        c.proposeAndRun(count: 10)
        c.crash(2)
        c.restart(2)
        XCTAssertEqual(c.replicas[2].stableCheckpoint.sequence, 8)
        XCTAssertEqual(c.replicas[2].stableCheckpoint.stateDigest, c.replicas[1].stableCheckpoint.stateDigest)
        XCTAssertEqual(c.replicas[2].lowWatermark, 8)
        c.proposeAndRun(count: 3)
        for i in 0..<4 { XCTAssertEqual(c.committedSequences(i).count, 13) }
        c.assertAgreement()
    }

    func testViewChangeAfterACheckpointCarriesItsProofAndReissuesOnlyAboveIt() {
        var c = Cluster(n: 4, timeoutTicks: 4, configure: checkpointEvery(4))
        c.proposeAndRun(count: 9)
        XCTAssertTrue(c.replicas[0].propose(digest: digest(10), payload: payload(10)))
        c.settleLocal()
        c.drop = isCommit
        c.run()
        c.drop = { _ in false }
        c.crash(0)
        XCTAssertTrue(c.tickUntil { $0.allActive([1, 2, 3], in: 1) })
        guard let nv = c.newViews(1).first else { return XCTFail("no NEW-VIEW") }
        for vc in nv.viewChanges {
            XCTAssertEqual(vc.checkpoint.sequence, 8)
            XCTAssertGreaterThanOrEqual(vc.checkpoint.proof.count, 3)
            XCTAssertEqual(vc.prepared.map(\.prePrepare.sequence), [9, 10])
            // The sender committed 9 already: its payload is left out (peers fetch committed blocks).
            XCTAssertEqual(vc.prepared[0].prePrepare.payload, [])
            XCTAssertEqual(vc.prepared[1].prePrepare.payload, payload(10))
        }
        XCTAssertEqual(nv.prePrepares.map(\.sequence), [9, 10])
        for i in 1..<4 { XCTAssertEqual(c.committedSequences(i), Array(1...10)) }
        c.assertAgreement()
    }
}

final class NewMessageCodecTests: XCTestCase {
    static let pp = PrePrepare(view: 2, sequence: 9, digest: [1, 2], payload: [3, 4, 5], signature: [6])
    static let prepares = [1, 3].map { Prepare(view: 2, sequence: 9, digest: [1, 2], replica: $0, signature: [UInt8($0), 9]) }
    static let checkpoint = StableCheckpoint(
        sequence: 8, stateDigest: [7, 7],
        proof: (0..<3).map { Checkpoint(sequence: 8, stateDigest: [7, 7], replica: $0, signature: [0xC, UInt8($0)]) })
    static let vc = ViewChange(
        newView: 3, replica: 1, checkpoint: checkpoint,
        prepared: [PreparedCertificate(prePrepare: pp, prepares: prepares)], signature: [0xEE])
    static let nv = NewView(view: 3, replica: 3, viewChanges: [vc, vc], prePrepares: [
        PrePrepare(view: 3, sequence: 9, digest: [1, 2], payload: [3], signature: [1]),
        PrePrepare(view: 3, sequence: 10, digest: [], payload: []),
    ])

    func testNewMessagesAndRecordsRoundTripAndRejectCuts() {
        let messages: [Message] = [
            .checkpoint(Checkpoint(sequence: 128, stateDigest: [1], replica: 2, signature: [3])),
            .viewChange(Self.vc),
            .viewChange(ViewChange(newView: 1, replica: 0, checkpoint: .genesis, prepared: [])),
            .newView(Self.nv),
            .prepare(Self.prepares[0]),
            .prePrepare(Self.pp),
        ]
        for m in messages {
            let bytes = m.encoded()
            XCTAssertEqual(Message(decoding: bytes), m)
            for cut in 0..<bytes.count { XCTAssertNil(Message(decoding: Array(bytes[..<cut])), "\(m) cut \(cut)") }
            XCTAssertNil(Message(decoding: bytes + [0]))
        }
        let records: [ConsensusRecord] = [
            .preparedCertificate(PreparedCertificate(prePrepare: Self.pp, prepares: Self.prepares)),
            .checkpoint(Checkpoint(sequence: 128, stateDigest: [1], replica: 2)),
            .stableCheckpoint(Self.checkpoint),
            .viewChange(Self.vc),
            .newView(Self.nv),
        ]
        for rec in records {
            let bytes = rec.encoded()
            XCTAssertEqual(ConsensusRecord(decoding: bytes), rec)
            for cut in 0..<bytes.count { XCTAssertNil(ConsensusRecord(decoding: Array(bytes[..<cut]))) }
        }
        XCTAssertEqual(records.map(\.key), ["pc/9", "cp/128", "scp", "vc/3", "nv"])
    }

    func testCountsAboveLimitsAreRejectedWithoutAllocating() {
        // A VIEW-CHANGE claiming 2^32 - 1 certificates in a few bytes.
        var w = PBFTWriter()
        w.u8(5); w.u64(1); w.replica(0); w.u64(0); w.blob([]); w.u32(0); w.u32(UInt32.max)
        XCTAssertNil(Message(decoding: w.bytes))
        var v = PBFTWriter()
        v.u8(6); v.u64(1); v.replica(0); v.u32(UInt32(PBFTCodecLimits.replicasPerMessageMax + 1))
        XCTAssertNil(Message(decoding: v.bytes))
        let big = Message.newView(NewView(view: 1, replica: 1, viewChanges: [], prePrepares: [
            PrePrepare(view: 1, sequence: 1, digest: [1], payload: [UInt8](repeating: 0, count: 50)),
        ]))
        XCTAssertNil(Message(decoding: big.encoded(), payloadBytesMax: 49))
    }

    func testSignedItemsAndSigningBytes() {
        // The payload is not signed: stripping it from a certificate keeps every signature valid.
        var stripped = Self.pp
        stripped.payload = []
        XCTAssertEqual(stripped.signingBytes, Self.pp.signingBytes)
        var other = Self.pp
        other.digest = [9]
        XCTAssertNotEqual(other.signingBytes, Self.pp.signingBytes)
        XCTAssertTrue(Self.pp.signingBytes.starts(with: pbftSigningDomain))
        // VIEW-CHANGE: 3 checkpoint proofs + 1 pre-prepare + 2 prepares + itself.
        let items = Message.viewChange(Self.vc).signedItems(replicaCount: 4)
        XCTAssertEqual(items.map(\.signer), [0, 1, 2, 2, 1, 3, 1])
        XCTAssertEqual(items.last?.bytes, Self.vc.signingBytes)
        // NEW-VIEW: both view changes' items and the re-issued pre-prepares (signed by primary 3).
        XCTAssertEqual(Message.newView(Self.nv).signedItems(replicaCount: 4).count, 2 * 7 + 2)
        XCTAssertEqual(Message.commit(Commit(view: 0, sequence: 1, digest: [1], replica: 0)).signedItems(replicaCount: 4), [])
        // signed(by:) fills only the author's empty fields.
        let unsigned = ViewChange(
            newView: 4, replica: 2, checkpoint: .genesis,
            prepared: [PreparedCertificate(
                prePrepare: PrePrepare(view: 2, sequence: 1, digest: [1], payload: []),
                prepares: [Prepare(view: 2, sequence: 1, digest: [1], replica: 1, signature: [5]),
                           Prepare(view: 2, sequence: 1, digest: [1], replica: 3)])])
        guard case .viewChange(let signed) = Message.viewChange(unsigned).signed(by: 2, replicaCount: 4, using: { fakeSign(2, $0) }) else {
            return XCTFail()
        }
        XCTAssertEqual(signed.prepared[0].prePrepare.signature, fakeSign(2, unsigned.prepared[0].prePrepare.signingBytes))
        XCTAssertEqual(signed.prepared[0].prepares[0].signature, [5])
        XCTAssertEqual(signed.prepared[0].prepares[1].signature, [])
        XCTAssertEqual(signed.signature, fakeSign(2, signed.signingBytes))
        XCTAssertEqual(Message.newView(Self.nv).claimedSender(replicaCount: 4), 3)
        XCTAssertEqual(Message.prePrepare(Self.pp).claimedSender(replicaCount: 4), 2)
    }

    func testGarbageWithNewTagsNeverTraps() {
        var rng = SplitMix64(state: 7)
        let seeds = [Message.viewChange(Self.vc).encoded(), Message.newView(Self.nv).encoded()]
        for _ in 0..<5_000 {
            var bytes = seeds[rng.below(2)]
            for _ in 0..<(1 + rng.below(4)) { bytes[rng.below(bytes.count)] = UInt8(truncatingIfNeeded: rng.next()) }
            if rng.chance(30) { bytes = Array(bytes.prefix(rng.below(bytes.count))) }
            _ = Message(decoding: bytes)
            _ = ConsensusRecord(decoding: [8] + bytes.dropFirst())
            let tag = UInt8(4 + rng.below(3))
            _ = Message(decoding: [tag] + (0..<rng.below(60)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        }
    }
}

final class BoundsTests: XCTestCase {
    func testAFloodingPeerCannotGrowTheReplicaWithoutBound() {
        var r = Replica(config: PBFTConfig(replicaCount: 4, selfIndex: 1), lastCommittedSequence: 0, restoring: [])
        for s: UInt64 in stride(from: 1, through: 20_000, by: 7) {
            r.step(.prepare(Prepare(view: 0, sequence: s, digest: [1], replica: 2)), from: 2)
            r.step(.commit(Commit(view: 0, sequence: s, digest: [1], replica: 2)), from: 2)
            r.step(.prePrepare(PrePrepare(view: 0, sequence: s, digest: [1], payload: [1])), from: 2)  // not the primary
            r.step(.checkpoint(Checkpoint(sequence: s * 128, stateDigest: [1], replica: 2)), from: 2)
            r.step(.viewChange(ViewChange(newView: s, replica: 2, checkpoint: .genesis, prepared: [])), from: 2)
        }
        // Window + lookahead (5) sequences x 2 votes, at most 17 stored view changes, 2 checkpoints, 1 claim.
        XCTAssertLessThanOrEqual(r.bufferedMessageCount, 5 * 2 + 17 + 2 + 1)
        XCTAssertEqual(r.view, 0, "one replica alone never moves another")
        XCTAssertTrue(r.isViewActive)
    }
}
