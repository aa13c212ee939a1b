import CertChainModel
import Foundation
import XCTest

@testable import CertChainNode
@testable import CertChainSimulation

/// Pruning the consensus log after a stable checkpoint: at once without an executor (the deterministic simulator),
/// in order and in small chunks through a real node's executor, so that the driver is not held up.
final class ConsensusPruneTests: XCTestCase {
    /// Work handed to the executor, run when the test says so.
    final class QueuedWork: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [@Sendable () -> Void] = []
        var count: Int { lock.withLock { items.count } }
        func add(_ work: @escaping @Sendable () -> Void) { lock.withLock { items.append(work) } }
        func runAll() {
            for work in lock.withLock({ items }) { work() }
            lock.withLock { items.removeAll() }
        }
    }

    func records(_ count: Int) -> [(key: String, value: [UInt8])] {
        (1...count).map { (key: "pp/\($0)", value: [UInt8](repeating: UInt8($0 % 256), count: 1000)) }
    }

    func testWithoutAnExecutorRecordsAreDeletedAtOnce() throws {
        let (core, _) = try SignatureOnceTests.makeCore()
        let records = records(5)
        try core.store.putConsensusRecords(records)
        core.prune(records.prefix(3).map(\.key))
        XCTAssertEqual(try core.store.consensusRecords().map(\.key).sorted(), ["pp/4", "pp/5"])
    }

    func testWithAnExecutorRecordsAreDeletedLaterInChunksAndInOrder() throws {
        let (core, _) = try SignatureOnceTests.makeCore()
        let queued = QueuedWork()
        core.pruneExecutor = { queued.add($0) }
        let records = records(20)
        try core.store.putConsensusRecords(records)
        core.prune(records.map(\.key))
        XCTAssertEqual(try core.store.consensusRecords().count, 20, "nothing is deleted on the driver")
        XCTAssertEqual(queued.count, (20 + NodeCore.pruneChunkKeys - 1) / NodeCore.pruneChunkKeys, "one transaction per chunk")
        // A record written after the prune was asked for (a later sequence) survives it.
        try core.store.putConsensusRecords([(key: "pp/21", value: [1])])
        queued.runAll()
        XCTAssertEqual(try core.store.consensusRecords().map(\.key), ["pp/21"])
    }
}
