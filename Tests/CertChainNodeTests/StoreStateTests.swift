import CertChainCrypto
import CertChainLedger
import CertChainModel
import CertChainStore
import Foundation
import XCTest

@testable import CertChainNode

/// A node's ledger runs on its SQLite store (`StoreCommittedState`): it must give exactly the memory ledger's
/// receipts, roots and proofs block by block, serve committed values (never a stale cached one), and rebuild the
/// same root when the store is reopened.
final class StoreStateTests: XCTestCase {
    func testStoreBackedLedgerMatchesTheMemoryLedgerAndSurvivesReopen() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("certchain-store-state-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        _ = try WorkloadGenerator(options: .init(certificates: 60, seed: 5, badRate: 0.1)).write(to: directory.appendingPathComponent("workload"))
        let workload = try Workload(directory: directory.appendingPathComponent("workload"))
        let genesis = try StateGrowthBench.genesis(workload.reference)
        let hash = genesis.hashAlgorithm
        let path = directory.appendingPathComponent("chain.sqlite").path
        var store = try ChainStore(path: path)
        var onStore = Ledger(genesis: genesis, state: try StoreCommittedState(storage: store, cachedValuesMax: 64))
        var inMemory = Ledger(genesis: genesis)
        let emptyRoot = inMemory.stateRoot
        XCTAssertEqual(onStore.stateRoot, emptyRoot)
        var height: UInt64 = 0
        var start = 0
        while start < workload.transactions.count {
            let items = Array(workload.transactions[start..<min(start + 25, workload.transactions.count)])
            start += items.count
            height += 1
            let transactions = try items.map { try StateGrowthBench.unsigned($0, chainId: genesis.chainId) }
            let ids = transactions.map { $0.id(hash) }
            let date = items.map(\.effectiveDate).max()!
            let expected = inMemory.execute(transactions, txHashes: ids, blockDate: date, height: height)
            let got = onStore.execute(transactions, txHashes: ids, blockDate: date, height: height)
            XCTAssertEqual(got.receipts, expected.receipts, "block \(height)")
            XCTAssertEqual(got.stateRoot, expected.stateRoot, "block \(height)")
            try store.commitBlock(
                ChainStore.StoredBlock(height: height, hash: hash.hash(got.stateRoot + [UInt8(height & 0xFF)]), blockBytes: [], certificateBytes: [],
                                       transactions: []),
                stateChanges: got.changes, bucketChanges: got.bucketChanges, indexEntries: [])
            onStore.commit(got)
            inMemory.commit(expected)
            // Keys read (and cached) in earlier blocks and written in this one must read back as written.
            for change in got.changes { XCTAssertEqual(onStore.value(forKey: change.key), change.value, change.key) }
        }
        XCTAssertNotEqual(inMemory.stateRoot, emptyRoot)
        let certificateKeys = inMemory.sortedEntries.map(\.key).filter { $0.hasPrefix("cert/") }
        XCTAssertGreaterThan(certificateKeys.count, 50)

        store.close()
        store = try ChainStore(path: path)
        defer { store.close() }
        let reopened = Ledger(genesis: genesis, state: try StoreCommittedState(storage: store))
        XCTAssertEqual(reopened.stateRoot, inMemory.stateRoot)
        XCTAssertEqual(try store.stateKeyCount(), inMemory.keyCount)
        for key in certificateKeys.prefix(20) + ["cert/440300209999999999"] {
            let value = reopened.value(forKey: key)
            XCTAssertEqual(value, inMemory.value(forKey: key))
            let proof = reopened.stateProof(forKey: key)
            XCTAssertEqual(proof, inMemory.stateProof(forKey: key))
            XCTAssertEqual(proof.path.count, 16)
            XCTAssertTrue(proof.verify(value: value, stateRoot: reopened.stateRoot, hash: hash), key)
            XCTAssertFalse(proof.verify(value: (value ?? []) + [0x20], stateRoot: reopened.stateRoot, hash: hash), key)
        }
        // A snapshot accepts a bucket's entries only if they are the ones it commits to.
        let snapshot = reopened.stateSnapshot
        let key = certificateKeys[0]
        let entries = try store.stateBucketEntries(snapshot.bucket(of: key))
        XCTAssertNotNil(snapshot.proof(forKey: key, entries: entries))
        XCTAssertNil(snapshot.proof(forKey: key, entries: entries.map { (key: $0.key, valueHash: hash.hash($0.valueHash)) }))
    }
}
