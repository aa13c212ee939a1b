import CertChainCrypto
import CertChainLedger
import CertChainModel
import CertChainNet
import CertChainStore
import Foundation

/// Limits of the HTTP API.
public enum APILimits {
    /// Largest request body accepted (a transaction is a few KB; 99 lines stay far below this).
    public static let bodyBytesMax = 256 << 10
}

/// Reads ledger state straight from the store's reader connections (for HTTP threads).
struct StoreStateReader: StateReader {
    let store: ChainStore
    func value(forKey key: String) -> [UInt8]? { (try? store.stateValue(key: key)) ?? nil }
}


extension Node {
    /// Routes one HTTP request (SPEC section 7); runs on the server's connection thread.
    func handle(_ request: HTTPRequest) -> HTTPResponse {
        let parts = Self.pathParts(request.path)
        // A certificate is named by its 18-digit number: anything else is bad input, not an unknown certificate.
        if request.method == "GET", parts.count >= 3, parts[0] == "v1", parts[1] == "certificates", !Formats.isCertificateNumber(parts[2]) {
            return .error(400, code: "invalid-certificate-number", message: "a certificate number is 18 digits, not \"\(parts[2].prefix(40))\"")
        }
        // A misspelt parameter must not pass unnoticed (the list queries check theirs the same way).
        if request.method == "GET", let allowed = Self.resourceParameters(parts),
            let unknown = request.query.keys.sorted().first(where: { !allowed.contains($0) })
        {
            let known = allowed.isEmpty ? "it takes none" : "it takes " + allowed.sorted().joined(separator: ", ")
            return .error(400, code: "invalid-query", message: "unknown query parameter \(unknown) for \(request.path): \(known)")
        }
        // Authentication and authorization (AccessControl.swift); refusals and session endpoints answer here.
        let checked: CertificateRead?
        switch checkAccess(request, parts) {
        case .respond(let response): return response
        case .proceed(let certificate): checked = certificate
        }
        // Feature route groups, each in its own file; nil means "not mine".
        if let response = handleProofRoutes(request, parts) { return response }
        if let response = handleQueryRoutes(request, parts) { return response }
        if let response = handleWebRoutes(request, parts) { return response }
        switch (request.method, parts.count) {
        case ("GET", 2) where parts == ["v1", "status"]: return status()
        case ("GET", 2) where parts == ["v1", "stats"]: return json(200, Ledger.statistics(in: reader))
        case ("GET", 1) where parts == ["metrics"]: return metrics()
        case ("POST", 2) where parts == ["v1", "transactions"]: return submit(request.body, binary: Self.isBinary(request))
        case ("GET", 3) where parts[0] == "v1" && parts[1] == "transactions": return transaction(parts[2])
        case ("GET", 3) where parts[0] == "v1" && parts[1] == "blocks":
            return block(
                parts[2], withReceipts: request.query["receipts"] == "true", withTransactions: request.query["transactions"] == "true",
                waitText: request.query["waitMs"])
        case ("GET", 3) where parts[0] == "v1" && parts[1] == "certificates":
            // The most frequent read: answered from a cache checked against the committed value (AnswerCache.swift),
            // read once: the access check passes on what it read (the same value it checked the rule against).
            let read = checked.flatMap { $0.number == parts[2] ? $0 : nil } ?? CertificateRead(number: parts[2], entry: certificateAnswer(number: parts[2]))
            guard let answer = read.entry else {
                return .error(404, code: "certificate-not-found", message: "no certificate \(parts[2]) on this chain")
            }
            return .json(200, answer.body)
        case ("GET", 4) where parts[0] == "v1" && parts[1] == "certificates" && parts[3] == "history":
            guard Ledger.certificate(number: parts[2], in: reader) != nil else {
                return .error(404, code: "certificate-not-found", message: "no certificate \(parts[2]) on this chain")
            }
            return json(200, HistoryResponse(certificateNumber: parts[2], entries: Ledger.history(certificateNumber: parts[2], in: reader)))
        case ("GET", 3) where parts[0] == "v1" && parts[1] == "applications":
            return found(Ledger.application(id: parts[2], in: reader), what: "application \(parts[2])", code: "application-not-found")
        case ("GET", 3) where parts[0] == "v1" && parts[1] == "claims":
            return found(Ledger.claim(id: parts[2], in: reader), what: "claim \(parts[2])", code: "claim-not-found")
        case ("GET", 3) where parts[0] == "v1" && parts[1] == "declarations":
            return found(Ledger.declaration(number: parts[2], in: reader), what: "declaration \(parts[2])", code: "declaration-not-found")
        case ("GET", 3) where parts[0] == "v1" && parts[1] == "enterprises":
            return found(Ledger.enterprise(taxId: parts[2], in: reader), what: "enterprise \(parts[2])", code: "enterprise-not-found")
        default:
            if ["GET", "POST"].contains(request.method) {
                return .error(404, code: "not-found", message: "no such endpoint: \(request.method) \(request.path)")
            }
            return .methodNotAllowed(allow: "GET, POST", message: "\(request.method) is not supported")
        }
    }

