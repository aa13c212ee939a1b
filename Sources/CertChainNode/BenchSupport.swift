import CertChainCrypto
import CertChainModel
import CertChainNet
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The one place the benchmark reads the API: request signing for the read API (auditor keys) goes here.
func benchRead(_ client: HTTPClient, _ path: String) throws -> HTTPResponse {
    // Reads are signed as the benchmark network's auditor (the API refuses unsigned reads).
    guard let auditor = BenchAuditor.signer else { return try client.request("GET", path) }
    return try client.request("GET", path, headers: try auditor.headers(method: "GET", target: path))
}

/// A session token for the benchmark's auditor on the node behind `client` (`POST /v1/sessions`, signed).
func benchSessionToken(_ client: HTTPClient) throws -> String {
    guard let auditor = BenchAuditor.signer else { throw NodeError("no auditor key for a session") }
    let body = Array("{}".utf8)
    let response = try client.request(
        "POST", "/v1/sessions", body: body,
        headers: try auditor.headers(method: "POST", target: "/v1/sessions", body: body) + [("Content-Type", "application/json")])
    guard response.status == 200 || response.status == 201,
        let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any], let token = object["token"] as? String
    else { throw NodeError("POST /v1/sessions answered \(response.status)") }
    return token
}

/// Reads on one node through an auditor session token, opened again when it expires; signed reads when no session
/// can be opened. For pollers: a signed read costs the node a signature verification per request, and the commit
/// tracker polls every few milliseconds the very validator the query run measures.
struct BenchSession {
    let client: HTTPClient
    private var token: String?
    private var nextAttempt = 0.0

    /// A session (opened on the first read) on the node behind `client`.
    init(client: HTTPClient) { self.client = client }

    /// GET `path` with the session token (a 401 drops it and the read is signed instead; a failed opening is retried after 5 s).
    mutating func read(_ path: String) throws -> HTTPResponse {
        if token == nil, benchNow() >= nextAttempt {
            token = try? benchSessionToken(client)
            if token == nil { nextAttempt = benchNow() + 5 }
        }
        guard let token else { return try benchRead(client, path) }
        let response = try client.request("GET", path, headers: [("Authorization", "Bearer \(token)")])
        guard response.status == 401 else { return response }
        self.token = nil
        return try benchRead(client, path)
    }
}

/// The auditor identity the benchmark reads as, set once its network's keys exist.
enum BenchAuditor {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var current: RequestSigner?

    /// The signer for reads (nil before the network is created).
    static var signer: RequestSigner? {
        get { lock.withLock { current } }
        set { lock.withLock { current = newValue } }
    }
}

/// GET through `benchRead`, decoded as JSON; throws on any status but 200.
func benchReadJSON<T: Decodable>(_ client: HTTPClient, _ path: String, as type: T.Type) throws -> T {
    let response = try benchRead(client, path)
    guard response.status == 200 else {
        throw NodeError("GET \(path) answered \(response.status): \(String(decoding: response.body.prefix(300), as: UTF8.self))")
    }
    return try JSONDecoder().decode(T.self, from: Data(response.body))
}

/// Seconds since an arbitrary start, monotonic.
func benchNow() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

/// CPU seconds the calling thread has used.
func threadCPUSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

/// The 1, 5 and 15 minute load averages from /proc/loadavg (zeros if unreadable).
public func benchLoadAverage() -> [Double] {
    guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return [0, 0, 0] }
    return text.split(separator: " ").prefix(3).map { Double($0) ?? 0 }
}

/// User+system CPU seconds a process has used so far, from /proc/<pid>/stat; nil if it is gone.
func processCPUSeconds(_ pid: Int32) -> Double? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = text.lastIndex(of: ")")
    else { return nil }
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// Resident memory of a process in megabytes, from /proc/<pid>/status (VmRSS); nil if it is gone.
func processResidentMegabytes(_ pid: Int32) -> Double? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
        let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
        let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return nil }
    return kilobytes / 1024
}

/// MemAvailable ÷ MemTotal from /proc/meminfo (1 if unreadable).
func availableMemoryShare() -> Double {
    guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return 1 }
    func field(_ name: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(name + ":") }.flatMap { Double($0.split(separator: " ").dropFirst().first ?? "") }
    }
    guard let total = field("MemTotal"), let available = field("MemAvailable"), total > 0 else { return 1 }
    return available / total
}

