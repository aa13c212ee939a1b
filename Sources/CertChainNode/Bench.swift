import CertChainCrypto
import CertChainModel
import CertChainNet
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The benchmark suite: a local network under load, measured (throughput, latency, CPU, disk, growth, catch-up, queries).
public final class Bench: @unchecked Sendable {
    /// What to run.
    public struct Options: Sendable {
        /// Folder for the network, the workload and the results' scratch (emptied first).
        public var directory: String
        /// Genesis template (`genesis/template.json`).
        public var templatePath: String
        /// The `certchain` executable that runs the validators.
        public var executable: String
        /// Number of validators.
        public var validators = 4
        /// Signature suite of the chain.
        public var suite: SignatureSuite = .sm2sm3
        /// Certificates in the generated workload.
        public var certificates = 8_000
        /// Seed of the generated workload.
        public var seed: UInt64 = 7
        /// Use this workload folder instead of generating one.
        public var workloadDirectory: String?
        /// Concurrent submitting clients.
        public var clients = 16
        /// Transactions per growth slice.
        public var sliceTransactions = 5_000
        /// Most growth slices.
        public var slicesMax = 4
        /// Time budget of the growth run (signing excluded); it stops after the slice that passes it.
        public var growthSeconds: Double = 60
        /// Length of the half-rate latency run and of the query run, each.
        public var phaseSeconds: Double = 10
        /// Offered rate of the latency run (nil: half the measured maximum).
        public var latencyRate: Double?
        /// Query threads of the query run.
        public var queryThreads = 8
        /// Give up waiting for one phase's commits after this long.
        public var commitTimeoutSeconds: Double = 120
        /// Catch-up must finish within this long.
        public var catchUpTimeoutSeconds: Double = 300
        /// Commit the figures were measured on (recorded, not checked).
        public var commit = "unknown"
        /// Record the primary and one backup with `perf record` for this many seconds from the first growth slice (0: no).
        public var perfSeconds = 0
        /// Label of the run (`quick`, `full`, `test`).
        public var label = "quick"

        /// Options with the defaults of a quick run.
        public init(directory: String, templatePath: String, executable: String) {
            self.directory = directory
            self.templatePath = templatePath
            self.executable = executable
        }
    }

    /// Throughput of one growth slice.
    public struct GrowthSlice: Codable, Sendable {
        /// 1-based slice number.
        public var slice: Int
        /// Transactions committed on chain before this slice.
        public var chainTransactionsBefore: Int
        /// Transactions committed in this slice.
        public var transactions: Int
        /// Committed transactions per second in this slice.
        public var transactionsPerSecond: Double
        /// Validator CPU per committed transaction in this slice, all validators together (less sensitive to other load than the rate).
        public var cpuMicrosecondsPerTransaction: Double
        /// Largest validator resident memory after this slice.
        public var validatorResidentMegabytes: Double
    }

    /// A target from issue 5 and whether this run met it.
    public struct Target: Codable, Sendable {
        /// What is measured.
        public var name: String
        /// The goal, in words.
        public var goal: String
        /// The measured value.
        public var value: Double
        /// Whether the value meets the goal.
        public var met: Bool
    }

    /// Everything a run measured (written as bench-results/latest.json).
    /// Percentiles of the latency run's parts, in milliseconds.
    public struct LatencySplit: Codable, Sendable {
        /// Submission to the proposal of the block that carries it.
        public var submitToProposalP50: Double
        public var submitToProposalP99: Double
        /// The node's answer to the submission (admission: decoding, signature check, gossip).
        public var admissionP50: Double
        public var admissionP99: Double
        /// Proposal to the commit seen by the bench (consensus round, commit, the bench's read).
        public var proposalToCommitSeenP50: Double
        public var proposalToCommitSeenP99: Double
    }

