import CertChainCrypto
import CertChainModel
import Foundation
import XCTest

@testable import CertChainNet
@testable import CertChainNode

#if canImport(Glibc)
    import Glibc
#endif

/// Real `certchain node` processes on 127.0.0.1, driven over HTTP exactly as a user would.
final class NetworkTests: XCTestCase {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `certchain` executable built next to the test bundle.
    static func executable() throws -> String {
        var candidates: [URL] = []
        if let url = Bundle.main.executableURL { candidates.append(url.deletingLastPathComponent()) }
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
        for bundle in Bundle.allBundles { candidates.append(bundle.bundleURL.deletingLastPathComponent()) }
        for directory in candidates {
            var url = directory
            for _ in 0..<4 {
                let path = url.appendingPathComponent("certchain").path
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                    FileManager.default.isExecutableFile(atPath: path)
                {
                    return path
                }
                url = url.deletingLastPathComponent()
            }
        }
        throw XCTSkip("certchain executable not found next to the tests; run `swift build` first")
    }


    /// Four validators replay samples/small while one backup is killed with SIGKILL and restarted.
    func testFourNodesReplaySmallWorkloadThroughBackupCrash() throws {
        let (testnet, genesis) = try makeTestnet()
        let binary = try Self.executable()
        let victim = 2  // a backup in view 0
        var options = smallReplayOptions(testnet, genesis)
        let events = EventLog()
        options.onProgress = { submitted in
            if submitted == 120 {
                events.add("killed node\(victim): \(testnet.killNode(victim))")
            }
            if submitted == 260 {
                do {
                    try testnet.startNode(victim, executable: binary)
                    events.add("restarted node\(victim)")
                } catch {
                    events.add("restart failed: \(error)")
                }
            }
        }
        let summary = try WorkloadReplay(options: options).run(log: { _ in })
        XCTAssertEqual(events.entries, ["killed node2: true", "restarted node2"])
        XCTAssertEqual(summary.submitted, 404)
        XCTAssertEqual(summary.receipts, 404)
        XCTAssertEqual(summary.mismatches, 0, summary.mismatchDetails.joined(separator: "\n"))
        XCTAssertTrue(summary.stateMatchesExpected, summary.stateDifferences.joined(separator: "\n"))
        XCTAssertEqual(summary.nodes.count, 4)
        XCTAssertTrue(summary.nodesAgree, "\(summary.nodes) — node2 log: \(log(testnet, victim))")
        XCTAssertGreaterThan(summary.nodes[0].height, 0)
        // The restarted backup caught up by state transfer (blocks fetched from peers, certificates checked).
        XCTAssertTrue(log(testnet, victim).contains("via sync"), log(testnet, victim))
        // Replaying the same workload again cannot wait forever for receipts it will never see: it refuses at once.
        XCTAssertThrowsError(try WorkloadReplay(options: smallReplayOptions(testnet, genesis)).run(log: { _ in })) { error in
            XCTAssertTrue("\(error)".contains("already holds the workload"), "\(error)")
        }

        // Provenance, as `certchain trace` prints it for an auditor: declaration → application → issuance → claim → refund.
        let api = try HTTPClient(url: "http://\(genesis.validators[victim].apiAddress)")
        let auditor = try XCTUnwrap(try RequestSigner.auditor(keysDirectory: testnet.keysDirectory, chainId: genesis.chainId))
        let get: (String) throws -> [UInt8] = { path in
            let response = try api.request("GET", path, headers: try auditor.headers(method: "GET", target: path))
            guard response.status == 200 else { throw NodeError("GET \(path): \(response.status) \(String(decoding: response.body, as: UTF8.self))") }
            return response.body
        }
        let trace = try ProvenanceTrace.render(number: "440300202100000001", get: get)
        for expected in ["recordDeclaration", "customs declaration", "applyCertificate", "issued as 440300202100000001: handler",
            "claimRefund", "reserves 990", "approveRefund", "refund (exemptCreditRefund)", "proof: certchain get", "signed by"]
        {
            XCTAssertTrue(trace.contains(expected), "trace lacks \(expected):\n\(trace)")
        }
        // Read as an enterprise, which may not read blocks: the steps are still traced, without block details.
        let withoutBlocks = try ProvenanceTrace.render(number: "440300202100000001") { path in
            if path.hasPrefix("/v1/blocks/") { throw NodeError("GET \(path): HTTP 403 organizations and auditors only") }
            return try get(path)
        }
        for expected in ["without block details", "organizations and auditors only", "recordDeclaration", "claimRefund", "proof: certchain get"] {
            XCTAssertTrue(withoutBlocks.contains(expected), "trace without blocks lacks \(expected):\n\(withoutBlocks)")
        }
        let revoked = try ProvenanceTrace.render(number: "440300202100000004", get: get)
        XCTAssertTrue(revoked.contains("revoked: ") && revoked.contains("replaced by certificate 4403002021"), revoked)

        // `certchain trace --api URL --keys DIR` repeats both options, quoted for a shell, in each proof command, which
        // then runs as printed (a keys folder named with a space and a quote).
        let keys = testnet.directory + "/the auditor's keys"
        try FileManager.default.createSymbolicLink(atPath: keys, withDestinationPath: testnet.keysDirectory)
        let url = "http://\(genesis.validators[victim].apiAddress)"
        let traced = try Self.run(binary, ["trace", "440300202100000001", "--api", url, "--keys", keys])
        XCTAssertEqual(traced.status, 0, traced.err)
        let proofs = traced.out.split(separator: "\n").compactMap { line in line.range(of: "proof: ").map { String(line[$0.upperBound...]) } }
        XCTAssertFalse(proofs.isEmpty, traced.out)
        for command in proofs {
            XCTAssertTrue(command.hasSuffix("?proof=true' --api \(url) --keys '\(testnet.directory)/the auditor'\\''s keys'"), command)
        }
        let command = try XCTUnwrap(proofs.first)
        let pasted = try Self.run("/bin/sh", ["-c", command], path: URL(fileURLWithPath: binary).deletingLastPathComponent().path)
        XCTAssertEqual(pasted.status, 0, "\(command): \(pasted.err)")
        XCTAssertTrue(pasted.out.contains("\"format\" : \"certchain-proof/v1\""), pasted.out)
    }