    var reader: StoreStateReader { StoreStateReader(store: store) }

    /// The query parameters a single-resource read takes (nil: not such a read, its own handler checks).
    static func resourceParameters(_ parts: [String]) -> Set<String>? {
        guard parts.count >= 3, parts[0] == "v1" else { return nil }
        switch (parts.count, parts[1]) {
        case (3, "certificates"), (3, "transactions"): return ["proof"]
        case (4, "certificates") where parts[3] == "history": return ["proof"]
        case (3, "blocks"): return ["receipts", "transactions", "waitMs"]
        case (3, "applications"), (3, "claims"), (3, "declarations"), (3, "enterprises"): return []
        default: return nil
        }
    }

    /// The non-empty `/`-separated parts of `path`; an ASCII path (the usual case) is split on bytes, which gives the same parts.
    static func pathParts(_ path: String) -> [String] {
        guard path.utf8.allSatisfy({ $0 < 0x80 }) else { return path.split(separator: "/", omittingEmptySubsequences: true).map(String.init) }
        return path.utf8.split(separator: UInt8(ascii: "/")).map { String(Substring($0)) }
    }

    /// `value` as the API's JSON: sorted keys, slashes unescaped; nil if it cannot be encoded.
    static func encodeJSON<T: Encodable>(_ value: T) -> [UInt8]? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { Array($0) }
    }

    func json<T: Encodable>(_ status: Int, _ value: T) -> HTTPResponse {
        guard let body = Self.encodeJSON(value) else {
            return .error(500, code: "internal", message: "could not encode the response")
        }
        return .json(status, body)
    }

    func found<T: Encodable>(_ value: T?, what: String, code: String) -> HTTPResponse {
        guard let value else { return .error(404, code: code, message: "no \(what) on this chain") }
        return json(200, value)
    }

    func status() -> HTTPResponse {
        let snap = snapshot
        let me = validators[selfIndex]
        return json(
            200,
            StatusResponse(
                chainId: genesis.chainId, nodeId: me.id, organization: me.organization, suite: suite.rawValue,
                genesisHash: Hex.encode(genesis.hash()), view: snap.view, primary: validators[snap.primary].id,
                height: snap.height, lastBlockHash: Hex.encode(snap.lastBlockHash),
                validators: validators.map { .init(id: $0.id, organization: $0.organization, apiAddress: $0.apiAddress) },
                peersConnected: transport?.connectedPeers().sorted() ?? [], mempool: mempool.count,
                committedTransactionsSinceStart: snap.committedTransactions))
    }

    func metrics() -> HTTPResponse {
        let snap = snapshot
        let me = validators[selfIndex].id
        let text = """
            # HELP certchain_height Height of the last committed block.
            # TYPE certchain_height gauge
            certchain_height{node="\(me)"} \(snap.height)
            # HELP certchain_view Current PBFT view.
            # TYPE certchain_view gauge
            certchain_view{node="\(me)"} \(snap.view)
            # HELP certchain_mempool_transactions Verified transactions waiting to be ordered.
            # TYPE certchain_mempool_transactions gauge
            certchain_mempool_transactions{node="\(me)"} \(mempool.count)
            # HELP certchain_committed_transactions_total Transactions committed since this process started.
            # TYPE certchain_committed_transactions_total counter
            certchain_committed_transactions_total{node="\(me)"} \(snap.committedTransactions)
            # HELP certchain_synced_blocks_total Blocks obtained by state transfer since this process started.
            # TYPE certchain_synced_blocks_total counter
            certchain_synced_blocks_total{node="\(me)"} \(snap.syncedBlocks)
            # HELP certchain_last_commit_timestamp_seconds When this process last saw the height move (0: not yet); alert when it stops moving.
            # TYPE certchain_last_commit_timestamp_seconds gauge
            certchain_last_commit_timestamp_seconds{node="\(me)"} \(String(format: "%.3f", Double(snap.lastCommitWallMs) / 1000))
            # HELP certchain_peers_connected Validators this node has a working outbound connection to (of \(validators.count - 1)).
            # TYPE certchain_peers_connected gauge
            certchain_peers_connected{node="\(me)"} \(transport?.connectedPeers().count ?? 0)
            # HELP certchain_peers_inbound Validators connected to this node.
            # TYPE certchain_peers_inbound gauge
            certchain_peers_inbound{node="\(me)"} \(transport?.inboundPeers().count ?? 0)
            # HELP certchain_peer_frames_dropped_total Frames to peers dropped (a full send queue, a peer not connected, a frame too large).
            # TYPE certchain_peer_frames_dropped_total counter
            certchain_peer_frames_dropped_total{node="\(me)"} \(transport?.droppedFrameCount ?? 0)
            # HELP certchain_http_responses_total HTTP answers of the API since this process started, by status class.
            # TYPE certchain_http_responses_total counter

            """ + (1...5).map { "certchain_http_responses_total{node=\"\(me)\",class=\"\($0)xx\"} \(httpAnswers[$0] ?? 0)\n" }.joined()
        return HTTPResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4")], body: Array(text.utf8))
    }

    /// Whether a submission's body is the canonical binary encoding (`Content-Type: application/octet-stream`).
    static func isBinary(_ request: HTTPRequest) -> Bool {
        request.headers["content-type"]?.lowercased().hasPrefix("application/octet-stream") == true
    }

    /// `POST /v1/transactions`: a signed transaction as JSON (SPEC section 7) or, with `Content-Type:
    /// application/octet-stream`, in the canonical binary encoding of docs/ENCODING.md (what a high-volume client
    /// sends: no JSON to parse); either way it is checked and admitted the same.
    func submit(_ body: [UInt8], binary: Bool = false) -> HTTPResponse {
        let transaction: SignedTransaction
        do {
            transaction = binary ? try SignedTransaction.decode(body) : try JSONDecoder().decode(SignedTransaction.self, from: Data(body))
        } catch {
            let form = binary ? "a canonically encoded signed transaction" : "a signed transaction"
            let reason = binary ? describe(error) : describeTransactionJSON(error, body: body)
            return .error(400, code: "invalid-transaction", message: "the body is not \(form): \(reason)")
        }
        switch admit(transaction) {
        case .accepted(let id, let status):
            // Both fields are plain ASCII (hex, a status word): written directly, as sorted-key JSON.
            let body = #"{"status":""# + status + #"","txHash":""# + Hex.encode(id) + #""}"#
            return .json(status == "committed" ? 200 : 202, Array(body.utf8))
        case .refused(let status, let code, let message):
            return .error(status, code: code, message: message)
        }
    }

    func transaction(_ hashText: String) -> HTTPResponse {
        guard let id = Hex.decode(hashText), id.count == hashAlgorithm.digestBytes else {
            return .error(400, code: "invalid-hash", message: "\(hashText) is not a \(hashAlgorithm.digestBytes)-byte hex hash")
        }
        if let location = (try? store.transactionLocation(hash: id)) ?? nil,
            let receiptBytes = (try? store.receiptBytes(txHash: id)) ?? nil,
            let receipt = try? Receipt.decode(receiptBytes)
        {
            return json(
                200,
                TransactionStatusResponse(txHash: hashText.lowercased(), status: "committed", height: location.height, index: location.index, receipt: receipt))
        }
        if mempool.contains(id) {
            return json(200, TransactionStatusResponse(txHash: hashText.lowercased(), status: "pending", height: nil, index: nil, receipt: nil))
        }
        return .error(404, code: "transaction-not-found", message: "transaction \(hashText) is neither committed nor pending here")
    }

    /// `GET /v1/blocks/{height}[?receipts=true][&transactions=true][&waitMs=N]`: with `waitMs`, a block not committed yet
    /// is waited for up to N ms (at most `blockWaitMsMax`) before the 404, so that a client following the chain needs
    /// one request per block instead of one every few milliseconds.
    func block(_ heightText: String, withReceipts: Bool, withTransactions: Bool = false, waitText: String? = nil) -> HTTPResponse {
        guard let height = UInt64(heightText), height >= 1 else {
            return .error(400, code: "invalid-height", message: "\(heightText) is not a block height (1, 2, …)")
        }
        if let waitText {
            guard let waitMs = Int(waitText), (0...Self.blockWaitMsMax).contains(waitMs) else {
                return .error(400, code: "invalid-wait", message: "waitMs=\(waitText) is not a number of milliseconds from 0 to \(Self.blockWaitMsMax)")
            }
            if waitMs > 0 { _ = core.waitForHeight(height, timeoutMs: waitMs) }
        }
        guard let bytes = (try? store.blockBytes(height: height)) ?? nil, let block = try? Block.decode(bytes),
            let certificateBytes = (try? store.certificateBytes(height: height)) ?? nil,
            let certificate = try? CommitCertificate.decode(certificateBytes)
        else {
            return .error(404, code: "block-not-found", message: "no block \(height) here (height is \(snapshot.height))")
        }
        let ids = block.transactions.map { $0.id(hashAlgorithm) }
        var receipts: [Receipt]?
        if withReceipts {
            receipts = ids.compactMap { id in ((try? store.receiptBytes(txHash: id)) ?? nil).flatMap { try? Receipt.decode($0) } }
        }
        return json(
            200,
            BlockResponse(
                hash: Hex.encode(block.header.hash(hashAlgorithm)), header: HeaderJSON(block.header),
                transactions: ids.map(Hex.encode), commitCertificate: CertificateJSON(certificate), receipts: receipts,
                signedTransactions: withTransactions ? block.transactions : nil))
    }
}

