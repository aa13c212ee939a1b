import CertChainCrypto
import CertChainModel
import CertChainNet
import Foundation
import XCTest

@testable import CertChainNode

/// The QR encoder: structure of the symbol, and a real decoder (zbarimg) reading the payload back.
final class WebUITestsQRCode: XCTestCase {
    static func which(_ name: String) -> String? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") + ["/usr/bin", "/usr/local/bin"] {
            let path = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// Runs `executable` with `arguments`; returns (exit status, stdout, stderr).
    static func run(_ executable: String, _ arguments: [String], timeoutSeconds: Double = 60) throws -> (Int32, String, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("cc-out-\(UUID().uuidString)")
        let err = FileManager.default.temporaryDirectory.appendingPathComponent("cc-err-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        return (
            process.terminationStatus, (try? String(contentsOf: out, encoding: .utf8)) ?? "", (try? String(contentsOf: err, encoding: .utf8)) ?? ""
        )
    }

    /// A binary PGM image of the symbol (quiet zone 4, `scale` pixels per module).
    static func pgm(_ code: QRCode, scale: Int = 6) -> Data {
        let full = (code.size + 8) * scale
        var pixels = [UInt8](repeating: 255, count: full * full)
        for y in 0..<code.size {
            for x in 0..<code.size where code.modules[y][x] {
                for dy in 0..<scale {
                    for dx in 0..<scale { pixels[((y + 4) * scale + dy) * full + (x + 4) * scale + dx] = 0 }
                }
            }
        }
        return Data("P5\n\(full) \(full)\n255\n".utf8) + Data(pixels)
    }

    func testStructureOfTheSymbol() throws {
        let payload = WebUI.verificationPayload(host: "127.0.0.1:7101", chainId: "certchain-sz-2021", certificateNumber: "440300202100000001")
        XCTAssertEqual(payload, "http://127.0.0.1:7101/v1/certificates/440300202100000001?proof=true#chain=certchain-sz-2021&cert=440300202100000001")
        let code = try XCTUnwrap(QRCode(text: payload))
        XCTAssertEqual(code.size, 17 + 4 * code.version)
        XCTAssertEqual(code.version, 7, "\(payload.utf8.count) bytes need version 7 at level M (107…122)")
        // Finder patterns in three corners: a dark 7×7 ring, a light ring, a dark 3×3 centre.
        for (ox, oy) in [(0, 0), (code.size - 7, 0), (0, code.size - 7)] {
            for y in 0..<7 {
                for x in 0..<7 {
                    let ring = max(abs(x - 3), abs(y - 3))
                    XCTAssertEqual(code.modules[oy + y][ox + x], ring != 2, "finder at \(ox),\(oy)")
                }
            }
        }
        // Timing patterns alternate.
        for i in 8..<(code.size - 8) {
            XCTAssertEqual(code.modules[6][i], i % 2 == 0)
            XCTAssertEqual(code.modules[i][6], i % 2 == 0)
        }
        // Format information (both copies) says level M with the chosen mask.
        var first = 0, second = 0
        let firstPositions = (0...5).map { (8, $0) } + [(8, 7), (8, 8), (7, 8)] + (9..<15).map { (14 - $0, 8) }
        for (i, (x, y)) in firstPositions.enumerated() where code.modules[y][x] { first |= 1 << i }
        let secondPositions = (0..<8).map { (code.size - 1 - $0, 8) } + (8..<15).map { (8, code.size - 15 + $0) }
        for (i, (x, y)) in secondPositions.enumerated() where code.modules[y][x] { second |= 1 << i }
        XCTAssertEqual(first, second)
        let unmasked = first ^ 0x5412
        XCTAssertEqual(unmasked >> 13, 0b00, "error correction level M")
        XCTAssertEqual((unmasked >> 10) & 7, code.mask)
        XCTAssertTrue(code.modules[code.size - 8][8], "the dark module")
        // Capacity: 213 bytes fit version 10, 214 do not.
        XCTAssertEqual(QRCode(bytes: [UInt8](repeating: 0x41, count: 213))?.version, 10)
        XCTAssertNil(QRCode(bytes: [UInt8](repeating: 0x41, count: 214)))
        XCTAssertEqual(QRCode(text: "A")?.version, 1)
        let svg = code.svg()
        XCTAssertTrue(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>"))
    }

    /// Every version 1–10 round-trips through zbarimg (Debian zbar-tools), when it is installed.
    func testPayloadRoundTripsThroughARealDecoder() throws {
        guard let zbarimg = Self.which("zbarimg") else { throw XCTSkip("zbarimg is not installed (apt-get install zbar-tools); structure is checked by testStructureOfTheSymbol") }
        let lengths = [14, 26, 42, 62, 84, 106, 122, 152, 180, 213]  // the most bytes each version holds at level M
        var versions: Set<Int> = []
        for (i, length) in lengths.enumerated() {
            let base = WebUI.verificationPayload(host: "127.0.0.1:\(7100 + i)", chainId: "certchain-sz-2021", certificateNumber: "4403002021\(String(format: "%08d", i + 1))")
            let text = String((base + String(repeating: "x", count: max(0, length - base.count))).prefix(length))
            let code = try XCTUnwrap(QRCode(text: text), "\(length) bytes")
            versions.insert(code.version)
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("qr-\(UUID().uuidString).pgm")
            try Self.pgm(code).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let (status, out, err) = try Self.run(zbarimg, ["--raw", "-q", "-Sbinary", file.path])
            XCTAssertEqual(status, 0, "zbarimg failed for version \(code.version) mask \(code.mask): \(err)")
            var decoded = out
            if decoded.hasSuffix("\n") { decoded.removeLast() }
            XCTAssertEqual(decoded, text, "version \(code.version) mask \(code.mask)")
        }
        XCTAssertEqual(versions, Set(1...10))
    }
}

/// A real network replays samples/small; headless Chromium renders the pages with the auditor's session token.
final class WebUITests: XCTestCase {
    static let repositoryRoot = NetworkTests.repositoryRoot

