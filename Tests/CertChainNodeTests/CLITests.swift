import CertChainNet
import Foundation
import XCTest

@testable import CertChainNode

#if canImport(Glibc)
    import Glibc
#endif

/// The `certchain` executable as a newcomer meets it: bad arguments give a clear message and a usage exit status, never a crash.
final class CLITests: XCTestCase {
    /// Exit status, stdout and stderr of `certchain arguments…` (run in `directory` when given).
    func certchain(_ arguments: [String], in directory: String? = nil) throws -> (status: Int32, out: String, err: String) {
        try NetworkTests.run(try NetworkTests.executable(), arguments, directory: directory)
    }

    /// A fresh temporary folder, removed at teardown.
    func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("certchain-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// `testnet start|stop --node I` with I outside the network: exit 2, "no validator I in this network (0…3)", no folder made.
    func testNodeIndexOutsideTheNetworkIsRefused() throws {
        let root = NetworkTests.repositoryRoot
        let testnet = Testnet(directory: try temporaryDirectory() + "/net")
        try testnet.create(
            Testnet.CreateOptions(
                templatePath: root.appendingPathComponent("genesis/template.json").path,
                referencePath: root.appendingPathComponent("samples/small/reference.json").path))
        for (subcommand, node) in [("start", "9"), ("start", "-1"), ("stop", "9"), ("stop", "4")] {
            let result = try certchain(["testnet", subcommand, "--dir", testnet.directory, "--node", node])
            XCTAssertEqual(result.status, 2, "testnet \(subcommand) --node \(node): \(result.err)")
            XCTAssertTrue(result.err.contains("no validator \(node) in this network (0…3)"), result.err)
            XCTAssertFalse(FileManager.default.fileExists(atPath: testnet.nodeDirectory(Int(node)!)), "testnet \(subcommand) made node\(node)/")
        }
        let stopped = try certchain(["testnet", "stop", "--dir", testnet.directory, "--node", "1"])
        XCTAssertEqual(stopped.status, 0, stopped.err)
        XCTAssertTrue(stopped.out.contains("node1 is not running"), stopped.out)
        let missing = try certchain(["testnet", "status", "--dir", testnet.directory + "-nonexistent"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.err.contains("no testnet in \(testnet.directory)-nonexistent (run certchain testnet up --dir"), missing.err)
    }

    /// `replay --limit 20` on a fresh network: exit 0 on its 20 matching receipts, and the final state is said not to be compared
    /// (expected.json describes the whole workload). A second, full replay on that chain is refused at once, before it
    /// registers the enterprises again under other keys (which made everything after fail with bad-signature); samples/small
    /// starts with 24 registrations, so the partial run committed nothing but registrations.
    func testPartialReplayIsNotComparedAndASecondReplayIsRefused() throws {
        let (testnet, genesis) = try makeTestnet()
        let workload = NetworkTests.repositoryRoot.appendingPathComponent("samples/small").path
        let api = genesis.validators.map { "http://\($0.apiAddress)" }.joined(separator: ",")
        let partial = try certchain(["replay", workload, "--api", api, "--keys", testnet.keysDirectory, "--limit", "20"])
        XCTAssertEqual(partial.status, 0, partial.out + partial.err)
        XCTAssertTrue(partial.out.contains("receipts:            20 of 20 submitted; matched 20, mismatched 0"), partial.out)
        XCTAssertTrue(partial.out.contains("final state:         not compared (--limit: a partial replay)\n"), partial.out)
        let again = try certchain(["replay", workload, "--api", api, "--keys", testnet.keysDirectory])
        XCTAssertEqual(again.status, 1, again.out + again.err)
        XCTAssertTrue(again.err.contains("certchain: this chain already holds the workload (enterprise "), again.err)
        XCTAssertTrue(again.err.contains("); replay it on a fresh network (certchain testnet up --dir NEW_DIR …)"), again.err)
        XCTAssertFalse(again.out.contains("submitted"), again.out)
    }

    /// `node --data X` with X a file (or under one) says so in a sentence; a start that fails (unknown validator, port in
    /// use) removes the folders and database it created and leaves an existing folder as it was.
    func testNodeDataFolderProblemsAreExplainedAndLeaveNothingBehind() throws {
        let root = NetworkTests.repositoryRoot
        let directory = try temporaryDirectory()
        let testnet = Testnet(directory: directory + "/net")
        let genesis = try testnet.create(
            Testnet.CreateOptions(
                templatePath: root.appendingPathComponent("genesis/template.json").path,
                referencePath: root.appendingPathComponent("samples/small/reference.json").path))
        func node(_ data: String, id: String = "node0") throws -> (status: Int32, out: String, err: String) {
            try certchain(["node", "--genesis", testnet.genesisPath, "--id", id, "--key", testnet.keysDirectory + "/node0.pem", "--data", data])
        }
        let file = directory + "/file"
        try "not a folder".write(toFile: file, atomically: true, encoding: .utf8)
        for (data, message) in [
            (file, "cannot use \(file) as the data folder: it is a file, not a folder"),
            (file + "/data", "cannot create the data folder \(file)/data: \(file) is a file, not a folder"),
        ] {
            let result = try node(data)
            XCTAssertEqual(result.status, 1, result.err)
            XCTAssertTrue(result.err.hasPrefix("certchain: \(message)"), result.err)
        }
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), "not a folder")
        if geteuid() != 0 {  // root may write anywhere
            let locked = directory + "/locked"
            try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o555])
            let result = try node(locked)
            XCTAssertEqual(result.status, 1, result.err)
            XCTAssertTrue(result.err.hasPrefix("certchain: the data folder \(locked) is not writable: permission denied"), result.err)
        }

        let unknown = try node(directory + "/new/data", id: "node9")
        XCTAssertEqual(unknown.status, 1, unknown.err)
        XCTAssertTrue(unknown.err.contains("validator node9 is not in genesis"), unknown.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/new"), "a failed start left the folders it made")

        // The API port is taken: the start fails after the database was made and the peer transport started.
        let port = try XCTUnwrap(UInt16(try XCTUnwrap(genesis.validators[0].apiAddress.split(separator: ":").last)))
        let holder = HTTPServer(host: "127.0.0.1", port: port, handler: { _ in .error(503, code: "busy", message: "busy") })
        try holder.start()
        defer { holder.stop() }
        let existing = directory + "/existing"
        try FileManager.default.createDirectory(atPath: existing, withIntermediateDirectories: false)
        for data in [directory + "/new/data", existing] {
            let busy = try node(data)
            XCTAssertEqual(busy.status, 1, busy.err)
            XCTAssertTrue(busy.err.contains("cannot listen on the configured address: address already in use"), busy.err)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/new"), "a failed start left the folders it made")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: existing), [], "a failed start left its database")
    }

    /// `keys generate --out FILE` never replaces an existing key unless `--force` is given; the file stays owner-only.
    func testKeysGenerateRefusesToOverwrite() throws {
        let path = try temporaryDirectory() + "/key.pem"
        let first = try certchain(["keys", "generate", "--out", path])
        XCTAssertEqual(first.status, 0, first.err)
        let original = try String(contentsOfFile: path, encoding: .utf8)
        let again = try certchain(["keys", "generate", "--out", path])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.err.contains("already exists") && again.err.contains("--force"), again.err)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), original, "the existing key was changed")
        let forced = try certchain(["keys", "generate", "--out", path, "--force"])
        XCTAssertEqual(forced.status, 0, forced.err)
        XCTAssertNotEqual(try String(contentsOfFile: path, encoding: .utf8), original)
        let permissions = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        XCTAssertEqual(permissions, 0o600)
    }

    /// `genesis create --dir DIR` never replaces an existing network's genesis and keys unless `--force` is given.
    func testGenesisCreateRefusesToReplaceANetwork() throws {
        let directory = try temporaryDirectory() + "/net"
        let reference = NetworkTests.repositoryRoot.appendingPathComponent("samples/small/reference.json").path
        let template = NetworkTests.repositoryRoot.appendingPathComponent("genesis/template.json").path
        let arguments = ["genesis", "create", "--dir", directory, "--reference", reference, "--template", template]
        let first = try certchain(arguments)
        XCTAssertEqual(first.status, 0, first.err)
        let genesis = try String(contentsOfFile: directory + "/genesis.json", encoding: .utf8)
        let again = try certchain(arguments)
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.err.contains("already exists") && again.err.contains("--force"), again.err)
        XCTAssertEqual(try String(contentsOfFile: directory + "/genesis.json", encoding: .utf8), genesis, "the genesis was replaced")
        let forced = try certchain(arguments + ["--force"])
        XCTAssertEqual(forced.status, 0, forced.err)
        XCTAssertNotEqual(try String(contentsOfFile: directory + "/genesis.json", encoding: .utf8), genesis)
    }

    /// `--keys DIR` that does not exist or is a file is refused by name before any request; without `--keys`, reads go unsigned.
    func testKeysOptionMustNameAFolder() throws {
        let directory = try temporaryDirectory()
        let file = directory + "/auditor.pem"
        try "key".write(toFile: file, atomically: true, encoding: .utf8)
        let api = "http://127.0.0.1:1"
        for (arguments, message) in [
            (["trace", "1", "--api", api, "--keys", directory + "/missing"], "--keys \(directory)/missing: no such folder"),
            (["certificate", "1", "--api", api, "--keys", file], "--keys \(file) is a file, not a folder of keys"),
            (["replay", directory, "--api", api, "--keys", file], "--keys \(file) is a file, not a folder of keys"),
        ] {
            let result = try certchain(arguments)
            XCTAssertEqual(result.status, 1, "certchain \(arguments.joined(separator: " ")): \(result.err)")
            XCTAssertTrue(result.err.hasPrefix("certchain: \(message)"), "certchain \(arguments.joined(separator: " ")): \(result.err)")
        }
        let unsigned = try certchain(["certificate", "1", "--api", api], in: directory)
        XCTAssertEqual(unsigned.status, 1, unsigned.err)
        XCTAssertTrue(unsigned.err.hasPrefix("certchain: no validator answers at \(api): connection refused"), unsigned.err)
    }

    /// A read signed, without `--keys`, with the default demo-network/keys of another network: the 401 names that folder
    /// and says `--keys DIR` must name this network's keys; with `--keys` given, the API's answer stands alone.
    func testRefusedSignatureFromTheDefaultKeysFolderIsExplained() throws {
        let directory = try temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory + "/demo-network/keys", withIntermediateDirectories: true)
        let generated = try certchain(["keys", "generate", "--out", directory + "/demo-network/keys/auditor-audit-office.pem"])
        XCTAssertEqual(generated.status, 0, generated.err)
        let status = Array(#"{"chainId":"other-chain","height":0}"#.utf8)
        let server = HTTPServer(host: "127.0.0.1", port: 0) { request in
            request.path == "/v1/status"
                ? .json(200, status)
                : .error(401, code: "bad-request-signature", message: "the request signature does not verify with auditor:audit-office's key")
        }
        try server.start()
        defer { server.stop() }
        let api = "http://127.0.0.1:\(server.boundPort)"
        let implicit = try certchain(["certificate", "440300202100000001", "--api", api], in: directory)
        XCTAssertEqual(implicit.status, 1, implicit.err)
        XCTAssertTrue(implicit.err.contains("bad-request-signature"), implicit.err)
        XCTAssertTrue(
            implicit.err.contains("without --keys the request was signed with the auditor key in demo-network/keys")
                && implicit.err.contains("pass --keys DIR naming this network's keys folder, e.g. net/keys after `certchain testnet up --dir net`"),
            implicit.err)
        let explicit = try certchain(["certificate", "440300202100000001", "--api", api, "--keys", "demo-network/keys"], in: directory)
        XCTAssertEqual(explicit.status, 1, explicit.err)
        XCTAssertTrue(explicit.err.contains("bad-request-signature"), explicit.err)
        XCTAssertFalse(explicit.err.contains("without --keys"), explicit.err)
    }

    /// `submit --wait` follows the transaction (signed as its submitter) until it commits, prints the answer, and fails
    /// when the chain refused it in its receipt.
    func testSubmitWaitFollowsTheTransactionToItsReceipt() throws {
        let directory = try temporaryDirectory()
        let keyPath = directory + "/k.pem"
        let generated = try certchain(["keys", "generate", "--out", keyPath])
        XCTAssertEqual(generated.status, 0, generated.err)
        let publicKey = generated.out.trimmingCharacters(in: .whitespacesAndNewlines)
        let hash = String(repeating: "ab", count: 32)
        let polls = PollCount()
        let server = HTTPServer(host: "127.0.0.1", port: 0) { request in
            switch (request.method, request.path) {
            case ("GET", "/v1/status"): return .json(200, Array(#"{"chainId":"c","height":1}"#.utf8))
            case ("POST", "/v1/transactions"): return .json(202, Array(#"{"txHash":"\#(hash)","status":"pending"}"#.utf8))
            case ("GET", "/v1/transactions/" + hash):
                guard request.headers["x-certchain-identity"] == "org:sz-tax-2" else { return .error(401, code: "authentication-required", message: "unsigned") }
                if polls.next() < 2 { return .json(200, Array(#"{"txHash":"\#(hash)","status":"pending"}"#.utf8)) }
                return .json(200, Array(#"{"txHash":"\#(hash)","status":"committed","height":7,"index":0,"receipt":{"txHash":"\#(hash)","error":"invalid-date","message":"no such day"}}"#.utf8))
            default: return .error(404, code: "not-found", message: request.path)
            }
        }
        try server.start()
        defer { server.stop() }
        let body = #"{"taxId":"91440300595655961F","name":"深圳市一达通供应链服务有限公司","kind":"integratedService","bureau":"sz-tax-2","publicKey":""# + publicKey + "\"}"
        let submit = ["submit", "--api", "http://127.0.0.1:\(server.boundPort)", "--key", keyPath, "--signer", "org:sz-tax-2",
                      "--kind", "registerEnterprise", "--body", body]
        let waited = try certchain(submit + ["--wait", "10"])
        XCTAssertEqual(waited.status, 1, waited.err)
        XCTAssertTrue(waited.err.contains("committed with an error receipt: invalid-date: no such day"), waited.err)
        XCTAssertTrue(waited.out.contains("\"committed\""), waited.out)
        XCTAssertEqual(polls.count, 3, "followed until it committed")
        let plain = try certchain(submit)
        XCTAssertEqual(plain.status, 0, plain.err)
        XCTAssertTrue(plain.out.contains("\"pending\""), "without --wait the answer to the POST: \(plain.out)")
        XCTAssertEqual(try certchain(submit + ["--wait", "0"]).status, 2, "--wait is at least 1 second")
    }

    /// Unknown options, missing or out-of-range values and unusable URLs are usage errors or plain sentences.
    func testBadArgumentsAreExplained() throws {
        let cases: [(arguments: [String], status: Int32, message: String)] = [
            (["status", "--bogus"], 2, "unknown option --bogus for `certchain status`"),
            (["status", "--api"], 2, "--api needs a value"),
            (["testnet", "status", "--dir", "x", "--node", "1"], 2, "unknown option --node for `certchain testnet status`"),
            (["node", "--log-level", "bogus"], 2, "unknown log level bogus: use debug, info, warn, error, off"),
            (["simulate", "--seeds", "-1"], 2, "--seeds must be a whole number ≥ 1"),
            (["simulate", "--first-seed", "-1"], 2, "--first-seed must be a whole number ≥ 0"),
            (["login", "--api", "http://127.0.0.1:1", "--certificate", "nope"], 2, "--certificate nope: a certificate number is 18 digits"),
            (["status", "--api", "127.0.0.1:1"], 2, "not a URL: 127.0.0.1:1"),
            (
                ["submit", "--api", "http://127.0.0.1:1", "--key", "k.pem", "--signer", "org:x", "--body", "{}", "--kind", "noSuchKind"], 2,
                "unknown kind noSuchKind: use one of registerEnterprise, fileTradeOperator, recordDeclaration, applyCertificate, "
                    + "issueCertificate, rejectApplication, revokeCertificate, claimRefund, approveRefund, rejectRefund"
            ),
            (
                ["submit", "--api", "http://127.0.0.1:1", "--key", "k.pem", "--signer", "org:x", "--body", "{}", "--kind", "claimRefund", "--nonce", "-3"],
                2, "--nonce must be a whole number ≥ 0, not -3"
            ),
            (["status", "--api", "http://127.0.0.1:1"], 1, "no validator answers at http://127.0.0.1:1: connection refused; is it running?"),
            (["certificate", "440300202100000001", "--api", "http://127.0.0.1:1", "extra"], 2, "unexpected argument(s) for `certchain certificate`: extra"),
            (["keys", "generate", "extra"], 2, "unexpected argument(s) for `certchain keys generate`: extra"),
            (["get", "/v1/certificates?agent=a b", "--api", "http://127.0.0.1:1"], 2, "the path may not contain spaces or control characters"),
            (["get", "/v1/status#top", "--api", "http://127.0.0.1:1"], 2, "the path may not contain a #fragment"),
            (["get", "/v1/status", "--api", "http://127.0.0.1:1", "--identity", "auditor:x"], 2, "--identity needs --key FILE.pem"),
            (["node", "--genesis", "no-such-genesis.json", "--id", "node0", "--key", "k.pem", "--data", "d"], 1, "cannot read no-such-genesis.json: no such file"),
        ]
        for (arguments, status, message) in cases {
            let result = try certchain(arguments)
            XCTAssertEqual(result.status, status, "certchain \(arguments.joined(separator: " ")): \(result.err)")
            XCTAssertTrue(result.err.hasPrefix("certchain: \(message)"), "certchain \(arguments.joined(separator: " ")): \(result.err)")
        }
        let usage = try certchain(["status", "--bogus"])
        XCTAssertTrue(usage.err.contains("certchain status --api URL"), "a usage error shows the command's usage: \(usage.err)")
        let seed = try NetworkTests.run("/usr/bin/env", ["CERTCHAIN_SIM_SEED=abc", try NetworkTests.executable(), "simulate", "--seeds", "1"])
        XCTAssertNotEqual(seed.status, 0, "a seed that is not a number is not ignored: \(seed.out)")
        XCTAssertTrue(seed.err.contains("CERTCHAIN_SIM_SEED=abc: a seed is a whole number"), seed.err)
    }

    /// `genesis create` with fewer than 4 validators warns that f = 0 but still writes the network.
    func testFewerThanFourValidatorsWarn() throws {
        let root = NetworkTests.repositoryRoot
        let directory = try temporaryDirectory()
        let result = try certchain([
            "genesis", "create", "--dir", directory + "/net", "--validators", "2",
            "--template", root.appendingPathComponent("genesis/template.json").path,
            "--reference", root.appendingPathComponent("samples/small/reference.json").path,
        ])
        XCTAssertEqual(result.status, 0, result.err)
        XCTAssertTrue(result.err.contains("warning: 2 validators tolerate no faulty validator (f = 0"), result.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/net/genesis.json"))
        XCTAssertEqual(Testnet.faultTolerance(validators: 3), 0)
        XCTAssertEqual(Testnet.faultTolerance(validators: 4), 1)
        XCTAssertEqual(Testnet.faultTolerance(validators: 7), 2)
        XCTAssertTrue(result.err.contains(#""historicalImport": true"#) && result.err.contains("backdate"),
                      "a genesis that leaves effective dates unchecked says so: \(result.err)")
        let down = try certchain(["testnet", "down", "--dir", directory + "/net"])
        XCTAssertEqual(down.status, 0, down.err)
        XCTAssertTrue(down.out.contains("no validator was running"), "testnet down with nothing running says so: \(down.out)")
    }

    /// `workload generate` does not replace a workload without --force, nor write into a file.
    func testWorkloadGenerateKeepsAnExistingWorkload() throws {
        let directory = try temporaryDirectory()
        let out = directory + "/w"
        XCTAssertEqual(try certchain(["workload", "generate", "--certificates", "2", out]).status, 0)
        let again = try certchain(["workload", "generate", "--certificates", "2", out])
        XCTAssertEqual(again.status, 1, again.err)
        XCTAssertTrue(again.err.contains("already holds a workload; pass --force to replace it"), again.err)
        XCTAssertEqual(try certchain(["workload", "generate", "--certificates", "2", "--force", out]).status, 0)
        let file = try certchain(["workload", "generate", "--certificates", "2", out + "/transactions.jsonl"])
        XCTAssertTrue(file.err.contains("is a file, not a folder"), file.err)
    }

    /// `scripts/demo` with a bad option stops before it builds anything or removes the previous demo-network/.
    func testDemoChecksItsOptionsBeforeRemovingThePreviousNetwork() throws {
        let root = NetworkTests.repositoryRoot
        let network = root.appendingPathComponent("demo-network").path
        let marker = network + "/certchain-test-marker-\(UUID().uuidString)"
        let existed = FileManager.default.fileExists(atPath: network)
        try FileManager.default.createDirectory(atPath: network, withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: marker, contents: Data()))
        defer { try? FileManager.default.removeItem(atPath: existed ? marker : network) }
        let demo = root.appendingPathComponent("scripts/demo").path
        for (arguments, wording) in [
            (["--suite", "sm3"], "use sm2-sm3 or ed25519-sha256"), (["--workload", "samples/nope"], "has no reference.json"),
            (["--validators", "x"], "a whole number"),
        ] {
            let result = try NetworkTests.run("/bin/bash", [demo] + arguments)
            XCTAssertEqual(result.status, 2, "\(arguments): \(result.err)")
            XCTAssertTrue(result.err.contains(wording), "\(arguments): \(result.err)")
            XCTAssertTrue(FileManager.default.fileExists(atPath: marker), "\(arguments) removed the previous demo-network/")
        }
    }

    /// `testnet down` stops every validator within one grace period (not one each), SIGKILLs and reports those that
    /// ignore SIGTERM, and returns only once each has left the process table, its pid file removed.
    func testStopNodesStopsAllTogetherAndWaitsForThemToExit() throws {
        let testnet = Testnet(directory: try temporaryDirectory())
        var pids: [Int32] = []
        for index in 0..<3 {  // node0 stops on SIGTERM; node1 and node2 ignore it
            try FileManager.default.createDirectory(atPath: testnet.nodeDirectory(index), withIntermediateDirectories: true)
            let script = index == 0 ? "exec sleep 30" : "trap '' TERM; exec sleep 30"
            let pid = try spawnDetached(["/bin/sh", "-c", script], logPath: testnet.nodeDirectory(index) + "/node.log")
            try "\(pid)\n".write(toFile: testnet.nodeDirectory(index) + "/pid", atomically: true, encoding: .utf8)
            pids.append(pid)
        }
        // Each has run its trap (if any) once it is `sleep`.
        let ready = Date().addingTimeInterval(10)
        while pids.contains(where: { (try? String(contentsOfFile: "/proc/\($0)/comm", encoding: .utf8)) != "sleep\n" }), Date() < ready {
            usleep(10_000)
        }
        let start = Date()
        let killed = testnet.stopNodes([0, 1, 2], graceSeconds: 1)
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertEqual(killed, [1: pids[1], 2: pids[2]])
        XCTAssertGreaterThanOrEqual(elapsed, 1)
        XCTAssertLessThan(elapsed, 1.9, "one grace period for all validators, not one each")
        for (index, pid) in pids.enumerated() {
            XCTAssertTrue(kill(pid, 0) != 0 && errno == ESRCH, "node\(index) (pid \(pid)) is still in the process table")
            XCTAssertFalse(FileManager.default.fileExists(atPath: testnet.nodeDirectory(index) + "/pid"))
        }
    }
}

/// Counts calls from the server's threads.
final class PollCount: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    /// The count before this call.
    func next() -> Int { lock.withLock { defer { value += 1 }; return value } }
    /// Calls so far.
    var count: Int { lock.withLock { value } }
}
