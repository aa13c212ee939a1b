import CertChainCrypto
import CertChainLedger
import CertChainModel
import CertChainNet
import Foundation

/// Signs a workload (SPEC section 6), submits it to a running network over HTTP, checks every receipt
/// against its `expect` and the final state against `expected.json`, and measures throughput and latency.
public final class WorkloadReplay: @unchecked Sendable {
    /// What to replay and where.
    public struct Options: Sendable {
        /// Folder with reference.json, transactions.jsonl and expected.json.
        public var workloadDirectory: String
        /// API base URLs of the nodes (`http://127.0.0.1:8600`); submissions go to the current primary.
        public var apiURLs: [String]
        /// Folder with `org-<id>.pem` keys and `auditor-<id>.pem` (reads are signed as that auditor), a testnet's `keys/`.
        public var keysDirectory: String
        /// Stop submitting after this many transactions (nil: all).
        public var limit: Int?
        /// Called after this many submissions (tests use it to inject faults mid-way).
        public var onProgress: (@Sendable (_ submitted: Int) -> Void)?
        /// Give up waiting for commits after this long.
        public var timeoutSeconds: Double = 600
        /// Give up on one HTTP request (a status read, a submission) after this long.
        public var requestTimeoutSeconds: Double = 15

        /// Options for a workload, node URLs and key folder.
        public init(workloadDirectory: String, apiURLs: [String], keysDirectory: String) {
            self.workloadDirectory = workloadDirectory
            self.apiURLs = apiURLs
            self.keysDirectory = keysDirectory
        }
    }

    /// One node's final position.
    public struct NodeSummary: Codable, Sendable, Equatable {
        /// Validator id.
        public var id: String
        /// Height of its last block.
        public var height: UInt64
        /// Hash of its last block (hex), or `unreachable`.
        public var lastBlockHash: String
        /// What `lastBlockHash` says of a node that did not answer.
        public static let unreachable = "unreachable"
    }

    /// The figures a replay reports (also written as JSON).
    public struct Summary: Codable, Sendable {
        /// Workload folder.
        public var workload: String
        /// Transactions submitted.
        public var submitted: Int
        /// Receipts obtained (committed transactions).
        public var receipts: Int
        /// Receipts that matched their `expect`.
        public var matched: Int
        /// Receipts that did not, plus transactions refused or never committed.
        public var mismatches: Int
        /// First mismatches, described.
        public var mismatchDetails: [String]
        /// Whether the final state was compared with expected.json (not after a partial, `limit`ed replay).
        public var stateCompared: Bool
        /// Whether every certificate's status and consumption, and the totals, equal expected.json (false when not compared).
        public var stateMatchesExpected: Bool
        /// First differences from expected.json, described.
        public var stateDifferences: [String]
        /// Certificates compared with expected.json.
        public var certificatesChecked: Int
        /// Refund total on chain.
        public var refundTotal: String
        /// Exempt-credit total on chain.
        public var exemptCreditTotal: String
        /// Every node's height and last hash.
        public var nodes: [NodeSummary]
        /// Whether all nodes ended at the same height and hash.
        public var nodesAgree: Bool
        /// Committed transactions per second, first submission to last commit.
        public var transactionsPerSecond: Double
        /// Median submit-to-commit latency.
        public var latencyMsP50: Double
        /// 99th percentile submit-to-commit latency.
        public var latencyMsP99: Double
        /// Largest submit-to-commit latency.
        public var latencyMsMax: Double
        /// Wall time of the replay.
        public var elapsedSeconds: Double
        /// From the first submission to the last commit (what `transactionsPerSecond` divides by).
        public var commitWindowSeconds: Double
        /// Blocks the chain grew by.
        public var blocks: UInt64
    }

    struct Prepared {
        var seq: Int
        var kind: String
        var signer: String
        var json: [UInt8]
        var id: [UInt8]
        var expect: WorkloadExpect
        var registersTaxId: String?
    }