    public struct Results: Codable, Sendable {
        /// Label of the run (`quick`, `full`, `test`…).
        public var label: String
        /// Signature suite of the chain.
        public var suite: String
        /// Number of validators.
        public var validators: Int
        /// Commit the figures were measured on.
        public var commit: String
        /// When the run ended (ISO 8601).
        public var date: String
        /// 1/5/15-minute load average when the run started.
        public var loadAverageBefore: [Double]
        /// 1/5/15-minute load average when the run ended.
        public var loadAverageAfter: [Double]
        /// Cores of the machine.
        public var cores: Int
        /// Concurrent submitting clients.
        public var clients: Int
        /// Lines of the workload's transactions.jsonl.
        public var workloadTransactions: Int
        /// Committed transactions per second at full speed (growth run, all slices).
        public var transactionsPerSecond: Double
        /// Cores × verifications per second per core ÷ validators.
        public var physicalLimitTransactionsPerSecond: Double
        /// transactionsPerSecond ÷ physicalLimitTransactionsPerSecond.
        public var physicalLimitShare: Double
        /// One signature verification of the suite through OpenSSL's EVP_DigestVerify, in-process, microseconds: the
        /// floor the physical limit and the overhead ratio are measured against (what `openssl speed` reports).
        public var verificationMicroseconds: Double
        /// One verification as the validators do it, with the key of a frequent signer (SM2: through its comb table,
        /// see CSM2Verify; Ed25519: EVP_DigestVerify as above), microseconds.
        public var nodeVerificationMicroseconds: Double
        /// Verifications per second on one core.
        public var verificationsPerSecondPerCore: Double
        /// CPU seconds of all validators together per committed transaction (full-speed run).
        public var cpuSecondsPerTransactionAllValidators: Double
        /// The same per validator (all validators ÷ validators).
        public var cpuSecondsPerTransaction: Double
        /// CPU µs per committed transaction of each validator (node0, node1, …) in the full-speed run: the primary, which also
        /// takes every submission and passes it on, against the backups.
        public var cpuMicrosecondsPerTransactionByValidator: [Double]
        /// The validator the clients submit to (the primary when the run started).
        public var primaryValidator: String
        /// CPU µs per committed transaction of the benchmark process itself (its clients posting, its tracker reading
        /// blocks): on the same cores as the validators, so not available to them.
        public var clientCpuMicrosecondsPerTransaction: Double
        /// cpuSecondsPerTransaction ÷ one verification (1.0 = a validator does nothing but verify each transaction once).
        public var overheadRatio: Double
        /// Median submit-to-commit latency at half the measured maximum rate (paced, open loop).
        public var latencyMsP50: Double
        /// 99th percentile of the same.
        public var latencyMsP99: Double
        /// Largest of the same.
        public var latencyMsMax: Double
        /// Offered rate of the latency run (half the measured maximum unless overridden).
        public var latencyRunOfferedPerSecond: Double
        /// Committed transactions per second the latency run achieved.
        public var latencyRunTransactionsPerSecond: Double
        /// Where the latency run's time went, p50 and p99 each: submit → the block's proposal (of which the node's
        /// answer to the submission), then proposal → commit seen by the bench.
        public var latencySplitMs: LatencySplit
        /// Median submit-to-commit latency at full speed (queueing included).
        public var saturatedLatencyMsP50: Double
        /// 99th percentile of the same.
        public var saturatedLatencyMsP99: Double
        /// Largest of the same.
        public var saturatedLatencyMsMax: Double
        /// Ok receipts in all measured phases (setup included).
        public var receiptsOk: Int
        /// Error receipts (business rules) in all measured phases.
        public var receiptsError: Int
        /// Error receipts the workload expected (its deliberate bad requests); the rest come from concurrent reordering.
        public var receiptsErrorExpected: Int
        /// Receipts whose outcome the workload did not expect (concurrent reordering the dependency groups missed).
        public var receiptsUnexpected: Int
        /// The first few of them, as `seq N kind: expected …, got …`.
        public var receiptsUnexpectedSamples: [String]
        /// Error receipts by error code.
        public var receiptErrorCodes: [String: Int]
        /// Submissions the node refused at admission.
        public var refused: Int
        /// Submissions without a receipt when their phase timed out.
        public var neverCommitted: Int
        /// Data folders of all validators (WAL included) ÷ validators ÷ transactions on chain.
        public var bytesPerTransaction: Double
        /// Transactions on chain (setup included).
        public var chainTransactions: Int
        /// Largest resident memory of a validator once the chain is settled (the ledger keeps its state in memory).
        public var validatorResidentMegabytes: Double
        /// Blocks on chain.
        public var chainHeight: UInt64
        /// Transactions per growth slice.
        public var growthSliceTransactions: Int
        /// Throughput per growth slice.
        public var growth: [GrowthSlice]
        /// Why the growth run stopped: `slices`, `time`, `workload` or `memory` (less than 15 % of RAM left).
        public var growthStoppedBy: String
        /// Last slice's rate ÷ first slice's rate.
        public var growthLastToFirst: Double
        /// Blocks synced by a validator started empty.
        public var catchUpBlocks: UInt64
        /// Seconds from starting the empty validator to its reaching the chain's height.
        public var catchUpSeconds: Double
        /// Blocks per second during catch-up.
        public var catchUpBlocksPerSecond: Double
        /// Transactions per second during catch-up.
        public var catchUpTransactionsPerSecond: Double
        /// Blocks per second committed live at full speed.
        public var liveBlocksPerSecond: Double
        /// Catch-up transactions per second ÷ live (full-speed) transactions per second.
        public var catchUpRatio: Double
        /// Query run: `GET /v1/certificates/{number}` answers per second on one validator while the chain is under load.
        public var queriesPerSecond: Double
        /// Median query latency.
        public var queryLatencyMsP50: Double
        /// 99th percentile query latency.
        public var queryLatencyMsP99: Double
        /// Queries that failed or did not answer 200.
        public var queryErrors: Int
        /// Threads of the query run.
        public var queryThreads: Int
        /// The issue's targets, each met or not.
        public var targets: [Target]
        /// Wall time of the whole run.
        public var elapsedSeconds: Double
    }