/// Total size in bytes of the regular files under `path` (SQLite database, WAL and shared memory included).
func directoryBytes(_ path: String) -> Int64 {
    guard let enumerator = FileManager.default.enumerator(atPath: path) else { return 0 }
    var total: Int64 = 0
    // Bounded by the number of files in the folder.
    while let name = enumerator.nextObject() as? String {
        if let attributes = try? FileManager.default.attributesOfItem(atPath: path + "/" + name),
            attributes[.type] as? FileAttributeType == .typeRegular
        {
            total += (attributes[.size] as? NSNumber)?.int64Value ?? 0
        }
    }
    return total
}

/// Runs `body(i)` on `count` threads of their own (clients block on sockets) and waits for all of them.
func runThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let done = DispatchSemaphore(value: 0)
    for i in 0..<count {
        let thread = Thread {
            body(i)
            done.signal()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    for _ in 0..<count { done.wait() }
}

/// Reads a workload's transactions.jsonl a chunk of lines at a time, so a million certificates never sit in memory.
final class WorkloadLineReader {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var start = 0
    private var atEnd = false

    /// Opens `path` for reading.
    init(path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw NodeError("cannot read \(path)") }
        self.handle = handle
    }

    deinit { try? handle.close() }

    /// Up to `count` non-empty lines (fewer only at the end of the file).
    func next(_ count: Int) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        // Bounded by `count` and the file's length.
        while lines.count < count {
            if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                if newline > start { lines.append(Array(buffer[start..<newline])) }
                start = newline + 1
                continue
            }
            if atEnd {
                if start < buffer.count { lines.append(Array(buffer[start...])) }
                buffer = []
                start = 0
                break
            }
            buffer.removeFirst(start)
            start = 0
            let chunk = handle.readData(ofLength: 4 << 20)
            if chunk.isEmpty { atEnd = true } else { buffer.append(contentsOf: chunk) }
        }
        return lines
    }
}

/// Lines of a file (a workload's transaction count), counted in chunks.
func countLines(_ path: String) throws -> Int {
    guard let handle = FileHandle(forReadingAtPath: path) else { throw NodeError("cannot read \(path)") }
    defer { try? handle.close() }
    var count = 0
    // Bounded by the file's length.
    while true {
        let chunk = handle.readData(ofLength: 4 << 20)
        if chunk.isEmpty { break }
        count += chunk.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
    }
    return count
}

/// A transaction signed before the clock starts: its id, body for POST (canonical binary encoding, as a
/// high-volume client would send it), and what the benchmark needs to know of it.
struct BenchTransaction: Sendable {
    var id: [UInt8]
    var encoded: [UInt8]
    var kind: TransactionKind
    var certificateNumber: String?
    var expectsError: Bool
    /// The workload's `seq` and expected error code (nil: ok), to tell receipts it did not expect.
    var seq = 0
    var expectedError: String?
    /// Dependency group (see `dependencyGroups`): one client posts a group in workload order.
    var group = 0
}

/// A group number per transaction: union-find over the declaration, application, certificate and claim ids they share,
/// and over the enterprises registered or filed as trade operators in the same batch: whatever names such an enterprise
/// (as signer, `taxId`, `consignorTaxId`, `principalTaxId` or `agentTaxId`) waits for its registration and filing. An
/// enterprise registered in an earlier batch is committed before this one is posted, so it orders nothing (were every
/// enterprise a key, a dozen agents would put nearly the whole workload in one group).
func dependencyGroups(_ items: [WorkloadTransaction]) -> [Int] {
    var parent: [Int] = []
    var slotOfKey: [String: Int] = [:]
    func find(_ x: Int) -> Int {
        var x = x
        // Bounded by the forest's depth (path halving).
        while parent[x] != x {
            parent[x] = parent[parent[x]]
            x = parent[x]
        }
        return x
    }
    var changedEnterprises = Set<String>()
    for item in items where item.kind == .registerEnterprise || item.kind == .fileTradeOperator {
        if case .object(let body) = item.body, case .string(let taxId)? = body["taxId"] { changedEnterprises.insert(taxId) }
    }
    let idFields: Set<String> = ["declarationNo", "applicationId", "certificateNumber", "claimId"]
    let enterpriseFields: Set<String> = ["taxId", "consignorTaxId", "principalTaxId", "agentTaxId"]
    func keys(_ value: JSONValue, into result: inout [String]) {
        switch value {
        case .object(let object):
            for (name, inner) in object {
                if case .string(let text) = inner, idFields.contains(name) {
                    result.append(name + "/" + text)
                } else if case .string(let text) = inner, enterpriseFields.contains(name) {
                    if changedEnterprises.contains(text) { result.append("enterprise/" + text) }
                } else {
                    keys(inner, into: &result)
                }
            }
        case .array(let array): for inner in array { keys(inner, into: &result) }
        default: break
        }
    }
    var slots: [Int] = []
    for item in items {
        var found: [String] = []
        keys(item.body, into: &found)
        if item.signer.hasPrefix("ent:"), changedEnterprises.contains(String(item.signer.dropFirst(4))) {
            found.append("enterprise/" + item.signer.dropFirst(4))
        }
        let slot = parent.count
        parent.append(slot)
        slots.append(slot)
        for key in found {
            if let other = slotOfKey[key] {
                let (a, b) = (find(other), find(slot))
                if a != b { parent[a] = b }
            } else {
                slotOfKey[key] = slot
            }
        }
    }
    return slots.map { find($0) }
}