func describe(_ error: Error) -> String {
    /// Where in the document: `transaction.nonce`, or "the top level".
    func place(_ path: [CodingKey]) -> String { path.isEmpty ? "the top level" : path.map(\.stringValue).joined(separator: ".") }
    switch error {
    case DecodingError.keyNotFound(let key, let context):
        return "missing field \((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))"
    case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
        return "wrong type at \(place(context.codingPath)): \(context.debugDescription)"
    case DecodingError.dataCorrupted(let context) where !context.codingPath.isEmpty:
        // A value the field cannot hold (a negative nonce, an unknown kind): the JSON itself is fine.
        let underlying = context.underlyingError.map { " (\($0.localizedDescription))" } ?? ""
        return "invalid value at \(place(context.codingPath)): \(context.debugDescription)\(underlying)"
    case DecodingError.dataCorrupted(let context):
        return context.debugDescription
    default:
        return "\(error)"
    }
}

/// Why a JSON body did not decode as a signed transaction. Foundation calls a number its field cannot hold (a negative
/// nonce) "not valid JSON"; when the JSON parses, the field is named instead.
func describeTransactionJSON(_ error: Error, body: [UInt8]) -> String {
    guard case DecodingError.dataCorrupted(let context) = error, context.codingPath.isEmpty,
        let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
    else { return describe(error) }
    if let nonce = object["nonce"] as? NSNumber, UInt64(exactly: nonce.doubleValue) == nil || nonce.doubleValue < 0 {
        return "nonce must be a whole number from 0 to \(UInt64.max), not \(nonce)"
    }
    return "a value does not fit its field (a number out of range, or a fraction where a whole number is required)"
}