    let options: Options
    let log: @Sendable (String) -> Void

    /// A benchmark with these options; `log` gets progress lines.
    public init(options: Options, log: @escaping @Sendable (String) -> Void = { print($0) }) {
        self.options = options
        self.log = log
    }

    /// Runs every phase and returns the figures; the network is stopped on return (data left in the folder).
    public func run() throws -> Results {
        let started = benchNow()
        let loadBefore = benchLoadAverage()
        let directory = options.directory
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)

        // Workload.
        let workload = options.workloadDirectory ?? directory + "/workload"
        if options.workloadDirectory == nil {
            var generator = WorkloadGenerator.Options()
            generator.certificates = options.certificates
            generator.seed = options.seed
            let summary = try WorkloadGenerator(options: generator).write(to: URL(fileURLWithPath: workload))
            log("workload: \(summary.transactions) transactions for \(summary.certificatesIssued) certificates (\(summary.enterprises) enterprises)")
        }
        let totalLines = try countLines(workload + "/transactions.jsonl")

        // Network.
        let testnet = Testnet(directory: directory + "/network")
        var create = Testnet.CreateOptions(templatePath: options.templatePath, referencePath: workload + "/reference.json")
        create.validators = options.validators
        create.suite = options.suite
        let genesis = try testnet.create(create)
        BenchAuditor.signer = try RequestSigner.auditor(keysDirectory: testnet.keysDirectory, chainId: genesis.chainId)
        defer { for index in genesis.validators.indices { testnet.stopNode(index, graceSeconds: 5) } }
        for index in genesis.validators.indices { try testnet.startNode(index, executable: options.executable) }
        for index in genesis.validators.indices {
            guard testnet.waitUntilServing(index, apiAddress: genesis.validators[index].apiAddress, timeoutSeconds: 60) else {
                throw NodeError("node\(index) did not start; see \(testnet.nodeDirectory(index))/node.log")
            }
        }
        let apis = try genesis.validators.map { try makeClient("http://" + $0.apiAddress, timeoutSeconds: 15) }
        let status = try benchReadJSON(apis[0], "/v1/status", as: StatusResponse.self)
        let primaryIndex = genesis.validators.firstIndex { $0.id == status.primary } ?? 0
        let primary = try HostPort(genesis.validators[primaryIndex].apiAddress)
        log("\(options.validators) validators (\(options.suite.rawValue)) up; primary \(status.primary)")

