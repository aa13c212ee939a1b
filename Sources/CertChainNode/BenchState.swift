import CertChainCrypto
import CertChainLedger
import CertChainModel
import CertChainStore
import Foundation

/// The state growth run: a generated workload executed block by block through the ledger, the state tree and the
/// SQLite store exactly as a validator commits a block (same `commitBlock`, same index rows), without signatures or
/// network. Signature checks and consensus cost the same per transaction at any size; what could grow with the chain
/// is here, so this shows whether the millionth certificate costs what the first did, in minutes instead of hours.
public struct StateGrowthBench {
    /// What to run.
    public struct Options: Sendable {
        /// Folder for the workload and the database (emptied first).
        public var directory: String
        /// Certificates in the generated workload.
        public var certificates = 1_000_000
        /// Seed of the generated workload.
        public var seed: UInt64 = 2021
        /// Use this workload folder instead of generating one.
        public var workloadDirectory: String?
        /// Transactions per reported slice.
        public var sliceTransactions = 100_000
        /// Transactions per block.
        public var blockTransactions = 1_000
        /// Stop after this many seconds of execution even if the workload is not done.
        public var timeBudgetSeconds: Double = 3_600
        /// The commit measured (printed and saved with the results).
        public var commit = "unknown"

        /// Options with defaults for `directory`.
        public init(directory: String) { self.directory = directory }
    }

    /// One slice of the run.
    public struct Slice: Codable, Sendable {
        /// Slice number from 1.
        public var index: Int
        /// Transactions executed and committed in the slice.
        public var transactions: Int
        /// State keys (records) committed at the slice's end.
        public var stateKeysAtEnd: Int
        /// Wall-clock seconds of the slice on the validator's path (execute, index rows, SQLite commit, tree update).
        public var seconds: Double
        /// Transactions per second on that path.
        public var transactionsPerSecond: Double
        /// CPU per transaction on that path (SQLite included; the path runs on one thread).
        public var cpuMicrosecondsPerTransaction: Double
        /// Resident memory at the slice's end.
        public var residentMB: Double
        /// Database size (with WAL and shared memory) at the slice's end.
        public var databaseMB: Double
    }

    /// What the run measured.
    public struct Results: Codable, Sendable {
        public var commit: String
        public var date: String
        /// Certificates the workload issues.
        public var certificates: Int
        /// Transactions executed.
        public var transactions: Int
        /// Blocks committed.
        public var blocks: Int
        /// Receipts that differ from the workload's expectations (must be 0).
        public var mismatches: Int
        /// Certificates issued on the ledger at the end.
        public var certificatesIssued: Int
        public var slices: [Slice]
        /// Rate of the last full slice ÷ the first.
        public var lastOverFirst: Double
        /// Resident memory of the last slice ÷ the first.
        public var residentLastOverFirst: Double
        /// Database bytes per transaction at the end.
        public var databaseBytesPerTransaction: Double
        /// `workload` (all executed) or `time` (budget spent).
        public var stoppedBy: String
        /// Seconds from the first block to the last commit.
        public var seconds: Double
    }

    let options: Options
    let log: (String) -> Void

    /// A run with `options`, progress lines to `log`.
    public init(options: Options, log: @escaping (String) -> Void) {
        self.options = options
        self.log = log
    }

