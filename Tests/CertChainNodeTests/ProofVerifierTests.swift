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
            ("", "the document is empty"), ("null", "not a JSON object"), ("{\"a\": 1} trailing", "not valid JSON"),
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
}
