import CertChainCrypto
import CertChainModel
import CertChainNet
import CertChainNode
import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

let usage = """
    certchain — a permissioned PBFT chain for 《代理出口货物证明》 (Certificate of Agency Export of Goods)

    usage:
      certchain keys generate [--suite sm2-sm3|ed25519-sha256] [--out FILE.pem [--force]]   --force replaces an existing FILE
      certchain genesis create --dir DIR [--template genesis/template.json] [--reference reference.json] [--force]
                               [--validators 4] [--suite sm2-sm3|ed25519-sha256] [--base-port P]
      certchain node --genesis genesis.json --id node0 --key node0.pem --data DIR [--log-level info]
      certchain testnet up --dir DIR [--validators 4] [--suite S] [--template FILE] [--reference FILE] [--base-port P] [--quiet-urls]
      certchain testnet down --dir DIR
      certchain testnet status --dir DIR
      certchain testnet start --dir DIR [--node I]        (re)start stopped validators
      certchain testnet stop --dir DIR --node I [--kill]   stop one validator (SIGTERM, or SIGKILL)
      certchain workload generate --certificates N [--seed S] [--bad-rate F] [--max-principals P] [--force] OUT
      certchain replay WORKLOAD_DIR --api URL[,URL…] [--keys DIR] [--report FILE.json] [--limit N]
      certchain simulate [--seeds N] [--first-seed S] [--validators 4…16] [--workload DIR] [--transactions N]
                         [--twins K] [--primary-faults] [--verbose]   seeded whole-cluster simulation
                         (CERTCHAIN_SIM_SEED=N replays one seed exactly)
      certchain submit --api URL --key FILE.pem --signer org:ID|ent:TAXID --kind KIND --body JSON|@FILE
                       [--effective-date YYYY-MM-DD] [--nonce N] [--chain-id ID] [--wait SECONDS]
                       --wait: follow it until it commits; exit 1 when its receipt is an error
      certchain status --api URL
      certchain certificate NUMBER --api URL [--json] [AUTH]   the certificate as printed on the paper form
      certchain history NUMBER --api URL [--json] [AUTH]       every transaction that touched it
      certchain trace NUMBER --api URL [AUTH]             provenance: declarations → application → issuance → claims → refunds
      certchain tx HASH --api URL [AUTH]
      certchain block HEIGHT --api URL [AUTH]
      certchain get PATH --api URL [AUTH] [--raw]              any API read, e.g. '/v1/certificates?agent=…&limit=20'
        AUTH: --key FILE.pem --identity ent:TAXID|org:ID|auditor:ID signs the request as that identity;
              --keys DIR signs as the auditor in DIR/auditor-*.pem (default: demo-network/keys, when present)
      certchain verify FILE --genesis genesis.json      check a saved ?proof=true answer offline (exit 0 = valid)
      certchain login --api URL [AUTH] [--ttl SECONDS] [--certificate NUMBER]
                                                        open a browser session; prints http://HOST/ui/#token=… to open
      certchain bench [--profile quick|full] [--validators 4] [--suite S] [--certificates N] [--clients 16] [--slice N] [--slices K]
                      [--growth-seconds S] [--phase-seconds S] [--latency-rate R] [--perf-seconds S] [--workload DIR] [--dir DIR] [--out FILE]   benchmark suite
      certchain bench --profile state [--certificates 1000000] [--slice 100000] [--block 1000] [--growth-seconds S]
                      [--workload DIR] [--dir DIR] [--out FILE]   state growth: a workload through ledger, state tree and SQLite, per slice

    """

/// Command-line failure: printed as `certchain: message`, exit status `status` (2 for usage errors, with the command's usage lines).
struct CLIError: Error, CustomStringConvertible {
    var description: String
    var usage = false
    /// Exit status of a failure that is not a usage error (`verify`: 2 when an input cannot be read).
    var status: Int32 = 1
}

/// The options (`--name value`) and flags (`--name`) that one command, or one of its subcommands, accepts.
struct CommandSpec {
    var options: Set<String> = []
    var flags: Set<String> = []
    /// Most positional arguments, the subcommand's own name included (`keys generate`: 1); nil when the command
    /// checks them itself.
    var positionalMax: Int? = 0

    /// Both specs' options and flags.
    func union(_ other: CommandSpec) -> CommandSpec {
        CommandSpec(options: options.union(other.options), flags: flags.union(other.flags), positionalMax: positionalMax.flatMap { mine in other.positionalMax.map { max(mine, $0) } })
    }

    static let auth: Set<String> = ["api", "key", "identity", "keys"]
    static let createNetwork: Set<String> = ["dir", "template", "reference", "validators", "suite", "base-port"]

