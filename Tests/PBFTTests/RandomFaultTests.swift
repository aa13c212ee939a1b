import XCTest
@testable import PBFT

/// Seeded whole-cluster runs: random order, loss, duplication, primary crashes with restarts from stored
/// records, partitions, windows 1-3, checkpoints every 4. Checks agreement always, and progress once faults stop.
/// A failure names its seed; `runSeed(seed, verbose: true)` replays it.
final class RandomFaultTests: XCTestCase {
    static let seedCount: UInt64 = 300

    struct Stats: CustomStringConvertible {
        var seedsWithViewChange = 0, seedsWithNewView = 0, seedsWithNull = 0, seedsWithCheckpoint = 0
        var maxView: UInt64 = 0
        var description: String {
            "view change in \(seedsWithViewChange) seeds, NEW-VIEW in \(seedsWithNewView), null request committed in \(seedsWithNull), stable checkpoint in \(seedsWithCheckpoint), highest view \(maxView)"
        }
    }
    var stats = Stats()

    func testRandomFaultsAgreementAndProgressAfterHealing() {
        var failed: [UInt64] = []
        for seed in 0..<Self.seedCount where !runSeed(seed) {
            failed.append(seed)
        }
        XCTAssertEqual(failed, [], "failing seeds")
        // The faults must actually exercise the view change, null requests and checkpoints.
        print("random faults: \(stats)")
        XCTAssertGreaterThan(stats.seedsWithNewView, Int(Self.seedCount) / 2)
        XCTAssertGreaterThan(stats.seedsWithCheckpoint, Int(Self.seedCount) / 2)
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
            if rng.chance(1) && c.crashed.count < f {
                // Crash the primary most of the time (as seen by a random live replica).
                let observer = (0..<n).filter { !c.crashed.contains($0) }[0]
                let victim = rng.chance(70) ? c.replicas[observer].primary : rng.below(n)
                if !c.crashed.contains(victim) { c.crash(victim) }
            }
            if rng.chance(1), let back = c.crashed.sorted().first { c.restart(back) }
            if rng.chance(1) {
                isolated = (isolated == nil && c.crashed.count < f) ? rng.below(n) : nil
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
        let start = (0..<n).map { c.committed[$0].count }.max() ?? 0
        let target = UInt64(start + 3)
        var healed = false
        for tick in 0..<3_000 {
            proposeIfPossible(&c, &rng, limit: target)
            c.tickAll(pending: true)
            c.run()
            if tick % 5 == 0 { for i in 0..<n { c.catchUp(i) } }
            if (0..<n).allSatisfy({ c.committed[$0].count >= Int(target) }) {
                healed = true
                break
            }
        }
        c.settleLocal()
        c.assertAgreement()
        XCTAssertEqual(c.badSignatures, 0, "seed \(seed)")
        XCTAssertTrue(healed, "seed \(seed): no progress after healing; committed \((0..<n).map { c.committed[$0].count }), views \((0..<n).map { c.replicas[$0].view }) active \((0..<n).map { c.replicas[$0].isViewActive })")
        c.assertNoEquivocation()
        stats.maxView = max(stats.maxView, (0..<n).map { c.replicas[$0].view }.max() ?? 0)
        if (0..<n).contains(where: { c.replicas[$0].view > 0 }) { stats.seedsWithViewChange += 1 }
        if (0..<n).contains(where: { c.committed[$0].contains(where: \.isNull) }) { stats.seedsWithNull += 1 }
        if (0..<n).contains(where: { c.replicas[$0].stableCheckpoint.sequence > 0 }) { stats.seedsWithCheckpoint += 1 }
        if c.newViewsSent > 0 { stats.seedsWithNewView += 1 }
        if verbose {
            print("seed \(seed) n \(n) window \(window) committed \((0..<n).map { c.committed[$0].count }) views \((0..<n).map { c.replicas[$0].view })")
        }
        return healed && c.badSignatures == 0
    }
}