    let options: Options
    let lock = NSLock()
    var commitTimes: [[UInt8]: Double] = [:]
    var receipts: [[UInt8]: Receipt] = [:]
    /// Signs the replay's reads as the auditor (set before any thread starts).
    var signer: RequestSigner?
    var generatedKeys: [String: PrivateKey] = [:]
    /// The keys generated for the workload's enterprises, by tax id (filled when `run` has signed the workload).
    public var enterpriseKeys: [String: PrivateKey] { lock.withLock { generatedKeys } }

    /// A replay with these options.
    public init(options: Options) { self.options = options }

    /// Runs the whole replay; throws only when it cannot run at all (bad folder, unreachable nodes).
    public func run(log: (String) -> Void = { print($0) }) throws -> Summary {
        let start = Date()
        guard !options.apiURLs.isEmpty else { throw NodeError("no --api URL given") }
        let clients = try options.apiURLs.map { try makeClient($0, timeoutSeconds: options.requestTimeoutSeconds) }
        let status: StatusResponse
        do {
            status = try getJSON(clients[0], "/v1/status", as: StatusResponse.self)
        } catch NetError.timeout {
            throw NodeError(clients[0].timeoutSentence("GET /v1/status"))
        }
        guard let suite = SignatureSuite(rawValue: status.suite) else { throw NodeError("unknown suite \(status.suite)") }
        let heightBefore = status.height
        signer = try RequestSigner.auditor(keysDirectory: options.keysDirectory, chainId: status.chainId)
        if signer == nil { log("no auditor-*.pem in \(options.keysDirectory): reads are unsigned and will be refused") }
        log("chain \(status.chainId) (\(suite.rawValue)), \(status.validators.count) validators, primary \(status.primary), height \(heightBefore)")
        let prepared = try prepare(chainId: status.chainId, suite: suite, log: log)
        let total = options.limit.map { min($0, prepared.count) } ?? prepared.count
        if heightBefore > 0, let evidence = alreadyOnChain(prepared.prefix(total), client: clients[0]) {
            // Receipts are read from the blocks the replay adds; a workload already on chain would wait forever, and one
            // partly on chain (an earlier --limit run) would register its enterprises again with other keys.
            throw NodeError(
                "this chain already holds the workload (\(evidence)); replay it on a fresh network (certchain testnet up --dir NEW_DIR …)")
        }
        log("signed \(prepared.count) transactions in \(String(format: "%.1f", Date().timeIntervalSince(start))) s; submitting \(total)")

        let done = ManagedFlag()
        let poller = Thread { [self] in self.pollCommits(clients, from: heightBefore, until: done) }
        poller.start()
        defer { done.set() }

        var submitTimes: [[UInt8]: Double] = [:]
        var refused: [String] = []
        var registration: [String: [UInt8]] = [:]
        let submitStart = Date()
        var primaryClient = try primary(clients: clients, status: status)
        for (n, tx) in prepared.prefix(total).enumerated() {
            if tx.signer.hasPrefix("ent:"), let registrationId = registration[String(tx.signer.dropFirst(4))] {
                try waitForCommit(registrationId, deadline: Date().addingTimeInterval(options.timeoutSeconds))
            }
            var attempts = 0
            while true {
                attempts += 1
                let response: HTTPResponse
                do {
                    response = try primaryClient.request("POST", "/v1/transactions", body: tx.json, headers: [("Content-Type", "application/json")])
                } catch {
                    // The node is gone (a crashed primary): any live validator accepts and passes it on to all.
                    guard attempts < 600 else {
                        throw NodeError("cannot submit transaction \(tx.seq): \(Self.submissionFailure(error, to: primaryClient))")
                    }
                    usleep(100_000)
                    primaryClient = liveStatus(clients)?.client ?? primaryClient
                    // The dead node may have taken transactions it accepted but had not yet passed on: offer every
                    // uncommitted one again, in workload order, before anything later (same transaction, same id).
                    resubmitUncommitted(prepared[..<n].filter { submitTimes[$0.id] != nil }, to: primaryClient)
                    continue
                }
                if response.status == 503 && attempts < 2000 {
                    usleep(5_000)
                    continue
                }
                submitTimes[tx.id] = Date().timeIntervalSince1970
                if response.status >= 300 {
                    let body = String(decoding: response.body, as: UTF8.self)
                    refused.append("seq \(tx.seq) \(tx.kind): refused with HTTP \(response.status) \(body)")
                }
                break
            }
            if let taxId = tx.registersTaxId { registration[taxId] = tx.id }
            if (n + 1) % 500 == 0, let current = try? primary(clients: clients, status: nil) { primaryClient = current }
            options.onProgress?(n + 1)
        }
        let submitElapsed = Date().timeIntervalSince(submitStart)
        log("submitted \(total) in \(String(format: "%.1f", submitElapsed)) s; waiting for commits")
        let accepted = prepared.prefix(total).filter { submitTimes[$0.id] != nil }.map { $0.id }
        let deadline = Date().addingTimeInterval(options.timeoutSeconds)
        var lastCommitted = -1
        var lastProgress = Date()
        let byId = Dictionary(prepared.prefix(total).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        while Date() < deadline {
            let committed = lock.withLock { accepted.filter { self.commitTimes[$0] != nil }.count }
            if committed + refused.count >= accepted.count { break }
            if committed != lastCommitted {
                lastCommitted = committed
                lastProgress = Date()
            } else if Date().timeIntervalSince(lastProgress) > 5 {
                // No progress for a while (a crashed primary took its mempool with it): offer the uncommitted
                // transactions again, in order, to whoever is primary now. Same transaction, same id: idempotent.
                lastProgress = Date()
                let missing = lock.withLock { accepted.filter { self.commitTimes[$0] == nil } }
                log("no commit for 5 s: resubmitting \(missing.count) uncommitted transactions")
                if let client = try? primary(clients: clients, status: nil) {
                    resubmitUncommitted(missing.compactMap { byId[$0] }, to: client)
                }
            }
            usleep(20_000)
        }
        done.set()
        while !poller.isFinished { usleep(5_000) }

        // Receipts against expectations.
        var details = refused
        var matched = 0
        var latencies: [Double] = []
        var lastCommit = submitStart.timeIntervalSince1970
        let (commitTimes, receipts) = lock.withLock { (self.commitTimes, self.receipts) }
        for tx in prepared.prefix(total) {
            guard let receipt = receipts[tx.id] else {
                if submitTimes[tx.id] != nil, !refused.contains(where: { $0.hasPrefix("seq \(tx.seq) ") }) {
                    details.append("seq \(tx.seq) \(tx.kind): never committed")
                }
                continue
            }
            if let problem = receipt.mismatch(against: tx.expect) {
                details.append("seq \(tx.seq) \(tx.kind): \(problem)")
            } else {
                matched += 1
            }
            if let committedAt = commitTimes[tx.id], let submittedAt = submitTimes[tx.id] {
                latencies.append((committedAt - submittedAt) * 1000)
                lastCommit = max(lastCommit, committedAt)
            }
        }
        let receiptCount = prepared.prefix(total).filter { receipts[$0.id] != nil }.count
        latencies.sort()
        let commitWindow = max(0.001, lastCommit - submitStart.timeIntervalSince1970)
        let throughput = Double(receiptCount) / commitWindow

        // Final state and node agreement.
        let nodes = try settledNodes(clients, log: log)
        var differences: [String] = []
        var checked = 0
        var statistics: LedgerStatistics?
        if total == prepared.count {
            (differences, checked, statistics) = try compareState(liveStatus(clients)?.client ?? clients[0])
        } else {
            statistics = try? getJSON(liveStatus(clients)?.client ?? clients[0], "/v1/stats", as: LedgerStatistics.self)
        }
        let agree = Set(nodes.map { "\($0.height)/\($0.lastBlockHash)" }).count == 1
        return Summary(
            workload: options.workloadDirectory, submitted: total, receipts: receiptCount, matched: matched,
            mismatches: details.count, mismatchDetails: Array(details.prefix(50)),
            stateCompared: total == prepared.count, stateMatchesExpected: total == prepared.count && differences.isEmpty,
            stateDifferences: Array(differences.prefix(50)),
            certificatesChecked: checked, refundTotal: statistics?.refundTotal ?? "", exemptCreditTotal: statistics?.exemptCreditTotal ?? "",
            nodes: nodes, nodesAgree: agree, transactionsPerSecond: throughput,
            latencyMsP50: percentile(latencies, 0.50), latencyMsP99: percentile(latencies, 0.99), latencyMsMax: latencies.last ?? 0,
            elapsedSeconds: Date().timeIntervalSince(start), commitWindowSeconds: commitWindow, blocks: (nodes.map { $0.height }.max() ?? heightBefore) - heightBefore)
    }

    /// Posts the transactions of `candidates` that have not committed yet, in the given order, ignoring answers
    /// (a known transaction is idempotent: the node keeps its earlier place in the queue).
    func resubmitUncommitted<C: Collection>(_ candidates: C, to client: HTTPClient) where C.Element == Prepared {
        let uncommitted = lock.withLock { candidates.filter { self.commitTimes[$0.id] == nil } }
        for tx in uncommitted {
            _ = try? client.request("POST", "/v1/transactions", body: tx.json, headers: [("Content-Type", "application/json")])
        }
    }

    // MARK: - Preparing

    func prepare(chainId: String, suite: SignatureSuite, log: (String) -> Void) throws -> [Prepared] {
        let workload: Workload
        do {
            workload = try Workload(directory: URL(fileURLWithPath: options.workloadDirectory))
        } catch {
            throw NodeError("cannot load the workload in \(options.workloadDirectory): \(describe(error))")
        }
        // Keys: organizations' from the key folder, a fresh one per enterprise.
        var organizationKeys: [String: PrivateKey] = [:]
        var enterpriseKeys: [String: PrivateKey] = [:]
        for transaction in workload.transactions {
            let signer = transaction.signer
            if signer.hasPrefix("org:"), organizationKeys[signer] == nil {
                let keyPath = options.keysDirectory + "/org-\(signer.dropFirst(4)).pem"
                guard let pem = try? String(contentsOfFile: keyPath, encoding: .utf8) else {
                    throw NodeError("no key for \(signer): \(keyPath) is missing (pass --keys DIR/keys of the testnet)")
                }
                organizationKeys[signer] = try PrivateKey(pem: pem)
            }
            if let taxId = transaction.registeredTaxId, enterpriseKeys[taxId] == nil {
                enterpriseKeys[taxId] = try PrivateKey.generate(suite: suite)
            }
        }
        // A signer nobody registered still signs, with a key the chain does not know.
        let strangerKey = try PrivateKey.generate(suite: suite)
        let transactions = workload.transactions
        let prepared = ConcurrentSlots<Prepared>(count: transactions.count)
        let failures = ConcurrentSlots<String>(count: transactions.count)
        lock.withLock { generatedKeys = enterpriseKeys }
        let orgKeys = organizationKeys
        let entKeys = enterpriseKeys
        do {
            DispatchQueue.concurrentPerform(iterations: transactions.count) { i in
                let item = transactions[i]
                do {
                    let registered = item.registeredTaxId
                    let body = try item.typedBody(publicKey: registered.flatMap { entKeys[$0]?.publicKey.hex })
                    let transaction = Transaction(
                        chainId: chainId, signer: item.signer, nonce: UInt64(item.seq), effectiveDate: item.effectiveDate, body: body)
                    let key = item.signer.hasPrefix("org:") ? orgKeys[item.signer] : entKeys[String(item.signer.dropFirst(4))]
                    let signed = SignedTransaction(transaction: transaction, signature: try (key ?? strangerKey).sign(transaction.signingBytes))
                    prepared[i] = Prepared(
                        seq: item.seq, kind: item.kind.rawValue, signer: item.signer, json: Array(try JSONEncoder().encode(signed)),
                        id: signed.id(suite.hashAlgorithm), expect: item.expect,
                        registersTaxId: item.expect.error == nil ? registered : nil)
                } catch {
                    failures[i] = "workload transaction seq \(item.seq): \(describe(error))"
                }
            }
        }
        if let failure = failures.all.compactMap({ $0 }).first { throw NodeError(failure) }
        return prepared.all.compactMap { $0 }
    }

    // MARK: - Talking to nodes

    /// Why the chain behind `client` already holds (part of) the workload, or nil: the first enterprise the workload
    /// registers is registered (registrations carry fresh keys, so they are never the same bytes twice), or its first
    /// organization transaction that registers nothing (the same bytes on every run) is committed.
    func alreadyOnChain<C: Collection>(_ prepared: C, client: HTTPClient) -> String? where C.Element == Prepared {
        if let first = prepared.first(where: { $0.registersTaxId != nil }), let taxId = first.registersTaxId,
            let record = try? getJSON(client, "/v1/enterprises/\(taxId)", as: EnterpriseRecord.self)
        {
            return "enterprise \(taxId), which its transaction \(first.seq) registers, was registered in block \(record.registered.height)"
        }
        if let first = prepared.first(where: { $0.signer.hasPrefix("org:") && $0.kind != TransactionKind.registerEnterprise.rawValue }),
            let height = committedHeight(of: first.id, on: client)
        {
            return "its transaction \(first.seq) committed in block \(height)"
        }
        return nil
    }

    /// Why a submission to `client` failed, in a sentence: no validator listening (all gone), no answer in time, or the error.
    static func submissionFailure(_ error: Error, to client: HTTPClient) -> String {
        switch error {
        case NetError.system("connect", ECONNREFUSED): return client.refusedSentence
        case NetError.timeout: return client.timeoutSentence("POST /v1/transactions")
        default: return describe(error)
        }
    }

    /// The height at which transaction `id` committed on `client`'s node, or nil (pending, unknown, unreadable).
    func committedHeight(of id: [UInt8], on client: HTTPClient) -> UInt64? {
        guard let answer = try? getJSON(client, "/v1/transactions/\(Hex.encode(id))", as: TransactionStatusResponse.self),
            answer.status == "committed"
        else { return nil }
        return answer.height
    }

    func getJSON<T: Decodable>(_ client: HTTPClient, _ path: String, as type: T.Type) throws -> T {
        let headers = try path == "/v1/status" ? [] : signer?.headers(method: "GET", target: path) ?? []
        let response = try client.request("GET", path, headers: headers)
        guard response.status == 200 else {
            throw NodeError("GET \(path) answered \(response.status): \(String(decoding: response.body, as: UTF8.self))")
        }
        return try JSONDecoder().decode(T.self, from: Data(response.body))
    }

    func primary(clients: [HTTPClient], status: StatusResponse?) throws -> HTTPClient {
        guard let status = status ?? liveStatus(clients)?.status else { throw NodeError("no node answers /v1/status") }
        guard let address = status.validators.first(where: { $0.id == status.primary })?.apiAddress else { return clients[0] }
        return try makeClient("http://" + address, timeoutSeconds: options.requestTimeoutSeconds)
    }

    /// The first node that answers, with its status (nodes may be down: a crashed primary, say).
    func liveStatus(_ clients: [HTTPClient]) -> (client: HTTPClient, status: StatusResponse)? {
        for client in clients {
            if let status = try? getJSON(client, "/v1/status", as: StatusResponse.self) { return (client, status) }
        }
        return nil
    }

    func waitForCommit(_ id: [UInt8], deadline: Date) throws {
        while Date() < deadline {
            if lock.withLock({ commitTimes[id] != nil }) { return }
            usleep(2_000)
        }
        throw NodeError("transaction \(Hex.encode(id)) did not commit in time")
    }

    /// Follows the chain block by block, recording when each transaction was seen committed, with its receipt.
    func pollCommits(_ clients: [HTTPClient], from startHeight: UInt64, until done: ManagedFlag) {
        var next = startHeight + 1
        var current = 0
        while !done.isSet {
            let client = clients[current % clients.count]
            guard let status = try? getJSON(client, "/v1/status", as: StatusResponse.self) else {
                current += 1  // that node is down: follow another
                usleep(50_000)
                continue
            }
            // The next block, waited for on the node (bounded) when it is not there yet, then any others already there.
            let known = max(status.height, next)
            while next <= known {
                let wait = next > status.height ? "&waitMs=200" : ""
                guard let block = try? getJSON(client, "/v1/blocks/\(next)?receipts=true\(wait)", as: BlockResponse.self) else { break }
                let now = Date().timeIntervalSince1970
                lock.withLock {
                    for receipt in block.receipts ?? [] {
                        commitTimes[receipt.txHash] = now
                        receipts[receipt.txHash] = receipt
                    }
                }
                next += 1
            }
        }
    }

    /// Every node's height and hash, after waiting (bounded) for them to agree; a node that has refused connections for
    /// `refusedSecondsMax` (not running) is reported unreachable, and said so, instead of waiting the rest of the 30 s for it.
    func settledNodes(_ clients: [HTTPClient], log: (String) -> Void, refusedSecondsMax: Double = 3) throws -> [NodeSummary] {
        var nodes: [NodeSummary] = []
        let deadline = Date().addingTimeInterval(30)
        var refusingSince: [Int: Date] = [:]
        var givenUp: Set<Int> = []
        repeat {
            nodes = clients.enumerated().map { index, client in
                do {
                    let status = try getJSON(client, "/v1/status", as: StatusResponse.self)
                    refusingSince[index] = nil
                    givenUp.remove(index)
                    return NodeSummary(id: status.nodeId, height: status.height, lastBlockHash: status.lastBlockHash)
                } catch NetError.system("connect", ECONNREFUSED) {
                    refusingSince[index] = refusingSince[index] ?? Date()
                } catch {
                    refusingSince[index] = nil
                }
                return NodeSummary(id: options.apiURLs[index], height: 0, lastBlockHash: NodeSummary.unreachable)
            }
            for (index, since) in refusingSince.sorted(by: { $0.key < $1.key })
            where !givenUp.contains(index) && Date().timeIntervalSince(since) >= refusedSecondsMax {
                givenUp.insert(index)
                log("no validator answers at \(options.apiURLs[index]): connection refused; not waiting for it (is it running?)")
            }
            let positions = nodes.map { "\($0.height)/\($0.lastBlockHash)" }
            if Set(positions).count == 1 || Set(positions.indices.filter { !givenUp.contains($0) }.map { positions[$0] }).count <= 1 { break }
            usleep(100_000)
        } while Date() < deadline
        return nodes
    }

    /// Compares every certificate and the totals with expected.json.
    func compareState(_ client: HTTPClient) throws -> ([String], Int, LedgerStatistics?) {
        let path = options.workloadDirectory + "/expected.json"
        let expected = try JSONDecoder().decode(WorkloadExpected.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        var differences: [String] = []
        let statistics = try getJSON(client, "/v1/stats", as: LedgerStatistics.self)
        differences += statistics.differences(from: expected)
        var checked = 0
        for number in expected.certificates.keys.sorted() {
            let want = expected.certificates[number]!
            checked += 1
            guard let got = try? getJSON(client, "/v1/certificates/\(number)", as: CertificateView.self) else {
                differences.append("certificate \(number): not found on chain")
                continue
            }
            if let problem = got.difference(from: want) { differences.append("certificate \(number): \(problem)") }
        }
        return (differences, checked, statistics)
    }
}

/// Percentile of sorted values (nearest rank); 0 when empty.
func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    let rank = Int((p * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(sorted.count - 1, max(0, rank))]
}

/// A flag set once, read from several threads.
final class ManagedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
