import CertChainCrypto
import CertChainLedger
import CertChainModel
import Foundation

/// The outcome of checking a proof document: valid with what it proves, or invalid with the reason.
public struct ProofVerdict: Sendable, Equatable {
    /// True only if every check passed.
    public var valid: Bool
    /// What the document proves (valid) or why it fails (invalid), in plain words.
    public var statement: String
}

/// Offline checker of proof documents against genesis alone (docs/PROOFS.md); no network, no store.
public enum ProofVerifier {
    struct Failure: Error { var reason: String }

    /// A block checked against genesis: its header, hash and the validators whose signatures verified.
    struct CheckedBlock {
        var header: BlockHeader
        var hash: [UInt8]
        var signers: [String]
    }

    /// A transaction checked for inclusion, with the reference fields it proves.
    struct CheckedTransaction {
        var txHash: String
        var kind: String
        var signer: String
        var effectiveDate: String
        var height: UInt64
        var index: Int
        var receipt: Receipt
        var block: CheckedBlock
    }

    /// Checks `document` (the JSON bytes of a saved `?proof=true` answer) against `genesis`; never throws.
    public static func verify(document: [UInt8], genesis: Genesis) -> ProofVerdict {
        do {
            return ProofVerdict(valid: true, statement: try check(document, genesis))
        } catch let failure as Failure {
            return ProofVerdict(valid: false, statement: failure.reason)
        } catch {
            return ProofVerdict(valid: false, statement: "malformed proof document: \(describe(error))")
        }
    }

    /// Minimum number of distinct validator signatures: (n+f)/2+1 with f = (n-1)/3.
    public static func quorum(validatorCount n: Int) -> Int { (n + (n - 1) / 3) / 2 + 1 }

    static func require(_ condition: Bool, _ reason: @autoclosure () -> String) throws {
        if !condition { throw Failure(reason: reason()) }
    }

    static func hex(_ text: String, _ what: String) throws -> [UInt8] {
        guard let bytes = Hex.decode(text) else { throw Failure(reason: "\(what) is not lowercase hex") }
        return bytes
    }

    /// Canonical JSON text of a parsed JSON value (sorted keys), for exact comparison.
    static func canonicalJSON(_ value: Any) throws -> Data {
        try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
    }

    static func canonicalJSON<T: Encodable>(encoding value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try canonicalJSON(JSONSerialization.jsonObject(with: encoder.encode(value), options: [.fragmentsAllowed]))
    }

