import CertChainCrypto
import CertChainModel
import Foundation
import XCTest

@testable import CertChainNode
@testable import CertChainSimulation

/// Each transaction's signature is verified once per validator, and a remembered verification never lets a copy
/// with another signature into a block.
final class SignatureOnceTests: XCTestCase {
    /// A backup's core (node1 of 4) over three workload transactions, with no network.
    static func makeCore() throws -> (NodeCore, SimulationFixture) {
        let fixture = try SimulationFixture(workloadDirectory: SimulationTests.workload, validators: 4, transactionCount: 3)
        let options = NodeOptions(genesis: fixture.genesis, validatorId: "node1", nodeKey: fixture.validatorKeys[1], dataDirectory: "")
        let core = try NodeCore(options: options, storage: MemoryStorage(), clock: { 1_625_000_000_000 }, logger: Logger(label: "t", minimumLevel: .off))
        return (core, fixture)
    }

    func testVerifiedCopyWithAnotherSignatureIsRejected() throws {
        let (core, fixture) = try Self.makeCore()
        let original = fixture.transactions[0]
        let id = fixture.ids[0]
        XCTAssertNil(core.firstInvalidSignature([original], ids: [id]), "a correctly signed transaction passes")
        XCTAssertTrue(core.verified.contains(id, signature: original.signature), "and is remembered as verified")
        var forged = original
        forged.signature = try PrivateKey.generate(suite: fixture.genesis.suite).sign(original.transaction.signingBytes)
        XCTAssertEqual(forged.id(fixture.genesis.hashAlgorithm), id, "the id covers only the signed bytes")
        XCTAssertEqual(core.firstInvalidSignature([original, forged], ids: [id, id]), 1, "the same id with another signature is checked, and fails")
        if case .refused(let status, let code, _) = core.admit(forged) {
            XCTAssertEqual(status, 401)
            XCTAssertEqual(code, "bad-signature")
        } else {
            XCTFail("a forged copy of a verified transaction must be refused")
        }
    }

    func testAdmittedTransactionIsNotVerifiedAgainInABlock() throws {
        let (core, fixture) = try Self.makeCore()
        guard case .accepted = core.admit(fixture.transactions[0]) else { return XCTFail("the first workload transaction is admissible") }
        XCTAssertTrue(core.verified.contains(fixture.ids[0], signature: fixture.transactions[0].signature))
        let set = VerifiedTransactions(idsMax: 2)
        for (id, signature) in [([UInt8(1)], [UInt8(2)]), ([3], [4]), ([5], [6])] {
            XCTAssertTrue(set.verifyOnce(id, signature: signature) { true })
        }
        XCTAssertFalse(set.contains([1], signature: [2]), "bounded: a full set starts over")
        XCTAssertTrue(set.contains([5], signature: [6]))
        XCTAssertFalse(set.contains([5], signature: [7]))
    }

    /// A transaction reaching several threads at once (the gossip queue and a proposal's validation) is verified by
    /// one of them; the others take its result. A failed verification is not remembered.
    func testConcurrentVerificationsOfOneTransactionRunOnce() {
        let set = VerifiedTransactions()
        let calls = ResultCounter()
        let answers = ResultCounter()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            let valid = set.verifyOnce([9], signature: [8]) {
                calls.add()
                usleep(20_000)  // a verification long enough for the others to arrive while it runs
                return true
            }
            if valid { answers.add() }
        }
        XCTAssertEqual(calls.count, 1, "verified once")
        XCTAssertEqual(answers.count, 8, "every thread got the answer")
        XCTAssertTrue(set.contains([9], signature: [8]))
        XCTAssertFalse(set.verifyOnce([7], signature: [6]) { false })
        XCTAssertFalse(set.contains([7], signature: [6]), "a failure is not remembered as verified")
        XCTAssertTrue(set.verifyOnce([7], signature: [6]) { true }, "and is checked again next time")
    }

    func testSignerKeyIsLookedUpOnceAndUnknownSignersAreLookedUpAgain() throws {
        let (core, fixture) = try Self.makeCore()
        let organization = fixture.genesis.organizations[0]
        let cache = SignerKeyCache()
        var lookups = 0
        let lookup: (String) -> String? = { signer in
            lookups += 1
            return signer == "org:" + organization.id ? organization.publicKey : nil
        }
        XCTAssertNotNil(cache.key(suite: fixture.genesis.suite, signer: "org:" + organization.id, lookupHex: lookup))
        XCTAssertNotNil(cache.key(suite: fixture.genesis.suite, signer: "org:" + organization.id, lookupHex: lookup))
        XCTAssertEqual(lookups, 1, "a found key is kept")
        XCTAssertNil(cache.key(suite: fixture.genesis.suite, signer: "ent:91110000000000000X", lookupHex: lookup))
        XCTAssertNil(cache.key(suite: fixture.genesis.suite, signer: "ent:91110000000000000X", lookupHex: lookup))
        XCTAssertEqual(lookups, 3, "a signer not found is not remembered: it may register later")
        // Through admission: a transaction of a signer not registered is refused as unknown, not from a cache.
        var stranger = fixture.transactions[0]
        stranger.transaction.signer = "ent:91110000000000000X"
        if case .refused(let status, let code, _) = core.admit(stranger) {
            XCTAssertEqual(status, 403)
            XCTAssertEqual(code, "unknown-signer")
        } else {
            XCTFail("an unregistered signer must be refused")
        }
    }
}

/// A thread-safe counter for tests.
final class ResultCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    /// Adds one.
    func add() { lock.withLock { value += 1 } }
    /// The count so far.
    var count: Int { lock.withLock { value } }
}