    /// What each command accepts, keyed `command` or `command subcommand` (the subcommand's key wins when both exist).
    static let all: [String: CommandSpec] = [
        "keys generate": CommandSpec(options: ["suite", "out"], flags: ["force"], positionalMax: 1),
        "genesis create": CommandSpec(options: createNetwork, flags: ["force"], positionalMax: 1),
        "node": CommandSpec(options: ["genesis", "id", "key", "data", "log-level"]),
        "testnet up": CommandSpec(options: createNetwork, flags: ["quiet-urls"], positionalMax: 1),
        "testnet down": CommandSpec(options: ["dir"], positionalMax: 1),
        "testnet status": CommandSpec(options: ["dir"], positionalMax: 1),
        "testnet start": CommandSpec(options: ["dir", "node"], positionalMax: 1),
        "testnet stop": CommandSpec(options: ["dir", "node"], flags: ["kill"], positionalMax: 1),
        "workload generate": CommandSpec(options: ["certificates", "seed", "bad-rate", "max-principals"], flags: ["force"], positionalMax: 2),
        "replay": CommandSpec(options: ["api", "keys", "report", "limit"], positionalMax: 1),
        "simulate": CommandSpec(
            options: ["seeds", "first-seed", "validators", "workload", "transactions", "twins"], flags: ["primary-faults", "verbose"]),
        "submit": CommandSpec(options: ["api", "key", "signer", "kind", "body", "effective-date", "nonce", "chain-id", "wait"]),
        "status": CommandSpec(options: ["api"]),
        "certificate": CommandSpec(options: auth, flags: ["json"], positionalMax: 1),
        "history": CommandSpec(options: auth, flags: ["json"], positionalMax: 1),
        "trace": CommandSpec(options: auth, positionalMax: 1),
        "tx": CommandSpec(options: auth, positionalMax: 1),
        "block": CommandSpec(options: auth, positionalMax: 1),
        "get": CommandSpec(options: auth, flags: ["raw"], positionalMax: 1),
        "verify": CommandSpec(options: ["genesis"], positionalMax: nil),
        "login": CommandSpec(options: auth.union(["ttl", "certificate"])),
        "bench": CommandSpec(options: [
            "profile", "validators", "suite", "certificates", "clients", "slice", "slices", "growth-seconds", "phase-seconds",
            "latency-rate", "perf-seconds", "workload", "dir", "out", "template", "query-threads", "commit", "label", "block",
        ]),
    ]

    /// Every option and flag of `command` and its subcommands (nil for an unknown command); `help` is always a flag.
    static func forCommand(_ command: String) -> CommandSpec? {
        let specs = all.filter { $0.key == command || $0.key.hasPrefix(command + " ") }.map(\.value)
        guard !specs.isEmpty else { return nil }
        return specs.reduce(CommandSpec(flags: ["help"])) { $0.union($1) }
    }
}

/// `--name value` (or `--name=value`) options, `--name` flags and positional arguments, checked against the command's spec.
struct Arguments {
    var positional: [String] = []
    var options: [String: String] = [:]
    var flags: Set<String> = []

    /// Parses `arguments` of `command`: an option or flag the command does not know is a usage error.
    init(_ arguments: ArraySlice<String>, command: String) throws {
        let spec = CommandSpec.forCommand(command) ?? CommandSpec(flags: ["help"])
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            if argument == "-h" {
                flags.insert("help")
            } else if argument.hasPrefix("--"), argument.count > 2 {
                var name = String(argument.dropFirst(2))
                var inlineValue: String?
                if let equals = name.firstIndex(of: "=") {
                    inlineValue = String(name[name.index(after: equals)...])
                    name = String(name[..<equals])
                }
                if spec.flags.contains(name), inlineValue == nil {
                    flags.insert(name)
                } else if spec.options.contains(name) {
                    if let inlineValue {
                        options[name] = inlineValue
                        continue
                    }
                    // A following known option means this one's value is missing (negative numbers start with one dash).
                    guard let value = iterator.next(),
                        !(value.hasPrefix("--") && (spec.options.contains(String(value.dropFirst(2))) || spec.flags.contains(String(value.dropFirst(2)))))
                    else { throw CLIError(description: "--\(name) needs a value", usage: true) }
                    options[name] = value
                } else {
                    throw CLIError(description: "unknown option --\(name) for `certchain \(command)`", usage: true)
                }
            } else {
                positional.append(argument)
            }
        }
        // Options of another subcommand of the same command (`testnet status --node 1`) are refused too.
        if let subcommand = positional.first, let sub = CommandSpec.all["\(command) \(subcommand)"] {
            let known = sub.options.union(sub.flags).union(["help"])
            if let stray = options.keys.sorted().first(where: { !known.contains($0) }) ?? flags.sorted().first(where: { !known.contains($0) }) {
                throw CLIError(description: "unknown option --\(stray) for `certchain \(command) \(subcommand)`", usage: true)
            }
            if let most = sub.positionalMax, positional.count > most {
                throw CLIError(description: "unexpected argument(s) for `certchain \(command) \(subcommand)`: \(positional.dropFirst(most).joined(separator: " "))", usage: true)
            }
        } else if let most = CommandSpec.all[command]?.positionalMax, positional.count > most {
            throw CLIError(description: "unexpected argument(s) for `certchain \(command)`: \(positional.dropFirst(most).joined(separator: " "))", usage: true)
        }
    }

    /// The value of `--name`, or a usage error.
    func required(_ name: String) throws -> String {
        guard let value = options[name] else { throw CLIError(description: "--\(name) is required", usage: true) }
        return value
    }

    /// The whole number given as `--name`, `value` when absent; a usage error when it is not a number or is below `atLeast`.
    func int(_ name: String, default value: Int, atLeast minimum: Int = Int.min) throws -> Int {
        guard let text = options[name] else { return value }
        guard let number = Int(text), number >= minimum else {
            let bound = minimum == Int.min ? "" : " ≥ \(minimum)"
            throw CLIError(description: "--\(name) must be a whole number\(bound), not \(text)", usage: true)
        }
        return number
    }

    /// The `--suite` signature suite (default sm2-sm3).
    func suite() throws -> SignatureSuite {
        let text = options["suite"] ?? "sm2-sm3"
        guard let suite = SignatureSuite(rawValue: text) else {
            throw CLIError(description: "unknown suite \(text): use sm2-sm3 or ed25519-sha256", usage: true)
        }
        return suite
    }
}

