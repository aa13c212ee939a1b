import CertChainModel
import Foundation
import XCTest

@testable import CertChainNode

/// A refused submission says where its JSON went wrong in words a client author can act on.
final class DecodingMessageTests: XCTestCase {
    private func message(_ json: String) -> String {
        do {
            _ = try JSONDecoder().decode(SignedTransaction.self, from: Data(json.utf8))
            return "decoded"
        } catch {
            return describeTransactionJSON(error, body: Array(json.utf8))
        }
    }

    func testMessagesNameThePlaceAndTheProblem() {
        XCTAssertTrue(message("[]").hasPrefix("wrong type at the top level:"), message("[]"))
        let negative = message(#"{"chainId":"c","kind":"registerEnterprise","signer":"org:a","nonce":-1,"effectiveDate":"2021-01-04","body":{},"signature":"00"}"#)
        XCTAssertEqual(negative, "nonce must be a whole number from 0 to 18446744073709551615, not -1")
        XCTAssertFalse(negative.hasPrefix("The given data was not valid JSON"), negative)
        let kind = message(#"{"chainId":"c","kind":"stealMoney","signer":"org:a","nonce":1,"effectiveDate":"2021-01-04","body":{},"signature":"00"}"#)
        XCTAssertTrue(kind.hasPrefix("invalid value at kind:"), kind)
        XCTAssertEqual(message("{"), "The given data was not valid JSON.", "broken JSON is still called that")
    }
}
