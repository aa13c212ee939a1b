import CertChainCrypto
import CertChainLedger
import CertChainModel
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A proof document with its answer, encoded with sorted keys.
struct ProofResponse<Answer: Encodable>: Encodable {
    var document: ProofDocument
    var answer: Answer

    enum CodingKeys: String, CodingKey { case format, type, chainId, suite, answer, state, transactions }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(document.format, forKey: .format)
        try c.encode(document.type, forKey: .type)
        try c.encode(document.chainId, forKey: .chainId)
        try c.encode(document.suite, forKey: .suite)
        try c.encode(answer, forKey: .answer)
        try c.encodeIfPresent(document.state, forKey: .state)
        try c.encode(document.transactions, forKey: .transactions)
    }
}

extension Node {
    /// `GET /v1/certificates/{number}?proof=true`: the certificate as printed, its record proven at the latest block,
    /// and the transactions recorded in it (issuance, claims, decisions, revocation) with their receipts.
    func certificateProof(number: String) throws -> [UInt8] {
        let (state, values) = try provenState { read in [Ledger.certificateKey(number)] }
        let reader = DictionaryStateReader(values)
        guard let view = Ledger.certificate(number: number, in: reader), let record = Ledger.certificateRecord(number: number, in: reader) else {
            throw ProofRefusal(status: 404, code: "certificate-not-found", message: "no certificate \(number) on this chain")
        }
        let transactions = try record.history.map { try transactionInclusion(hashText: $0.txHash) }
        return try encodeProof(type: "certificate", state: state, transactions: transactions, answer: view)
    }

    /// `GET /v1/certificates/{number}/history?proof=true`: every entry with its transaction's inclusion proof, and the
    /// certificate, application and declaration records (latest block) from which the list is derived.
    func historyProof(number: String) throws -> [UInt8] {
        let (state, values) = try provenState { read in
            let certKey = Ledger.certificateKey(number)
            guard let record = Ledger.certificateRecord(number: number, in: DictionaryStateReader(read([certKey]))) else { return [certKey] }
            var keys = [certKey, Ledger.applicationKey(record.applicationId)]
            for line in record.lines where !keys.contains(Ledger.declarationKey(line.line.declarationNo)) {
                keys.append(Ledger.declarationKey(line.line.declarationNo))
            }
            return keys
        }
        let reader = DictionaryStateReader(values)
        guard Ledger.certificateRecord(number: number, in: reader) != nil else {
            throw ProofRefusal(status: 404, code: "certificate-not-found", message: "no certificate \(number) on this chain")
        }
        let entries = Ledger.history(certificateNumber: number, in: reader)
        let transactions = try entries.map { try transactionInclusion(hashText: $0.txHash) }
        return try encodeProof(type: "history", state: state, transactions: transactions,
                               answer: HistoryResponse(certificateNumber: number, entries: entries))
    }

    /// `GET /v1/transactions/{hash}?proof=true`: the committed transaction's status and receipt with their inclusion proof.
    func transactionProof(hashText: String) throws -> [UInt8] {
        guard let id = Hex.decode(hashText), id.count == hashAlgorithm.digestBytes else {
            throw ProofRefusal(status: 400, code: "invalid-hash", message: "\(hashText) is not a \(hashAlgorithm.digestBytes)-byte lowercase hex hash")
        }
        guard (try store.transactionLocation(hash: id)) != nil else {
            if mempool.contains(id) {
                throw ProofRefusal(status: 409, code: "not-committed", message: "transaction \(hashText) is pending; a proof exists once it is committed")
            }
            throw ProofRefusal(status: 404, code: "transaction-not-found", message: "transaction \(hashText) is neither committed nor pending here")
        }
        let inclusion = try transactionInclusion(hashText: Hex.encode(id))
        let receipt = try Receipt.decode(Hex.decode(inclusion.receipt) ?? [])
        return try encodeProof(type: "transaction", state: nil, transactions: [inclusion],
                               answer: TransactionStatusResponse(txHash: inclusion.txHash, status: "committed", height: inclusion.height,
                                                                 index: inclusion.index, receipt: receipt))
    }

    func encodeProof<A: Encodable>(type: String, state: ProofState?, transactions: [ProofTransaction], answer: A) throws -> [UInt8] {
        let document = ProofDocument(type: type, chainId: genesis.chainId, suite: suite.rawValue, state: state, transactions: transactions)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
        return Array(try encoder.encode(ProofResponse(document: document, answer: answer)))
    }