/// The lines of the usage text about `command` (with the AUTH note for the read commands), for usage errors.
func usageLines(for command: String) -> String {
    let lines = usage.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    var picked: [String] = []
    var inBlock = false
    for line in lines {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("certchain ") {
            inBlock = trimmed.hasPrefix("certchain \(command) ") || trimmed == "certchain \(command)"
        } else if trimmed.hasPrefix("AUTH:") {
            inBlock = ["certificate", "history", "trace", "tx", "block", "get", "login"].contains(command)
        } else if trimmed.isEmpty {
            inBlock = false
        }
        if inBlock { picked.append(line) }
    }
    guard !picked.isEmpty else { return usage }
    return "usage:\n" + picked.joined(separator: "\n") + "\n(`certchain help` lists every command)\n"
}

/// The text of the file at `path`, or a clear error.
func readFile(_ path: String) throws -> String {
    guard let text = String(data: try fileBytes(path), encoding: .utf8) else { throw CLIError(description: "cannot read \(path): not UTF-8 text") }
    return text
}

/// The bytes of the file at `path`, or an error saying why it cannot be read (`what` names the file expected in a
/// folder's place; `status` is the exit status). Read through a file handle, so that a readable device such as
/// /dev/null counts as empty.
func fileBytes(_ path: String, what: String = "file", status: Int32 = 1) throws -> Data {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw CLIError(description: "cannot read \(path): no such file or directory", status: status)
    }
    guard !isDirectory.boolValue else { throw CLIError(description: "cannot read \(path): it is a folder, not a \(what)", status: status) }
    guard let handle = FileHandle(forReadingAtPath: path), let data = try? handle.readToEnd() ?? Data() else {
        throw CLIError(description: "cannot read \(path): not readable (check its permissions)", status: status)
    }
    try? handle.close()
    return data
}

/// A client for the first URL of `--api`; a usage error when it is not an `http://HOST:PORT` URL.
func client(_ arguments: Arguments) throws -> HTTPClient {
    let url = try arguments.required("api").split(separator: ",").first.map(String.init) ?? ""
    do {
        return try HTTPClient(url: url)
    } catch NetError.badAddress {
        throw CLIError(description: "not a URL: \(url) (expected http://HOST:PORT, e.g. http://127.0.0.1:8601)", usage: true)
    }
}

/// GET that returns the body, or throws with the API's error message; signed when a signer is given. `defaultKeys` names
/// the folder the signer's key came from when `--keys` was not given (a 401 then says that folder signed).
func get(_ client: HTTPClient, _ path: String, signer: RequestSigner? = nil, defaultKeys: String? = nil) throws -> [UInt8] {
    let response: HTTPResponse
    do {
        response = try client.request("GET", path, headers: try signer?.headers(method: "GET", target: path) ?? [])
    } catch NetError.timeout {
        throw CLIError(description: client.timeoutSentence("GET \(path)"))
    }
    guard response.status == 200 else {
        var hint = ""
        if response.status == 401 {
            if signer == nil {
                hint = " (pass --keys DIR, or --key FILE --identity ID, to sign the request)"
            } else if let defaultKeys {
                hint = " (without --keys the request was signed with the auditor key in \(defaultKeys), which may belong to another network; "
                    + "pass --keys DIR naming this network's keys folder, e.g. net/keys after `certchain testnet up --dir net`)"
            }
        }
        throw CLIError(description: "GET \(path): HTTP \(response.status) \(String(decoding: response.body, as: UTF8.self))\(hint)")
    }
    return response.body
}

/// Prints a JSON body pretty and with sorted keys (as it came when it is not JSON).
func printJSON(_ bytes: [UInt8]) {
    if let object = try? JSONSerialization.jsonObject(with: Data(bytes)),
        let pretty = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    {
        print(String(decoding: pretty, as: UTF8.self))
    } else {
        print(String(decoding: bytes, as: UTF8.self))
    }
}

/// The folder of `--keys` (default demo-network/keys, which may be absent); an error naming it when it was given and is not a folder.
func keysDirectory(_ arguments: Arguments) throws -> String {
    guard let keys = arguments.options["keys"] else { return "demo-network/keys" }
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: keys, isDirectory: &isDirectory) else {
        throw CLIError(description: "--keys \(keys): no such folder (pass a network's keys folder, e.g. net/keys after `certchain testnet up --dir net`)")
    }
    guard isDirectory.boolValue else {
        throw CLIError(description: "--keys \(keys) is a file, not a folder of keys (for one key file use --key FILE --identity ID)")
    }
    return keys
}

/// The folder the CLI's reads are signed from when neither `--keys` nor `--key` was given and the default folder exists
/// (to name it when the API refuses the signature); nil otherwise.
func defaultKeysFolder(_ arguments: Arguments) -> String? {
    guard arguments.options["keys"] == nil, arguments.options["key"] == nil, let keys = try? keysDirectory(arguments),
        FileManager.default.fileExists(atPath: keys)
    else { return nil }
    return keys
}

