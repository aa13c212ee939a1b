import CertChainCrypto
import CertChainModel
import CertChainNet
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A local network of validator processes under one folder, like CometBFT's `testnet` or FISCO's `build_chain.sh`.
///
/// Layout: `DIR/genesis.json`, `DIR/keys/` (organization, validator and auditor keys as PKCS#8 PEM),
/// `DIR/node<i>/` with `data/` (SQLite), `node.log` and `pid`.
public struct Testnet: Sendable {
    /// The folder that holds the network.
    public let directory: String

    /// A testnet rooted at `directory`.
    public init(directory: String) {
        self.directory = directory
    }

    /// Path of the generated genesis file.
    public var genesisPath: String { directory + "/genesis.json" }
    /// Folder of the generated keys.
    public var keysDirectory: String { directory + "/keys" }

    /// Folder of validator `index`.
    public func nodeDirectory(_ index: Int) -> String { directory + "/node\(index)" }

    /// Options for `create`.
    public struct CreateOptions: Sendable {
        /// Genesis template (organizations, commodities, rules); `genesis/template.json` in the repository.
        public var templatePath: String
        /// A workload's reference.json whose organizations and tables replace the template's.
        public var referencePath: String?
        /// Number of validators (each belongs to an organization, round robin).
        public var validators: Int = 4
        /// Signature suite of the chain.
        public var suite: SignatureSuite = .sm2sm3
        /// First port; validator i uses p2p basePort+2i and API basePort+2i+1. Nil: free ephemeral ports.
        public var basePort: UInt16?

        /// Options with the defaults above.
        public init(templatePath: String, referencePath: String? = nil) {
            self.templatePath = templatePath
            self.referencePath = referencePath
        }
    }

    /// Validators that may fail or misbehave without stopping or corrupting a network of `validators` (f of n = 3f+1).
    public static func faultTolerance(validators: Int) -> Int { max(0, (validators - 1) / 3) }