        // One verification, in-process, before any load.
        let (verification, nodeVerification) = try measureVerification()
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let physicalLimit = Double(cores) / verification / Double(options.validators)
        log(String(format: "one verification: %.1f µs (OpenSSL EVP_DigestVerify; certchain's with a frequent signer's key %.1f µs); physical limit %.0f tx/s (%d cores, %d validators)",
                   verification * 1e6, nodeVerification * 1e6, physicalLimit, cores, options.validators))

        // Trackers follow a validator that is not the primary: a commit counts when a backup has it.
        let followed = options.validators > 1 ? (primaryIndex + 1) % options.validators : primaryIndex
        let tracker = CommitTracker(client: try makeClient("http://" + genesis.validators[followed].apiAddress, timeoutSeconds: 15))
        tracker.start()
        defer { tracker.stop() }
        let submitter = BenchSubmitter(host: primary.host, port: primary.port, clients: options.clients, tracker: tracker)
        let signer = try BenchSigner(chainId: genesis.chainId, suite: options.suite, keysDirectory: testnet.keysDirectory)
        let reader = try WorkloadLineReader(path: workload + "/transactions.jsonl")
        var consumed = 0
        var totals = PhaseFigures()
        func account(_ figures: PhaseFigures) {
            totals.ok += figures.ok
            totals.errors += figures.errors
            totals.expectedErrors += figures.expectedErrors
            totals.unexpected += figures.unexpected
            totals.unexpectedSamples += figures.unexpectedSamples.prefix(CommitTracker.unexpectedSamplesMax - totals.unexpectedSamples.count)
            for sample in figures.unexpectedSamples { log("unexpected receipt: \(sample)") }
            totals.errorCodes.merge(figures.errorCodes, uniquingKeysWith: +)
            totals.refused += figures.refused
            totals.unfinished += figures.unfinished
        }

        // Setup: the leading registrations, committed before anything an enterprise signs.
        var setupLines: [[UInt8]] = []
        // Bounded by the workload's length.
        while true {
            let line = reader.next(1)
            guard let first = line.first else { break }
            consumed += 1
            let kind = try JSONDecoder().decode(WorkloadTransaction.self, from: Data(first)).kind
            setupLines.append(first)
            if kind != .registerEnterprise && kind != .fileTradeOperator {
                break
            }
        }
        let setup = try signer.sign(setupLines)
        submitter.submit(setup)
        let setupFigures = tracker.finishPhase(timeout: options.commitTimeoutSeconds)
        account(setupFigures)
        log("setup: \(setupFigures.committed) registrations committed (\(setupFigures.ok) ok, \(setupFigures.errors) error)")