    /// The header and commit certificate of the stored block at `height`.
    func proofBlock(height: UInt64) throws -> (ProofBlock, Block) {
        guard let bytes = try store.blockBytes(height: height), let certificateBytes = try store.certificateBytes(height: height) else {
            throw ProofRefusal(status: 404, code: "block-not-found", message: "block \(height) is not stored here")
        }
        let block = try Block.decode(bytes)
        let certificate = try CommitCertificate.decode(certificateBytes)
        return (ProofBlock(header: block.header, hash: block.header.hash(hashAlgorithm), certificate: certificate), block)
    }

    /// Inclusion of a committed transaction and its receipt in their block: O(block size).
    func transactionInclusion(hashText: String) throws -> ProofTransaction {
        guard let id = Hex.decode(hashText), let location = try store.transactionLocation(hash: id) else {
            throw ProofRefusal(status: 404, code: "transaction-not-found", message: "transaction \(hashText) is not committed here")
        }
        let (proofBlock, block) = try proofBlock(height: location.height)
        let ids = block.transactionIds(hashAlgorithm)
        guard location.index < ids.count, ids[location.index] == id else {
            throw ProofRefusal(status: 500, code: "internal", message: "the transaction index disagrees with block \(location.height)")
        }
        var receipts: [[UInt8]] = []
        for txId in ids {
            guard let bytes = try store.receiptBytes(txHash: txId) else {
                throw ProofRefusal(status: 500, code: "internal", message: "a receipt of block \(location.height) is missing")
            }
            receipts.append(bytes)
        }
        return ProofTransaction(
            txHash: Hex.encode(id), transaction: Hex.encode(block.transactions[location.index].transaction.signingBytes),
            height: location.height, index: location.index, txCount: ids.count,
            txPath: Merkle.proof(index: location.index, leaves: ids, hash: hashAlgorithm).map(Hex.encode),
            receipt: Hex.encode(receipts[location.index]),
            receiptPath: Merkle.proof(index: location.index, leaves: receipts, hash: hashAlgorithm).map(Hex.encode),
            block: proofBlock)
    }

    /// Values of `keys` proven against the state root of the latest committed block.
    ///
    /// The driver publishes the state commitment (the bucket tree, copy-on-write) after each commit; values and
    /// bucket entries come from the store's reader connections. A value is used only if its hash is its entry in a
    /// bucket that hashes to the snapshot's leaf, so a commit racing the read (store already one block ahead) is
    /// detected and the read is retried.
    /// `keys` receives a reader of already-checked values so that later keys may depend on earlier values.
    func provenState(keys: (_ read: ([String]) -> [String: [UInt8]]) throws -> [String]) throws -> (ProofState, [String: [UInt8]]) {
        for attempt in 0..<50 {
            if attempt > 0 { usleep(2_000) }
            guard let latest = latestState.value else {
                throw ProofRefusal(status: 409, code: "no-blocks", message: "no block is committed yet; there is nothing to prove against")
            }
            var consistent = true
            var values: [String: [UInt8]] = [:]
            var proofs: [String: StateProof] = [:]
            func read(_ wanted: [String]) -> [String: [UInt8]] {
                var out: [String: [UInt8]] = [:]
                for key in wanted {
                    let value = (try? store.stateValue(key: key)) ?? nil
                    let entries = (try? store.stateBucketEntries(latest.state.bucket(of: key))) ?? []
                    if value.map(hashAlgorithm.hash) == entries.first(where: { $0.key == key })?.valueHash,
                       let proof = latest.state.proof(forKey: key, entries: entries) {
                        proofs[key] = proof
                    } else {
                        consistent = false
                    }
                    if let value { out[key] = value; values[key] = value }
                }
                return out
            }
            let wanted = try keys(read)
            _ = read(wanted.filter { values[$0] == nil })
            guard consistent else { continue }
            let (block, _) = try proofBlock(height: latest.height)
            guard block.header.stateRoot == Hex.encode(latest.state.root) else { continue }
            let proven = wanted.compactMap { key in
                values[key].flatMap { value in proofs[key].map { ProofState.Value(key: key, value: Hex.encode(value), proof: $0) } }
            }
            return (ProofState(block: block, values: proven), values)
        }
        throw ProofRefusal(status: 503, code: "busy", message: "the state kept changing while the proof was read; retry")
    }
}
