import CertChainCrypto
import CertChainLedger
import CertChainModel
import CertChainNet
import Foundation

extension Node {
    /// Routes of answers with proofs (`?proof=true`); nil when the request is not one of them.
    func handleProofRoutes(_ request: HTTPRequest, _ parts: [String]) -> HTTPResponse? {
        if request.method == "GET", let value = request.query["proof"], value != "true", value != "false" {
            // A misspelt flag must not pass for an answer without proof.
            return .error(400, code: "invalid-query", message: "proof must be true or false, not \(value)")
        }
        guard request.method == "GET", request.query["proof"] == "true", parts.count >= 3, parts[0] == "v1" else { return nil }
        switch (parts.count, parts[1]) {
        case (3, "certificates"): return proofResponse { try self.certificateProof(number: parts[2]) }
        case (4, "certificates") where parts[3] == "history": return proofResponse { try self.historyProof(number: parts[2]) }
        case (3, "transactions"): return proofResponse { try self.transactionProof(hashText: parts[2]) }
        default: return nil
        }
    }

    /// Encodes a built proof document, or maps the builder's refusal to an API error.
    func proofResponse(_ build: () throws -> [UInt8]) -> HTTPResponse {
        do {
            return .json(200, try build())
        } catch let refusal as ProofRefusal {
            return .error(refusal.status, code: refusal.code, message: refusal.message)
        } catch {
            return .error(500, code: "internal", message: "could not build the proof: \(error)")
        }
    }
}

/// Why a proof cannot be given (an API error with a 4xx status).
struct ProofRefusal: Error {
    var status: Int
    var code: String
    var message: String
}

/// The state commitment of the latest committed block, published by the driver after every commit
/// and read by HTTP threads (see docs/PROOFS.md, "How the node answers").
final class LatestStateCommitment: @unchecked Sendable {
    private let lock = NSLock()
    private var latest: (height: UInt64, state: StateSnapshot)?

    /// Called on the driver queue after the block at `height` is stored and applied.
    func publish(height: UInt64, state: StateSnapshot) { lock.withLock { latest = (height, state) } }

    /// The latest published height and its state commitment.
    var value: (height: UInt64, state: StateSnapshot)? { lock.withLock { latest } }
}