/// `GET /v1/status`.
struct StatusResponse: Codable {
    struct ValidatorInfo: Codable { var id: String; var organization: String; var apiAddress: String }
    var chainId: String
    var nodeId: String
    var organization: String
    var suite: String
    var genesisHash: String
    var view: UInt64
    var primary: String
    var height: UInt64
    var lastBlockHash: String
    var validators: [ValidatorInfo]
    var peersConnected: [String]
    var mempool: Int
    /// Transactions this process committed since it started (consensus or state transfer); not a chain total.
    var committedTransactionsSinceStart: UInt64
}

/// `POST /v1/transactions`.
struct SubmitResponse: Codable {
    var txHash: String
    var status: String
}

/// `GET /v1/transactions/{hash}`.
struct TransactionStatusResponse: Codable {
    var txHash: String
    var status: String
    var height: UInt64?
    var index: Int?
    var receipt: Receipt?
}

/// `GET /v1/certificates/{number}/history`.
struct HistoryResponse: Codable {
    var certificateNumber: String
    var entries: [HistoryEntry]
}

/// A block header as JSON (hashes in hex).
struct HeaderJSON: Codable {
    var chainId: String
    var height: UInt64
    var previousHash: String
    var timestampMs: Int64
    var view: UInt64
    var proposer: String
    var txRoot: String
    var receiptRoot: String
    var stateRoot: String

    init(_ header: BlockHeader) {
        chainId = header.chainId
        height = header.height
        previousHash = Hex.encode(header.previousHash)
        timestampMs = header.timestampMs
        view = header.view
        proposer = header.proposer
        txRoot = Hex.encode(header.txRoot)
        receiptRoot = Hex.encode(header.receiptRoot)
        stateRoot = Hex.encode(header.stateRoot)
    }
}

/// A commit certificate as JSON.
struct CertificateJSON: Codable {
    struct Signature: Codable { var validator: String; var signature: String }
    var height: UInt64
    var blockHash: String
    var signatures: [Signature]

    init(_ certificate: CommitCertificate) {
        height = certificate.height
        blockHash = Hex.encode(certificate.blockHash)
        signatures = certificate.signatures.map { Signature(validator: $0.validatorId, signature: Hex.encode($0.signature)) }
    }
}

extension Node {
    /// Longest wait `GET /v1/blocks/{height}?waitMs=` allows (a waiting request holds one of the server's connections).
    static let blockWaitMsMax = 30_000
}

/// `GET /v1/blocks/{height}`.
struct BlockResponse: Codable {
    var hash: String
    var header: HeaderJSON
    var transactions: [String]
    var commitCertificate: CertificateJSON
    var receipts: [Receipt]?
    /// The signed transactions themselves (`?transactions=true`), for provenance traces.
    var signedTransactions: [SignedTransaction]?
}