/// Who signs the CLI's reads: `--key FILE --identity ID`, else the auditor key of `--keys DIR` (default demo-network/keys).
func requestSigner(_ arguments: Arguments, _ api: HTTPClient) throws -> RequestSigner? {
    let keys = try keysDirectory(arguments)
    let keyPath = arguments.options["key"]
    if keyPath == nil, arguments.options["identity"] != nil {
        throw CLIError(description: "--identity needs --key FILE.pem (the key that signs as that identity)", usage: true)
    }
    guard keyPath != nil || FileManager.default.fileExists(atPath: keys) else { return nil }
    guard let status = try JSONSerialization.jsonObject(with: Data(get(api, "/v1/status"))) as? [String: Any],
        let chainId = status["chainId"] as? String
    else { throw CLIError(description: "GET /v1/status did not name the chain") }
    if let keyPath {
        guard let identity = arguments.options["identity"] else {
            throw CLIError(description: "--key needs --identity ent:TAXID, org:ID or auditor:ID", usage: true)
        }
        return RequestSigner(identity: identity, key: try PrivateKey(pem: try readFile(keyPath)), chainId: chainId)
    }
    guard let signer = try RequestSigner.auditor(keysDirectory: keys, chainId: chainId) else {
        throw CLIError(description: "no auditor-*.pem key in \(keys); pass --keys DIR or --key FILE --identity ID")
    }
    return signer
}

// MARK: - Commands

/// `certchain keys generate [--suite S] [--out FILE [--force]]`: a new private key (PEM) and its public key (hex).
func keysCommand(_ arguments: Arguments) throws {
    guard arguments.positional.first == "generate" else { throw CLIError(description: "keys: use `keys generate`", usage: true) }
    let key = try PrivateKey.generate(suite: try arguments.suite())
    if let out = arguments.options["out"] {
        try writePrivateKey(key.pem, to: out, overwrite: arguments.flags.contains("force"))
        print(key.publicKey.hex)
    } else {
        print(key.pem, terminator: "")
        FileHandle.standardError.write(Data("public key: \(key.publicKey.hex)\n".utf8))
    }
}

/// Writes a private key readable by its owner only; refuses to replace an existing file unless `overwrite`.
func writePrivateKey(_ pem: String, to path: String, overwrite: Bool) throws {
    // O_EXCL: the check and the creation are one step, so no existing key is ever truncated without --force.
    let fd = open(path, O_WRONLY | O_CREAT | (overwrite ? O_TRUNC : O_EXCL), 0o600)
    guard fd >= 0 else {
        let code = errno
        if code == EEXIST {
            throw CLIError(description: "\(path) already exists; not overwriting a private key (pass --force to replace it, or choose another --out)")
        }
        throw CLIError(description: "cannot write \(path): \(String(cString: strerror(code)))")
    }
    defer { close(fd) }
    _ = fchmod(fd, 0o600)
    let bytes = Array(pem.utf8)
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard written == bytes.count else { throw CLIError(description: "cannot write \(path): \(String(cString: strerror(errno)))") }
}

/// Testnet/genesis creation options from `--template`, `--reference`, `--validators`, `--suite` and `--base-port`.
func createOptions(_ arguments: Arguments) throws -> Testnet.CreateOptions {
    var options = Testnet.CreateOptions(
        templatePath: arguments.options["template"] ?? "genesis/template.json", referencePath: arguments.options["reference"])
    options.validators = try arguments.int("validators", default: 4)
    guard (1...64).contains(options.validators) else { throw CLIError(description: "--validators must be between 1 and 64", usage: true) }
    options.suite = try arguments.suite()
    if let base = arguments.options["base-port"] {
        guard let port = UInt16(base), port > 0, port < 65000 else { throw CLIError(description: "--base-port must be a port number", usage: true) }
        options.basePort = port
    }
    return options
}

/// Says on stderr that a new genesis lets effective dates go unchecked (`historicalImport`, as the shipped template
/// has it for replaying past workloads), which a live network must not: any signer could backdate past a deadline.
func warnIfHistoricalImport(_ genesis: Genesis) {
    guard genesis.historicalImport else { return }
    FileHandle.standardError.write(Data("""
        certchain: note: this genesis has "historicalImport": true (as genesis/template.json ships, to replay past \
        workloads such as the 2021 pilot): effective dates are not checked against block dates, so a signer can \
        backdate a transaction past its deadlines; set it to false in the template for a live network

        """.utf8))
}

/// Warns on stderr when `validators` tolerate no faulty validator (fewer than 4: f = 0).
func warnIfNoFaultTolerance(_ validators: Int) {
    guard Testnet.faultTolerance(validators: validators) == 0 else { return }
    FileHandle.standardError.write(Data("""
        certchain: warning: \(validators) validator\(validators == 1 ? "" : "s") tolerate\(validators == 1 ? "s" : "") no faulty validator \
        (f = 0; PBFT needs n ≥ 3f+1): use 4 or more to survive one faulty validator

        """.utf8))
}

