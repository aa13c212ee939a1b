import Dispatch
import Foundation
import XCTest
import CertChainStore

final class ChainStoreTests: XCTestCase {
    private func temporaryPath() throws -> String {
        let directory = NSTemporaryDirectory() + "certchain-store-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: directory) }
        return directory + "/chain.sqlite"
    }

    private func block(_ height: UInt64, txs: Int = 2) -> ChainStore.StoredBlock {
        makeBlock(height, txs: txs)
    }
    func testCommitAndReadBack() throws {
        let store = try ChainStore(path: try temporaryPath())
        XCTAssertNil(try store.lastBlock())
        try store.commitBlock(block(1), stateChanges: [(key: "ent/1", value: [1]), (key: "ent/2", value: [])])
        try store.commitBlock(block(2, txs: 0), stateChanges: [])
        let last = try XCTUnwrap(try store.lastBlock())
        XCTAssertEqual(last.height, 2)
        XCTAssertEqual(last.hash, Array("hash-2".utf8))
        XCTAssertEqual(try store.blockBytes(height: 1), Array("block-1".utf8))
        XCTAssertEqual(try store.certificateBytes(height: 1), Array("cert-1".utf8))
        XCTAssertEqual(try store.blockHash(height: 2), Array("hash-2".utf8))
        XCTAssertEqual(try store.blockHeight(hash: Array("hash-1".utf8)), 1)
        XCTAssertNil(try store.blockBytes(height: 3))
        XCTAssertNil(try store.blockBytes(height: UInt64.max))
        let location = try XCTUnwrap(try store.transactionLocation(hash: Array("tx-h1-1".utf8)))
        XCTAssertEqual(location.height, 1)
        XCTAssertEqual(location.index, 1)
        XCTAssertEqual(try store.receiptBytes(txHash: Array("tx-h1-0".utf8)), Array("rc-h1-0".utf8))
        XCTAssertNil(try store.receiptBytes(txHash: [0xde, 0xad]))
        XCTAssertEqual(try store.allTransactionHashes(), [Array("tx-h1-0".utf8), Array("tx-h1-1".utf8)])
        XCTAssertEqual(try store.stateValue(key: "ent/1"), [1])
        XCTAssertEqual(try store.stateValue(key: "ent/2"), [])   // empty value is not absent
        XCTAssertNil(try store.stateValue(key: "ent/3"))
    }

    func testHeightRules() throws {
        let store = try ChainStore(path: try temporaryPath())
        XCTAssertThrowsError(try store.commitBlock(block(5), stateChanges: [])) { error in
            XCTAssertTrue("\(error)".contains("first block must have height 0 or 1"), "\(error)")
        }
        try store.commitBlock(block(0, txs: 0), stateChanges: [])
        XCTAssertThrowsError(try store.commitBlock(block(2), stateChanges: [])) { error in
            XCTAssertTrue("\(error)".contains("expected 1"), "\(error)")
        }
        XCTAssertThrowsError(try store.commitBlock(block(0), stateChanges: []))
        try store.commitBlock(block(1), stateChanges: [])
        XCTAssertEqual(try store.lastBlock()?.height, 1)
    }

    func testFailedCommitLeavesNothingBehind() throws {
        let store = try ChainStore(path: try temporaryPath())
        try store.commitBlock(block(1), stateChanges: [(key: "a", value: [1])])
        // Block 2 repeats a transaction hash of block 1 in its second position: it must fail
        // after the block row, the first transaction and state changes were already written.
        var bad = block(2)
        bad.transactions[1].hash = Array("tx-h1-0".utf8)
        XCTAssertThrowsError(try store.commitBlock(bad, stateChanges: [(key: "a", value: nil), (key: "b", value: [2])],
                                                   indexEntries: [(key: "hist/x", value: [1])])) { error in
            XCTAssertTrue((error as? StoreError)?.isConstraintViolation ?? false, "\(error)")
        }
        // A duplicate within the block fails too.
        var dup = block(2)
        dup.transactions[1].hash = dup.transactions[0].hash
        XCTAssertThrowsError(try store.commitBlock(dup, stateChanges: [(key: "b", value: [2])]))
        // A duplicate block hash fails.
        var sameHash = block(2)
        sameHash.hash = Array("hash-1".utf8)
        XCTAssertThrowsError(try store.commitBlock(sameHash, stateChanges: [(key: "b", value: [2])]))

        XCTAssertEqual(try store.lastBlock()?.height, 1)
        XCTAssertNil(try store.blockBytes(height: 2))
        XCTAssertNil(try store.transactionLocation(hash: Array("tx-h2-0".utf8)))
        XCTAssertEqual(try store.transactionLocation(hash: Array("tx-h1-0".utf8))?.height, 1)
        XCTAssertEqual(try store.stateValue(key: "a"), [1])
        XCTAssertNil(try store.stateValue(key: "b"))
        XCTAssertEqual(try store.indexEntries(keyPrefix: "", after: nil, limit: 10).count, 0)
        XCTAssertEqual(try store.allTransactionHashes().count, 2)
        // The writer is usable afterwards.
        try store.commitBlock(block(2), stateChanges: [(key: "b", value: [2])])
        XCTAssertEqual(try store.lastBlock()?.height, 2)
    }