        // Growth run at full speed, slice by slice; signing happens with the clock stopped.
        let pids = genesis.validators.indices.compactMap { testnet.runningPid($0) }
        var growth: [GrowthSlice] = []
        var saturated: [Double] = []
        var cpuSeconds = 0.0
        var cpuSecondsByValidator = [Double](repeating: 0, count: pids.count)
        var clientCPUSeconds = 0.0
        var timed = 0.0
        var committedTimed = 0
        var blocksTimed = 0
        var reserve = 0
        var stoppedBy = "workload"
        // Bounded by slicesMax, the time budget, memory and the workload's length.
        // After the first slice only whole slices run, so that every slice's rate is comparable.
        while totalLines - consumed - reserve >= (growth.isEmpty ? min(options.sliceTransactions, 100) : options.sliceTransactions) {
            if growth.count >= options.slicesMax { stoppedBy = "slices"; break }
            if timed >= options.growthSeconds { stoppedBy = "time"; break }
            if availableMemoryShare() < 0.15 {
                stoppedBy = "memory"
                log("growth run stopped: less than 15 % of the machine's memory is left")
                break
            }
            let lines = reader.next(min(options.sliceTransactions, max(1, totalLines - consumed - reserve)))
            guard !lines.isEmpty else { break }
            consumed += lines.count
            let transactions = try signer.sign(lines)
            let before = tracker.chain.transactions
            if growth.isEmpty, options.perfSeconds > 0 { startPerf(pids: [primaryIndex, followed].compactMap { testnet.runningPid($0) }) }
            let cpuBefore = pids.map { processCPUSeconds($0) ?? 0 }
            let clientCPUBefore = processCPUSeconds(getpid()) ?? 0
            submitter.submit(transactions)
            let figures = tracker.finishPhase(timeout: options.commitTimeoutSeconds)
            let cpuByValidator = zip(pids.map { processCPUSeconds($0) ?? 0 }, cpuBefore).map { $0 - $1 }
            clientCPUSeconds += (processCPUSeconds(getpid()) ?? 0) - clientCPUBefore
            let sliceCPU = cpuByValidator.reduce(0, +)
            cpuSecondsByValidator = zip(cpuSecondsByValidator, cpuByValidator).map { $0 + $1 }
            cpuSeconds += sliceCPU
            account(figures)
            timed += figures.seconds
            committedTimed += figures.committed
            blocksTimed += figures.blocks
            saturated += figures.latenciesMs
            growth.append(GrowthSlice(slice: growth.count + 1, chainTransactionsBefore: before, transactions: figures.committed,
                                      transactionsPerSecond: figures.transactionsPerSecond,
                                      cpuMicrosecondsPerTransaction: sliceCPU / Double(max(figures.committed, 1)) * 1e6,
                                      validatorResidentMegabytes: pids.compactMap(processResidentMegabytes).max() ?? 0))
            log(String(format: "growth slice %d: %d committed (%d ok, %d error, %d refused) in %.1f s = %.0f tx/s, %.0f µs CPU/tx, RSS %.0f MB; load %@",
                       growth.count, figures.committed, figures.ok, figures.errors, figures.refused, figures.seconds,
                       figures.transactionsPerSecond, growth[growth.count - 1].cpuMicrosecondsPerTransaction,
                       growth[growth.count - 1].validatorResidentMegabytes,
                       benchLoadAverage().map { String(format: "%.2f", $0) }.joined(separator: " ")))
            // Keep enough transactions for the half-rate latency and query runs.
            reserve = Int((Double(committedTimed) / max(timed, 0.001) / 2 * options.phaseSeconds * 2 * 1.1).rounded(.up))
        }
        let throughput = Double(committedTimed) / max(timed, 0.001)
        let cpuPerTransaction = cpuSeconds / Double(max(committedTimed, 1))

        // Latency run: paced at half the measured rate.
        let halfRate = max(1, options.latencyRate ?? throughput / 2)
        let latencyCount = Int(halfRate * options.phaseSeconds)
        let latencyLines = reader.next(latencyCount)
        consumed += latencyLines.count
        let latencyTransactions = try signer.sign(latencyLines)
        submitter.submit(latencyTransactions, rate: halfRate, deadline: benchNow() + options.phaseSeconds * 2)
        let latencyFigures = tracker.finishPhase(timeout: options.commitTimeoutSeconds)
        account(latencyFigures)
        let latency = latencySummary(latencyFigures.latenciesMs)
        log(String(format: "latency run at %.0f tx/s: %d committed, p50 %.1f ms, p99 %.1f ms, max %.1f ms",
                   halfRate, latencyFigures.committed, latency.p50, latency.p99, latency.max))
        let (wait, round) = (latencySummary(latencyFigures.proposalWaitsMs), latencySummary(latencyFigures.proposalToSeenMs))
        let admission = latencySummary(latencyFigures.admissionsMs)
        log(String(format: "latency split: submit → proposal p50 %.1f / p99 %.1f ms (the node's answer p50 %.1f / p99 %.1f ms); "
                   + "proposal → commit seen p50 %.1f / p99 %.1f ms", wait.p50, wait.p99, admission.p50, admission.p99, round.p50, round.p99))

