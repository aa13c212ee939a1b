import CertChainCrypto
import CertChainLedger
import CertChainModel
import CertChainNode
import CertChainStore
import Foundation
import PBFT

/// splitmix64: the simulator's only source of randomness, so one seed replays one run exactly.
public struct SimRandom: Sendable {
    private var state: UInt64

    /// A generator for `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `range`.
    public mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) < p }
}

/// What one simulated run does: cluster size, workload prefix, and which faults it may inject.
public struct SimulationConfig: Sendable {
    /// The seed that decides every fault, delay and order.
    public var seed: UInt64
    /// Validators (4 or 7 typically).
    public var validators: Int = 4
    /// How long faults are injected (virtual milliseconds).
    public var faultPhaseMs: Int64 = 8_000
    /// After the faults stop, everything must be committed everywhere within this bound.
    public var progressBoundMs: Int64 = 60_000
    /// Negative control: this many validators get a byzantine twin signing with their key.
    public var byzantineTwins: Int = 0
    /// Whether faults may hit the primary (needs view change).
    public var primaryFaults: Bool = false

    /// A configuration for `seed` with defaults.
    public init(seed: UInt64) { self.seed = seed }
}

/// The outcome of one seed.
public struct SimulationResult: Sendable {
    /// The seed.
    public var seed: UInt64
    /// Nil when every checker passed; otherwise what broke.
    public var failure: String?
    /// Faults injected, in order, for the report.
    public var faults: [String]
    /// Final committed height (of replica 0's first instance).
    public var height: UInt64
    /// Client transactions committed.
    public var committedTransactions: Int
    /// Virtual milliseconds simulated.
    public var virtualMs: Int64
    /// Highest PBFT view any correct replica reached (above 0: a view change happened).
    public var highestView: UInt64
}

/// Genesis and pre-signed client transactions, built once and shared by every seed.
public final class SimulationFixture: @unchecked Sendable {
    /// The simulated chain's genesis (Ed25519/SHA-256: fast and deterministic).
    public let genesis: Genesis
    /// Validators' consensus keys.
    let validatorKeys: [PrivateKey]
    /// The client transactions, in workload order.
    let transactions: [SignedTransaction]
    /// Their ids.
    let ids: [[UInt8]]

    /// Reads a workload (SPEC section 6), makes deterministic keys and signs its first `transactionCount` requests.
    public init(workloadDirectory: String, validators: Int, transactionCount: Int) throws {
        let workload = try Workload(directory: URL(fileURLWithPath: workloadDirectory))
        let suite = SignatureSuite.ed25519sha256
        func key(_ label: String) throws -> PrivateKey {
            try PrivateKey(ed25519Seed: Digest.sha256(Array("certchain-sim/\(label)".utf8)))
        }
        var organizationKeys: [String: PrivateKey] = [:]
        for organization in workload.reference.organizations { organizationKeys[organization.id] = try key("org/\(organization.id)") }
        let consensusKeys = try (0..<validators).map { try key("validator/\($0)") }
        validatorKeys = consensusKeys
        let organizations = workload.reference.organizations
        genesis = Genesis(
            chainId: "certchain-sim", suite: suite, historicalImport: true,
            organizations: organizations.map { Organization($0, publicKey: organizationKeys[$0.id]!.publicKey.hex) },
            validators: (0..<validators).map {
                ValidatorInfo(
                    id: "node\($0)", organization: organizations[$0 % organizations.count].id, publicKey: consensusKeys[$0].publicKey.hex,
                    p2pAddress: "sim:\($0)", apiAddress: "sim:\($0)")
            },
            auditors: [], commodities: workload.reference.commodities, tradeModes: workload.reference.tradeModes,
            currencies: workload.reference.currencies, deadlines: workload.reference.deadlines,
            consensus: ConsensusParameters(maxBlockTransactions: 40, blockIntervalMs: 20, requestTimeoutMs: 2000))
        var signed: [SignedTransaction] = []
        for item in workload.transactions.prefix(transactionCount) {
            let registered = item.registeredTaxId
            let body = try item.typedBody(publicKey: try registered.map { try key("ent/\($0)").publicKey.hex })
            let transaction = Transaction(
                chainId: genesis.chainId, signer: item.signer, nonce: UInt64(item.seq), effectiveDate: item.effectiveDate, body: body)
            let signerKey =
                item.signer.hasPrefix("org:")
                ? organizationKeys[String(item.signer.dropFirst(4))] : try key("ent/\(item.signer.dropFirst(4))")
            signed.append(SignedTransaction(transaction: transaction, signature: try (signerKey ?? key("stranger")).sign(transaction.signingBytes)))
        }
        transactions = signed
        ids = signed.map { $0.id(suite.hashAlgorithm) }
    }
}