/// Signs workload lines with the organizations' keys (from the testnet's keys folder) and a fresh key per enterprise.
final class BenchSigner: @unchecked Sendable {
    let chainId: String
    let suite: SignatureSuite
    let keysDirectory: String
    private var organizationKeys: [String: PrivateKey] = [:]
    private var enterpriseKeys: [String: PrivateKey] = [:]
    private let strangerKey: PrivateKey

    /// A signer for one chain.
    init(chainId: String, suite: SignatureSuite, keysDirectory: String) throws {
        self.chainId = chainId
        self.suite = suite
        self.keysDirectory = keysDirectory
        strangerKey = try PrivateKey.generate(suite: suite)
    }

    /// Decodes and signs lines on all cores; keeps the input order.
    func sign(_ lines: [[UInt8]]) throws -> [BenchTransaction] {
        let decoder = JSONDecoder()
        let items = try lines.map { try decoder.decode(WorkloadTransaction.self, from: Data($0)) }
        // Keys first, serially: the parallel part only reads the maps.
        for item in items {
            if item.signer.hasPrefix("org:"), organizationKeys[item.signer] == nil {
                let path = keysDirectory + "/org-\(item.signer.dropFirst(4)).pem"
                guard let pem = try? String(contentsOfFile: path, encoding: .utf8) else { throw NodeError("no key for \(item.signer): \(path)") }
                organizationKeys[item.signer] = try PrivateKey(pem: pem)
            }
            if let taxId = item.registeredTaxId, enterpriseKeys[taxId] == nil {
                enterpriseKeys[taxId] = try PrivateKey.generate(suite: suite)
            }
        }
        let groups = dependencyGroups(items)
        let slots = ConcurrentSlots<BenchTransaction>(count: items.count)
        let failures = ConcurrentSlots<String>(count: items.count)
        let (orgKeys, entKeys, stranger, chainId, hash) = (organizationKeys, enterpriseKeys, strangerKey, chainId, suite.hashAlgorithm)
        DispatchQueue.concurrentPerform(iterations: items.count) { i in
            let item = items[i]
            do {
                let body = try item.typedBody(publicKey: item.registeredTaxId.flatMap { entKeys[$0]?.publicKey.hex })
                let transaction = Transaction(chainId: chainId, signer: item.signer, nonce: UInt64(item.seq), effectiveDate: item.effectiveDate, body: body)
                let key = item.signer.hasPrefix("org:") ? orgKeys[item.signer] : entKeys[String(item.signer.dropFirst(4))]
                let signed = SignedTransaction(transaction: transaction, signature: try (key ?? stranger).sign(transaction.signingBytes))
                var number: String?
                if item.kind == .issueCertificate, item.expect.error == nil, case .object(let o) = item.body, case .string(let n)? = o["certificateNumber"] {
                    number = n
                }
                slots[i] = BenchTransaction(id: signed.id(hash), encoded: signed.encode(), kind: item.kind, certificateNumber: number,
                                            expectsError: item.expect.error != nil, seq: item.seq, expectedError: item.expect.error,
                                            group: groups[i])
            } catch {
                failures[i] = "workload seq \(item.seq): \(describe(error))"
            }
        }
        if let failure = failures.all.compactMap({ $0 }).first { throw NodeError(failure) }
        return slots.all.compactMap { $0 }
    }
}

