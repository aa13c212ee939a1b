import CertChainModel
import Foundation
import XCTest

@testable import CertChainNode
@testable import CertChainSimulation

/// A transaction whose gossip was lost must not wait forever on the one node that holds it: once it is the oldest
/// waiting transaction for a whole re-gossip interval, the node sends it to every peer again.
final class TransactionGossipTests: XCTestCase {
    final class RecordingNetwork: PeerNetwork, @unchecked Sendable {
        private let lock = NSLock()
        private var sent: [[UInt8]] = []
        func send(to peerId: String, _ payload: [UInt8]) { lock.withLock { sent.append(payload) } }
        func broadcast(_ payload: [UInt8]) { lock.withLock { sent.append(payload) } }
        /// The transactions broadcast or sent since the last call.
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
        let transaction = fixture.transactions[0]
        guard case .accepted = core.admit(transaction) else { return XCTFail("the first workload transaction is admissible") }
        XCTAssertEqual(network.takeTransactions(), [transaction.encode()], "admission gossips once")

        core.tick()
        XCTAssertEqual(network.takeTransactions(), [], "not yet: the first check only notes the oldest waiting transaction")
        clock.advance(NodeCore.regossipIntervalMs / 2)
        core.tick()
        XCTAssertEqual(network.takeTransactions(), [], "not before a whole interval")
        clock.advance(NodeCore.regossipIntervalMs / 2)
        core.tick()
        XCTAssertEqual(network.takeTransactions(), [transaction.encode()], "still the oldest after an interval: sent again")

        core.mempool.remove([fixture.ids[0]])
        clock.advance(NodeCore.regossipIntervalMs)
        core.tick()
        clock.advance(NodeCore.regossipIntervalMs)
        core.tick()
        XCTAssertEqual(network.takeTransactions(), [], "nothing waits: nothing is sent again")
    }
}
