import CertChainModel
import Foundation
import XCTest

@testable import CertChainNode
@testable import CertChainSimulation

/// A transaction a client offers again is passed on again, in the client's order (after a crash the client
/// resubmits what is not committed; the validator it reaches may hold it while the next primary does not);
/// a copy forwarded by a peer is not passed on again.
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
}