/// `certchain genesis create --dir DIR …`: keys and genesis.json without starting validators.
func genesisCommand(_ arguments: Arguments) throws {
    guard arguments.positional.first == "create" else { throw CLIError(description: "genesis: use `genesis create`", usage: true) }
    let testnet = Testnet(directory: try arguments.required("dir"))
    if !arguments.flags.contains("force"), FileManager.default.fileExists(atPath: testnet.genesisPath) {
        throw CLIError(description: """
            \(testnet.genesisPath) already exists; not replacing a network's genesis and private keys \
            (pass --force to replace them, or choose another --dir)
            """)
    }
    let genesis = try testnet.create(try createOptions(arguments))
    warnIfNoFaultTolerance(genesis.validators.count)
    warnIfHistoricalImport(genesis)
    print("wrote \(testnet.genesisPath) (chain \(genesis.chainId), \(genesis.validators.count) validators) and keys in \(testnet.keysDirectory)/")
}

/// The genesis named by `--genesis`, or a clear error.
func loadGenesis(_ arguments: Arguments) throws -> Genesis {
    let genesisPath = try arguments.required("genesis")
    do {
        return try JSONDecoder().decode(Genesis.self, from: Data(readFile(genesisPath).utf8))
    } catch let error as CLIError {
        throw error
    } catch {
        throw CLIError(description: "\(genesisPath) is not a valid genesis file: \(decodingMessage(error))")
    }
}

/// Log levels accepted by `--log-level`, least severe first.
let logLevels: [(name: String, level: Logger.Level)] = [("debug", .debug), ("info", .info), ("warn", .warn), ("error", .error), ("off", .off)]

/// `certchain node …`: runs one validator in the foreground until SIGTERM or SIGINT.
func nodeCommand(_ arguments: Arguments) throws -> Never {
    let levelName = arguments.options["log-level"] ?? "info"
    guard let level = logLevels.first(where: { $0.name == levelName })?.level else {
        throw CLIError(description: "unknown log level \(levelName): use \(logLevels.map(\.name).joined(separator: ", "))", usage: true)
    }
    let genesis = try loadGenesis(arguments)
    let id = try arguments.required("id")
    let key = try PrivateKey(pem: try readFile(try arguments.required("key")))
    let logger = Logger(label: id, minimumLevel: level)
    signal(SIGPIPE, SIG_IGN)
    let node = try Node(options: NodeOptions(genesis: genesis, validatorId: id, nodeKey: key, dataDirectory: try arguments.required("data")), logger: logger)
    try node.start()
    let signalQueue = DispatchQueue(label: "certchain.signals")
    var sources: [DispatchSourceSignal] = []
    for signalNumber in [SIGTERM, SIGINT] {
        signal(signalNumber, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: signalQueue)
        source.setEventHandler {
            logger.info("signal \(signalNumber): stopping")
            node.stop()
            logger.info("stopped cleanly")
            exit(0)
        }
        source.resume()
        sources.append(source)
    }
    withExtendedLifetime(sources) { dispatchMain() }
}

/// The validator index of `--node` (nil when absent); a usage error when `genesis` has no such validator.
func validatorIndex(_ arguments: Arguments, _ genesis: Genesis) throws -> Int? {
    guard let text = arguments.options["node"] else { return nil }
    let range = "(0…\(genesis.validators.count - 1))"
    guard let index = Int(text) else { throw CLIError(description: "--node must be a validator number \(range), not \(text)", usage: true) }
    guard genesis.validators.indices.contains(index) else {
        throw CLIError(description: "no validator \(index) in this network \(range)", usage: true)
    }
    return index
}

