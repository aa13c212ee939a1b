import XCTest
import CertChainCrypto

final class DigestTests: XCTestCase {
    func testSM3Vectors() {
        XCTAssertEqual(Hex.encode(Digest.sm3(Array("abc".utf8))),
                       "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
        let abcd16 = Array(String(repeating: "abcd", count: 16).utf8)
        XCTAssertEqual(abcd16.count, 64)
        XCTAssertEqual(Hex.encode(Digest.sm3(abcd16)),
                       "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732")
        XCTAssertEqual(HashAlgorithm.sm3.hash(Array("abc".utf8)), Digest.sm3(Array("abc".utf8)))
        XCTAssertEqual(SignatureSuite.sm2sm3.hash(Array("abc".utf8)), Digest.sm3(Array("abc".utf8)))
    }

    func testSHA256Vectors() {
        XCTAssertEqual(Hex.encode(Digest.sha256([])),
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(Hex.encode(Digest.sha256(Array("abc".utf8))),
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(Hex.encode(Digest.sha256(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SignatureSuite.ed25519sha256.hash(Array("abc".utf8)), Digest.sha256(Array("abc".utf8)))
    }

    func testHexStrictness() {
        XCTAssertEqual(Hex.encode([0x00, 0x0f, 0xab, 0xff]), "000fabff")
        XCTAssertEqual(Hex.decode("000fabff"), [0x00, 0x0f, 0xab, 0xff])
        XCTAssertEqual(Hex.decode(""), [])
        XCTAssertNil(Hex.decode("abc"))          // odd length
        XCTAssertNil(Hex.decode("ABCD"))         // uppercase
        XCTAssertNil(Hex.decode("0xab"))         // prefix
        XCTAssertNil(Hex.decode("ab cd"))        // whitespace
        XCTAssertNil(Hex.decode("zz"))
        XCTAssertNil(Hex.decode("ab\n"))
        XCTAssertNil(Hex.decode("éé"))
        let random = SecureRandom.bytes(100)
        XCTAssertEqual(Hex.decode(Hex.encode(random)), random)
    }

    func testSecureRandom() {
        XCTAssertEqual(SecureRandom.bytes(0).count, 0)
        let a = SecureRandom.bytes(32), b = SecureRandom.bytes(32)
        XCTAssertEqual(a.count, 32)
        XCTAssertNotEqual(a, b)
    }
}