        // Query run: 8 threads on one validator while paced load goes on.
        let queryLines = reader.next(Int(halfRate * options.phaseSeconds))
        consumed += queryLines.count
        let queryTransactions = try signer.sign(queryLines)
        let certificates = tracker.certificates
        let queryNode = try HostPort(genesis.validators[followed].apiAddress)
        let queryResult = ConcurrentSlots<(count: Int, errors: Int, latencies: [Double])>(count: options.queryThreads)
        let load = Thread {
            submitter.submit(queryTransactions, rate: halfRate, deadline: benchNow() + self.options.phaseSeconds * 2)
        }
        load.start()
        // Queries carry a session token, as a browser or an enterprise's system polling its certificates would:
        // a signature check per request would measure signature verification, not the query path.
        let bearer = try? benchSessionToken(HTTPClient(host: queryNode.host, port: queryNode.port, timeoutSeconds: 10))
        let queryStart = benchNow()
        let queryEnd = queryStart + options.phaseSeconds
        let threads = options.queryThreads
        if !certificates.isEmpty {
            runThreads(threads) { t in
                let client = HTTPClient(host: queryNode.host, port: queryNode.port, timeoutSeconds: 10)
                var latencies: [Double] = []
                var errors = 0
                var index = t * 7919
                // Bounded by the run's end time.
                while benchNow() < queryEnd {
                    index = (index &* 1_103_515_245 &+ 12_345) & 0x7fff_ffff
                    let number = certificates[index % certificates.count]
                    let sent = benchNow()
                    let path = "/v1/certificates/\(number)"
                    let response: HTTPResponse?
                    if let bearer {
                        response = try? client.request("GET", path, headers: [("Authorization", "Bearer \(bearer)")])
                    } else {
                        response = try? benchRead(client, path)
                    }
                    if response?.status == 200 { latencies.append((benchNow() - sent) * 1000) } else { errors += 1 }
                }
                queryResult[t] = (latencies.count, errors, latencies)
            }
        }
        let querySeconds = benchNow() - queryStart
        // Bounded by the load thread's deadline.
        while !load.isFinished { usleep(10_000) }
        account(tracker.finishPhase(timeout: options.commitTimeoutSeconds))
        let queries = queryResult.all.compactMap { $0 }
        let queryLatency = latencySummary(queries.flatMap(\.latencies))
        let queryCount = queries.map(\.count).reduce(0, +)
        let queriesPerSecond = Double(queryCount) / max(querySeconds, 0.001)
        log(String(format: "query run: %d threads, %.0f queries/s, p50 %.2f ms, p99 %.2f ms, %d errors",
                   threads, queriesPerSecond, queryLatency.p50, queryLatency.p99, queries.map(\.errors).reduce(0, +)))

        // Disk, once every validator has the whole chain.
        let chain = try settle(apis: apis, tracker: tracker)
        let bytes = genesis.validators.indices.map { directoryBytes(testnet.nodeDirectory($0) + "/data") }.reduce(0, +)
        let resident = genesis.validators.indices.compactMap { testnet.runningPid($0).flatMap(processResidentMegabytes) }.max() ?? 0
        let bytesPerTransaction = Double(bytes) / Double(options.validators) / Double(max(chain.transactions, 1))
        log(String(format: "chain: %d blocks, %d transactions; %.0f bytes per transaction per validator; validator RSS up to %.0f MB",
                   chain.height, chain.transactions, bytesPerTransaction, resident))

        // Catch-up: a validator (not the primary, not the followed one when there is a choice) restarted empty.
        var catchUp = (blocks: UInt64(0), seconds: 0.0)
        if options.validators > 1 {
            let candidates = genesis.validators.indices.filter { $0 != primaryIndex && $0 != followed }
            let index = candidates.last ?? followed
            testnet.stopNode(index, graceSeconds: 10)
            try FileManager.default.removeItem(atPath: testnet.nodeDirectory(index) + "/data")
            let target = chain.height
            let begin = benchNow()
            try testnet.startNode(index, executable: options.executable)
            let client = try makeClient("http://" + genesis.validators[index].apiAddress, timeoutSeconds: 5)
            var height: UInt64 = 0
            var profiling = options.perfSeconds == 0
            // Bounded by catchUpTimeoutSeconds.
            while benchNow() - begin < options.catchUpTimeoutSeconds {
                if let status = try? benchReadJSON(client, "/v1/status", as: StatusResponse.self) {
                    height = status.height
                    // perf -p follows the threads alive when it attaches: attach once the node answers.
                    if !profiling, let pid = testnet.runningPid(index) { startPerf(pids: [pid]) }
                    profiling = true
                }
                if height >= target { break }
                usleep(20_000)
            }
            guard height >= target else { throw NodeError("catch-up: node\(index) reached \(height) of \(target) blocks in \(options.catchUpTimeoutSeconds) s") }
            catchUp = (target, benchNow() - begin)
            log(String(format: "catch-up: node%d synced %d blocks in %.2f s", index, target, catchUp.seconds))
        }
        let catchUpTransactionsPerSecond = Double(chain.transactions) / max(catchUp.seconds, 0.001)
        let liveBlocksPerSecond = Double(blocksTimed) / max(timed, 0.001)