/// `certchain testnet up|down|status|start|stop --dir DIR …`: a local network of validator processes.
func testnetCommand(_ arguments: Arguments) throws {
    let testnet = Testnet(directory: try arguments.required("dir"))
    let executable = currentExecutablePath()
    switch arguments.positional.first {
    case "up":
        if FileManager.default.fileExists(atPath: testnet.genesisPath) {
            throw CLIError(description: "\(testnet.directory) already holds a testnet: `testnet start` restarts it, or remove the folder")
        }
        let genesis = try testnet.create(try createOptions(arguments))
        warnIfNoFaultTolerance(genesis.validators.count)
        warnIfHistoricalImport(genesis)
        for index in genesis.validators.indices { try testnet.startNode(index, executable: executable) }
        try waitServing(testnet, genesis)
        let urls = genesis.validators.map { "http://\($0.apiAddress)" }
        if arguments.flags.contains("quiet-urls") {
            print(urls.joined(separator: ","))
        } else {
            for (validator, url) in zip(genesis.validators, urls) {
                print("\(validator.id) (\(validator.organization))  \(url)  pid \(testnet.runningPid(genesis.validators.firstIndex { $0.id == validator.id }!) ?? 0)")
            }
            print("keys: \(testnet.keysDirectory)/   stop with: certchain testnet down --dir \(testnet.directory)")
        }
    case "start":
        let genesis = try testnet.loadGenesis()
        let indices = try validatorIndex(arguments, genesis).map { [$0] } ?? Array(genesis.validators.indices)
        for index in indices where testnet.runningPid(index) == nil { try testnet.startNode(index, executable: executable) }
        try waitServing(testnet, genesis, only: indices)
        print(indices.map { "node\($0) http://\(genesis.validators[$0].apiAddress)" }.joined(separator: "\n"))
    case "stop":
        let genesis = try testnet.loadGenesis()
        guard let index = try validatorIndex(arguments, genesis) else {
            throw CLIError(description: "--node I is required (0…\(genesis.validators.count - 1))", usage: true)
        }
        guard let pid = testnet.runningPid(index) else {
            print("node\(index) is not running")
            return
        }
        if arguments.flags.contains("kill") {
            testnet.signalNode(index, SIGKILL)
            print("killed node\(index) (pid \(pid))")
        } else {
            if testnet.stopNode(index).isEmpty {
                print("stopped node\(index) (pid \(pid))")
            } else {
                print("node\(index) (pid \(pid)) did not stop within 10 s of SIGTERM: killed with SIGKILL")
            }
        }
    case "down":
        let genesis = try testnet.loadGenesis()
        let running = genesis.validators.indices.filter { testnet.runningPid($0) != nil }
        let killed = testnet.stopNodes(Array(genesis.validators.indices))
        for (index, pid) in killed.sorted(by: { $0.key < $1.key }) {
            print("node\(index) (pid \(pid)) did not stop within 10 s of SIGTERM: killed with SIGKILL (see \(testnet.nodeDirectory(index))/node.log)")
        }
        print(running.isEmpty
            ? "no validator was running; data left in \(testnet.directory)/node*/"
            : "stopped \(running.count) of \(genesis.validators.count) validators; data left in \(testnet.directory)/node*/")
    case "status":
        let genesis = try testnet.loadGenesis()
        for (index, validator) in genesis.validators.enumerated() {
            let running = testnet.runningPid(index).map { "pid \($0)" } ?? "stopped"
            var line = "\(validator.id) (\(validator.organization)) http://\(validator.apiAddress) \(running)"
            let api = try? HTTPClient(url: "http://\(validator.apiAddress)")
            let quick = api.map { HTTPClient(host: $0.host, port: $0.port, timeoutSeconds: 2) }
            if let quick, let body = try? get(quick, "/v1/status"),
                let status = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
            {
                line += "  height \(status["height"] ?? "?") view \(status["view"] ?? "?") primary \(status["primary"] ?? "?")"
            }
            print(line)
        }
    default:
        throw CLIError(description: "testnet: use up, down, status, start or stop", usage: true)
    }
}

/// Waits until the validators (all, or `only` those) answer; an error naming the log of the first that does not.
func waitServing(_ testnet: Testnet, _ genesis: Genesis, only: [Int]? = nil) throws {
    for index in only ?? Array(genesis.validators.indices) {
        guard testnet.waitUntilServing(index, apiAddress: genesis.validators[index].apiAddress, timeoutSeconds: 60) else {
            throw CLIError(description: "node\(index) did not start; see \(testnet.nodeDirectory(index))/node.log")
        }
    }
}

/// `certchain replay WORKLOAD_DIR --api URL[,URL…] …`: submits a workload and checks every receipt; exit 1 on a mismatch.
func replayCommand(_ arguments: Arguments) throws -> Int32 {
    guard let workload = arguments.positional.first else { throw CLIError(description: "replay: WORKLOAD_DIR is required", usage: true) }
    let urls = try arguments.required("api").split(separator: ",").map(String.init)
    let keys = try keysDirectory(arguments)
    var options = WorkloadReplay.Options(workloadDirectory: workload, apiURLs: urls, keysDirectory: keys)
    if arguments.options["limit"] != nil { options.limit = try arguments.int("limit", default: 0, atLeast: 1) }
    let summary = try WorkloadReplay(options: options).run()
    print(ReplayReport.text(summary))
    if let report = arguments.options["report"] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(summary).write(to: URL(fileURLWithPath: report))
        print("summary written to \(report)")
    }
    // A partial replay (--limit) leaves the state short of expected.json: only its receipts (and the nodes) decide.
    return summary.mismatches == 0 && (summary.stateMatchesExpected || !summary.stateCompared) && summary.nodesAgree ? 0 : 1
}