/// A deterministic cluster: real `NodeCore` drivers, ledgers and PBFT replicas over a simulated
/// network, clock and disk, with faults drawn from the seed and invariants checked as it runs.
public final class Simulation: @unchecked Sendable {
    final class Instance: @unchecked Sendable {
        let validator: Int
        let number: Int
        let storage = MemoryStorage()
        var core: NodeCore?
        var pausedUntilMs: Int64 = 0
        let twin: Bool
        var group = 0

        init(validator: Int, number: Int, twin: Bool) {
            self.validator = validator
            self.number = number
            self.twin = twin
        }
    }

    struct Envelope {
        var timeMs: Int64
        var order: UInt64
        var from: Int
        var to: Int
        var bytes: [UInt8]
    }

    /// The network port one instance sends through.
    final class Port: PeerNetwork, @unchecked Sendable {
        unowned let simulation: Simulation
        let from: Int

        init(simulation: Simulation, from: Int) {
            self.simulation = simulation
            self.from = from
        }

        func send(to peerId: String, _ payload: [UInt8]) {
            guard let index = Int(peerId.dropFirst(4)) else { return }
            simulation.enqueue(from: from, toValidator: index, payload)
        }

        func broadcast(_ payload: [UInt8]) {
            let me = simulation.instances[from].validator
            for validator in 0..<simulation.fixture.genesis.validators.count where validator != me {
                simulation.enqueue(from: from, toValidator: validator, payload)
            }
        }
    }

    let fixture: SimulationFixture
    let config: SimulationConfig
    var random: SimRandom
    var instances: [Instance] = []
    var queue = Heap<Envelope>(by: { ($0.timeMs, $0.order) < ($1.timeMs, $1.order) })
    var order: UInt64 = 0
    var nowMs: Int64 = 0
    let clockLock = NSLock()
    var clockValue: Int64 = 0
    var lossRate = 0.0
    var duplicateRate = 0.0
    var delayMaxMs = 5
    var faults: [String] = []
    var failure: String?
    var hashesByHeight: [UInt64: [UInt8]] = [:]
    var scheduled: [(timeMs: Int64, label: String, action: () -> Void)] = []
    /// Consensus traffic seen on the wire, kept (bounded) so a byzantine injector can replay it later.
    var recorded: [(from: Int, bytes: [UInt8])] = []
    var nextClient = 0
    var submitted = Set<Int>()
    let baseTimeMs: Int64 = 1_625_000_000_000  // 2021-06-29: any fixed epoch; block dates come from it

    /// Builds the cluster for `config` (nothing runs until `run()`).
    public init(fixture: SimulationFixture, config: SimulationConfig) throws {
        self.fixture = fixture
        self.config = config
        random = SimRandom(seed: config.seed)
        let validators = fixture.genesis.validators.count
        for validator in 0..<validators { instances.append(Instance(validator: validator, number: instances.count, twin: false)) }
        // Twins sign with a validator's key: backups' keys unless primary faults are allowed (no view change needed).
        let firstTwin = config.primaryFaults ? 0 : 1
        for twin in 0..<config.byzantineTwins {
            instances.append(Instance(validator: (firstTwin + twin) % validators, number: instances.count, twin: true))
        }
        for instance in instances { try start(instance) }
    }

    func now() -> Int64 { clockLock.withLock { clockValue } }

    func start(_ instance: Instance) throws {
        var options = NodeOptions(
            genesis: fixture.genesis, validatorId: "node\(instance.validator)", nodeKey: fixture.validatorKeys[instance.validator],
            dataDirectory: "")
        options.mempoolCapacity = 10_000
        let clock: @Sendable () -> Int64 = { [unowned self] in self.now() }
        let level: Logger.Level = ProcessInfo.processInfo.environment["CERTCHAIN_SIM_LOG"] == nil ? .off : .info
        let core = try NodeCore(
            options: options, storage: instance.storage, clock: clock, logger: Logger(label: "node\(instance.validator)\(instance.twin ? "-twin" : "")", minimumLevel: level))
        core.network = Port(simulation: self, from: instance.number)
        // The closures capture the instance's number, not the instance: instance → core → closure → instance would be a
        // cycle, and every seed's cluster (with its whole chain in memory) would leak.
        let number = instance.number
        if !instance.twin {
            core.onCommit = { [unowned self] height, hash in self.observeCommit(height: height, hash: hash, by: number) }
        } else {
            core.onCommit = { [unowned self] height, hash in self.observeTwinCommit(height: height, hash: hash) }
        }
        instance.core = core
    }

