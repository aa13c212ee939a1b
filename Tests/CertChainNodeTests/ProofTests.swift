import CertChainCrypto
import CertChainModel
import CertChainNet
import Foundation
import XCTest

@testable import CertChainNode

/// Proof documents from a real 4-validator network, checked by the Swift verifier (in process and the
/// `certchain verify` binary) and by `scripts/verify.py`; every tampered variant must be rejected by both.
final class ProofTests: XCTestCase {
    enum Step { case key(String), index(Int) }

    struct Mutation {
        var label: String
        var bytes: [UInt8]
    }

    /// Exit status and combined stdout and stderr of `executable arguments…`.
    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func testProofsOfEveryKindVerifyAndEveryTamperIsRejected() throws {
        let (testnet, genesis) = try makeTestnet()
        let root = NetworkTests.repositoryRoot
        let binary = try NetworkTests.executable()
        let options = smallReplayOptions(testnet, genesis)
        let summary = try WorkloadReplay(options: options).run(log: { _ in })
        XCTAssertEqual(summary.mismatches, 0)

        // One certificate per status present in the workload's expectations.
        let expectedData = try Data(contentsOf: root.appendingPathComponent("samples/small/expected.json"))
        let expected = try XCTUnwrap(try JSONSerialization.jsonObject(with: expectedData) as? [String: Any])
        let certificates = try XCTUnwrap(expected["certificates"] as? [String: [String: Any]])
        var byStatus: [String: String] = [:]
        for number in certificates.keys.sorted() {
            if let status = certificates[number]?["status"] as? String, byStatus[status] == nil { byStatus[status] = number }
        }
        XCTAssertNotNil(byStatus["issued"]); XCTAssertNotNil(byStatus["consumed"]); XCTAssertNotNil(byStatus["revoked"])

        let api = try HTTPClient(url: "http://\(genesis.validators[1].apiAddress)")
        let auditor = try XCTUnwrap(try RequestSigner.auditor(keysDirectory: testnet.keysDirectory, chainId: genesis.chainId))
        func fetch(_ path: String) throws -> [UInt8] {
            let response = try api.request("GET", path, headers: try auditor.headers(method: "GET", target: path))
            XCTAssertEqual(response.status, 200, "\(path): \(String(decoding: response.body, as: UTF8.self))")
            return response.body
        }
        var documents: [(name: String, bytes: [UInt8])] = []
        for status in ["issued", "partiallyConsumed", "consumed", "revoked"] {
            guard let number = byStatus[status] else { continue }
            let bytes = try fetch("/v1/certificates/\(number)?proof=true")
            let verdict = ProofVerifier.verify(document: bytes, genesis: genesis)
            XCTAssertTrue(verdict.valid, verdict.statement)
            XCTAssertTrue(verdict.statement.hasPrefix("certificate \(number) is \(status), final as of height"), verdict.statement)
            documents.append(("certificate-\(status)", bytes))
        }
        let consumed = try XCTUnwrap(byStatus["consumed"])
        let history = try fetch("/v1/certificates/\(consumed)/history?proof=true")
        documents.append(("history-consumed", history))
        let historyObject = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(history)) as? [String: Any])
        let entries = try XCTUnwrap((historyObject["answer"] as? [String: Any])?["entries"] as? [[String: Any]])
        let lastTx = try XCTUnwrap(entries.last?["txHash"] as? String)
        documents.append(("transaction", try fetch("/v1/transactions/\(lastTx)?proof=true")))
        // Without proof=true the plain answers are unchanged.
        let plain = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try fetch("/v1/certificates/\(consumed)"))) as? [String: Any])
        XCTAssertNil(plain["state"]); XCTAssertEqual(plain["certificateNumber"] as? String, consumed)

        for (name, bytes) in documents {
            let verdict = ProofVerifier.verify(document: bytes, genesis: genesis)
            XCTAssertTrue(verdict.valid, "\(name): \(verdict.statement)")
        }

        // Save them (kept when CERTCHAIN_PROOF_DIR is set).
        let keep = ProcessInfo.processInfo.environment["CERTCHAIN_PROOF_DIR"]
        let out = keep ?? FileManager.default.temporaryDirectory.appendingPathComponent("certchain-proofs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: out + "/tampered", withIntermediateDirectories: true)
        if keep == nil { addTeardownBlock { try? FileManager.default.removeItem(atPath: out) } }
        let genesisPath = testnet.genesisPath
        var validPaths: [String] = []
        for (name, bytes) in documents {
            let path = "\(out)/\(name).json"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            validPaths.append(path)
        }

        // The binary, once valid and once tampered.
        let cli = try Self.run(binary, ["verify", validPaths[0], "--genesis", genesisPath])
        XCTAssertEqual(cli.status, 0, cli.output)
        XCTAssertTrue(cli.output.hasPrefix("VALID: certificate "), cli.output)

        // Tampering: every string value, every number, every hex byte of signatures and Merkle paths of the
        // transaction proof, sampled hex bytes elsewhere.
        var mutations: [Mutation] = []
        for (name, bytes) in documents {
            let object = try JSONSerialization.jsonObject(with: Data(bytes))
            mutations += try tamper(object, name: name, everyByte: name == "transaction")
        }
        XCTAssertGreaterThan(mutations.count, 500)
        var accepted: [String] = []
        var tamperedPaths: [String] = []
        for (i, mutation) in mutations.enumerated() {
            let verdict = ProofVerifier.verify(document: mutation.bytes, genesis: genesis)
            if verdict.valid { accepted.append(mutation.label) }
            let path = "\(out)/tampered/\(i).json"
            try Data(mutation.bytes).write(to: URL(fileURLWithPath: path))
            tamperedPaths.append(path)
        }
        XCTAssertEqual(accepted, [], "the Swift verifier accepted tampered documents")
        let cliTampered = try Self.run(binary, ["verify", tamperedPaths[0], "--genesis", genesisPath])
        XCTAssertEqual(cliTampered.status, 1, cliTampered.output)
        XCTAssertTrue(cliTampered.output.hasPrefix("INVALID: "), cliTampered.output)

        // The independent Python verifier.
        let script = root.appendingPathComponent("scripts/verify.py").path
        guard let probe = try? Self.run("/usr/bin/env", ["python3", "-c", "import gmssl"]), probe.status == 0 else {
            throw XCTSkip("python3 with gmssl is not available; scripts/test installs it (pip install gmssl)")
        }
        let valid = try Self.run("/usr/bin/env", ["python3", script, "--each", genesisPath] + validPaths)
        XCTAssertEqual(valid.status, 0, valid.output)
        XCTAssertEqual(valid.output.split(separator: "\n").filter { $0.hasPrefix("VALID ") }.count, documents.count, valid.output)
        let single = try Self.run("/usr/bin/env", ["python3", script, validPaths[0], genesisPath])
        XCTAssertEqual(single.status, 0, single.output)
        let tampered = try Self.run("/usr/bin/env", ["python3", script, "--each", genesisPath] + tamperedPaths)
        XCTAssertEqual(tampered.status, 1)
        let lines = tampered.output.split(separator: "\n")
        XCTAssertEqual(lines.count, mutations.count, String(tampered.output.suffix(2000)))
        let pythonAccepted = lines.enumerated().filter { !$0.element.hasPrefix("INVALID ") }.map { "\(mutations[$0.offset].label): \($0.element)" }
        XCTAssertEqual(pythonAccepted, [], "scripts/verify.py accepted tampered documents")
        print("proof documents in \(out); \(mutations.count) tampered variants rejected by both verifiers")
    }

    /// Variants of `object` with exactly one leaf changed.
    func tamper(_ object: Any, name: String, everyByte: Bool) throws -> [Mutation] {
        var out: [Mutation] = []
        func visit(_ value: Any, _ path: [Step]) throws {
            if let d = value as? [String: Any] {
                for k in d.keys.sorted() { try visit(d[k]!, path + [.key(k)]) }
            } else if let a = value as? [Any] {
                for (i, v) in a.enumerated() { try visit(v, path + [.index(i)]) }
            } else if let s = value as? String {
                let label = "\(name) \(describe(path))"
                let chars = Array(s)
                let isHex = !chars.isEmpty && chars.count % 2 == 0 && chars.allSatisfy { "0123456789abcdef".contains($0) } && chars.count >= 16
                if isHex {
                    let bytes = chars.count / 2
                    let positions = everyByte ? Array(0..<bytes) : Array(Set([0, bytes / 2, bytes - 1])).sorted()
                    for p in positions {
                        var c = chars
                        c[2 * p] = c[2 * p] == "0" ? "1" : "0"
                        out.append(Mutation(label: "\(label) byte \(p)", bytes: try replaced(object, path, String(c))))
                    }
                } else {
                    var c = chars
                    if c.isEmpty { c = ["x"] } else { c[c.count - 1] = c[c.count - 1] == "1" ? "2" : "1" }
                    out.append(Mutation(label: label, bytes: try replaced(object, path, String(c))))
                }
            } else if let n = value as? NSNumber {
                guard case .key(let k)? = path.last, k != "txCount" else { return }  // txCount: see docs/PROOFS.md
                let new: Any = k == "ok" ? false : NSNumber(value: n.int64Value + 1)
                out.append(Mutation(label: "\(name) \(describe(path))", bytes: try replaced(object, path, new)))
            }
        }
        try visit(object, [])
        return out
    }

    func describe(_ path: [Step]) -> String {
        path.map { step -> String in
            switch step {
            case .key(let k): return "." + k
            case .index(let i): return "[\(i)]"
            }
        }.joined()
    }

    func replaced(_ object: Any, _ path: [Step], _ new: Any) throws -> [UInt8] {
        func set(_ value: Any, _ rest: ArraySlice<Step>) -> Any {
            guard let step = rest.first else { return new }
            switch step {
            case .key(let k):
                var d = value as! [String: Any]
                d[k] = set(d[k]!, rest.dropFirst())
                return d
            case .index(let i):
                var a = value as! [Any]
                a[i] = set(a[i], rest.dropFirst())
                return a
            }
        }
        return Array(try JSONSerialization.data(withJSONObject: set(object, path[...]), options: [.sortedKeys]))
    }
}