    /// Generates keys and `genesis.json` from a template (the only place secrets are created).
    @discardableResult
    public func create(_ options: CreateOptions) throws -> Genesis {
        guard options.validators >= 1, options.validators <= 64 else { throw NodeError("--validators must be between 1 and 64") }
        guard var template = try Self.jsonObject(at: options.templatePath, what: "template") else {
            throw NodeError("\(options.templatePath) is not a JSON object")
        }
        if let referencePath = options.referencePath {
            guard let reference = try Self.jsonObject(at: referencePath, what: "reference") else { throw NodeError("\(referencePath) is not a JSON object") }
            for key in ["organizations", "commodities", "tradeModes", "currencies", "deadlines"] where reference[key] != nil {
                template[key] = reference[key]
            }
        }
        try FileManager.default.createDirectory(atPath: keysDirectory, withIntermediateDirectories: true)
        template["suite"] = options.suite.rawValue
        guard var organizations = template["organizations"] as? [[String: Any]], !organizations.isEmpty else {
            throw NodeError("the template has no organizations")
        }
        for i in organizations.indices {
            guard let id = organizations[i]["id"] as? String else { throw NodeError("an organization has no id") }
            organizations[i]["publicKey"] = try writeKey(name: "org-\(id)", suite: options.suite).publicKey.hex
        }
        template["organizations"] = organizations
        var auditors = (template["auditors"] as? [[String: Any]]) ?? []
        for i in auditors.indices {
            let id = auditors[i]["id"] as? String ?? "auditor\(i)"
            auditors[i]["publicKey"] = try writeKey(name: "auditor-\(id)", suite: options.suite).publicKey.hex
        }
        template["auditors"] = auditors
        let ports = try options.basePort.map { base in (0..<options.validators * 2).map { base + UInt16($0) } }
            ?? freeLoopbackPorts(count: options.validators * 2)
        var validators: [[String: Any]] = []
        for i in 0..<options.validators {
            let organization = organizations[i % organizations.count]["id"] as? String ?? ""
            validators.append([
                "id": "node\(i)", "organization": organization,
                "publicKey": try writeKey(name: "node\(i)", suite: options.suite).publicKey.hex,
                "p2pAddress": "127.0.0.1:\(ports[2 * i])", "apiAddress": "127.0.0.1:\(ports[2 * i + 1])",
            ])
            try FileManager.default.createDirectory(atPath: nodeDirectory(i), withIntermediateDirectories: true)
        }
        template["validators"] = validators
        let data = try JSONSerialization.data(withJSONObject: template, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        let genesis: Genesis
        do {
            genesis = try JSONDecoder().decode(Genesis.self, from: data)
        } catch {
            throw NodeError("the template does not make a valid genesis: \(describe(error))")
        }
        try data.write(to: URL(fileURLWithPath: genesisPath))
        return genesis
    }

    /// The JSON object in the file at `path` (nil if it holds another JSON value); errors name the file.
    private static func jsonObject(at path: String, what: String) throws -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw NodeError("cannot read the \(what) file \(path)" + (FileManager.default.fileExists(atPath: path) ? "" : ": no such file"))
        }
        do {
            return try JSONSerialization.jsonObject(with: data) as? [String: Any]
        } catch {
            throw NodeError("\(path) is not valid JSON")
        }
    }

    private func writeKey(name: String, suite: SignatureSuite) throws -> PrivateKey {
        let key = try PrivateKey.generate(suite: suite)
        let path = keysDirectory + "/\(name).pem"
        guard FileManager.default.createFile(atPath: path, contents: Data(key.pem.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw NodeError("cannot write \(path)")
        }
        return key
    }

    /// The genesis this testnet was created with; a clear error when the folder holds no testnet.
    public func loadGenesis() throws -> Genesis {
        guard let data = FileManager.default.contents(atPath: genesisPath) else {
            if FileManager.default.fileExists(atPath: genesisPath) { throw NodeError("cannot read \(genesisPath)") }
            throw NodeError("no testnet in \(directory) (run certchain testnet up --dir \(directory) …)")
        }
        do {
            return try JSONDecoder().decode(Genesis.self, from: data)
        } catch {
            throw NodeError("\(genesisPath) is not a valid genesis file: \(describe(error))")
        }
    }

    /// Starts validator `index` as a background process running `executable node …`; returns its pid.
    @discardableResult
    public func startNode(_ index: Int, executable: String) throws -> Int32 {
        let dir = nodeDirectory(index)
        let keyPath = keysDirectory + "/node\(index).pem"
        // Checked before the folder is made, so a wrong index leaves nothing behind.
        guard FileManager.default.fileExists(atPath: keyPath) else { throw NodeError("no validator node\(index) in \(directory): \(keyPath) is missing") }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        if let pid = runningPid(index) { throw NodeError("node\(index) is already running (pid \(pid))") }
        let arguments = [
            executable, "node", "--genesis", genesisPath, "--id", "node\(index)", "--key", keyPath,
            "--data", dir + "/data",
        ]
        let pid = try spawnDetached(arguments, logPath: dir + "/node.log")
        try "\(pid)\n".write(toFile: dir + "/pid", atomically: true, encoding: .utf8)
        return pid
    }

    /// The pid of validator `index` if its pid file names a live process.
    public func runningPid(_ index: Int) -> Int32? {
        guard let text = try? String(contentsOfFile: nodeDirectory(index) + "/pid", encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0, kill(pid, 0) == 0
        else { return nil }
        if let state = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), state.contains(") Z ") { return nil }
        return pid
    }

    /// Sends `signal` to validator `index`; true if it was running.
    @discardableResult
    public func signalNode(_ index: Int, _ signal: Int32) -> Bool {
        guard let pid = runningPid(index) else { return false }
        return kill(pid, signal) == 0
    }

    /// Crashes validator `index` (SIGKILL, no clean stop) and waits, at most `timeoutSeconds`, until the process is gone,
    /// so it can be started again at once; true if it was running and is gone.
    @discardableResult
    public func killNode(_ index: Int, timeoutSeconds: Double = 5) -> Bool {
        guard let pid = runningPid(index), kill(pid, SIGKILL) == 0 else { return false }
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while !Self.hasExited(pid) && Date() < deadline { usleep(5_000) }
        return Self.hasExited(pid)
    }

    /// Stops validator `index`: SIGTERM, then SIGKILL after `graceSeconds`; see `stopNodes`.
    @discardableResult
    public func stopNode(_ index: Int, graceSeconds: Double = 10) -> [Int: Int32] {
        stopNodes([index], graceSeconds: graceSeconds)
    }

    /// Stops validators `indices` together: SIGTERM to each, SIGKILL to any still running after `graceSeconds`, then
    /// waits (at most 5 s more) until each has exited (see `hasExited`). Returns the pids that needed SIGKILL, by index.
    @discardableResult
    public func stopNodes(_ indices: [Int], graceSeconds: Double = 10) -> [Int: Int32] {
        let pids = Dictionary(uniqueKeysWithValues: indices.compactMap { index in runningPid(index).map { (index, $0) } })
        for pid in pids.values { kill(pid, SIGTERM) }
        let deadline = Date().addingTimeInterval(graceSeconds)
        while pids.keys.contains(where: { runningPid($0) != nil }) && Date() < deadline { usleep(20_000) }
        let killed = pids.filter { runningPid($0.key) != nil }
        for pid in killed.values { kill(pid, SIGKILL) }
        let goneBy = Date().addingTimeInterval(5)
        while !pids.values.allSatisfy(Self.hasExited) && Date() < goneBy { usleep(20_000) }
        for index in pids.keys { try? FileManager.default.removeItem(atPath: nodeDirectory(index) + "/pid") }
        return killed
    }

    /// True once `pid` has exited: reaped here when it is our child, else gone from the process table or a zombie left
    /// for a parent that has not reaped it yet (an init that never reaps, in some containers); either holds no port or file.
    static func hasExited(_ pid: Int32) -> Bool {
        var status: Int32 = 0
        _ = waitpid(pid, &status, WNOHANG)
        if kill(pid, 0) != 0 { return errno == ESRCH }
        return (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.contains(") Z ") ?? false
    }

    /// Waits until validator `index` answers `GET /v1/status`; false on timeout.
    public func waitUntilServing(_ index: Int, apiAddress: String, timeoutSeconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while Date() < deadline {
            if let client = try? HTTPClient(url: "http://" + apiAddress), let response = try? client.request("GET", "/v1/status"),
                response.status == 200
            {
                return true
            }
            if runningPid(index) == nil { return false }
            usleep(50_000)
        }
        return false
    }
}

/// Ports on 127.0.0.1 that were free a moment ago (bound to port 0, then released).
func freeLoopbackPorts(count: Int) throws -> [UInt16] {
    var sockets: [Int32] = []
    defer { sockets.forEach { close($0) } }
    var ports: [UInt16] = []
    for _ in 0..<count {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw NodeError("cannot open a socket to find a free port") }
        sockets.append(fd)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw NodeError("cannot bind 127.0.0.1 to find a free port") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        ports.append(UInt16(bigEndian: address.sin_port))
    }
    return ports
}

/// Starts a process in its own session with stdin from /dev/null and stdout+stderr appended to `logPath`.
func spawnDetached(_ arguments: [String], logPath: String) throws -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    posix_spawnattr_setflags(&attributes, Int16(0x80))  // POSIX_SPAWN_SETSID: survive the terminal that started it
    var pid: pid_t = 0
    let argv = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    let result = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, environ)
    guard result == 0 else { throw NodeError("cannot start \(arguments[0]): \(String(cString: strerror(result)))") }
    return pid
}

/// Path of the running executable (to start more of itself).
public func currentExecutablePath() -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    if length > 0 { return String(cString: Array(buffer[0..<length]) + [0]) }
    return CommandLine.arguments[0]
}