/// `certchain submit …`: signs one transaction with `--key` and posts it.
func submitCommand(_ arguments: Arguments) throws {
    let api = try client(arguments)
    // Checked here, before any file or request, so that a wrong value is named in a sentence (not as a decoding error).
    let kind = try arguments.required("kind")
    guard TransactionKind(rawValue: kind) != nil else {
        throw CLIError(
            description: "unknown kind \(kind): use one of \(TransactionKind.allCases.map(\.rawValue).joined(separator: ", "))", usage: true)
    }
    let nonce = try arguments.int("nonce", default: Int(Date().timeIntervalSince1970 * 1000), atLeast: 0)
    let key = try PrivateKey(pem: try readFile(try arguments.required("key")))
    var bodyText = try arguments.required("body")
    if bodyText.hasPrefix("@") { bodyText = try readFile(String(bodyText.dropFirst())) }
    guard let body = try? JSONSerialization.jsonObject(with: Data(bodyText.utf8)) as? [String: Any] else {
        throw CLIError(description: "--body must be a JSON object (or @file holding one)")
    }
    var chainId = arguments.options["chain-id"]
    if chainId == nil, let status = try? JSONSerialization.jsonObject(with: Data(get(api, "/v1/status"))) as? [String: Any] {
        chainId = status["chainId"] as? String
    }
    let today = BlockDate.string(timestampMs: Int64(Date().timeIntervalSince1970 * 1000))
    let unsigned: [String: Any] = [
        "chainId": chainId ?? "", "kind": kind, "signer": try arguments.required("signer"), "nonce": nonce,
        "effectiveDate": arguments.options["effective-date"] ?? today, "body": body,
    ]
    let transaction: Transaction
    do {
        transaction = try JSONDecoder().decode(Transaction.self, from: JSONSerialization.data(withJSONObject: unsigned))
    } catch {
        throw CLIError(description: "not a valid transaction: \(decodingMessage(error))")
    }
    let waitSeconds = try arguments.options["wait"].map { _ in try arguments.int("wait", default: 0, atLeast: 1) }
    if let waitSeconds, waitSeconds > 600 { throw CLIError(description: "--wait must be at most 600 seconds, not \(waitSeconds)", usage: true) }
    let signed = SignedTransaction(transaction: transaction, signature: try key.sign(transaction.signingBytes))
    let response = try api.request("POST", "/v1/transactions", body: Array(try JSONEncoder().encode(signed)), headers: [("Content-Type", "application/json")])
    guard response.status < 300 else {
        printJSON(response.body)
        throw CLIError(description: "refused (HTTP \(response.status))")
    }
    guard let waitSeconds else { return printJSON(response.body) }
    guard let answer = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any], let hash = answer["txHash"] as? String else {
        throw CLIError(description: "the node accepted the transaction but did not name its hash")
    }
    try waitForReceipt(api, hash: hash, signer: RequestSigner(identity: transaction.signer, key: key, chainId: transaction.chainId), seconds: waitSeconds)
}

/// Follows `GET /v1/transactions/HASH` (signed as the submitter) until it commits, at most `seconds`; prints the
/// answer, and fails when the receipt is an error (the chain ordered the transaction and refused it) or time runs out.
func waitForReceipt(_ api: HTTPClient, hash: String, signer: RequestSigner, seconds: Int) throws {
    let deadline = Date().addingTimeInterval(Double(seconds))
    // Bounded by the deadline.
    while true {
        let body = try get(api, "/v1/transactions/\(hash)", signer: signer)
        let answer = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        if answer?["status"] as? String == "committed" {
            printJSON(body)
            if let receipt = answer?["receipt"] as? [String: Any], let code = receipt["error"] as? String {
                throw CLIError(description: "committed with an error receipt: \(code): \(receipt["message"] as? String ?? "")")
            }
            return
        }
        guard Date() < deadline else {
            throw CLIError(description: "transaction \(hash) is still pending after \(seconds) s; look again with `certchain tx \(hash)`")
        }
        usleep(100_000)
    }
}

/// Runs the command named by the process arguments; returns the exit status.
func run() throws -> Int32 {
    let all = CommandLine.arguments
    guard all.count >= 2 else {
        print(usage, terminator: "")
        return 2
    }
    if ["help", "--help", "-h"].contains(all[1]) {
        print(usage, terminator: "")
        return 0
    }
    guard CommandSpec.forCommand(all[1]) != nil else { throw CLIError(description: "unknown command \(all[1])", usage: true) }
    let arguments = try Arguments(all.dropFirst(2), command: all[1])
    if arguments.flags.contains("help") {
        print(usageLines(for: all[1]), terminator: "")
        return 0
    }
    switch all[1] {
    case "keys": try keysCommand(arguments)
    case "genesis": try genesisCommand(arguments)
    case "node": try nodeCommand(arguments)
    case "testnet": try testnetCommand(arguments)
    case "workload": try workloadCommand(arguments)
    case "replay": return try replayCommand(arguments)
    case "simulate": return try simulateCommand(arguments)
    case "submit": try submitCommand(arguments)
    case "verify": return try verifyCommand(arguments)
    case "login": try loginCommand(arguments)
    case "bench": return try benchCommand(arguments)
    case "status": printJSON(try get(try client(arguments), "/v1/status"))
    case "certificate", "history", "trace", "tx", "block", "get":
        guard let key = arguments.positional.first else { throw CLIError(description: "\(all[1]) needs an argument", usage: true) }
        // What is sent is what is signed: a space or a #fragment would be either mangled on the way or signed and not
        // sent. Checked before any request.
        if all[1] == "get", let bad = key.unicodeScalars.first(where: { $0 == "#" || $0.properties.isWhitespace || $0.value < 0x20 }) {
            throw CLIError(
                description: "the path may not contain \(bad == "#" ? "a #fragment" : "spaces or control characters"); percent-encode them (a space is %20)",
                usage: true)
        }
        let api = try client(arguments)
        let signer = try requestSigner(arguments, api)
        let defaultKeys = signer == nil ? nil : defaultKeysFolder(arguments)
        func read(_ path: String) throws -> [UInt8] { try get(api, path, signer: signer, defaultKeys: defaultKeys) }
        switch all[1] {
        case "certificate":
            let body = try read("/v1/certificates/\(key)")
            if arguments.flags.contains("json") { printJSON(body) } else { print(try PaperForm.render(certificateJSON: body)) }
        case "history":
            let body = try read("/v1/certificates/\(key)/history")
            if arguments.flags.contains("json") { printJSON(body) } else { print(try PaperForm.renderHistory(body)) }
        case "trace":
            let options = shellOptions(arguments, ["api", "keys", "key", "identity"])
            print(try ProvenanceTrace.render(number: key, options: options, get: { try read($0) }))
        case "tx": printJSON(try read("/v1/transactions/\(key)"))
        case "get":
            let body = try read(key.hasPrefix("/") ? key : "/" + key)
            if arguments.flags.contains("raw") { FileHandle.standardOutput.write(Data(body)) } else { printJSON(body) }
        default: printJSON(try read("/v1/blocks/\(key)"))
        }
    default:
        throw CLIError(description: "unknown command \(all[1])", usage: true)
    }
    return 0
}

