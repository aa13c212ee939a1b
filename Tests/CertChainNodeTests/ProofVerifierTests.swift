import CertChainModel
import Foundation
import XCTest

@testable import CertChainNode

/// The saved proof examples verify; the same document with a whole number written as a fraction does not
/// (as in the Python verifier), while the same characters inside a string are only text.
final class ProofVerifierTests: XCTestCase {
    func testSavedExamplesVerifyAndFractionalNumbersAreRejected() throws {
        let folder = NetworkTests.repositoryRoot.appendingPathComponent("docs/proof-examples")
        let genesis = try Genesis.load(folder.appendingPathComponent("genesis.json"))
        let text = try String(contentsOf: folder.appendingPathComponent("certificate-440300202100000001.json"), encoding: .utf8)
        let verdict = ProofVerifier.verify(document: Array(text.utf8), genesis: genesis)
        XCTAssertTrue(verdict.valid, verdict.statement)

        let heightField = try XCTUnwrap(text.range(of: #""height" : [0-9]+"#, options: .regularExpression))
        let fractional = text.replacingCharacters(in: heightField, with: text[heightField] + ".0")
        let refused = ProofVerifier.verify(document: Array(fractional.utf8), genesis: genesis)
        XCTAssertFalse(refused.valid)
        XCTAssertTrue(refused.statement.contains("not a whole number"), refused.statement)

        for (document, reason) in [
            ("", "the document is empty"), ("null", "not a certchain proof"), ("127.0.0.1 is not a proof", "not a certchain proof"),
            (#"{"chainId": "x", "height": 1.5}"#, #"not a certchain proof (expected a JSON document with "format": "certchain-proof/v1")"#),
            ("{\"a\": 1} trailing", "not valid JSON"),
            ("\u{FEFF}" + text, "byte-order mark"),
        ] {
            let verdict = ProofVerifier.verify(document: Array(document.utf8), genesis: genesis)
            XCTAssertFalse(verdict.valid)
            XCTAssertTrue(verdict.statement.contains(reason), verdict.statement)
            XCTAssertFalse(verdict.statement.contains("NSCocoaErrorDomain"), verdict.statement)
        }

        XCTAssertNil(ProofVerifier.firstNonIntegerNumber(Array(#"{"a": "1.5e3", "b": [1, -2, 30], "c": "\"2.0"}"#.utf8)))
        XCTAssertEqual(ProofVerifier.firstNonIntegerNumber(Array(#"{"a": "x", "b": 1e3}"#.utf8)), "1e3")
        XCTAssertEqual(ProofVerifier.firstNonIntegerNumber(Array(#"[-0.5]"#.utf8)), "-0.5")
    }

    /// The saved certificate example and its genesis, and a fresh folder for variants (removed at teardown).
    func example() throws -> (text: String, genesis: Genesis, genesisPath: String, folder: String) {
        let examples = NetworkTests.repositoryRoot.appendingPathComponent("docs/proof-examples")
        let genesisPath = examples.appendingPathComponent("genesis.json").path
        let text = try String(contentsOf: examples.appendingPathComponent("certificate-440300202100000001.json"), encoding: .utf8)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("certchain-verify-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: folder) }
        return (text, try Genesis.load(URL(fileURLWithPath: genesisPath)), genesisPath, folder)
    }

    /// scripts/verify.py with `arguments`, or nil when python3 with gmssl is not installed.
    func python(_ arguments: [String]) throws -> (status: Int32, output: String)? {
        guard let probe = try? ProofTests.run("/usr/bin/env", ["python3", "-c", "import gmssl"]), probe.status == 0 else { return nil }
        let script = NetworkTests.repositoryRoot.appendingPathComponent("scripts/verify.py").path
        return try ProofTests.run("/usr/bin/env", ["python3", script] + arguments)
    }

    /// A key written twice in one object (Foundation and json.loads would keep the last value) is refused by both
    /// verifiers in a sentence naming the key, at the top level and nested, also when one spelling is escaped.
    func testDuplicateKeysAreRejectedByBothVerifiers() throws {
        let (text, genesis, genesisPath, folder) = try example()
        XCTAssertTrue(text.hasPrefix("{"))
        let height = try XCTUnwrap(text.range(of: #""height" : 4,"#))
        let variants: [(name: String, text: String, key: String)] = [
            ("top", #"{"format": "certchain-proof/v0", "# + text.dropFirst(), "format"),
            ("nested", text.replacingCharacters(in: height, with: #""height" : 4, "\u0068eight" : 5,"#), "height"),
        ]
        for variant in variants {
            let verdict = ProofVerifier.verify(document: Array(variant.text.utf8), genesis: genesis)
            XCTAssertFalse(verdict.valid, variant.name)
            XCTAssertEqual(verdict.statement, "the key \"\(variant.key)\" appears twice in one JSON object (a proof never repeats a key)")
            let path = "\(folder)/\(variant.name).json"
            try Data(variant.text.utf8).write(to: URL(fileURLWithPath: path))
            if let result = try python([path, genesisPath]) {
                XCTAssertEqual(result.status, 1, result.output)
                XCTAssertEqual(result.output, "INVALID: the key \"\(variant.key)\" appears twice in one JSON object (a proof never repeats a key)\n")
            }
        }

        // The same key in different objects, and quotes, braces and commas inside strings, are not duplicates.
        XCTAssertNil(ProofVerifier.firstDuplicateKey(Array(#"{"a": {"a": 1, "b": [{"a": 2}, {"a": 3}]}, "b": "x\", \"b\": {"}"#.utf8)))
        XCTAssertNil(ProofVerifier.firstDuplicateKey(Array(#"[{"k": ",\"k\":"}, {"k": 1}]"#.utf8)))
        XCTAssertEqual(ProofVerifier.firstDuplicateKey(Array(#"{"a": {"x": "}"}, "b": 1, "a": 2}"#.utf8)), "a")
        XCTAssertEqual(ProofVerifier.firstDuplicateKey(Array(#"{"é\\": 1, "\u00e9\\": 2}"#.utf8)), "é\\")
    }

    /// `certchain verify` on a file that is not a proof (a README, a genesis) says so before any field check; an empty
    /// file or /dev/null is called empty (exit 1, as any document read that does not verify); an extra argument is a
    /// usage error (exit 2).
    func testVerifyNamesFilesThatAreNotProofsAndRefusesExtraArguments() throws {
        let (text, _, genesisPath, folder) = try example()
        let valid = folder + "/valid.json", empty = folder + "/empty.json"
        try Data(text.utf8).write(to: URL(fileURLWithPath: valid))
        try Data().write(to: URL(fileURLWithPath: empty))
        let readme = NetworkTests.repositoryRoot.appendingPathComponent("README.md").path
        let binary = try NetworkTests.executable()
        let notAProof = #"INVALID: not a certchain proof (expected a JSON document with "format": "certchain-proof/v1")"#
        let cases: [(arguments: [String], status: Int32, message: String)] = [
            (["verify", readme, "--genesis", genesisPath], 1, notAProof),
            (["verify", genesisPath, "--genesis", genesisPath], 1, notAProof),
            (["verify", "/dev/null", "--genesis", genesisPath], 1, "INVALID: the document is empty"),
            (["verify", empty, "--genesis", genesisPath], 1, "INVALID: the document is empty"),
            (["verify", valid, "--genesis", genesisPath, "extra"], 2, "verify checks one proof FILE; unexpected argument(s): extra"),
        ]
        for (arguments, status, message) in cases {
            let cli = try ProofTests.run(binary, arguments)
            XCTAssertEqual(cli.status, status, "certchain \(arguments.joined(separator: " ")): \(cli.output)")
            XCTAssertTrue(cli.output.contains(message), "certchain \(arguments.joined(separator: " ")): \(cli.output)")
        }
    }

    /// `certchain verify` and scripts/verify.py exit alike: 0 valid, 1 read but does not verify, 2 usage error or an
    /// input that cannot be read (proof file, genesis), with a sentence and never a traceback.
    func testBothVerifiersUseTheSameExitStatus() throws {
        let (text, _, genesisPath, folder) = try example()
        let valid = folder + "/valid.json", invalid = folder + "/invalid.json", missing = folder + "/missing.json"
        try Data(text.utf8).write(to: URL(fileURLWithPath: valid))
        try Data(text.replacingOccurrences(of: "\"consumed\"", with: "\"issued\"").utf8).write(to: URL(fileURLWithPath: invalid))
        let binary = try NetworkTests.executable()
        let cases: [(swift: [String], python: [String], status: Int32, message: String)] = [
            (["verify", valid, "--genesis", genesisPath], [valid, genesisPath], 0, "VALID: "),
            (["verify", invalid, "--genesis", genesisPath], [invalid, genesisPath], 1, "INVALID: "),
            (["verify", missing, "--genesis", genesisPath], [missing, genesisPath], 2, "cannot read \(missing): no such file or directory"),
            (["verify", folder, "--genesis", genesisPath], [folder, genesisPath], 2, "cannot read \(folder): "),
            (["verify", valid, "--genesis", missing], [valid, missing], 2, "cannot read"),
            (["verify", valid, "--genesis", valid], [valid, valid], 2, "\(valid) is not a valid genesis file: missing field"),
            (["verify", valid], [valid], 2, "usage"),
            // Not a proof at all, or nothing: both verifiers say so in the same words.
            (["verify", NetworkTests.repositoryRoot.appendingPathComponent("README.md").path, "--genesis", genesisPath],
             [NetworkTests.repositoryRoot.appendingPathComponent("README.md").path, genesisPath], 1, "INVALID: not a certchain proof"),
            (["verify", genesisPath, "--genesis", genesisPath], [genesisPath, genesisPath], 1, "INVALID: not a certchain proof"),
            (["verify", "/dev/null", "--genesis", genesisPath], ["/dev/null", genesisPath], 1, "INVALID: the document is empty"),
        ]
        for (swift, python, status, message) in cases {
            let cli = try ProofTests.run(binary, swift)
            XCTAssertEqual(cli.status, status, "certchain \(swift.joined(separator: " ")): \(cli.output)")
            XCTAssertTrue(cli.output.contains(message), cli.output)
            guard let script = try self.python(python) else { continue }
            XCTAssertEqual(script.status, status, "verify.py \(python.joined(separator: " ")): \(script.output)")
            XCTAssertTrue(script.output.contains(message), script.output)
            XCTAssertFalse(script.output.contains("Traceback"), script.output)
        }
        if let each = try python(["--each", genesisPath, valid, invalid]) { XCTAssertEqual(each.status, 1, each.output) }
        if let each = try python(["--each", genesisPath, valid, missing, invalid]) { XCTAssertEqual(each.status, 2, each.output) }
        if let each = try python(["--each", genesisPath]) { XCTAssertEqual(each.status, 2, each.output) }
    }
}