    /// Generates (or reads) the workload and executes it; throws on I/O errors.
    public func run() throws -> Results {
        let fm = FileManager.default
        try? fm.removeItem(atPath: options.directory + "/state")
        try fm.createDirectory(atPath: options.directory + "/state", withIntermediateDirectories: true)
        let workload = options.workloadDirectory ?? options.directory + "/workload"
        if options.workloadDirectory == nil {
            try? fm.removeItem(atPath: workload)
            let started = Date()
            let summary = try WorkloadGenerator(options: .init(certificates: options.certificates, seed: options.seed))
                .write(to: URL(fileURLWithPath: workload))
            log(String(format: "workload: %d transactions for %d certificates in %.1f s", summary.transactions, summary.certificatesIssued,
                       Date().timeIntervalSince(started)))
        }
        let genesis = try StateGrowthBench.genesis(ReferenceData.load(URL(fileURLWithPath: workload + "/reference.json")))
        let hash = genesis.hashAlgorithm
        let storePath = options.directory + "/state/chain.sqlite"
        let store = try ChainStore(path: storePath)
        defer { store.close() }
        var ledger = Ledger(genesis: genesis, state: try StoreCommittedState(storage: store))
        let feed = try WorkloadBlockFeed(
            path: workload + "/transactions.jsonl", blockTransactions: options.blockTransactions, chainId: genesis.chainId)
        defer { feed.stop() }
        let pid = getpid()
        let runStarted = Date()
        var slices: [Slice] = []
        var height: UInt64 = 0
        var previousHash = genesis.hash()
        var executed = 0, mismatches = 0
        var sliceSeconds = 0.0, sliceCPU = 0.0, sliceExecuted = 0
        var stoppedBy = "workload"
        // Bounded by the workload's length and the time budget.
        while true {
            if Date().timeIntervalSince(runStarted) > options.timeBudgetSeconds {
                stoppedBy = "time"
                break
            }
            guard let (items, transactions) = try feed.next() else { break }
            // The validator's path from here to the commit is what the slice figures time (the workload's JSON is the harness's).
            let pathStarted = Date(), pathCPUStarted = threadCPUSeconds()
            let ids = transactions.map { $0.id(hash) }
            height += 1
            let execution = ledger.execute(
                transactions, txHashes: ids, blockDate: items.map(\.effectiveDate).max() ?? "2021-01-01", height: height)
            for (receipt, item) in zip(execution.receipts, items) where receipt.mismatch(against: item.expect) != nil { mismatches += 1 }
            let header = BlockHeader(
                chainId: genesis.chainId, height: height, previousHash: previousHash, timestampMs: Int64(height) * 1_000, view: 0,
                proposer: genesis.validators[0].id, txRoot: Merkle.root(leaves: ids, hash: hash),
                receiptRoot: Merkle.root(leaves: execution.receipts.map { $0.encode() }, hash: hash), stateRoot: execution.stateRoot)
            let blockHash = header.hash(hash)
            let stored = ChainStore.StoredBlock(
                height: height, hash: blockHash, blockBytes: Block(header: header, transactions: transactions).encode(), certificateBytes: [],
                transactions: zip(ids, execution.receipts).enumerated().map {
                    ChainStore.StoredTransaction(hash: $1.0, index: $0, receiptBytes: $1.1.encode())
                })
            try store.commitBlock(
                stored, stateChanges: execution.changes, bucketChanges: execution.bucketChanges,
                indexEntries: QueryIndex.rows(for: execution.changes, in: store, ledger: ledger))
            ledger.commit(execution)
            sliceSeconds += Date().timeIntervalSince(pathStarted)
            sliceCPU += threadCPUSeconds() - pathCPUStarted
            previousHash = blockHash
            executed += transactions.count
            sliceExecuted += transactions.count
            if sliceExecuted >= options.sliceTransactions {
                slices.append(closeSlice(index: slices.count + 1, transactions: sliceExecuted, seconds: sliceSeconds, cpu: sliceCPU, pid: pid,
                                         stateKeys: try store.stateKeyCount()))
                sliceSeconds = 0
                sliceCPU = 0
                sliceExecuted = 0
            }
        }
        let seconds = Date().timeIntervalSince(runStarted)
        let first = slices.first, last = slices.last
        let statistics = Ledger.statistics(in: ledger)
        let formatter = ISO8601DateFormatter()
        return Results(
            commit: options.commit, date: formatter.string(from: Date()), certificates: options.certificates, transactions: executed,
            blocks: Int(height), mismatches: mismatches, certificatesIssued: statistics.certificatesIssued, slices: slices,
            lastOverFirst: first.flatMap { f in last.map { $0.transactionsPerSecond / f.transactionsPerSecond } } ?? 0,
            residentLastOverFirst: first.flatMap { f in last.map { $0.residentMB / f.residentMB } } ?? 0,
            databaseBytesPerTransaction: executed > 0 ? Double(directoryBytes(options.directory + "/state")) / Double(executed) : 0,
            stoppedBy: stoppedBy, seconds: seconds)
    }