/// The options `names` as given on the command line (` --api URL --keys DIR`), quoted for a shell where needed, so that
/// a printed command can be pasted as it is.
func shellOptions(_ arguments: Arguments, _ names: [String]) -> String {
    let plain = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:@,=+-")
    return names.compactMap { name in
        arguments.options[name].map { value in
            let quoted = !value.isEmpty && value.allSatisfy(plain.contains) ? value : "'" + value.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
            return " --\(name) \(quoted)"
        }
    }.joined()
}

/// The `--api` value given on the command line, if any (to name the server in network errors).
func apiArgument() -> String? {
    let all = CommandLine.arguments
    for (i, argument) in all.enumerated() {
        if argument.hasPrefix("--api=") { return String(argument.dropFirst(6)) }
        if argument == "--api", i + 1 < all.count { return all[i + 1] }
    }
    return nil
}

/// What a JSON decoding error means, with the path of the field at fault ("missing field body.taxId").
func decodingMessage(_ error: Error) -> String {
    func path(_ context: DecodingError.Context, _ key: CodingKey? = nil) -> String {
        (context.codingPath + (key.map { [$0] } ?? [])).map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
    switch error {
    case DecodingError.keyNotFound(let key, let context): return "missing field \(path(context, key))"
    case DecodingError.valueNotFound(_, let context): return "field \(path(context)) is null"
    case DecodingError.typeMismatch(_, let context): return "field \(path(context)) has the wrong type (\(context.debugDescription))"
    case DecodingError.dataCorrupted(let context):
        return context.codingPath.isEmpty ? "not valid JSON" : "field \(path(context)): \(context.debugDescription)"
    default: return "\(error)"
    }
}

/// A sentence for an error the CLI did not word itself: socket errors, missing files; anything else as it describes itself.
func userMessage(_ error: Error) -> String {
    let api = apiArgument()
    // Commands talk to the first URL of a comma-separated --api list first.
    let server = api.flatMap { $0.split(separator: ",").first }.map { " \($0)" } ?? ""
    func reason(_ code: Int32) -> String {
        let text = String(cString: strerror(code))
        return text.prefix(1).lowercased() + text.dropFirst()
    }
    switch error {
    case let error as CLIError:
        return error.description
    case NetError.badAddress(let text):
        // HTTPClient(url:) names the whole URL it could not parse; name resolution names only the host.
        if text.hasPrefix("http://") || api?.split(separator: ",").contains(where: { $0 == text }) == true {
            return "not a URL: \(text) (expected http://HOST:PORT, e.g. http://127.0.0.1:8601)"
        }
        return "cannot resolve host \(text)"
    case NetError.system("connect", ECONNREFUSED):
        return HTTPClient.refusedSentence(server.isEmpty ? nil : String(server.dropFirst()))
    case NetError.system("connect", let code):
        return "cannot connect to\(server.isEmpty ? " the server" : server): \(reason(code))"
    case NetError.system("bind", let code):
        return "cannot listen on the configured address: \(reason(code))" + (code == EADDRINUSE ? " (another process, perhaps this validator, holds the port)" : "")
    case NetError.system(let call, let code):
        return "\(call) failed: \(reason(code))"
    case NetError.timeout:
        return "timed out: no answer from\(server.isEmpty ? " the server" : server) in time (the validator may be paused, overloaded or stuck: "
            + "see its node.log; `certchain testnet status --dir DIR` shows each validator's state)"
    case NetError.closed:
        return "\(server.isEmpty ? "the server" : String(server.dropFirst())) closed the connection before answering"
    case NetError.protocolViolation(let detail):
        return "unexpected answer from\(server.isEmpty ? " the server" : server): \(detail)"
    case is DecodingError:
        return decodingMessage(error)
    case let error as CocoaError:
        let path = error.filePath ?? error.url?.path ?? "a file"
        switch error.code {
        case .fileNoSuchFile, .fileReadNoSuchFile: return "no such file: \(path)"
        case .fileReadNoPermission, .fileWriteNoPermission: return "permission denied: \(path)"
        case .fileReadCorruptFile, .propertyListReadCorrupt: return "\(path) is not valid JSON"
        default: return "\(path): \(error.localizedDescription)"
        }
    default:
        return "\(error)"
    }
}

do {
    exit(try run())
} catch {
    FileHandle.standardError.write(Data("certchain: \(userMessage(error))\n".utf8))
    let isUsage = (error as? CLIError)?.usage == true
    if isUsage {
        let command = CommandLine.arguments.count >= 2 ? CommandLine.arguments[1] : ""
        FileHandle.standardError.write(Data(usageLines(for: command).utf8))
    }
    exit(isUsage ? 2 : (error as? CLIError)?.status ?? 1)
}
