import CertChainCrypto
import Foundation
import XCTest
import CertChainModel
@testable import CertChainLedger

/// Locates workload directories: $CERTCHAIN_WORKLOAD_DIR, samples/ in the repo, or ../shared/workload.
enum WorkloadLocator {
    static func directory(_ name: String) -> URL? {
        var candidates: [URL] = []
        if let env = ProcessInfo.processInfo.environment["CERTCHAIN_WORKLOAD_DIR"] {
            let base = URL(fileURLWithPath: env)
            candidates += [base.appendingPathComponent(name), base]
        }
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(repo.appendingPathComponent("samples").appendingPathComponent(name))
        candidates.append(repo.deletingLastPathComponent().appendingPathComponent("shared/workload").appendingPathComponent(name))
        candidates.append(URL(fileURLWithPath: "/work/shared/workload").appendingPathComponent(name))
        for c in candidates where FileManager.default.fileExists(atPath: c.appendingPathComponent("transactions.jsonl").path) {
            if c.lastPathComponent == name || candidates.first == c { return c }
        }
        return nil
    }
}

/// Test fixtures: genesis from reference data with fake keys, and workload replay.
enum Fixtures {
    static func fakeKey(_ seed: String) -> String {
        var bytes = [UInt8](repeating: 0, count: 64)
        for (i, b) in seed.utf8.enumerated() { bytes[i % 64] ^= b }
        return "04" + Hex.encode(bytes)
    }

    static func genesis(_ reference: ReferenceData, historicalImport: Bool = true) -> Genesis {
        let template = GenesisTemplate(reference: reference, chainId: "certchain-test", suite: .sm2sm3, historicalImport: historicalImport)
        var orgKeys: [String: String] = [:], valKeys: [String: String] = [:], audKeys: [String: String] = [:]
        for o in template.organizations { orgKeys[o.id] = fakeKey("org:" + o.id) }
        for v in template.validators { valKeys[v.id] = fakeKey("val:" + v.id) }
        for a in template.auditors { audKeys[a.id] = fakeKey("aud:" + a.id) }
        return try! template.genesis(organizationKeys: orgKeys, validatorKeys: valKeys, auditorKeys: audKeys)
    }

    static func signed(_ w: WorkloadTransaction, chainId: String) throws -> SignedTransaction {
        let body = try w.typedBody(publicKey: w.registeredTaxId.map { fakeKey("ent:" + $0) })
        return SignedTransaction(transaction: Transaction(chainId: chainId, signer: w.signer, nonce: UInt64(w.seq),
                                                          effectiveDate: w.effectiveDate, body: body), signature: [])
    }

    struct BlockInput {
        var txs: [SignedTransaction]
        var hashes: [[UInt8]]
        var date: String
        var expects: [WorkloadTransaction]
    }

    static func blocks(_ workload: Workload, genesis: Genesis, size: Int = 20) throws -> [BlockInput] {
        var out: [BlockInput] = []
        var i = 0
        while i < workload.transactions.count {
            let chunk = Array(workload.transactions[i..<min(i + size, workload.transactions.count)])
            let txs = try chunk.map { try signed($0, chainId: genesis.chainId) }
            out.append(BlockInput(txs: txs, hashes: txs.map { $0.id(genesis.hashAlgorithm) },
                                  date: chunk.map(\.effectiveDate).max()!, expects: chunk))
            i += size
        }
        return out
    }

    /// Replays blocks; returns the ledger, receipts, per-block roots and the mismatches found.
    static func replay(_ blocks: [BlockInput], genesis: Genesis) -> (Ledger, [Receipt], [[UInt8]], [String]) {
        var ledger = Ledger(genesis: genesis)
        var receipts: [Receipt] = []
        var roots: [[UInt8]] = []
        var problems: [String] = []
        for (h, b) in blocks.enumerated() {
            let exec = ledger.execute(b.txs, txHashes: b.hashes, blockDate: b.date, height: UInt64(h + 1))
            for (r, w) in zip(exec.receipts, b.expects) {
                if let m = r.mismatch(against: w.expect) { problems.append("seq \(w.seq) \(w.kind.rawValue): \(m)") }
            }
            receipts += exec.receipts
            ledger.commit(exec)
            XCTAssertEqual(ledger.stateRoot, exec.stateRoot)
            roots.append(exec.stateRoot)
        }
        return (ledger, receipts, roots, problems)
    }
}
