import XCTest
@testable import PBFT

/// Seeded whole-cluster runs: random order, loss, duplication, primary crashes with restarts from stored
/// records, partitions, windows 1-3, checkpoints every 4. Checks agreement always, and progress once faults stop.
/// A failure names its seed; `runSeed(seed, verbose: true)` replays it.
final class RandomFaultTests: XCTestCase {
    static let seedCount: UInt64 = 300

    struct Stats: CustomStringConvertible {
        var seedsWithByzantine = 0, seedsWithViewChange = 0, seedsWithNewView = 0, seedsWithNull = 0, seedsWithCheckpoint = 0
        var maxView: UInt64 = 0
        var description: String {
            "byzantine replica in \(seedsWithByzantine) seeds, view change in \(seedsWithViewChange) seeds, NEW-VIEW in \(seedsWithNewView), null request committed in \(seedsWithNull), stable checkpoint in \(seedsWithCheckpoint), highest view \(maxView)"
        }
    }
    var stats = Stats()

    /// `CERTCHAIN_SIM_SEED=N swift test --filter testReplaySeed` replays one seed with a state dump.
    func testReplaySeed() throws {
        guard let text = ProcessInfo.processInfo.environment["CERTCHAIN_SIM_SEED"], let seed = UInt64(text) else {
            throw XCTSkip("set CERTCHAIN_SIM_SEED to replay a seed")
        }
        runSeed(seed, verbose: true)
    }

    func testRandomFaultsAgreementAndProgressAfterHealing() {
        var failed: [UInt64] = []
        for seed in 0..<Self.seedCount where !runSeed(seed) {
            failed.append(seed)
        }
        XCTAssertEqual(failed, [], "failing seeds (replay with CERTCHAIN_SIM_SEED=N)")
        // The faults must actually exercise the view change, null requests and checkpoints.
        print("random faults: \(stats)")
        XCTAssertGreaterThan(stats.seedsWithNewView, Int(Self.seedCount) / 2)
        XCTAssertGreaterThan(stats.seedsWithCheckpoint, Int(Self.seedCount) / 2)
    }

    /// One signed malicious message from `b` to a random honest replica, aimed at what that replica is doing now.
    func injectByzantine(_ b: ReplicaIndex, _ c: inout Cluster, _ rng: inout SplitMix64) {
        let to = (b + 1 + rng.below(c.n - 1)) % c.n
        let target = c.replicas[to]
        let view = target.view
        let s = target.lastCommittedSequence + 1 + UInt64(rng.below(3))
        let tag = UInt8(0x80 | rng.below(4))
        let message: Message
        switch rng.below(6) {
        case 0 where Int(view % UInt64(c.n)) == b:
            message = .prePrepare(PrePrepare(view: view, sequence: s, digest: digest(s, tag), payload: payload(s, tag)))
        case 0, 1:
            message = .prepare(Prepare(view: view, sequence: s, digest: digest(s, tag), replica: b))
        case 2:
            message = .commit(Commit(view: view, sequence: s, digest: digest(s, tag), replica: b))
        case 3:
            message = .viewChange(ViewChange(newView: view + 1 + UInt64(rng.below(40)), replica: b, checkpoint: .genesis, prepared: []))
        case 4:
            let k = target.config.checkpointInterval
            message = .checkpoint(Checkpoint(sequence: (target.lastCommittedSequence / k + UInt64(rng.below(2))) * k, stateDigest: [tag], replica: b))
        default:
            // A NEW-VIEW with no proof, or a view change replayed under its own name.
            message = .newView(NewView(view: view + 1, replica: b, viewChanges: [], prePrepares: []))
        }
        c.inFlight.append(Envelope(from: b, to: to, message: signedAs(b, message, n: c.n)))
    }

