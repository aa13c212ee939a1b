import CertChainModel
import Foundation
import XCTest

@testable import CertChainNode
@testable import CertChainSimulation

/// No transaction waits forever on the one node that holds it: a transaction a client offers again is passed on
/// again, in the client's order (after a crash the client resubmits what is not committed; the validator it reaches
/// may hold it while the next primary does not); a copy forwarded by a peer is not passed on again, but is taken even
/// when clients are refused; and what has stayed the oldest waiting transaction for a whole request timeout is
/// passed on again.
final class TransactionGossipTests: XCTestCase {
    final class RecordingNetwork: PeerNetwork, @unchecked Sendable {
        private let lock = NSLock()
        private var sent: [[UInt8]] = []
        func send(to peerId: String, _ payload: [UInt8]) { lock.withLock { sent.append(payload) } }
        func broadcast(_ payload: [UInt8]) { lock.withLock { sent.append(payload) } }
        /// The transactions sent since the last call, in order.
        func takeTransactions() -> [[UInt8]] {
            lock.withLock {
                defer { sent = [] }
                return sent.compactMap { payload in
                    if case .transaction(let bytes)? = try? PeerMessage.decode(payload) { return bytes }
                    return nil
                }
            }
        }
    }

    func testResubmittedTransactionIsPassedOnAgainInTheClientsOrder() throws {
        let fixture = try SimulationFixture(workloadDirectory: SimulationTests.workload, validators: 4, transactionCount: 3)
        let options = NodeOptions(genesis: fixture.genesis, validatorId: "node1", nodeKey: fixture.validatorKeys[1], dataDirectory: "")
        let core = try NodeCore(
            options: options, storage: MemoryStorage(), clock: { 1_625_000_000_000 }, logger: Logger(label: "t", minimumLevel: .off))
        let network = RecordingNetwork()
        core.network = network
        let (first, second) = (fixture.transactions[0], fixture.transactions[1])
        guard case .accepted = core.admit(first) else { return XCTFail("the first workload transaction is admissible") }
        XCTAssertEqual(network.takeTransactions(), [first.encode()], "admission passes it on")

        core.admitForwarded(first.encode())
        XCTAssertEqual(network.takeTransactions(), [], "a copy from a peer is not passed on again")

        guard case .accepted(_, let status) = core.admit(first) else { return XCTFail("a resubmission is accepted") }
        XCTAssertEqual(status, "pending")
        _ = core.admit(second)
        XCTAssertEqual(network.takeTransactions(), [first.encode(), second.encode()], "resubmitted, then the next: in the client's order")
        XCTAssertEqual(core.mempool.count, 2)
    }

    final class Clock: @unchecked Sendable {
        private let lock = NSLock()
        private var nowMs: Int64 = 1_625_000_000_000
        var now: Int64 { lock.withLock { nowMs } }
        func advance(_ ms: Int64) { lock.withLock { nowMs += ms } }
    }

    func testStuckTransactionIsSentToEveryPeerAgain() throws {
        let fixture = try SimulationFixture(workloadDirectory: SimulationTests.workload, validators: 4, transactionCount: 3)
        let clock = Clock()
        // node1 is a backup in view 0: it never proposes, so what it admits waits for the primary.
        let options = NodeOptions(genesis: fixture.genesis, validatorId: "node1", nodeKey: fixture.validatorKeys[1], dataDirectory: "")
        let core = try NodeCore(options: options, storage: MemoryStorage(), clock: { clock.now }, logger: Logger(label: "t", minimumLevel: .off))
        let network = RecordingNetwork()
        core.network = network
        let interval = Int64(fixture.genesis.consensus.requestTimeoutMs)
        let (first, second) = (fixture.transactions[0], fixture.transactions[1])
        guard case .accepted = core.admit(first), case .accepted = core.admit(second) else { return XCTFail("workload transactions are admissible") }
        XCTAssertEqual(network.takeTransactions(), [first.encode(), second.encode()], "admission passes them on once")

        core.tick()
        XCTAssertEqual(network.takeTransactions(), [], "not yet: the first check only notes the oldest waiting transaction")
        clock.advance(interval / 2)
        core.tick()
        XCTAssertEqual(network.takeTransactions(), [], "not before a whole request timeout")
        clock.advance(interval / 2)
        core.tick()
        XCTAssertEqual(network.takeTransactions(), [first.encode(), second.encode()], "still the oldest after a timeout: sent again, in order")

        core.mempool.remove([fixture.ids[0]])
        clock.advance(interval)
        core.tick()
        XCTAssertEqual(network.takeTransactions(), [], "the oldest moved on: nothing is sent again")
        core.mempool.remove([fixture.ids[1]])
        clock.advance(interval)
        core.tick()
        clock.advance(interval)
        core.tick()
        XCTAssertEqual(network.takeTransactions(), [], "nothing waits: nothing is sent again")
    }

    func testForwardedCopyIsTakenWhenClientsAreRefused() throws {
        let fixture = try SimulationFixture(workloadDirectory: SimulationTests.workload, validators: 4, transactionCount: 3)
        var options = NodeOptions(genesis: fixture.genesis, validatorId: "node1", nodeKey: fixture.validatorKeys[1], dataDirectory: "")
        options.mempoolCapacity = 1
        let core = try NodeCore(
            options: options, storage: MemoryStorage(), clock: { 1_625_000_000_000 }, logger: Logger(label: "t", minimumLevel: .off))
        guard case .accepted = core.admit(fixture.transactions[0]) else { return XCTFail("the first workload transaction is admissible") }
        guard case .refused(503, "mempool-full", _) = core.admit(fixture.transactions[1]) else { return XCTFail("a full mempool refuses clients") }
        core.admitForwarded(fixture.transactions[1].encode())
        XCTAssertTrue(core.mempool.contains(fixture.ids[1]), "a peer's copy is kept: the primary may need it from here")
        core.admitForwarded(fixture.transactions[2].encode())
        XCTAssertEqual(core.mempool.count, 3, "room for every validator's share")
    }
}