    /// Exit status, stdout and stderr of `executable arguments…` (run in `directory`, with `path` first in PATH, when
    /// given); a process killed by a signal fails the test.
    static func run(_ executable: String, _ arguments: [String], path: String? = nil, directory: String? = nil) throws
        -> (status: Int32, out: String, err: String)
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        if let path {
            var environment = ProcessInfo.processInfo.environment
            environment["PATH"] = path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
            process.environment = environment
        }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit, "\(executable) \(arguments) was killed by a signal: \(String(decoding: errData, as: UTF8.self))")
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    /// The replay's closing status round gives up on a validator that refuses connections (not running) after
    /// `refusedSecondsMax`, says so, and reports it unreachable, instead of waiting 30 s for it to agree.
    func testReplayDoesNotWaitForAValidatorThatRefusesConnections() throws {
        let status = StatusResponse(
            chainId: "c", nodeId: "node0", organization: "o", suite: "sm2sm3", genesisHash: "g", view: 0, primary: "node0",
            height: 7, lastBlockHash: "abc", validators: [], peersConnected: [], mempool: 0, committedTransactionsSinceStart: 0)
        let body = try Array(JSONEncoder().encode(status))
        let server = HTTPServer(host: "127.0.0.1", port: 0, handler: { _ in .json(200, body) })
        try server.start()
        defer { server.stop() }
        let refusing = try freeLoopbackPorts(count: 1)[0]
        let urls = ["http://127.0.0.1:\(server.boundPort)", "http://127.0.0.1:\(refusing)"]
        let replay = WorkloadReplay(options: .init(workloadDirectory: "", apiURLs: urls, keysDirectory: ""))
        let lines = EventLog()
        let start = Date()
        let nodes = try replay.settledNodes(try urls.map { try makeClient($0, timeoutSeconds: 5) }, log: { lines.add($0) }, refusedSecondsMax: 0.3)
        XCTAssertLessThan(Date().timeIntervalSince(start), 5, "waited for a validator that is not running")
        XCTAssertEqual(nodes, [
            .init(id: "node0", height: 7, lastBlockHash: "abc"), .init(id: urls[1], height: 0, lastBlockHash: WorkloadReplay.NodeSummary.unreachable),
        ])
        XCTAssertEqual(lines.entries, ["no validator answers at \(urls[1]): connection refused; not waiting for it (is it running?)"])
        // A submission that finds no validator at all (every one gone) says so in the CLI's sentence, not as an errno.
        let gone = try makeClient(urls[1], timeoutSeconds: 5)
        XCTAssertThrowsError(try gone.request("POST", "/v1/transactions", body: [])) { error in
            XCTAssertEqual(
                WorkloadReplay.submissionFailure(error, to: gone),
                "no validator answers at \(urls[1]): connection refused; is it running? (`certchain testnet status --dir DIR` shows which "
                    + "validators run; `certchain testnet start --dir DIR` starts them)")
        }
    }

    /// A replay whose first `GET /v1/status` gets no answer in time says which request, to where, and how long it waited.
    func testReplayStatusTimeoutIsASentence() throws {
        let (listener, port) = try Sock.listen(host: "127.0.0.1", port: 0)  // accepts connections (backlog), never answers
        defer { Sock.closeFd(listener) }
        var options = WorkloadReplay.Options(workloadDirectory: "", apiURLs: ["http://127.0.0.1:\(port)"], keysDirectory: "")
        options.requestTimeoutSeconds = 0.3
        XCTAssertThrowsError(try WorkloadReplay(options: options).run(log: { _ in })) { error in
            XCTAssertTrue("\(error)".hasPrefix("GET /v1/status to http://127.0.0.1:\(port) timed out: no answer within 0.3 s"), "\(error)")
        }
    }

    /// A backup stopped with SIGSTOP and continued, and another whose data folder is wiped and which restarts
    /// empty: all receipts still match and all four nodes end with the same height and hash.
    func testPausedBackupAndWipedBackupCatchUp() throws {
        let (testnet, genesis) = try makeTestnet()
        let binary = try Self.executable()
        var options = smallReplayOptions(testnet, genesis)
        let events = EventLog()
        options.onProgress = { submitted in
            switch submitted {
            case 80: events.add("SIGSTOP node3: \(testnet.signalNode(3, SIGSTOP))")
            case 200: events.add("SIGCONT node3: \(testnet.signalNode(3, SIGCONT))")
            case 240:
                testnet.stopNode(2, graceSeconds: 0)
                try? FileManager.default.removeItem(atPath: testnet.nodeDirectory(2) + "/data")
                events.add("wiped node2")
            case 330:
                do {
                    try testnet.startNode(2, executable: binary)
                    events.add("restarted node2 empty")
                } catch {
                    events.add("restart failed: \(error)")
                }
            default: break
            }
        }
        let summary = try WorkloadReplay(options: options).run(log: { _ in })
        XCTAssertEqual(events.entries, ["SIGSTOP node3: true", "SIGCONT node3: true", "wiped node2", "restarted node2 empty"])
        XCTAssertEqual(summary.receipts, 404)
        XCTAssertEqual(summary.mismatches, 0, summary.mismatchDetails.joined(separator: "\n"))
        XCTAssertTrue(summary.stateMatchesExpected, summary.stateDifferences.joined(separator: "\n"))
        XCTAssertTrue(summary.nodesAgree, "\(summary.nodes) — node2: \(log(testnet, 2)) — node3: \(log(testnet, 3))")
        XCTAssertTrue(log(testnet, 2).contains("via sync"))
    }

    /// The primary is killed with SIGKILL mid-way: the backups change view, the new primary carries on, the old
    /// primary restarts, catches up and follows the new view; all receipts match and all four nodes agree.
    func testPrimaryCrashTriggersViewChange() throws {
        let (testnet, genesis) = try makeTestnet()
        let binary = try Self.executable()
        var options = smallReplayOptions(testnet, genesis)
        let events = EventLog()
        let recovery = RecoveryClock(api: "http://\(genesis.validators[1].apiAddress)")
        options.onProgress = { submitted in
            if submitted == 150 {
                recovery.start()
                events.add("killed primary node0: \(testnet.killNode(0))")
            }
            if submitted == 330 {
                // The old primary comes back only once the backups have committed in a new view (bounded wait):
                // restarted sooner, it would resume as primary of view 0 before any request timer expired.
                let deadline = Date().addingTimeInterval(60)
                while recovery.secondsToNextCommit == nil && Date() < deadline { usleep(20_000) }
                do {
                    try testnet.startNode(0, executable: binary)
                    events.add("restarted node0")
                } catch {
                    events.add("restart failed: \(error)")
                }
            }
        }
        let summary = try WorkloadReplay(options: options).run(log: { _ in })
        XCTAssertEqual(events.entries, ["killed primary node0: true", "restarted node0"])
        XCTAssertEqual(summary.receipts, 404)
        XCTAssertEqual(summary.mismatches, 0, summary.mismatchDetails.joined(separator: "\n"))
        XCTAssertTrue(summary.stateMatchesExpected, summary.stateDifferences.joined(separator: "\n"))
        XCTAssertTrue(summary.nodesAgree, "\(summary.nodes) — node1: \(log(testnet, 1))")
        let status = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(HTTPClient(url: "http://\(genesis.validators[1].apiAddress)").request("GET", "/v1/status").body))
                as? [String: Any])
        XCTAssertGreaterThan(status["view"] as? Int ?? 0, 0, "the backups must have moved to a new view")
        // The restarted old primary missed the view change; the new primary sends it its NEW-VIEW and it votes again.
        let backupView = status["view"] as? Int ?? 0
        var restartedView = -1
        let deadline = Date().addingTimeInterval(10)
        // Bounded by the deadline.
        while Date() < deadline {
            if let body = try? HTTPClient(url: "http://\(genesis.validators[0].apiAddress)").request("GET", "/v1/status").body,
                let answer = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any], let view = answer["view"] as? Int
            {
                restartedView = view
                if view >= backupView { break }
            }
            usleep(100_000)
        }
        XCTAssertGreaterThanOrEqual(restartedView, backupView, "the restarted old primary must adopt the backups' view — node0: \(log(testnet, 0))")
        print("recovery: \(recovery.secondsToNextCommit.map { String(format: "%.2f", $0) } ?? "unmeasured") s from killing the primary to the first block committed in the new view")
    }

    /// Seven validators (f = 2): two backups killed with SIGKILL mid-way, restarted later.
    func testSevenValidatorsReplayThroughTwoBackupCrashes() throws {
        let (testnet, genesis) = try makeTestnet(validators: 7)
        let binary = try Self.executable()
        var options = smallReplayOptions(testnet, genesis)
        let events = EventLog()
        options.onProgress = { submitted in
            if submitted == 100 {
                events.add("kill node5: \(testnet.killNode(5)), node6: \(testnet.killNode(6))")
            }
            if submitted == 300 {
                do {
                    try testnet.startNode(5, executable: binary)
                    try testnet.startNode(6, executable: binary)
                    events.add("restarted")
                } catch {
                    events.add("restart failed: \(error)")
                }
            }
        }
        let summary = try WorkloadReplay(options: options).run(log: { _ in })
        XCTAssertEqual(events.entries, ["kill node5: true, node6: true", "restarted"])
        XCTAssertEqual(summary.mismatches, 0, summary.mismatchDetails.joined(separator: "\n"))
        XCTAssertTrue(summary.stateMatchesExpected, summary.stateDifferences.joined(separator: "\n"))
        XCTAssertEqual(summary.nodes.count, 7)
        XCTAssertTrue(summary.nodesAgree, "\(summary.nodes)")
    }

    /// Malformed or forged requests get stable 4xx codes, and garbage on the peer port harms nothing.
    func testBadInputIsRefusedWithStableCodes() throws {
        let (testnet, genesis) = try makeTestnet()
        let api = try HTTPClient(url: "http://\(genesis.validators[1].apiAddress)")
        let auditor = try XCTUnwrap(try RequestSigner.auditor(keysDirectory: testnet.keysDirectory, chainId: genesis.chainId))
        func signedGet(_ client: HTTPClient, _ path: String) throws -> HTTPResponse {
            try client.request("GET", path, headers: try auditor.headers(method: "GET", target: path))
        }

        func errorCode(_ response: HTTPResponse) -> String? {
            (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])?["error"] as? String
        }
        var response = try api.request("POST", "/v1/transactions", body: Array("{not json".utf8))
        XCTAssertEqual(response.status, 400)
        XCTAssertEqual(errorCode(response), "invalid-transaction")

        response = try api.request("POST", "/v1/transactions", body: Array(#"{"chainId":"x","kind":"registerEnterprise"}"#.utf8))
        XCTAssertEqual(response.status, 400)
        XCTAssertEqual(errorCode(response), "invalid-transaction")

        response = try signedGet(api, "/v1/certificates/440300202199999999")
        XCTAssertEqual(response.status, 404)
        XCTAssertEqual(errorCode(response), "certificate-not-found")
        // A misspelt parameter is named, not ignored.
        response = try signedGet(api, "/v1/certificates/440300202199999999/history?proof=true&x=1")
        XCTAssertEqual(response.status, 400)
        XCTAssertEqual(errorCode(response), "invalid-query")
        response = try signedGet(api, "/v1/blocks/1?reciepts=true")
        XCTAssertEqual(errorCode(response), "invalid-query")
        // Not a certificate number at all: bad input, whatever follows it.
        for path in ["/v1/certificates/abc", "/v1/certificates/44030020219999999/history", "/v1/certificates/x?proof=true"] {
            response = try signedGet(api, path)
            XCTAssertEqual(response.status, 400, path)
            XCTAssertEqual(errorCode(response), "invalid-certificate-number", path)
        }

        response = try signedGet(api, "/v1/blocks/abc")
        XCTAssertEqual(response.status, 400)
        for wait in ["-1", "30001", "soon"] {
            response = try signedGet(api, "/v1/blocks/1?waitMs=\(wait)")
            XCTAssertEqual(response.status, 400)
            XCTAssertEqual(errorCode(response), "invalid-wait")
        }
        // A block far ahead is waited for as long as asked, then not found.
        let waitStarted = Date()
        response = try signedGet(api, "/v1/blocks/1000000?waitMs=150")
        XCTAssertEqual(response.status, 404)
        XCTAssertEqual(errorCode(response), "block-not-found")
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(waitStarted), 0.14, "the request was held for its waitMs")
        response = try signedGet(api, "/v1/nothing-here")
        XCTAssertEqual(response.status, 404)
        XCTAssertEqual(errorCode(response), "not-found")

        // An operator sees the refusals counted, the peer links and when the chain last moved.
        let metrics = String(decoding: try api.request("GET", "/metrics").body, as: UTF8.self)
        func metric(_ prefix: String) -> Double? {
            metrics.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.split(separator: " ").last ?? "") }
        }
        XCTAssertGreaterThanOrEqual(metric(#"certchain_http_responses_total{node="node1",class="4xx"}"#) ?? 0, 8, metrics)
        XCTAssertGreaterThanOrEqual(metric(#"certchain_http_responses_total{node="node1",class="2xx"}"#) ?? -1, 0, metrics)
        XCTAssertTrue((0...3).contains(Int(metric(#"certchain_peers_connected{node="node1"}"#) ?? -1)), metrics)
        XCTAssertNotNil(metric(#"certchain_last_commit_timestamp_seconds{node="node1"}"#), metrics)
        XCTAssertNotNil(metric(#"certchain_peer_frames_dropped_total{node="node1"}"#), metrics)

        // A well-formed transaction signed by the wrong key, and one by a signer the chain does not know.
        let orgKey = try PrivateKey(pem: String(contentsOfFile: testnet.keysDirectory + "/org-sz-tax-2.pem", encoding: .utf8))
        let wrongKey = try PrivateKey.generate(suite: genesis.suite)
        let body = TransactionBody.fileTradeOperator(FileTradeOperatorBody(taxId: "91440300595655961F", filedOn: "2021-01-04"))
        let transaction = Transaction(chainId: genesis.chainId, signer: "org:sz-commerce", nonce: 1, effectiveDate: "2021-01-04", body: body)
        let forged = SignedTransaction(transaction: transaction, signature: try wrongKey.sign(transaction.signingBytes))
        response = try api.request("POST", "/v1/transactions", body: Array(try JSONEncoder().encode(forged)))
        XCTAssertEqual(response.status, 401)
        XCTAssertEqual(errorCode(response), "bad-signature")
        // The same checks for the canonical binary form (Content-Type: application/octet-stream).
        let binary = [("Content-Type", "application/octet-stream")]
        response = try api.request("POST", "/v1/transactions", body: forged.encode(), headers: binary)
        XCTAssertEqual(response.status, 401)
        XCTAssertEqual(errorCode(response), "bad-signature")
        for garbage in [[UInt8](), [0xff, 0xff, 0xff, 0xff, 0x01], Array(forged.encode().dropLast()), Array("{}".utf8)] {
            response = try api.request("POST", "/v1/transactions", body: garbage, headers: binary)
            XCTAssertEqual(response.status, 400)
            XCTAssertEqual(errorCode(response), "invalid-transaction")
        }

        var stranger = transaction
        stranger.signer = "ent:91440300595655961F"
        let unknown = SignedTransaction(transaction: stranger, signature: try orgKey.sign(stranger.signingBytes))
        response = try api.request("POST", "/v1/transactions", body: Array(try JSONEncoder().encode(unknown)))
        XCTAssertEqual(response.status, 403)
        XCTAssertEqual(errorCode(response), "unknown-signer")

        // Garbage and an oversized frame on the peer port: that connection closes, the node keeps serving.
        let p2p = try HostPort(genesis.validators[1].p2pAddress)
        for garbage in [[UInt8](repeating: 0xff, count: 64), [0x7f, 0xff, 0xff, 0xff, 1, 2, 3]] {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = p2p.port.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            XCTAssertEqual(connected, 0)
            _ = garbage.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            close(fd)
        }
        // A valid transaction still commits on all four nodes afterwards.
        let commerceKey = try PrivateKey(pem: String(contentsOfFile: testnet.keysDirectory + "/org-sz-tax-2.pem", encoding: .utf8))
        let register = Transaction(
            chainId: genesis.chainId, signer: "org:sz-tax-2", nonce: 7, effectiveDate: "2021-01-04",
            body: .registerEnterprise(
                RegisterEnterpriseBody(
                    taxId: "91440300595655961F", name: "深圳市一达通供应链服务有限公司", kind: "integratedService", bureau: "sz-tax-2",
                    publicKey: try PrivateKey.generate(suite: genesis.suite).publicKey.hex)))
        let signed = SignedTransaction(transaction: register, signature: try commerceKey.sign(register.signingBytes))
        let hash = Hex.encode(signed.id(genesis.suite.hashAlgorithm))
        // A client waiting for the next block (one request, held by the node) gets it when it commits.
        let statusAnswer = try JSONSerialization.jsonObject(with: Data(try api.request("GET", "/v1/status").body)) as? [String: Any]
        let nextHeight = try XCTUnwrap(statusAnswer?["height"] as? Int) + 1
        let waitPath = "/v1/blocks/\(nextHeight)?waitMs=20000"
        let waitHeaders = try auditor.headers(method: "GET", target: waitPath)
        let waiter = try HTTPClient(url: "http://\(genesis.validators[2].apiAddress)")
        let waited = ResultBox<HTTPResponse>()
        let waiting = DispatchGroup()
        DispatchQueue.global().async(group: waiting) { waited.set(try? waiter.request("GET", waitPath, headers: waitHeaders)) }
        response = try api.request("POST", "/v1/transactions", body: Array(try JSONEncoder().encode(signed)))
        XCTAssertEqual(response.status, 202, String(decoding: response.body, as: UTF8.self))
        XCTAssertEqual(waiting.wait(timeout: .now() + 30), .success)
        let nextBlock = try XCTUnwrap(waited.get(), "the waiting request was answered")
        XCTAssertEqual(nextBlock.status, 200, String(decoding: nextBlock.body, as: UTF8.self))
        XCTAssertTrue(String(decoding: nextBlock.body, as: UTF8.self).contains(hash), "the next block carries the transaction")
        // Idempotent: the same transaction again, as JSON or in binary, answers with the same hash.
        response = try api.request("POST", "/v1/transactions", body: Array(try JSONEncoder().encode(signed)))
        XCTAssertTrue([200, 202].contains(response.status))
        XCTAssertTrue(String(decoding: response.body, as: UTF8.self).contains(hash))
        response = try api.request("POST", "/v1/transactions", body: signed.encode(), headers: binary)
        XCTAssertTrue([200, 202].contains(response.status))
        let answer = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: String]
        XCTAssertEqual(answer?["txHash"], hash)
        XCTAssertTrue(["pending", "committed"].contains(answer?["status"] ?? ""))
        for validator in genesis.validators {
            let client = try HTTPClient(url: "http://\(validator.apiAddress)")
            let deadline = Date().addingTimeInterval(20)
            var status = 0
            var text = ""
            while Date() < deadline {
                let answer = try signedGet(client, "/v1/transactions/\(hash)")
                status = answer.status
                text = String(decoding: answer.body, as: UTF8.self)
                if status == 200 && text.contains("committed") { break }
                usleep(20_000)
            }
            XCTAssertTrue(text.contains("\"committed\""), "\(validator.id): \(status) \(text)")
        }
    }
}

/// One value handed from a background thread to the test.
final class ResultBox<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value?
    func set(_ newValue: Value?) { lock.withLock { value = newValue } }
    func get() -> Value? { lock.withLock { value } }
}

/// Measures the time from a fault to the next block committed on one node (polls its status in a thread).
final class RecoveryClock: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Double?
    let api: String

    init(api: String) { self.api = api }

    var secondsToNextCommit: Double? { lock.withLock { result } }

    func start() {
        let api = self.api
        let startedAt = Date()
        @Sendable func status() -> (height: Int, view: Int)? {
            guard let client = try? HTTPClient(url: api), let response = try? client.request("GET", "/v1/status"),
                let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
                let height = object["height"] as? Int, let view = object["view"] as? Int
            else { return nil }
            return (height, view)
        }
        let before = status() ?? (0, 0)
        Thread.detachNewThread { [self] in
            // The first block committed once the view has changed: the new primary's.
            while Date().timeIntervalSince(startedAt) < 60 {
                if let now = status() {
                    if now.view > before.view, now.height > before.height {
                        lock.withLock { result = Date().timeIntervalSince(startedAt) }
                        return
                    }
                }
                usleep(10_000)
            }
        }
    }
}

/// Thread-safe list of what happened during a test.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    var entries: [String] { lock.withLock { items } }
    func add(_ entry: String) { lock.withLock { items.append(entry) } }
}