    /// Runs one seed; returns false (after recording XCTest failures) when agreement or progress failed.
    @discardableResult
    func runSeed(_ seed: UInt64, verbose: Bool = false) -> Bool {
        var rng = SplitMix64(state: seed &* 0x2545_F491_4F6C_DD1D &+ 11)
        let n = seed % 4 == 3 ? 7 : 4
        let f = (n - 1) / 3
        let window = UInt64(1 + rng.below(3))
        var c = Cluster(n: n, windowSize: window, timeoutTicks: 4 + rng.below(4), configure: checkpointEvery(4))
        c.verdict = { _, r in r.payload.count == 3 && r.digest == [0xD1, r.payload[1], r.payload[2]] }
        // Every fifth seed, the last replica is byzantine for the whole run: its own output is discarded and it
        // injects signed garbage (equivocating pre-prepares when primary, random votes, far view changes, wrong
        // checkpoints). It uses one of the f faults, so fewer crashes are allowed.
        let byzantine: ReplicaIndex? = seed % 5 == 4 ? n - 1 : nil
        if let b = byzantine { c.silenced = [b] }
        let crashBudget = byzantine == nil ? f : f - 1
        let honest = (0..<n).filter { $0 != byzantine }
        var isolated: ReplicaIndex? = nil
        var lossPercent = 10
        c.drop = { _ in false }

        func proposeIfPossible(_ c: inout Cluster, _ rng: inout SplitMix64, limit: UInt64) {
            for i in 0..<c.n where !c.crashed.contains(i) && c.replicas[i].canPropose && rng.chance(30) {
                let s = c.replicas[i].nextProposalSequence
                guard s <= limit else { continue }
                let tag = UInt8(truncatingIfNeeded: c.replicas[i].view & 0x7F)
                c.replicas[i].propose(digest: digest(s, tag), payload: payload(s, tag))
            }
        }

        // Fault phase.
        for step in 0..<2_500 {
            proposeIfPossible(&c, &rng, limit: 200)
            if let b = byzantine, rng.chance(4) { injectByzantine(b, &c, &rng) }
            if rng.chance(1) && c.crashed.count < crashBudget {
                // Crash the primary most of the time (as seen by a random live replica).
                let observer = (0..<n).filter { !c.crashed.contains($0) }[0]
                let victim = rng.chance(70) ? c.replicas[observer].primary : rng.below(n)
                if !c.crashed.contains(victim) { c.crash(victim) }
            }
            if rng.chance(1), let back = c.crashed.sorted().first { c.restart(back) }
            if rng.chance(1) {
                isolated = (isolated == nil && c.crashed.count < crashBudget) ? honest[rng.below(honest.count)] : nil
                let cut = isolated
                let loss = lossPercent
                var lossRng = SplitMix64(state: seed ^ UInt64(step))
                c.drop = { e in e.from == cut || e.to == cut || lossRng.chance(loss) }
            }
            for _ in 0..<2 where !c.inFlight.isEmpty {
                let k = rng.below(c.inFlight.count)
                let e = c.inFlight[k]
                if !rng.chance(5) {
                    c.inFlight.swapAt(k, c.inFlight.count - 1)
                    c.inFlight.removeLast()
                }
                c.deliver(e)
            }
            let i = rng.below(n)
            _ = c.processReady(i)
            if rng.chance(70) { _ = c.answerValidations(i) }
            if step % 5 == 0 { c.tickAll(pending: true) }
            if rng.chance(2) { c.catchUp(rng.below(n)) }
        }

        // Faults stop: everyone restarts, the network heals, messages still in flight are delivered.
        for i in c.crashed.sorted() { c.restart(i) }
        isolated = nil
        lossPercent = 0
        c.drop = { _ in false }
        let start = honest.map { c.committed[$0].count }.max() ?? 0
        let target = UInt64(start + 3)
        var healed = false
        for tick in 0..<3_000 {
            proposeIfPossible(&c, &rng, limit: target)
            if let b = byzantine, rng.chance(20) { injectByzantine(b, &c, &rng) }
            c.tickAll(pending: true)
            c.run()
            if tick % 5 == 0 { for i in 0..<n { c.catchUp(i) } }
            if honest.allSatisfy({ c.committed[$0].count >= Int(target) }) {
                healed = true
                break
            }
        }
        c.settleLocal()
        c.assertAgreement()
        XCTAssertEqual(c.badSignatures, 0, "seed \(seed)")
        if byzantine != nil { stats.seedsWithByzantine += 1 }
        XCTAssertTrue(healed, "seed \(seed): no progress after healing; committed \((0..<n).map { c.committed[$0].count }), views \((0..<n).map { c.replicas[$0].view }) active \((0..<n).map { c.replicas[$0].isViewActive })")
        c.assertNoEquivocation()
        stats.maxView = max(stats.maxView, (0..<n).map { c.replicas[$0].view }.max() ?? 0)
        if (0..<n).contains(where: { c.replicas[$0].view > 0 }) { stats.seedsWithViewChange += 1 }
        if (0..<n).contains(where: { c.committed[$0].contains(where: \.isNull) }) { stats.seedsWithNull += 1 }
        if (0..<n).contains(where: { c.replicas[$0].stableCheckpoint.sequence > 0 }) { stats.seedsWithCheckpoint += 1 }
        if c.newViewsSent > 0 { stats.seedsWithNewView += 1 }
        if verbose || !healed {
            for i in 0..<n {
                let r = c.replicas[i]
                print("  r\(i) view \(r.view) active \(r.isViewActive) primary \(r.primary) committed \(r.lastCommittedSequence) low \(r.lowWatermark) stable \(r.stableCheckpoint.sequence) canPropose \(r.canPropose) next \(r.nextProposalSequence) applied \(c.committed[i].count) buffered \(r.bufferedMessageCount)")
            }
            print("seed \(seed) n \(n) window \(window) committed \((0..<n).map { c.committed[$0].count }) views \((0..<n).map { c.replicas[$0].view })")
        }
        return healed && c.badSignatures == 0
    }
}