    // MARK: - Network

    func enqueue(from: Int, toValidator: Int, _ bytes: [UInt8]) {
        if recorded.count < 2_000, random.chance(0.05) { recorded.append((from, bytes)) }
        for target in instances where target.validator == toValidator {
            if instances[from].group != target.group { continue }
            if random.chance(lossRate) { continue }
            let copies = random.chance(duplicateRate) ? 2 : 1
            for _ in 0..<copies {
                order += 1
                queue.push(Envelope(timeMs: nowMs + Int64(random.int(1...delayMaxMs)), order: order, from: from, to: target.number, bytes: bytes))
            }
        }
    }

    func deliverDue() {
        while let next = queue.first, next.timeMs <= nowMs {
            let envelope = queue.pop()!
            let target = instances[envelope.to]
            guard let core = target.core else { continue }
            if target.pausedUntilMs > nowMs {
                // A paused process keeps its socket buffers: hold the message until it resumes.
                order += 1
                queue.push(Envelope(timeMs: target.pausedUntilMs, order: order, from: envelope.from, to: envelope.to, bytes: envelope.bytes))
                continue
            }
            core.receive(from: "node\(instances[envelope.from].validator)", envelope.bytes)
        }
    }

    // MARK: - Checkers

    func observeCommit(height: UInt64, hash: [UInt8], by instance: Int) {
        if let known = hashesByHeight[height] {
            if known != hash, failure == nil {
                failure = "divergence at height \(height): instance \(instance) committed \(Hex.encode(hash).prefix(16)), another \(Hex.encode(known).prefix(16))"
            }
        } else {
            hashesByHeight[height] = hash
        }
    }

    func observeTwinCommit(height: UInt64, hash: [UInt8]) {
        // Twins are byzantine: what they commit is not checked; only correct replicas must agree.
    }

    /// Hash chain, commit certificates and unique transactions of one replica's stored chain.
    func verifyChain(_ instance: Instance) -> String? {
        let genesis = fixture.genesis
        let keys = fixture.validatorKeys.map(\.publicKey)
        let quorum = (keys.count + (keys.count - 1) / 3) / 2 + 1
        var previous = genesis.hash()
        var seen = Set<[UInt8]>()
        let height = instance.storage.height
        var index: UInt64 = 1
        while index <= height {
            guard let bytes = try? instance.storage.blockBytes(height: index), let block = try? Block.decode(bytes),
                let certificateBytes = try? instance.storage.certificateBytes(height: index),
                let certificate = try? CommitCertificate.decode(certificateBytes)
            else { return "instance \(instance.number): block \(index) missing or undecodable" }
            let hash = block.header.hash(genesis.hashAlgorithm)
            guard block.header.previousHash == previous else { return "instance \(instance.number): block \(index) does not link to \(index - 1)" }
            guard certificate.blockHash == hash, certificate.height == index else { return "instance \(instance.number): certificate \(index) is for another block" }
            let message = CommitCertificate.signingBytes(chainId: genesis.chainId, height: index, blockHash: hash)
            var signers = Set<String>()
            for signature in certificate.signatures {
                guard let v = Int(signature.validatorId.dropFirst(4)), v < keys.count, keys[v].verify(signature: signature.signature, message: message)
                else { return "instance \(instance.number): bad certificate signature at \(index)" }
                signers.insert(signature.validatorId)
            }
            guard signers.count >= quorum else { return "instance \(instance.number): certificate \(index) has \(signers.count) signers" }
            for transaction in block.transactions {
                guard seen.insert(transaction.id(genesis.hashAlgorithm)).inserted else {
                    return "instance \(instance.number): a transaction is committed twice (height \(index))"
                }
            }
            previous = hash
            index += 1
        }
        return nil
    }

    // MARK: - Faults

    func schedule(at timeMs: Int64, _ label: String, _ action: @escaping () -> Void) {
        scheduled.append((timeMs, label, action))
    }

