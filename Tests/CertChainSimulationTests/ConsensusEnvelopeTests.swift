import CertChainCrypto
import CertChainModel
import Foundation
import PBFT
import XCTest

@testable import CertChainNode
@testable import CertChainSimulation

/// Consensus messages whose own signatures cover them travel without an envelope signature; the others still need
/// one, and a message is never accepted on the strength of a signature it does not carry.
final class ConsensusEnvelopeTests: XCTestCase {
    func testSelfSignedMessagesNeedNoEnvelopeAndOthersDo() throws {
        let (core, fixture) = try SignatureOnceTests.makeCore()
        let chainId = fixture.genesis.chainId
        let digest = [UInt8](repeating: 7, count: 32)
        let prepare = Message.prepare(Prepare(view: 0, sequence: 1, digest: digest, replica: 2))

        let payload = try XCTUnwrap(
            NodeCore.signedConsensusPayload(prepare, validatorIndex: 2, validatorCount: 4, key: fixture.validatorKeys[2], chainId: chainId))
        guard case .consensus(let envelope) = try PeerMessage.decode(payload) else { return XCTFail("a consensus message") }
        XCTAssertTrue(envelope.signature.isEmpty, "a prepare is sent without an envelope signature")
        XCTAssertNotNil(core.decodeAndVerify(from: "node2", payload), "and accepted on its own signature")
        XCTAssertNil(core.decodeAndVerify(from: "node3", payload), "but only from the replica that signed it")

        let forgedPrepare = try XCTUnwrap(
            NodeCore.signedConsensusPayload(prepare, validatorIndex: 2, validatorCount: 4, key: fixture.validatorKeys[3], chainId: chainId))
        XCTAssertNil(core.decodeAndVerify(from: "node2", forgedPrepare), "a prepare signed with another key is dropped")
        var withEnvelope = envelope
        withEnvelope.signature = try fixture.validatorKeys[2].sign(
            NodeCore.envelopeSigningBytes(ConsensusCodec.encode(envelope.message), chainId: chainId))
        guard case .prepare(var unsigned) = envelope.message else { return XCTFail("a prepare") }
        unsigned.signature = []
        withEnvelope.message = Message.prepare(unsigned)
        XCTAssertNil(
            core.decodeAndVerify(from: "node2", PeerMessage.consensus(withEnvelope).encode()),
            "an envelope signature does not stand in for the prepare's own")

        let certificateSignature = try fixture.validatorKeys[2].sign(CommitCertificate.signingBytes(chainId: chainId, height: 1, blockHash: digest))
        let commit = Message.commit(Commit(view: 0, sequence: 1, digest: digest, replica: 2, certificateSignature: certificateSignature))
        let signedCommit = try XCTUnwrap(
            NodeCore.signedConsensusPayload(commit, validatorIndex: 2, validatorCount: 4, key: fixture.validatorKeys[2], chainId: chainId))
        guard case .consensus(let commitEnvelope) = try PeerMessage.decode(signedCommit) else { return XCTFail("a consensus message") }
        XCTAssertTrue(commitEnvelope.signature.isEmpty, "a block's commit travels without an envelope: its certificate signature binds it")
        XCTAssertNotNil(core.decodeAndVerify(from: "node2", signedCommit), "and is accepted on that signature")
        XCTAssertNil(core.decodeAndVerify(from: "node3", signedCommit), "but only from the replica that signed it")
        let forgedCertificate = try fixture.validatorKeys[3].sign(CommitCertificate.signingBytes(chainId: chainId, height: 1, blockHash: digest))
        let forgedCommit = Message.commit(Commit(view: 0, sequence: 1, digest: digest, replica: 2, certificateSignature: forgedCertificate))
        XCTAssertNil(
            core.decodeAndVerify(from: "node2", PeerMessage.consensus(.init(message: forgedCommit, signature: [])).encode()),
            "a commit whose certificate signature is another validator's is dropped")
        let movedCommit = Message.commit(Commit(view: 0, sequence: 2, digest: digest, replica: 2, certificateSignature: certificateSignature))
        XCTAssertNil(
            core.decodeAndVerify(from: "node2", PeerMessage.consensus(.init(message: movedCommit, signature: [])).encode()),
            "and so is one moved to another sequence")

        let nullCommit = Message.commit(Commit(view: 1, sequence: 1, digest: [], replica: 2, certificateSignature: certificateSignature))
        let signedNullCommit = try XCTUnwrap(
            NodeCore.signedConsensusPayload(nullCommit, validatorIndex: 2, validatorCount: 4, key: fixture.validatorKeys[2], chainId: chainId))
        guard case .consensus(let nullEnvelope) = try PeerMessage.decode(signedNullCommit) else { return XCTFail("a consensus message") }
        XCTAssertFalse(nullEnvelope.signature.isEmpty, "a null sequence's commit carries an envelope signature")
        XCTAssertNotNil(core.decodeAndVerify(from: "node2", signedNullCommit))
        var bare = nullEnvelope
        bare.signature = []
        XCTAssertNil(core.decodeAndVerify(from: "node2", PeerMessage.consensus(bare).encode()), "a null commit without its envelope signature is dropped")
        guard case .commit(var otherView) = nullEnvelope.message else { return XCTFail("a commit") }
        otherView.view = 5
        bare = PeerMessage.Envelope(message: .commit(otherView), signature: nullEnvelope.signature)
        XCTAssertNil(core.decodeAndVerify(from: "node2", PeerMessage.consensus(bare).encode()), "nor one whose view was changed on the way")
    }
}