/// Figures of one measured phase, from the commit tracker.
struct PhaseFigures {
    var submitted = 0
    var refused = 0
    var committed = 0
    var ok = 0
    var errors = 0
    var expectedErrors = 0
    /// Receipts whose outcome is not the workload's `expect` (ok instead of an error, an error instead of ok, another code).
    var unexpected = 0
    /// The first few of them, as `seq N kind: expected …, got …`.
    var unexpectedSamples: [String] = []
    var errorCodes: [String: Int] = [:]
    var blocks = 0
    var latenciesMs: [Double] = []
    /// The same split at the block's proposal (its header timestamp): waiting to be proposed, then the consensus
    /// round, the commit and the tracker seeing it.
    var proposalWaitsMs: [Double] = []
    /// How long the node took to answer each accepted submission (admission: decoding, the signature check, gossip).
    var admissionsMs: [Double] = []
    var proposalToSeenMs: [Double] = []
    var firstSubmit = 0.0
    var lastCommit = 0.0
    var unfinished = 0

    /// Committed transactions per second, first submission to last commit.
    var transactionsPerSecond: Double { Double(committed) / max(0.001, lastCommit - firstSubmit) }
    /// Seconds from first submission to last commit.
    var seconds: Double { max(0, lastCommit - firstSubmit) }
}

/// Follows the chain on one node block by block and matches receipts with the submissions being watched.
final class CommitTracker: @unchecked Sendable {
    private let lock = NSLock()
    private var pending: [[UInt8]: Double] = [:]
    private var phase = PhaseFigures()
    private var okCertificates: [String] = []
    private var watchedCertificates: [[UInt8]: String] = [:]
    private var expectingError: Set<[UInt8]> = []
    /// What the workload expects of each watched submission: seq, kind and error code (nil: ok).
    private var expectations: [[UInt8]: (seq: Int, kind: TransactionKind, error: String?)] = [:]
    /// Most unexpected receipts described per phase.
    static let unexpectedSamplesMax = 10
    private var chainTransactions = 0
    private var chainHeight: UInt64 = 0
    private let done = ManagedFlag()
    private var thread: Thread?
    let client: HTTPClient

    /// A tracker polling `client`'s node from block 1.
    init(client: HTTPClient) { self.client = client }

    /// Starts polling on a thread of its own.
    func start() {
        let thread = Thread { [self] in poll() }
        self.thread = thread
        thread.start()
    }

    /// Stops polling (bounded wait for the thread).
    func stop() {
        done.set()
        let deadline = benchNow() + 10
        while let thread, !thread.isFinished, benchNow() < deadline { usleep(5_000) }
    }

    /// Records a submission (before it is sent, so its commit can never be seen first).
    func watch(_ transaction: BenchTransaction, at time: Double) {
        lock.withLock {
            pending[transaction.id] = time
            if let number = transaction.certificateNumber { watchedCertificates[transaction.id] = number }
            if transaction.expectsError { expectingError.insert(transaction.id) }
            expectations[transaction.id] = (transaction.seq, transaction.kind, transaction.expectedError)
            phase.submitted += 1
            if phase.firstSubmit == 0 || time < phase.firstSubmit { phase.firstSubmit = time }
        }
    }

    /// Records how long an accepted submission took to be answered.
    func accepted(afterMs milliseconds: Double) {
        lock.withLock { phase.admissionsMs.append(milliseconds) }
    }

    /// Forgets a submission the node refused.
    func refused(_ id: [UInt8]) {
        lock.withLock {
            if pending.removeValue(forKey: id) != nil { phase.refused += 1 }
            watchedCertificates[id] = nil
            expectingError.remove(id)
            expectations[id] = nil
        }
    }

    /// Submissions still waiting for their commit.
    var pendingCount: Int { lock.withLock { pending.count } }
    /// Transactions and height seen on chain so far.
    var chain: (transactions: Int, height: UInt64) { lock.withLock { (chainTransactions, chainHeight) } }
    /// Certificates issued successfully so far (for the query run).
    var certificates: [String] { lock.withLock { okCertificates } }

    /// Waits until every watched submission committed (or `timeout` passed), then returns the phase's figures and starts a new phase.
    func finishPhase(timeout: Double) -> PhaseFigures {
        let deadline = benchNow() + timeout
        while pendingCount > 0, benchNow() < deadline { usleep(5_000) }
        return lock.withLock {
            var figures = phase
            figures.unfinished = pending.count
            pending.removeAll()
            watchedCertificates.removeAll()
            expectingError.removeAll()
            expectations.removeAll()
            phase = PhaseFigures()
            return figures
        }
    }