        // Figures.
        let overhead = cpuPerTransaction / Double(options.validators) / verification
        let saturatedLatency = latencySummary(saturated)
        let growthRatio = (growth.last?.transactionsPerSecond ?? 0) / max(growth.first?.transactionsPerSecond ?? 0, 0.001)
        let catchUpRatio = options.validators > 1 ? catchUpTransactionsPerSecond / max(throughput, 0.001) : 0
        let queryP99 = queryLatency.p99
        let targets = [
            Target(name: "throughput share of physical limit", goal: "≥ 0.85", value: throughput / physicalLimit, met: throughput >= 0.85 * physicalLimit),
            Target(name: "overhead ratio", goal: "≤ 1.5", value: overhead, met: overhead <= 1.5),
            Target(name: "latency p50 at half rate (ms)", goal: "< 25", value: latency.p50, met: latency.p50 < 25 && latencyFigures.committed > 0),
            Target(name: "latency p99 at half rate (ms)", goal: "< 150", value: latency.p99, met: latency.p99 < 150 && latencyFigures.committed > 0),
            Target(name: "last growth slice ÷ first", goal: "≥ 0.9", value: growthRatio, met: growthRatio >= 0.9),
            Target(name: "catch-up ÷ live", goal: "≥ 5", value: catchUpRatio, met: catchUpRatio >= 5),
            Target(name: "queries per second", goal: "≥ 5000", value: queriesPerSecond, met: queriesPerSecond >= 5000),
            Target(name: "query p99 (ms)", goal: "< 20", value: queryP99, met: queryCount > 0 && queryP99 < 20),
            Target(name: "bytes per transaction", goal: "≤ 3072", value: bytesPerTransaction, met: bytesPerTransaction <= 3072),
        ]
        let formatter = ISO8601DateFormatter()
        return Results(
            label: options.label, suite: options.suite.rawValue, validators: options.validators, commit: options.commit,
            date: formatter.string(from: Date()), loadAverageBefore: loadBefore, loadAverageAfter: benchLoadAverage(), cores: cores,
            clients: options.clients, workloadTransactions: totalLines, transactionsPerSecond: throughput,
            physicalLimitTransactionsPerSecond: physicalLimit, physicalLimitShare: throughput / physicalLimit,
            verificationMicroseconds: verification * 1e6, nodeVerificationMicroseconds: nodeVerification * 1e6,
            verificationsPerSecondPerCore: 1 / verification,
            cpuSecondsPerTransactionAllValidators: cpuPerTransaction, cpuSecondsPerTransaction: cpuPerTransaction / Double(options.validators),
            cpuMicrosecondsPerTransactionByValidator: cpuSecondsByValidator.map { $0 / Double(max(committedTimed, 1)) * 1e6 },
            primaryValidator: genesis.validators[primaryIndex].id,
            clientCpuMicrosecondsPerTransaction: clientCPUSeconds / Double(max(committedTimed, 1)) * 1e6,
            overheadRatio: overhead, latencyMsP50: latency.p50, latencyMsP99: latency.p99, latencyMsMax: latency.max,
            latencyRunOfferedPerSecond: halfRate, latencyRunTransactionsPerSecond: latencyFigures.transactionsPerSecond,
            latencySplitMs: LatencySplit(
                submitToProposalP50: wait.p50, submitToProposalP99: wait.p99, admissionP50: admission.p50, admissionP99: admission.p99,
                proposalToCommitSeenP50: round.p50, proposalToCommitSeenP99: round.p99),
            saturatedLatencyMsP50: saturatedLatency.p50, saturatedLatencyMsP99: saturatedLatency.p99, saturatedLatencyMsMax: saturatedLatency.max,
            receiptsOk: totals.ok, receiptsError: totals.errors,
            receiptsErrorExpected: totals.expectedErrors, receiptsUnexpected: totals.unexpected,
            receiptsUnexpectedSamples: totals.unexpectedSamples, receiptErrorCodes: totals.errorCodes, refused: totals.refused, neverCommitted: totals.unfinished,
            bytesPerTransaction: bytesPerTransaction, chainTransactions: chain.transactions,
            validatorResidentMegabytes: resident, chainHeight: chain.height,
            growthSliceTransactions: options.sliceTransactions, growth: growth, growthStoppedBy: stoppedBy, growthLastToFirst: growthRatio,
            catchUpBlocks: catchUp.blocks, catchUpSeconds: catchUp.seconds,
            catchUpBlocksPerSecond: Double(catchUp.blocks) / max(catchUp.seconds, 0.001),
            catchUpTransactionsPerSecond: catchUpTransactionsPerSecond, liveBlocksPerSecond: liveBlocksPerSecond, catchUpRatio: catchUpRatio,
            queriesPerSecond: queriesPerSecond, queryLatencyMsP50: queryLatency.p50, queryLatencyMsP99: queryP99,
            queryErrors: queries.map(\.errors).reduce(0, +), queryThreads: threads, targets: targets, elapsedSeconds: benchNow() - started)
    }

    /// Starts `perf record` (call graphs, 499 Hz) on each pid in the background, into DIR/perf-<pid>.data.
    func startPerf(pids: [Int32]) {
        guard let perf = ["/usr/bin/perf", "/usr/local/bin/perf"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            log("perf not found; no profile recorded")
            return
        }
        for pid in pids {
            let out = options.directory + "/perf-\(pid).data"
            let arguments = [perf, "record", "-F", "499", "-g", "-e", "cpu-clock", "-o", out, "-p", "\(pid)", "--", "sleep", "\(options.perfSeconds)"]
            if (try? spawnDetached(arguments, logPath: options.directory + "/perf.log")) != nil {
                log("perf: recording pid \(pid) for \(options.perfSeconds) s into \(out) (read with `perf report -i \(out)`)")
            }
        }
    }

    /// CPU seconds of one verification of a 600-byte message, in thread CPU time (at most 20,000 or about 0.5 CPU s
    /// each): `reference` through OpenSSL's EVP_DigestVerify (what `openssl speed` measures: the floor the issue
    /// sets), `node` through the validators' own `PublicKey.verify` with a key that signs often (SM2: its comb table).
    func measureVerification() throws -> (reference: Double, node: Double) {
        let key = try PrivateKey.generate(suite: options.suite)
        let message = (0..<600).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let signature = try key.sign(message)
        let publicKey = key.publicKey
        func measure(_ verify: () -> Bool) throws -> Double {
            _ = verify()
            let start = threadCPUSeconds()
            let wallStart = benchNow()
            var count = 0
            // Bounded by count, CPU time and wall time.
            while count < 20_000, threadCPUSeconds() - start < 0.5 || count < 50, benchNow() - wallStart < 10 {
                guard verify() else { throw NodeError("a signature of the suite does not verify") }
                count += 1
            }
            return (threadCPUSeconds() - start) / Double(count)
        }
        let reference = try measure { publicKey.verifyWithDigestVerify(signature: signature, message: message) }
        for _ in 0..<PublicKey.sm2TableAfterVerifications { _ = publicKey.verify(signature: signature, message: message) }
        let node = try measure { publicKey.verify(signature: signature, message: message) }
        return (reference, node)
    }

    /// Waits (bounded) until every validator is at the tracker's height and the tracker has read every block.
    func settle(apis: [HTTPClient], tracker: CommitTracker) throws -> (transactions: Int, height: UInt64) {
        let deadline = benchNow() + 60
        // Bounded by the deadline.
        while benchNow() < deadline {
            let heights = apis.map { (try? benchReadJSON($0, "/v1/status", as: StatusResponse.self))?.height ?? 0 }
            let chain = tracker.chain
            if Set(heights).count == 1, heights[0] == chain.height, chain.height > 0 { return chain }
            usleep(50_000)
        }
        throw NodeError("the validators did not agree on a height within 60 s")
    }
}