    /// The first number written with a fraction or exponent outside strings (every number in a proof document is a
    /// whole number; Foundation would read 10.0 as 10, the Python verifier rejects it, and so does this one).
    static func firstNonIntegerNumber(_ bytes: [UInt8]) -> String? {
        var inString = false, escaped = false
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                index += 1
            } else if byte == UInt8(ascii: "\"") {
                inString = true
                index += 1
            } else if byte == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                let start = index
                while index < bytes.count, "0123456789+-.eE".utf8.contains(bytes[index]) { index += 1 }
                let token = bytes[start..<index]
                if token.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
                    return String(decoding: token, as: UTF8.self)
                }
            } else {
                index += 1
            }
        }
        return nil
    }

    /// The first key written twice in one object, decoded (Foundation keeps the last value silently; the Python
    /// verifier refuses such a document, and so does this one). One pass over valid JSON; each key is decoded once.
    static func firstDuplicateKey(_ bytes: [UInt8]) -> String? {
        // One level per open object or array, with the keys of an object seen so far.
        var levels: [(isObject: Bool, keys: Set<String>)] = []
        var expectingKey = false
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                let start = index - 1
                var escaped = false, hasEscape = false
                while index < bytes.count {
                    let b = bytes[index]
                    index += 1
                    if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true; hasEscape = true } else if b == UInt8(ascii: "\"") { break }
                }
                guard expectingKey, !levels.isEmpty else { continue }
                expectingKey = false
                let raw = bytes[start..<index]
                let key = hasEscape
                    ? (try? JSONSerialization.jsonObject(with: Data(raw), options: [.fragmentsAllowed])) as? String ?? String(decoding: raw, as: UTF8.self)
                    : String(decoding: raw.dropFirst().dropLast(), as: UTF8.self)
                if !levels[levels.count - 1].keys.insert(key).inserted { return key }
            case UInt8(ascii: "{"):
                levels.append((true, []))
                expectingKey = true
            case UInt8(ascii: "["):
                levels.append((false, []))
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if !levels.isEmpty { levels.removeLast() }
            case UInt8(ascii: ","):
                expectingKey = levels.last?.isObject == true
            default:
                break
            }
        }
        return nil
    }

    static func check(_ bytes: [UInt8], _ genesis: Genesis) throws -> String {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { throw Failure(reason: "the document starts with a byte-order mark (a proof is plain UTF-8 JSON)") }
        if bytes.isEmpty { throw Failure(reason: "the document is empty") }
        let data = Data(bytes)
        let parsed = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        // A file that is not a proof at all (a README, a genesis, a bare answer) is named as such before any field check.
        let notAProof = Failure(reason: #"not a certchain proof (expected a JSON document with "format": "certchain-proof/v1")"#)
        guard let parsed else {
            // Text that starts like a JSON object is taken for a damaged proof; anything else is not a proof.
            let first = bytes.first { !" \t\r\n".utf8.contains($0) }
            throw first == UInt8(ascii: "{") ? Failure(reason: "the document is not valid JSON") : notAProof
        }
        guard let object = parsed as? [String: Any], object["format"] != nil else { throw notAProof }
        if let number = firstNonIntegerNumber(bytes) { throw Failure(reason: "the number \(number) is not a whole number (every number in a proof is)") }
        if let key = firstDuplicateKey(bytes) {
            throw Failure(reason: "the key \"\(key)\" appears twice in one JSON object (a proof never repeats a key)")
        }
        guard let answer = object["answer"] else { throw Failure(reason: "no answer in the document") }
        let allowed: Set<String> = ["format", "type", "chainId", "suite", "answer", "state", "transactions"]
        try require(Set(object.keys).isSubset(of: allowed), "unexpected fields \(Set(object.keys).subtracting(allowed).sorted())")
        let document = try JSONDecoder().decode(ProofDocument.self, from: data)
        try require(document.format == ProofDocument.formatName, "format \(document.format) is not \(ProofDocument.formatName)")
        try require(document.chainId == genesis.chainId, "the proof is for chain \(document.chainId), genesis is \(genesis.chainId)")
        try require(document.suite == genesis.suite.rawValue, "the proof says suite \(document.suite), genesis uses \(genesis.suite.rawValue)")
        let given = try canonicalJSON(answer)
        switch document.type {
        case "certificate": return try checkCertificate(document, given, genesis)
        case "history": return try checkHistory(document, given, genesis)
        case "transaction": return try checkTransaction(document, given, genesis)
        default: throw Failure(reason: "unknown proof type \(document.type)")
        }
    }

    /// Header hash, certificate binding, and a quorum of valid, distinct genesis validator signatures (all must verify).
    static func checkBlock(_ block: ProofBlock, _ genesis: Genesis) throws -> CheckedBlock {
        let h = block.header
        let header = BlockHeader(
            chainId: h.chainId, height: h.height, previousHash: try hex(h.previousHash, "previousHash"), timestampMs: h.timestampMs,
            view: h.view, proposer: h.proposer, txRoot: try hex(h.txRoot, "txRoot"), receiptRoot: try hex(h.receiptRoot, "receiptRoot"),
            stateRoot: try hex(h.stateRoot, "stateRoot"))
        try require(header.chainId == genesis.chainId, "block \(h.height) is of chain \(header.chainId)")
        try require(genesis.validators.contains { $0.id == header.proposer }, "block \(h.height)'s proposer \(header.proposer) is not a validator")
        let hash = header.hash(genesis.suite.hashAlgorithm)
        try require(Hex.encode(hash) == block.hash, "block \(h.height): the header does not hash to \(block.hash)")
        let c = block.commitCertificate
        try require(c.height == h.height, "the commit certificate is for height \(c.height), the header is \(h.height)")
        try require(c.blockHash == block.hash, "the commit certificate signs block \(c.blockHash), not \(block.hash)")
        let message = CommitCertificate.signingBytes(chainId: genesis.chainId, height: h.height, blockHash: hash)
        var signers: [String] = []
        for s in c.signatures {
            guard let validator = genesis.validators.first(where: { $0.id == s.validator }) else {
                throw Failure(reason: "block \(h.height) is signed by \(s.validator), who is not a validator in genesis")
            }
            try require(!signers.contains(s.validator), "block \(h.height) carries two signatures of \(s.validator)")
            let key: PublicKey
            do { key = try PublicKey(suite: genesis.suite, hex: validator.publicKey) } catch {
                throw Failure(reason: "genesis key of \(s.validator) is unusable: \(error)")
            }
            try require(key.verify(signature: try hex(s.signature, "signature of \(s.validator)"), message: message),
                        "block \(h.height): \(s.validator)'s commit signature does not verify")
            signers.append(s.validator)
        }
        let quorum = quorum(validatorCount: genesis.validators.count)
        try require(signers.count >= quorum, "block \(h.height) has \(signers.count) validator signatures; \(quorum) of \(genesis.validators.count) are needed")
        return CheckedBlock(header: header, hash: hash, signers: signers)
    }

    static func paths(_ texts: [String], _ what: String) throws -> [[UInt8]] { try texts.map { try hex($0, what) } }

    /// The transaction hashes to `txHash`, sits at `index` under `txRoot`, and its receipt at `index` under `receiptRoot`.
    static func checkTransaction(_ t: ProofTransaction, _ genesis: Genesis) throws -> CheckedTransaction {
        let alg = genesis.suite.hashAlgorithm
        let block = try checkBlock(t.block, genesis)
        try require(t.height == block.header.height, "transaction \(t.txHash) claims height \(t.height), its block is \(block.header.height)")
        let txBytes = try hex(t.transaction, "transaction bytes")
        let id = alg.hash(txBytes)
        try require(Hex.encode(id) == t.txHash, "transaction bytes do not hash to \(t.txHash)")
        var r = CanonicalReader(txBytes)
        let kind: String, signer: String, effectiveDate: String
        do {
            try require(try r.string() == Transaction.domainTag, "transaction bytes lack the certchain/tx/v1 tag")
            try require(try r.string() == genesis.chainId, "transaction \(t.txHash) is for another chain")
            kind = try r.string()
            signer = try r.string()
            _ = try r.u64()
            effectiveDate = try r.string()
        } catch let failure as Failure { throw failure } catch { throw Failure(reason: "transaction bytes are malformed: \(error)") }
        try require(Merkle.verify(leaf: id, index: t.index, count: t.txCount, path: try paths(t.txPath, "txPath"), root: block.header.txRoot, hash: alg),
                    "transaction \(t.txHash) is not at index \(t.index) of block \(t.height)'s txRoot")
        let receiptBytes = try hex(t.receipt, "receipt bytes")
        let receipt: Receipt
        do { receipt = try Receipt.decode(receiptBytes) } catch { throw Failure(reason: "receipt bytes are malformed: \(error)") }
        try require(receipt.txHash == id, "the receipt is for another transaction")
        try require(Merkle.verify(leaf: receiptBytes, index: t.index, count: t.txCount, path: try paths(t.receiptPath, "receiptPath"),
                                  root: block.header.receiptRoot, hash: alg),
                    "the receipt of \(t.txHash) is not at index \(t.index) of block \(t.height)'s receiptRoot")
        return CheckedTransaction(txHash: t.txHash, kind: kind, signer: signer, effectiveDate: effectiveDate, height: t.height, index: t.index,
                                  receipt: receipt, block: block)
    }

    /// The state values, each proven against the state block's stateRoot; returns the values and the checked block.
    static func checkState(_ state: ProofState?, _ genesis: Genesis) throws -> ([String: [UInt8]], [String], CheckedBlock) {
        guard let state else { throw Failure(reason: "the document has no state proof") }
        let block = try checkBlock(state.block, genesis)
        var values: [String: [UInt8]] = [:]
        var keys: [String] = []
        for v in state.values {
            try require(v.proof.key == v.key, "state proof of \(v.proof.key) is given for \(v.key)")
            try require(values[v.key] == nil, "state key \(v.key) appears twice")
            let value = try hex(v.value, "value of \(v.key)")
            try require(v.proof.verify(value: value, stateRoot: block.header.stateRoot, hash: genesis.suite.hashAlgorithm),
                        "the value of \(v.key) is not under the state root of block \(block.header.height)")
            values[v.key] = value
            keys.append(v.key)
        }
        return (values, keys, block)
    }

    static func reference(_ t: CheckedTransaction, equals r: TxReference) -> Bool {
        t.txHash == r.txHash && t.kind == r.kind && t.height == r.height && t.index == r.index && t.effectiveDate == r.effectiveDate && t.signer == r.signer
    }

    static func finality(_ b: CheckedBlock) -> String {
        "final as of height \(b.header.height), block hash \(Hex.encode(b.hash)), signed by \(b.signers.joined(separator: ", "))"
    }

    static func checkCertificate(_ d: ProofDocument, _ given: Data, _ genesis: Genesis) throws -> String {
        let (values, keys, block) = try checkState(d.state, genesis)
        try require(keys.count == 1 && keys[0].hasPrefix("cert/"), "a certificate proof carries exactly one cert/ state value")
        let number = String(keys[0].dropFirst(5))
        let reader = DictionaryStateReader(values)
        guard let view = Ledger.certificate(number: number, in: reader), let record = Ledger.certificateRecord(number: number, in: reader) else {
            throw Failure(reason: "the proven value of \(keys[0]) is not a certificate record")
        }
        try require(try canonicalJSON(encoding: view) == given, "the answer differs from the proven certificate record \(keys[0])")
        try require(d.transactions.count == record.history.count, "the record names \(record.history.count) transactions, the proof carries \(d.transactions.count)")
        for (t, r) in zip(d.transactions, record.history) {
            let checked = try checkTransaction(t, genesis)
            try require(reference(checked, equals: r), "transaction \(t.txHash) does not match the record's reference \(r.txHash)")
            try require(checked.height <= block.header.height, "transaction \(t.txHash) is newer than the state block")
        }
        return "certificate \(number) is \(view.status), \(finality(block)); issued by transaction \(view.issuedAt.txHash) "
            + "(\(view.issuedAt.kind), block \(view.issuedAt.height)); \(d.transactions.count) recorded transaction(s) with receipts proven"
    }

    static func checkHistory(_ d: ProofDocument, _ given: Data, _ genesis: Genesis) throws -> String {
        let (values, keys, block) = try checkState(d.state, genesis)
        guard let certKey = keys.first, certKey.hasPrefix("cert/") else { throw Failure(reason: "a history proof starts with the cert/ state value") }
        let number = String(certKey.dropFirst(5))
        let reader = DictionaryStateReader(values)
        guard let record = Ledger.certificateRecord(number: number, in: reader) else {
            throw Failure(reason: "the proven value of \(certKey) is not a certificate record")
        }
        var needed = [certKey, Ledger.applicationKey(record.applicationId)]
        for line in record.lines where !needed.contains(Ledger.declarationKey(line.line.declarationNo)) {
            needed.append(Ledger.declarationKey(line.line.declarationNo))
        }
        try require(keys == needed, "the history proof must carry exactly \(needed.joined(separator: ", "))")
        let entries = Ledger.history(certificateNumber: number, in: reader)
        try require(try canonicalJSON(encoding: HistoryResponse(certificateNumber: number, entries: entries)) == given,
                    "the answer differs from the history derived from the proven records")
        try require(d.transactions.count == entries.count, "\(entries.count) history entries, \(d.transactions.count) transaction proofs")
        for (t, e) in zip(d.transactions, entries) {
            let checked = try checkTransaction(t, genesis)
            try require(reference(checked, equals: e), "transaction \(t.txHash) does not match history entry \(e.txHash)")
        }
        return "certificate \(number) has \(entries.count) history entries (\(entries.map(\.kind).joined(separator: ", "))), each transaction and receipt "
            + "proven in its block; the list is complete as of height \(block.header.height), block hash \(Hex.encode(block.hash)), signed by "
            + block.signers.joined(separator: ", ")
    }

    static func checkTransaction(_ d: ProofDocument, _ given: Data, _ genesis: Genesis) throws -> String {
        try require(d.state == nil && d.transactions.count == 1, "a transaction proof carries exactly one transaction and no state")
        let t = try checkTransaction(d.transactions[0], genesis)
        let expected = TransactionStatusResponse(txHash: t.txHash, status: "committed", height: t.height, index: t.index, receipt: t.receipt)
        try require(try canonicalJSON(encoding: expected) == given, "the answer differs from the proven transaction and receipt")
        let outcome: String
        switch t.receipt.result {
        case .ok(let refund): outcome = refund.map { "ok, refund \($0.refund)" } ?? "ok"
        case .error(let code, _): outcome = "rejected with \(code.rawValue)"
        }
        return "transaction \(t.txHash) (\(t.kind) by \(t.signer)) is committed at height \(t.height), index \(t.index), receipt \(outcome); "
            + finality(t.block)
    }
}
