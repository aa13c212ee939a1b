import Dispatch
import Foundation
import XCTest
import CertChainCrypto

final class SignatureTests: XCTestCase {
    // RFC 8032 section 7.1, tests 1-3.
    let rfc8032: [(seed: String, publicKey: String, message: String, signature: String)] = [
        ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
         "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
         "",
         "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
        ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
         "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
         "72",
         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
        ("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
         "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
         "af82",
         "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
    ]

    func testEd25519RFC8032Vectors() throws {
        for vector in rfc8032 {
            let key = try PrivateKey(ed25519Seed: Hex.decode(vector.seed)!)
            XCTAssertEqual(key.suite, .ed25519sha256)
            XCTAssertEqual(key.publicKey.hex, vector.publicKey)
            let message = Hex.decode(vector.message)!
            let signature = try key.sign(message)
            XCTAssertEqual(Hex.encode(signature), vector.signature)
            let publicKey = try PublicKey(suite: .ed25519sha256, hex: vector.publicKey)
            XCTAssertTrue(publicKey.verify(signature: signature, message: message))
            XCTAssertFalse(publicKey.verify(signature: signature, message: message + [0]))
        }
    }

    func testRoundTripAndTampering() throws {
        for suite in SignatureSuite.allCases {
            let key = try PrivateKey.generate(suite: suite)
            XCTAssertEqual(key.suite, suite)
            XCTAssertEqual(key.publicKey.rawBytes.count, suite == .sm2sm3 ? 65 : 32)
            let message = Array("代理出口货物证明 \(suite.rawValue)".utf8)
            let signature = try key.sign(message)
            XCTAssertTrue(key.publicKey.verify(signature: signature, message: message), "\(suite)")
            XCTAssertTrue(key.publicKey.verify(signature: try key.sign([]), message: []), "\(suite) empty")
            var tamperedMessage = message
            tamperedMessage[0] ^= 1
            XCTAssertFalse(key.publicKey.verify(signature: signature, message: tamperedMessage))
            for position in [0, 5, signature.count / 2, signature.count - 1] {
                var tampered = signature
                tampered[position] ^= 0x40
                XCTAssertFalse(key.publicKey.verify(signature: tampered, message: message), "\(suite) @\(position)")
            }
            XCTAssertFalse(key.publicKey.verify(signature: signature + [0], message: message))
            XCTAssertFalse(key.publicKey.verify(signature: [], message: message))
            XCTAssertFalse(key.publicKey.verify(signature: [0x30, 0x00], message: message))
            XCTAssertFalse(key.publicKey.verify(signature: SecureRandom.bytes(64), message: message))
            XCTAssertFalse(key.publicKey.verify(signature: SecureRandom.bytes(72), message: message))
            XCTAssertFalse(key.publicKey.verify(signature: [UInt8](repeating: 0xff, count: 10_000), message: message))
            let other = try PrivateKey.generate(suite: suite)
            XCTAssertFalse(other.publicKey.verify(signature: signature, message: message))
        }
    }

    func testSM2SignaturesAreDERAndRandomized() throws {
        let key = try PrivateKey.generate(suite: .sm2sm3)
        let a = try key.sign([1, 2, 3]), b = try key.sign([1, 2, 3])
        XCTAssertEqual(a[0], 0x30)
        XCTAssertEqual(Int(a[1]) + 2, a.count)
        XCTAssertNotEqual(a, b)
        XCTAssertTrue(key.publicKey.verify(signature: b, message: [1, 2, 3]))
    }

    func testPEMRoundTrips() throws {
        for suite in SignatureSuite.allCases {
            let key = try PrivateKey.generate(suite: suite)
            XCTAssertTrue(key.pem.hasPrefix("-----BEGIN PRIVATE KEY-----"), key.pem)
            let reloaded = try PrivateKey(pem: key.pem)
            XCTAssertEqual(reloaded.suite, suite)
            XCTAssertEqual(reloaded.publicKey, key.publicKey)
            XCTAssertEqual(reloaded.pem, key.pem)
            let signature = try reloaded.sign([9, 9])
            XCTAssertTrue(key.publicKey.verify(signature: signature, message: [9, 9]))

            let publicPEM = key.publicKey.pem
            XCTAssertTrue(publicPEM.hasPrefix("-----BEGIN PUBLIC KEY-----"), publicPEM)
            let publicKey = try PublicKey(pem: publicPEM)
            XCTAssertEqual(publicKey, key.publicKey)
            XCTAssertEqual(publicKey.pem, publicPEM)
            XCTAssertTrue(publicKey.verify(signature: signature, message: [9, 9]))
            XCTAssertEqual(try PublicKey(suite: suite, hex: key.publicKey.hex), key.publicKey)
            XCTAssertEqual(Set([publicKey, key.publicKey]).count, 1)
        }
        XCTAssertThrowsError(try PrivateKey(pem: "garbage"))
        XCTAssertThrowsError(try PublicKey(pem: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"))
    }

    func testRejectsForeignKeyTypes() throws {
        let dir = try temporaryDirectory()
        try runOpenSSL(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", dir + "/p256.pem"])
        let pem = try String(contentsOfFile: dir + "/p256.pem", encoding: .utf8)
        XCTAssertThrowsError(try PrivateKey(pem: pem)) { error in
            XCTAssertTrue("\(error)".contains("unsupported key type"), "\(error)")
        }
    }

    func testECKeyOnSM2CurveSignsWithSM2() throws {
        let dir = try temporaryDirectory()
        try runOpenSSL(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", dir + "/ec.pem"])
        let key = try PrivateKey(pem: String(contentsOfFile: dir + "/ec.pem", encoding: .utf8))
        XCTAssertEqual(key.suite, .sm2sm3)
        let signature = try key.sign([4, 2])
        XCTAssertTrue(key.publicKey.verify(signature: signature, message: [4, 2]))
    }

    func testInvalidPublicKeys() throws {
        XCTAssertThrowsError(try PublicKey(suite: .ed25519sha256, rawBytes: [UInt8](repeating: 1, count: 31)))
        XCTAssertThrowsError(try PublicKey(suite: .sm2sm3, rawBytes: [UInt8](repeating: 1, count: 64)))
        XCTAssertThrowsError(try PublicKey(suite: .sm2sm3, hex: "04zz"))
        let good = try PrivateKey.generate(suite: .sm2sm3).publicKey.rawBytes
        var offCurve = good
        offCurve[64] ^= 1
        XCTAssertThrowsError(try PublicKey(suite: .sm2sm3, rawBytes: offCurve)) { error in
            XCTAssertTrue("\(error)".contains("SM2 curve"), "\(error)")
        }
        var compressedPrefix = good
        compressedPrefix[0] = 0x02
        XCTAssertThrowsError(try PublicKey(suite: .sm2sm3, rawBytes: compressedPrefix))
        XCTAssertThrowsError(try PublicKey(suite: .sm2sm3, rawBytes: [0x04] + [UInt8](repeating: 0, count: 64)))
    }

    func testSM2PrivateScalarImport() throws {
        var scalar = [UInt8](repeating: 0, count: 32)
        scalar[31] = 1
        let one = try PrivateKey(sm2PrivateScalar: scalar)
        // 1·G is the generator of the SM2 curve (GB/T 32918.5).
        XCTAssertEqual(one.publicKey.hex,
                       "04" + "32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7"
                            + "bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0")
        XCTAssertThrowsError(try PrivateKey(sm2PrivateScalar: [UInt8](repeating: 0, count: 32)))
        XCTAssertThrowsError(try PrivateKey(sm2PrivateScalar: [UInt8](repeating: 0xff, count: 32)))
        let key = try PrivateKey(sm2PrivateScalar: SecureRandom.bytes(31) + [7])
        let signature = try key.sign([1])
        XCTAssertTrue(key.publicKey.verify(signature: signature, message: [1]))
        XCTAssertEqual(try PrivateKey(pem: key.pem).publicKey, key.publicKey)
    }

    // MARK: interoperability with the openssl command-line tool

    func testSM2SignatureVerifiedByOpenSSLCLI() throws {
        let dir = try temporaryDirectory()
        let key = try PrivateKey.generate(suite: .sm2sm3)
        let message = Array("certificate 440300202600000001".utf8)
        try key.publicKey.pem.write(toFile: dir + "/pub.pem", atomically: true, encoding: .utf8)
        try Data(message).write(to: URL(fileURLWithPath: dir + "/msg"))
        try Data(try key.sign(message)).write(to: URL(fileURLWithPath: dir + "/sig"))
        let verify = ["pkeyutl", "-verify", "-pubin", "-inkey", dir + "/pub.pem", "-rawin", "-digest", "sm3",
                      "-pkeyopt", "distid:1234567812345678", "-in", dir + "/msg", "-sigfile", dir + "/sig"]
        let output = try runOpenSSL(verify)
        XCTAssertTrue(output.contains("Signature Verified Successfully"), output)
        // Negative control: a different ID must fail, so the check above really tests the Z value.
        var wrongID = verify
        wrongID[wrongID.firstIndex(of: "distid:1234567812345678")!] = "distid:1234567812345679"
        XCTAssertThrowsError(try runOpenSSL(wrongID))
    }

    func testOpenSSLCLISignatureVerifiedByUs() throws {
        let dir = try temporaryDirectory()
        try runOpenSSL(["genpkey", "-algorithm", "SM2", "-out", dir + "/key.pem"])
        try runOpenSSL(["pkey", "-in", dir + "/key.pem", "-pubout", "-out", dir + "/pub.pem"])
        let message = Array("approveRefund claim-0001".utf8)
        try Data(message).write(to: URL(fileURLWithPath: dir + "/msg"))
        try runOpenSSL(["pkeyutl", "-sign", "-inkey", dir + "/key.pem", "-rawin", "-digest", "sm3",
                        "-pkeyopt", "distid:1234567812345678", "-in", dir + "/msg", "-out", dir + "/sig"])
        let signature = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/sig")))
        let publicKey = try PublicKey(pem: String(contentsOfFile: dir + "/pub.pem", encoding: .utf8))
        XCTAssertEqual(publicKey.suite, .sm2sm3)
        XCTAssertTrue(publicKey.verify(signature: signature, message: message))
        XCTAssertFalse(publicKey.verify(signature: signature, message: message + [0]))
        // Private key from the CLI loads and derives the same public key.
        let privateKey = try PrivateKey(pem: String(contentsOfFile: dir + "/key.pem", encoding: .utf8))
        XCTAssertEqual(privateKey.publicKey, publicKey)

        // A signature with another ID must not verify with ours.
        try runOpenSSL(["pkeyutl", "-sign", "-inkey", dir + "/key.pem", "-rawin", "-digest", "sm3",
                        "-pkeyopt", "distid:ALICE123@YAHOO.COM", "-in", dir + "/msg", "-out", dir + "/sig2"])
        let otherID = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/sig2")))
        XCTAssertFalse(publicKey.verify(signature: otherID, message: message))
    }

    func testEd25519InteropWithOpenSSLCLI() throws {
        let dir = try temporaryDirectory()
        let key = try PrivateKey.generate(suite: .ed25519sha256)
        try key.pem.write(toFile: dir + "/key.pem", atomically: true, encoding: .utf8)
        try runOpenSSL(["pkey", "-in", dir + "/key.pem", "-pubout", "-out", dir + "/pub.pem"])
        let cliPublic = try PublicKey(pem: String(contentsOfFile: dir + "/pub.pem", encoding: .utf8))
        XCTAssertEqual(cliPublic, key.publicKey)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: dir + "/msg"))
        try runOpenSSL(["pkeyutl", "-sign", "-inkey", dir + "/key.pem", "-rawin", "-in", dir + "/msg", "-out", dir + "/sig"])
        let signature = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/sig")))
        XCTAssertEqual(signature, try key.sign([1, 2, 3]))   // Ed25519 is deterministic
    }

    func testConcurrentVerification() throws {
        for suite in SignatureSuite.allCases {
            let key = try PrivateKey.generate(suite: suite)
            let messages = (0..<20).map { Array("message \($0)".utf8) }
            let signatures = try messages.map { try key.sign($0) }
            let publicKey = key.publicKey
            let results = ResultBox(count: 200)
            DispatchQueue.concurrentPerform(iterations: 200) { i in
                let ok = publicKey.verify(signature: signatures[i % 20], message: messages[i % 20])
                let bad = publicKey.verify(signature: signatures[(i + 1) % 20], message: messages[i % 20])
                results.set(i, ok && !bad)
            }
            XCTAssertEqual(results.trueCount, 200, "\(suite)")
            // 400 verifications from many threads cross the threshold: an SM2 key builds its table while others verify.
            XCTAssertEqual(publicKey.hasVerificationTable, suite == .sm2sm3, "\(suite)")
        }
    }

    /// certchain's SM2 verification (OpenSSL's point arithmetic, a comb table once the key verifies often) gives
    /// OpenSSL's EVP_DigestVerify answer on valid, tampered and malformed signatures, before and after the table.
    func testSM2VerificationAgreesWithOpenSSLBeforeAndAfterItsTable() throws {
        let key = try PrivateKey.generate(suite: .sm2sm3)
        let publicKey = try PublicKey(suite: .sm2sm3, rawBytes: key.publicKey.rawBytes)
        let messages = (0..<12).map { i in (0..<(i * 37)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ i) } }
        let signatures = try messages.map { try key.sign($0) }
        var checked = 0
        func agree(_ signature: [UInt8], _ message: [UInt8], expected: Bool, _ what: String) {
            XCTAssertEqual(publicKey.verify(signature: signature, message: message), expected, what)
            XCTAssertEqual(publicKey.verifyWithDigestVerify(signature: signature, message: message), expected, what)
            checked += 1
        }
        let order = Hex.decode("fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123")!
        for round in ["without table", "with table"] {
            XCTAssertEqual(publicKey.hasVerificationTable, round == "with table")
            for (index, (message, signature)) in zip(messages, signatures).enumerated() {
                agree(signature, message, expected: true, "\(round) #\(index)")
                agree(signature, message + [1], expected: false, "\(round) longer message")
                agree(signatures[(index + 1) % messages.count], message, expected: false, "\(round) another message's signature")
                for position in stride(from: index % 3, to: signature.count, by: 5) {
                    var tampered = signature
                    tampered[position] ^= UInt8(1) << UInt8(position % 8)
                    agree(tampered, message, expected: false, "\(round) bit flipped @\(position)")
                }
                let (r, s) = Self.derIntegers(signature)
                agree(Self.der(r, s), message, expected: true, "\(round) re-encoded")
                agree(Self.der([0, 0] + r, s, minimal: false), message, expected: false, "\(round) non-minimal DER")
                agree(signature + [0], message, expected: false, "\(round) trailing byte")
                agree(Self.der([0], s), message, expected: false, "\(round) r = 0")
                agree(Self.der(r, [0]), message, expected: false, "\(round) s = 0")
                agree(Self.der(order, s), message, expected: false, "\(round) r = n")
                agree(Self.der(r, order), message, expected: false, "\(round) s = n")
                agree(Self.der(r, Self.subtract(order, r)), message, expected: false, "\(round) r + s = n")
            }
            // Bring the key to its table's threshold.
            while !publicKey.hasVerificationTable && checked < 10 * PublicKey.sm2TableAfterVerifications {
                agree(signatures[0], messages[0], expected: true, "warm-up")
            }
        }
        XCTAssertTrue(publicKey.hasVerificationTable, "a key that verified often has its table")
        let other = try PrivateKey.generate(suite: .sm2sm3)
        XCTAssertFalse(other.publicKey.verify(signature: signatures[0], message: messages[0]), "another key's table does not help")
    }

    /// The (r, s) integers of a DER signature, leading zero bytes removed.
    private static func derIntegers(_ signature: [UInt8]) -> ([UInt8], [UInt8]) {
        var values: [[UInt8]] = []
        var cursor = 2
        while values.count < 2 {
            let length = Int(signature[cursor + 1])
            values.append(Array(signature[(cursor + 2)..<(cursor + 2 + length)].drop { $0 == 0 }))
            cursor += 2 + length
        }
        return (values[0], values[1])
    }

    /// DER SEQUENCE of two INTEGERs (big-endian magnitudes); minimal adds a 0 byte only where the sign needs it,
    /// otherwise the bytes go in as given.
    private static func der(_ r: [UInt8], _ s: [UInt8], minimal: Bool = true) -> [UInt8] {
        func integer(_ bytes: [UInt8]) -> [UInt8] {
            var value = minimal ? Array(bytes.drop { $0 == 0 }) : bytes
            if value.isEmpty || (minimal && value[0] & 0x80 != 0) { value.insert(0, at: 0) }
            return [0x02, UInt8(value.count)] + value
        }
        let body = integer(r) + integer(s)
        return [0x30, UInt8(body.count)] + body
    }

    /// a − b for big-endian magnitudes with a ≥ b, 32 bytes.
    private static func subtract(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] {
        let b = [UInt8](repeating: 0, count: a.count - b.count) + b
        var result = [UInt8](repeating: 0, count: a.count)
        var borrow = 0
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            var digit = Int(a[i]) - Int(b[i]) - borrow
            borrow = digit < 0 ? 1 : 0
            if digit < 0 { digit += 256 }
            result[i] = UInt8(digit)
        }
        return result
    }

    // MARK: helpers

    private func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "certchain-crypto-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    @discardableResult
    private func runOpenSSL(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let output = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw NSError(domain: "openssl", code: Int(process.terminationStatus),
                          userInfo: [NSLocalizedDescriptionKey: "openssl \(arguments.joined(separator: " ")): \(output)"])
        }
        return output
    }
}

/// Thread-safe result collector for concurrentPerform.
final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Bool]
    init(count: Int) { values = [Bool](repeating: false, count: count) }
    func set(_ index: Int, _ value: Bool) { lock.lock(); values[index] = value; lock.unlock() }
    var trueCount: Int { lock.lock(); defer { lock.unlock() }; return values.filter { $0 }.count }
}