    func testReopenAfterClose() throws {
        let path = try temporaryPath()
        do {
            let store = try ChainStore(path: path)
            try store.commitBlock(block(1), stateChanges: [(key: "k", value: [7])])
            try store.putConsensusRecords([(key: "view", value: [3])])
            try store.putMeta(key: "genesis", value: [9, 9])
            store.close()
            XCTAssertThrowsError(try store.lastBlock()) { XCTAssertTrue("\($0)".contains("closed"), "\($0)") }
            XCTAssertThrowsError(try store.commitBlock(block(2), stateChanges: []))
            store.close()   // idempotent
        }
        let reopened = try ChainStore(path: path)
        XCTAssertEqual(try reopened.lastBlock()?.height, 1)
        XCTAssertEqual(try reopened.stateValue(key: "k"), [7])
        XCTAssertEqual(try reopened.consensusRecords().map(\.key), ["view"])
        XCTAssertEqual(try reopened.meta(key: "genesis"), [9, 9])
        XCTAssertNil(try reopened.meta(key: "other"))
        try reopened.commitBlock(block(2), stateChanges: [])
        XCTAssertEqual(try reopened.lastBlock()?.height, 2)
    }

    func testSecondStoreOnSameFileSeesCommittedWrites() throws {
        let path = try temporaryPath()
        let writer = try ChainStore(path: path)
        try writer.commitBlock(block(1), stateChanges: [(key: "x", value: [1])])
        try writer.putConsensusRecords([(key: "prepare/1", value: [1])])
        let observer = try ChainStore(path: path)
        XCTAssertEqual(try observer.lastBlock()?.height, 1)
        XCTAssertEqual(try observer.stateValue(key: "x"), [1])
        XCTAssertEqual(try observer.consensusRecords().first?.value, [1])
        try writer.commitBlock(block(2), stateChanges: [(key: "x", value: nil)])
        XCTAssertEqual(try observer.lastBlock()?.height, 2)
        XCTAssertNil(try observer.stateValue(key: "x"))
        observer.close()
        writer.close()
    }

    func testStateDeleteAndOverwrite() throws {
        let store = try ChainStore(path: try temporaryPath())
        try store.commitBlock(block(1), stateChanges: [(key: "a", value: [1]), (key: "b", value: [2]), (key: "c", value: [3])])
        try store.commitBlock(block(2), stateChanges: [(key: "b", value: nil), (key: "c", value: [33]), (key: "zz", value: nil)])
        XCTAssertNil(try store.stateValue(key: "b"))
        let all = try store.allState()
        XCTAssertEqual(all.map(\.key), ["a", "c"])
        XCTAssertEqual(all.map(\.value), [[1], [33]])
        // Later changes in the same list win.
        try store.commitBlock(block(3), stateChanges: [(key: "d", value: [1]), (key: "d", value: nil), (key: "e", value: nil), (key: "e", value: [5])])
        XCTAssertNil(try store.stateValue(key: "d"))
        XCTAssertEqual(try store.stateValue(key: "e"), [5])
    }

    func testPaginationByPrefix() throws {
        let store = try ChainStore(path: try temporaryPath())
        var changes: [(key: String, value: [UInt8]?)] = (0..<25).map { (key: String(format: "cert/%03d", $0), value: [UInt8($0)]) }
        changes += [(key: "cert", value: [0xaa]), (key: "cert0", value: [0xbb]), (key: "cerr", value: [1]),
                    (key: "a\u{7f}x", value: [1]), (key: "a\u{7f}", value: [2]), (key: "a\u{80}", value: [3]),
                    (key: "证明/1", value: [4]), (key: "证明/2", value: [5]), (key: "证明0", value: [6])]
        try store.commitBlock(block(1), stateChanges: changes)
        var keys: [String] = []
        var after: String? = nil
        while true {
            let page = try store.stateEntries(keyPrefix: "cert/", after: after, limit: 10)
            if page.isEmpty { break }
            XCTAssertLessThanOrEqual(page.count, 10)
            keys += page.map(\.key)
            after = page.last?.key
        }
        XCTAssertEqual(keys, (0..<25).map { String(format: "cert/%03d", $0) })
        XCTAssertEqual(try store.stateEntries(keyPrefix: "cert/", after: "cert/020", limit: 100).count, 4)
        XCTAssertEqual(try store.stateEntries(keyPrefix: "cert/", after: nil, limit: 0).count, 0)
        // A prefix whose last byte is 0x7f: the upper bound is 0x80, not valid UTF-8 on its own.
        XCTAssertEqual(try store.stateEntries(keyPrefix: "a\u{7f}", after: nil, limit: 10).map(\.key), ["a\u{7f}", "a\u{7f}x"])
        XCTAssertEqual(try store.stateEntries(keyPrefix: "证明/", after: nil, limit: 10).map(\.value), [[4], [5]])
        XCTAssertEqual(try store.stateEntries(keyPrefix: "", after: nil, limit: 1000).count, 34)
        XCTAssertEqual(try store.allState().count, 34)
        let sorted = try store.allState().map { Array($0.key.utf8) }
        XCTAssertEqual(sorted, sorted.sorted { $0.lexicographicallyPrecedes($1) })
    }