    private func closeSlice(index: Int, transactions: Int, seconds: Double, cpu: Double, pid: Int32, stateKeys: Int) -> Slice {
        let slice = Slice(
            index: index, transactions: transactions, stateKeysAtEnd: stateKeys, seconds: seconds,
            transactionsPerSecond: Double(transactions) / max(seconds, 1e-9),
            cpuMicrosecondsPerTransaction: cpu * 1e6 / Double(transactions),
            residentMB: processResidentMegabytes(pid) ?? 0, databaseMB: Double(directoryBytes(options.directory + "/state")) / 1_048_576)
        log(String(format: "slice %d: %d tx in %.1f s = %.0f tx/s, %.0f µs CPU/tx, %d state keys, RSS %.0f MB, database %.0f MB",
                   slice.index, slice.transactions, slice.seconds, slice.transactionsPerSecond, slice.cpuMicrosecondsPerTransaction,
                   slice.stateKeysAtEnd, slice.residentMB, slice.databaseMB))
        return slice
    }

    /// A workload line as an unsigned transaction, registrations carrying placeholder keys (nothing is verified).
    static func unsigned(_ item: WorkloadTransaction, chainId: String) throws -> SignedTransaction {
        SignedTransaction(
            transaction: Transaction(
                chainId: chainId, signer: item.signer, nonce: UInt64(item.seq), effectiveDate: item.effectiveDate,
                body: try item.typedBody(publicKey: item.registeredTaxId.map { fakeKey("ent:" + $0) })),
            signature: [])
    }

    /// A placeholder public key (nothing is verified in this run).
    static func fakeKey(_ seed: String) -> String {
        var bytes = [UInt8](repeating: 0, count: 64)
        for (i, b) in seed.utf8.enumerated() { bytes[i % 64] ^= b }
        return "04" + Hex.encode(bytes)
    }

    /// A genesis for the workload's reference data with placeholder keys.
    static func genesis(_ reference: ReferenceData) throws -> Genesis {
        let template = GenesisTemplate(reference: reference, chainId: "certchain-state-growth", suite: .sm2sm3, historicalImport: true)
        var organizationKeys: [String: String] = [:], validatorKeys: [String: String] = [:], auditorKeys: [String: String] = [:]
        for o in template.organizations { organizationKeys[o.id] = fakeKey("org:" + o.id) }
        for v in template.validators { validatorKeys[v.id] = fakeKey("val:" + v.id) }
        for a in template.auditors { auditorKeys[a.id] = fakeKey("aud:" + a.id) }
        return try template.genesis(organizationKeys: organizationKeys, validatorKeys: validatorKeys, auditorKeys: auditorKeys)
    }
}

/// The workload's blocks read and decoded a few blocks ahead on a thread of its own, so the timed path never
/// waits for the workload's JSON (and the run takes the time of the path, not of the harness).
final class WorkloadBlockFeed: @unchecked Sendable {
    typealias Block = (items: [WorkloadTransaction], transactions: [SignedTransaction])
    private let condition = NSCondition()
    private var queue: [Result<Block, Error>] = []
    private var finished = false
    private var stopped = false
    private let reader: WorkloadLineReader
    private let blockTransactions: Int
    private let chainId: String
    /// Blocks decoded ahead at most.
    static let blocksAheadMax = 4

    /// Starts reading `path` in blocks of `blockTransactions`.
    init(path: String, blockTransactions: Int, chainId: String) throws {
        reader = try WorkloadLineReader(path: path)
        self.blockTransactions = blockTransactions
        self.chainId = chainId
        Thread { [self] in produce() }.start()
    }

    private func produce() {
        let decoder = JSONDecoder()
        // Bounded by the workload's length (or a stop).
        while true {
            condition.lock()
            while queue.count >= Self.blocksAheadMax && !stopped { condition.wait() }
            let stop = stopped
            condition.unlock()
            if stop { break }
            let lines = reader.next(blockTransactions)
            if lines.isEmpty { break }
            let block = Result<Block, Error> {
                let items = try lines.map { try decoder.decode(WorkloadTransaction.self, from: Data($0)) }
                return (items, try items.map { try StateGrowthBench.unsigned($0, chainId: chainId) })
            }
            condition.lock()
            queue.append(block)
            condition.broadcast()
            condition.unlock()
            if case .failure = block { break }
        }
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// The next block's workload lines and transactions; nil after the last; throws if a line does not decode.
    func next() throws -> Block? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && !finished { condition.wait() }
        if queue.isEmpty { return nil }
        let block = queue.removeFirst()
        condition.broadcast()
        return try block.get()
    }

    /// Stops reading ahead.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }
}
