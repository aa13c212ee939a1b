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
}