    /// Reads block after block, one request per block: the node holds a request for a block not committed yet until
    /// it commits (or 200 ms pass: a 404, asked again).
    private func poll() {
        var next: UInt64 = 1
        var session = BenchSession(client: client)
        // Bounded by `stop()`.
        while !done.isSet {
            guard let response = try? session.read("/v1/blocks/\(next)?receipts=true&waitMs=200") else {
                usleep(50_000)
                continue
            }
            guard response.status == 200, let block = try? JSONDecoder().decode(BlockResponse.self, from: Data(response.body)) else {
                if response.status != 404 { usleep(2_000) }
                continue
            }
            let now = benchNow()
            // The proposal time on this monotonic clock (the header carries wall-clock milliseconds; same machine).
            let proposed = Double(block.header.timestampMs) / 1000 - (Date().timeIntervalSince1970 - benchNow())
            lock.withLock {
                chainTransactions += block.transactions.count
                chainHeight = next
                var matched = false
                for receipt in block.receipts ?? [] {
                    guard let submitted = pending.removeValue(forKey: receipt.txHash) else { continue }
                    matched = true
                    phase.committed += 1
                    phase.latenciesMs.append((now - submitted) * 1000)
                    phase.proposalWaitsMs.append((proposed - submitted) * 1000)
                    phase.proposalToSeenMs.append((now - proposed) * 1000)
                    phase.lastCommit = max(phase.lastCommit, now)
                    let number = watchedCertificates.removeValue(forKey: receipt.txHash)
                    let expected = expectingError.remove(receipt.txHash) != nil
                    if let expectation = expectations.removeValue(forKey: receipt.txHash), expectation.error != receipt.result.errorCode?.rawValue {
                        phase.unexpected += 1
                        if phase.unexpectedSamples.count < Self.unexpectedSamplesMax {
                            phase.unexpectedSamples.append(
                                "seq \(expectation.seq) \(expectation.kind.rawValue): expected \(expectation.error ?? "ok"), got \(receipt.result.errorCode?.rawValue ?? "ok")")
                        }
                    }
                    if let code = receipt.result.errorCode {
                        phase.errors += 1
                        if expected { phase.expectedErrors += 1 }
                        phase.errorCodes[code.rawValue, default: 0] += 1
                    } else {
                        phase.ok += 1
                        if let number { okCertificates.append(number) }
                    }
                }
                if matched { phase.blocks += 1 }
            }
            next += 1
        }
    }
}

/// Submits signed transactions to one node from concurrent clients, at full speed or paced (open loop).
struct BenchSubmitter {
    let host: String
    let port: UInt16
    let clients: Int
    let tracker: CommitTracker

    /// Posts every transaction, one client per dependency group, at full speed or with `rate` open loop, until `deadline`.
    func submit(_ transactions: [BenchTransaction], rate: Double? = nil, deadline: Double = .infinity) {
        let count = max(1, min(clients, transactions.count))
        var queues = Array(repeating: [Int](), count: count)
        for (i, transaction) in transactions.enumerated() {
            var hasher = Hasher()
            hasher.combine(transaction.group)
            queues[Int(UInt(bitPattern: hasher.finalize()) % UInt(count))].append(i)
        }
        let start = benchNow()
        let (host, port, tracker, lanes) = (host, port, tracker, queues)
        runThreads(count) { lane in
            let client = HTTPClient(host: host, port: port, timeoutSeconds: 30)
            // Bounded by the lane's length.
            for i in lanes[lane] {
                if let rate {
                    let wait = start + Double(i) / rate - benchNow()
                    if wait > 0 { usleep(UInt32(min(wait, 10) * 1_000_000)) }
                }
                if benchNow() > deadline { return }
                let transaction = transactions[i]
                tracker.watch(transaction, at: benchNow())
                var attempts = 0
                // Bounded: at most 2,000 attempts (503 mempool-full or a dropped connection).
                while true {
                    attempts += 1
                    let sent = benchNow()
                    let response = try? client.request(
                        "POST", "/v1/transactions", body: transaction.encoded, headers: [("Content-Type", "application/octet-stream")])
                    if let response, response.status < 300 {
                        tracker.accepted(afterMs: (benchNow() - sent) * 1000)
                        break
                    }
                    if attempts < 2000, response == nil || response?.status == 503 {
                        usleep(5_000)
                        continue
                    }
                    tracker.refused(transaction.id)
                    break
                }
            }
        }
    }
}

/// Latency percentiles of unsorted samples (milliseconds).
func latencySummary(_ samples: [Double]) -> (p50: Double, p99: Double, max: Double) {
    let sorted = samples.sorted()
    return (percentile(sorted, 0.50), percentile(sorted, 0.99), sorted.last ?? 0)
}