    func testIndexEntries() throws {
        let store = try ChainStore(path: try temporaryPath())
        try store.commitBlock(block(1), stateChanges: [], indexEntries: [(key: "hist/C1/0000000001/0000", value: [1]),
                                                                           (key: "hist/C2/0000000001/0001", value: [2])])
        try store.commitBlock(block(2), stateChanges: [], indexEntries: [(key: "hist/C1/0000000002/0000", value: [3])])
        XCTAssertEqual(try store.indexEntries(keyPrefix: "hist/C1/", after: nil, limit: 10).map(\.value), [[1], [3]])
        XCTAssertNil(try store.stateValue(key: "hist/C1/0000000001/0000"))
    }

    func testConsensusRecords() throws {
        let store = try ChainStore(path: try temporaryPath())
        try store.putConsensusRecords([(key: "commit/1/0", value: [1]), (key: "commit/2/0", value: [2]), (key: "view", value: [0])])
        try store.putConsensusRecords([(key: "view", value: [1])])
        try store.putConsensusRecord(key: "commit/10/0", value: [10])
        XCTAssertEqual(try store.consensusRecords().map(\.key), ["commit/1/0", "commit/10/0", "commit/2/0", "view"])
        XCTAssertEqual(try store.consensusRecords().last?.value, [1])
        try store.deleteConsensusRecords(keyPrefix: "commit/1/")
        XCTAssertEqual(try store.consensusRecords().map(\.key), ["commit/10/0", "commit/2/0", "view"])
        try store.deleteConsensusRecords(keyPrefix: "commit/")
        XCTAssertEqual(try store.consensusRecords().map(\.key), ["view"])
        try store.deleteConsensusRecords(keyPrefix: "")
        XCTAssertTrue(try store.consensusRecords().isEmpty)
        try store.putMeta(key: "m", value: [1])
        try store.putMeta(key: "m", value: [2])
        XCTAssertEqual(try store.meta(key: "m"), [2])
    }

    func testConcurrentReadersWhileWriterCommits() throws {
        let store = try ChainStore(path: try temporaryPath())
        try store.commitBlock(block(1), stateChanges: [(key: "height", value: [1])])
        let failures = FailureLog()
        let blocks: UInt64 = 150
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            for height in 2...blocks {
                do {
                    try store.commitBlock(makeBlock(height), stateChanges: [(key: "height", value: [UInt8(height % 256)])])
                    if height % 10 == 0 { try store.putConsensusRecords([(key: "checkpoint", value: [UInt8(height % 256)])]) }
                } catch {
                    failures.add("writer: \(error)")
                }
            }
        }
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            var lastSeen: UInt64 = 0
            while lastSeen < blocks {
                do {
                    guard let last = try store.lastBlock() else { failures.add("reader \(worker): no block"); return }
                    if last.height < lastSeen { failures.add("reader \(worker): height went back") }
                    lastSeen = last.height
                    // Everything of a visible block is visible (atomic commit).
                    if try store.blockBytes(height: last.height) == nil { failures.add("reader: block \(last.height) missing") }
                    if try store.transactionLocation(hash: Array("tx-h\(last.height)-1".utf8)) == nil {
                        failures.add("reader: tx of block \(last.height) missing")
                    }
                    _ = try store.allState()
                    _ = try store.consensusRecords()
                } catch {
                    failures.add("reader \(worker): \(error)")
                    return
                }
            }
        }
        group.wait()
        XCTAssertEqual(failures.all, [])
        XCTAssertEqual(try store.lastBlock()?.height, blocks)
        XCTAssertEqual(try store.allTransactionHashes().count, Int(blocks) * 2)
    }

    func testErrorsAreActionable() throws {
        XCTAssertThrowsError(try ChainStore(path: "/nonexistent-dir-\(UUID().uuidString)/chain.sqlite")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("open") && text.contains("directory"), text)
        }
        let path = try temporaryPath()
        try Data("this is not a database, just text that is long enough to have a header".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try ChainStore(path: path)) { error in
            XCTAssertTrue("\(error)".contains("not a valid certchain database"), "\(error)")
        }
    }
}

/// Thread-safe list of failure messages.
final class FailureLog: @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [String] = []
    func add(_ message: String) { lock.lock(); messages.append(message); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return messages }
}

/// A test block at `height` with `txs` transactions whose hashes are "tx-h<height>-<index>".
func makeBlock(_ height: UInt64, txs: Int = 2) -> ChainStore.StoredBlock {
    let seed = "h\(height)"
    return ChainStore.StoredBlock(
        height: height, hash: Array("hash-\(height)".utf8), blockBytes: Array("block-\(height)".utf8),
        certificateBytes: Array("cert-\(height)".utf8),
        transactions: (0..<txs).map {
            ChainStore.StoredTransaction(hash: Array("tx-\(seed)-\($0)".utf8), index: $0,
                                         receiptBytes: Array("rc-\(seed)-\($0)".utf8))
        })
}