    func planFaults() {
        let validators = fixture.genesis.validators.count
        let f = (validators - 1) / 3
        lossRate = [0, 0, 0.01, 0.05][random.int(0...3)]
        duplicateRate = [0, 0.02, 0.1][random.int(0...2)]
        delayMaxMs = [2, 10, 40][random.int(0...2)]
        faults.append("loss \(lossRate), duplication \(duplicateRate), delay 1–\(delayMaxMs) ms")
        let phase = config.faultPhaseMs
        let lowest = config.primaryFaults ? 0 : 1
        // Up to f validators suffer one fault each: crash-restart (maybe with a wiped disk), pause, or isolation.
        var victims: [Int] = []
        let victimCount = config.primaryFaults ? random.int(1...f) : random.int(0...f)
        for n in 0..<victimCount {
            // With primary faults, the first victim is usually the primary of view 0.
            let victim = config.primaryFaults && n == 0 && random.chance(0.7) ? 0 : random.int(lowest...(validators - 1))
            if victims.contains(victim) { continue }
            victims.append(victim)
            let instance = instances[victim]
            let startMs = Int64(random.int(200...Int(phase / 2)))
            let lengthMs = Int64(random.int(100...Int(phase / 2)))
            switch random.int(0...3) {
            case 0, 1:
                let wipe = random.chance(0.3)
                schedule(at: startMs, "crash node\(victim)") { [unowned self] in
                    instance.core?.halt()
                    instance.core = nil
                    self.faults.append("t=\(self.nowMs) crash node\(victim)")
                }
                schedule(at: startMs + lengthMs, "restart node\(victim)") { [unowned self] in
                    if wipe { instance.storage.wipe() }
                    do { try self.start(instance) } catch { self.failure = "restart of node\(victim) failed: \(error)" }
                    self.faults.append("t=\(self.nowMs) restart node\(victim)\(wipe ? " with a wiped disk" : "")")
                }
            case 2:
                schedule(at: startMs, "pause node\(victim)") { [unowned self] in
                    instance.pausedUntilMs = self.nowMs + lengthMs
                    self.faults.append("t=\(self.nowMs) pause node\(victim) for \(lengthMs) ms")
                }
            default:
                schedule(at: startMs, "isolate node\(victim)") { [unowned self] in
                    instance.group = 2
                    self.faults.append("t=\(self.nowMs) isolate node\(victim)")
                }
                schedule(at: startMs + lengthMs, "heal node\(victim)") { [unowned self] in
                    instance.group = 0
                    self.faults.append("t=\(self.nowMs) heal node\(victim)")
                }
            }
        }
        if config.primaryFaults && random.chance(0.3) {
            // A 2–2 (or, with 7, 3–4) split: no side has a quorum until it heals.
            let startMs = Int64(random.int(200...Int(phase / 2)))
            let lengthMs = Int64(random.int(200...Int(phase / 2)))
            let half = validators / 2
            schedule(at: startMs, "split") { [unowned self] in
                for instance in self.instances where !instance.twin && instance.validator < half { instance.group = 3 }
                self.faults.append("t=\(self.nowMs) split the network \(half)–\(validators - half)")
            }
            schedule(at: startMs + lengthMs, "heal split") { [unowned self] in
                for instance in self.instances where instance.group == 3 { instance.group = 0 }
                self.faults.append("t=\(self.nowMs) heal the split")
            }
        }
        if random.chance(0.3) {
            // A byzantine injector: replays recorded consensus messages (old votes, view changes) to random
            // replicas, and sends view changes with huge or far-ahead view numbers signed with one validator's key.
            let startMs = Int64(random.int(100...Int(phase / 2)))
            let forger = random.int(lowest...(validators - 1))
            faults.append("replayed and forged consensus messages (forger node\(forger))")
            for k in 0..<20 {
                schedule(at: startMs + Int64(k * 100), "inject") { [unowned self] in self.injectByzantine(forger: forger) }
            }
        }
        if config.byzantineTwins > f {
            // Negative control: twins with the original validators' keys form a second quorum with the rest.
            let twins = instances.filter(\.twin)
            let twinned = Set(twins.map(\.validator))
            var split = Set<Int>()
            for (i, instance) in instances.enumerated() where !instance.twin && !twinned.contains(instance.validator) {
                if split.count < (validators - config.byzantineTwins) / 2 { split.insert(i) }
            }
            for i in split { instances[i].group = 1 }
            for twin in twins { twin.group = 1 }
            faults.append("\(config.byzantineTwins) byzantine twins partitioned with \(split.map { "node\($0)" }.sorted())")
        }
    }

    /// Sends one replayed or forged consensus message to a random replica.
    func injectByzantine(forger: Int) {
        let validators = fixture.genesis.validators.count
        let target = instances[random.int(0...(instances.count - 1))]
        guard let core = target.core, target.validator != forger else { return }
        if !recorded.isEmpty && random.chance(0.5) {
            let old = recorded[random.int(0...(recorded.count - 1))]
            core.receive(from: "node\(instances[old.from].validator)", old.bytes)
            return
        }
        let views: [UInt64] = [UInt64.max, UInt64.max - 1, 1 << 40, UInt64(random.int(1...40))]
        let forged = Message.viewChange(
            ViewChange(newView: views[random.int(0...(views.count - 1))], replica: forger, checkpoint: .genesis, prepared: []))
        if let payload = NodeCore.signedConsensusPayload(
            forged, validatorIndex: forger, validatorCount: validators, key: fixture.validatorKeys[forger], chainId: fixture.genesis.chainId)
        {
            core.receive(from: "node\(forger)", payload)
        }
    }