    func chromium() throws -> String {
        guard let path = WebUITestsQRCode.which("chromium") ?? WebUITestsQRCode.which("chromium-browser") ?? WebUITestsQRCode.which("google-chrome") else {
            throw XCTSkip("chromium is not installed (apt-get install -y chromium; scripts/test installs it): the browser test needs it")
        }
        return path
    }

    func browser(_ binary: String, _ extra: [String], _ url: String) throws -> String {
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("chromium-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: profile) }
        let arguments = [
            "--headless", "--disable-gpu", "--no-sandbox", "--disable-dev-shm-usage", "--no-first-run", "--user-data-dir=\(profile)",
            "--virtual-time-budget=5000",
        ] + extra + [url]
        let (status, out, err) = try WebUITestsQRCode.run(binary, arguments, timeoutSeconds: 90)
        XCTAssertEqual(status, 0, "chromium failed: \(err.suffix(2000))")
        return out
    }

    func testPagesInHeadlessChromium() throws {
        let chromium = try chromium()
        let (testnet, genesis) = try makeTestnet()
        let summary = try WorkloadReplay(options: smallReplayOptions(testnet, genesis)).run(log: { _ in })
        XCTAssertEqual(summary.mismatches, 0, summary.mismatchDetails.joined(separator: "\n"))

        let address = genesis.validators[1].apiAddress
        let base = "http://\(address)"
        let api = try HTTPClient(url: base)

        // The page and its assets come from the node only: no http(s) URL in them at all (fetches are relative).
        for path in ["/ui/", "/ui/app.js", "/ui/app.css"] {
            let response = try api.request("GET", path)
            XCTAssertEqual(response.status, 200, path)
            XCTAssertFalse(response.bodyText.contains("http://") || response.bodyText.contains("https://"), "\(path) names an external URL")
            XCTAssertNotNil(response.header("Content-Security-Policy"), path)
        }
        XCTAssertEqual(try api.request("GET", "/").status, 302)
        XCTAssertEqual(try api.request("GET", "/ui/qr/12ab.svg").status, 400)

        // A session for the auditor from `certchain login`, which prints the URL to open.
        let (loginStatus, loginOut, loginErr) = try WebUITestsQRCode.run(
            try NetworkTests.executable(), ["login", "--api", base, "--keys", testnet.keysDirectory, "--ttl", "600"])
        XCTAssertEqual(loginStatus, 0, loginErr)
        let loginURL = loginOut.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(loginURL.hasPrefix("\(base)/ui/#token="), loginURL)
        let token = String(loginURL.dropFirst("\(base)/ui/#token=".count))
        XCTAssertEqual(token.count, 64)
        let bearer = [("Authorization", "Bearer \(token)")]

        // A consumed certificate with LED模组 on it, and what the page must show of it.
        let consumed = try api.request("GET", "/v1/certificates?status=consumed&limit=200", headers: bearer)
        XCTAssertEqual(consumed.status, 200, consumed.bodyText)
        let items = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(consumed.body)) as? [String: Any])?["items"] as? [[String: Any]])
        let certificate = try XCTUnwrap(
            items.first { (($0["lines"] as? [[String: Any]]) ?? []).contains { $0["goodsName"] as? String == "LED模组" } }, "a consumed LED模组 certificate")
        let number = try XCTUnwrap(certificate["certificateNumber"] as? String)
        let handler = try XCTUnwrap(certificate["handler"] as? String), reviewer = try XCTUnwrap(certificate["reviewer"] as? String)
        let history = try api.request("GET", "/v1/certificates/\(number)/history", headers: bearer)
        let entries = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(history.body)) as? [String: Any])?["entries"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(entries.count, 4)

        // The certificate page as a person sees it.
        let dom = try browser(chromium, ["--dump-dom"], "\(base)/ui/#/cert/\(number)?token=\(token)")
        XCTAssertTrue(dom.contains("data-ready=\"true\""), "the page did not finish: \(dom.prefix(3000))")
        XCTAssertFalse(dom.contains("class=\"error\""), "the page shows an error: \(dom)")
        for expected in [number, "LED模组", "合计", "Totals", handler, reviewer, "已使用 consumed", "代理出口货物证明", "第 1 页 共 1 页", "经办人", "复核人",
            "claimPending", "remaining", "开具证明", "issueCertificate", "报关单录入", "approveRefund",
            WebUI.verificationPayload(host: address, chainId: genesis.chainId, certificateNumber: number).replacingOccurrences(of: "&", with: "&amp;")]
        {
            XCTAssertTrue(dom.contains(expected), "the certificate page lacks \(expected)")
        }
        for entry in entries {
            XCTAssertTrue(dom.contains(try XCTUnwrap(entry["txHash"] as? String)), "timeline lacks \(entry)")
        }
        XCTAssertEqual(dom.components(separatedBy: "<li data-kind=").count - 1, entries.count, "one timeline entry per transaction")

        // The QR code on the page decodes to the verification URL (when zbarimg is installed).
        let qr = try api.request("GET", "/ui/qr/\(number).svg")
        XCTAssertEqual(qr.status, 200)
        XCTAssertEqual(qr.header("Content-Type"), "image/svg+xml")
        let payload = WebUI.verificationPayload(host: address, chainId: genesis.chainId, certificateNumber: number)
        XCTAssertEqual(qr.bodyText, QRCode(text: payload)?.svg())
        if let zbarimg = WebUITestsQRCode.which("zbarimg") {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("qr-\(UUID().uuidString).pgm")
            try WebUITestsQRCode.pgm(try XCTUnwrap(QRCode(text: payload))).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let (_, out, _) = try WebUITestsQRCode.run(zbarimg, ["--raw", "-q", file.path])
            XCTAssertEqual(out.trimmingCharacters(in: .newlines), payload)
        }

        // Screenshot of the certificate: into a temporary file, or docs/screenshots/ when CERTCHAIN_UPDATE_SCREENSHOT is set
        // (so a test run never rewrites a tracked file by accident).
        let screenshot =
            ProcessInfo.processInfo.environment["CERTCHAIN_UPDATE_SCREENSHOT"] != nil
            ? Self.repositoryRoot.appendingPathComponent("docs/screenshots/certificate.png")
            : FileManager.default.temporaryDirectory.appendingPathComponent("certchain-certificate-\(UUID().uuidString).png")
        defer { if ProcessInfo.processInfo.environment["CERTCHAIN_UPDATE_SCREENSHOT"] == nil { try? FileManager.default.removeItem(at: screenshot) } }
        try FileManager.default.createDirectory(at: screenshot.deletingLastPathComponent(), withIntermediateDirectories: true)
        _ = try browser(chromium, ["--screenshot=\(screenshot.path)", "--window-size=1200,1600", "--hide-scrollbars"], "\(base)/ui/#/cert/\(number)?token=\(token)")
        let png = try Data(contentsOf: screenshot)
        XCTAssertGreaterThan(png.count, 10_000)
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])

        // The auditor's search lists certificates, with a next page.
        let search = try browser(chromium, ["--dump-dom"], "\(base)/ui/#/search?status=consumed&limit=5&token=\(token)")
        XCTAssertFalse(search.contains("class=\"error\""), search)
        XCTAssertEqual(search.components(separatedBy: "<tr class=\"result\"").count - 1, 5, "five certificates on the page")
        XCTAssertTrue(search.contains(number) || search.contains("下一页 Next page"))
        XCTAssertTrue(search.contains("已使用 consumed"))

        // Refunds with totals over the whole selection.
        let refunds = try browser(chromium, ["--dump-dom"], "\(base)/ui/#/refunds?from=202101&to=202112&limit=10&token=\(token)")
        XCTAssertFalse(refunds.contains("class=\"error\""), refunds)
        XCTAssertTrue(refunds.contains("合计 Totals"))
        XCTAssertGreaterThan(refunds.components(separatedBy: "<tr class=\"result\"").count - 1, 0)

        // Block explorer: recent blocks, then one block with its signers.
        let blocks = try browser(chromium, ["--dump-dom"], "\(base)/ui/#/blocks?token=\(token)")
        XCTAssertFalse(blocks.contains("class=\"error\""), blocks)
        XCTAssertTrue(blocks.contains("Recent blocks"))
        let issuedAt = try XCTUnwrap(certificate["issuedAt"] as? [String: Any])
        let height = try XCTUnwrap(issuedAt["height"] as? Int)
        let block = try browser(chromium, ["--dump-dom"], "\(base)/ui/#/block/\(height)?token=\(token)")
        XCTAssertFalse(block.contains("class=\"error\""), block)
        XCTAssertTrue(block.contains(try XCTUnwrap(issuedAt["txHash"] as? String)))
        XCTAssertGreaterThanOrEqual(block.components(separatedBy: "<tr class=\"signer\"").count - 1, 3, "2f+1 commit signatures")
        XCTAssertTrue(block.contains("State root"))

        // The login URL itself lands on the home page with the token taken from the fragment.
        let home = try browser(chromium, ["--dump-dom"], loginURL)
        XCTAssertTrue(home.contains(genesis.chainId) && !home.contains("class=\"error\""), home)
        XCTAssertTrue(home.contains("会话令牌已保存 Session token saved …\(token.suffix(6))"), home)

        // Without a token the page says so instead of showing data.
        let anonymous = try browser(chromium, ["--dump-dom"], "\(base)/ui/#/cert/\(number)")
        XCTAssertTrue(anonymous.contains("authentication-required"), anonymous)
        XCTAssertFalse(anonymous.contains("LED模组"))
    }
}