    // MARK: - Clients

    /// Submits the next client transaction to a live node; retries later if it is refused for now.
    func submitNext() {
        guard nextClient < fixture.transactions.count else { return }
        let live = instances.filter { $0.core != nil && $0.pausedUntilMs <= nowMs }
        guard !live.isEmpty else { return }
        let target = live[random.int(0...(live.count - 1))]
        switch target.core!.admit(fixture.transactions[nextClient]) {
        case .accepted:
            submitted.insert(nextClient)
            nextClient += 1
        case .refused:
            break  // e.g. its enterprise's registration is not committed yet: try again shortly
        }
    }

    /// Offers every submitted but uncommitted transaction again (mempools are not durable; messages get lost).
    func resubmitPending() {
        let reference = instances.first { !$0.twin && $0.core != nil }
        guard let reference else { return }
        for index in submitted.sorted() where (try? reference.storage.transactionLocation(hash: fixture.ids[index])) ?? nil == nil {
            for instance in instances where instance.core != nil && instance.pausedUntilMs <= nowMs && !instance.twin {
                _ = instance.core?.admit(fixture.transactions[index])
            }
        }
    }

    // MARK: - Running

    /// Runs the seed to completion; the result says whether every checker passed.
    public func run() -> SimulationResult {
        planFaults()
        scheduled.sort { $0.timeMs < $1.timeMs }
        var nextScheduled = 0
        let endMs = config.faultPhaseMs + config.progressBoundMs
        var done = false
        while nowMs <= endMs && failure == nil && !done {
            clockLock.withLock { clockValue = baseTimeMs + nowMs }
            while nextScheduled < scheduled.count && scheduled[nextScheduled].timeMs <= nowMs {
                scheduled[nextScheduled].action()
                nextScheduled += 1
            }
            if nowMs == config.faultPhaseMs {
                lossRate = 0
                duplicateRate = 0
                for instance in instances where !instance.twin { instance.group = 0 }
                faults.append("t=\(nowMs) faults stop")
            }
            deliverDue()
            if nowMs % 10 == 0 {
                for instance in instances where instance.pausedUntilMs <= nowMs { instance.core?.tick() }
            }
            if nowMs % 3 == 0 { submitNext() }
            if nowMs % 1000 == 999 { resubmitPending() }
            if nowMs > config.faultPhaseMs && nowMs % 100 == 0 { done = settled() }
            nowMs += 1
        }
        if failure == nil && !done {
            let heights = instances.filter { !$0.twin }.map { "node\($0.validator)@\($0.storage.height)" }
            let states = instances.map { "\n      node\($0.validator)\($0.twin ? " (twin)" : ""): \($0.core?.consensusDiagnostics ?? "down")" }
            failure = "no progress: not everything committed \(config.progressBoundMs) ms after faults stopped (\(heights.joined(separator: ", ")), \(nextClient)/\(fixture.transactions.count) submitted)\(states.joined())"
        }
        if failure == nil {
            for instance in instances where !instance.twin {
                if let problem = verifyChain(instance) {
                    failure = problem
                    break
                }
            }
        }
        let first = instances[0]
        let committed = fixture.ids.filter { (try? first.storage.transactionLocation(hash: $0)) ?? nil != nil }.count
        let highestView = instances.filter { !$0.twin }.compactMap { $0.core?.currentView }.max() ?? 0
        for instance in instances { instance.core?.halt() }
        return SimulationResult(
            seed: config.seed, failure: failure, faults: faults, height: first.storage.height, committedTransactions: committed,
            virtualMs: nowMs, highestView: highestView)
    }

    /// True when every client transaction is committed and all correct replicas have the same chain.
    func settled() -> Bool {
        guard nextClient == fixture.transactions.count else { return false }
        let correct = instances.filter { !$0.twin }
        guard correct.allSatisfy({ $0.core != nil }) else { return false }
        let heights = Set(correct.map { $0.storage.height })
        guard heights.count == 1 else { return false }
        let reference = correct[0].storage
        return fixture.ids.allSatisfy { (try? reference.transactionLocation(hash: $0)) ?? nil != nil }
    }
}
