import CertChainCrypto
import CertChainLedger
import CertChainModel
import Foundation

/// `certchain trace NUMBER`: a certificate's provenance for an auditor, from the customs declarations to the
/// refunds that consumed it, built from API reads (the certificate, its history, the blocks that hold each
/// transaction) — each step with its transaction id, block height, date, signer and where to fetch its proof.
public enum ProvenanceTrace {
    /// Reads what the trace needs through `get` (a signed GET returning the body) and renders it as text; `options`
    /// (` --api URL --keys DIR`, shell-quoted) follow each printed proof command so that it can be pasted as it is.
    public static func render(number: String, options: String = "", get: (String) throws -> [UInt8]) throws -> String {
        let decoder = JSONDecoder()
        let certificate = try decoder.decode(CertificateView.self, from: Data(try get("/v1/certificates/\(number)")))
        struct History: Decodable { var entries: [HistoryEntry] }
        let history = try decoder.decode(History.self, from: Data(try get("/v1/certificates/\(number)/history")))
        var blocks: [UInt64: BlockResponse] = [:]
        // Blocks give commit times, signers and bodies; an enterprise may not read them (organizations and auditors
        // only): the trace then goes on without those details and says why.
        var blocksUnreadable: String?
        for height in Set(history.entries.map(\.height)).sorted() where blocksUnreadable == nil {
            do {
                blocks[height] = try decoder.decode(BlockResponse.self, from: Data(try get("/v1/blocks/\(height)?receipts=true&transactions=true")))
            } catch {
                blocksUnreadable = "\(error)"
            }
        }
        var out: [String] = []
        out.append("provenance of certificate \(number): \(PaperForm.statusNames[certificate.status] ?? certificate.status)")
        out.append("  agent \(certificate.agent.name) \(certificate.agent.taxId); principal \(certificate.principal.name) \(certificate.principal.taxId)")
        for line in certificate.lines {
            out.append(
                "  line \(line.lineNo): declaration \(line.declarationNo) item \(line.itemNo), \(line.goodsName) \(line.quantity) \(line.unit), "
                    + "\(line.currency) \(line.fob); claim pending \(line.claimPending), consumed \(line.consumed), remaining \(line.remaining)")
        }
        if let blocksUnreadable {
            out.append("  (without block details — commit times, signers, bodies, refund lines: \(blocksUnreadable))")
        }
        for entry in history.entries {
            out.append("")
            out.append("\(entry.effectiveDate)  \(entry.kind)  by \(entry.signer)  block \(entry.height) #\(entry.index)")
            out.append("    tx \(entry.txHash)   proof: certchain get '/v1/transactions/\(entry.txHash)?proof=true'\(options)")
            guard let block = blocks[entry.height], let position = block.transactions.firstIndex(of: entry.txHash) else { continue }
            let time = Date(timeIntervalSince1970: Double(block.header.timestampMs) / 1000)
            out.append("    committed \(ISO8601DateFormatter().string(from: time)) in block \(block.hash.prefix(16))… signed by \(block.commitCertificate.signatures.map(\.validator).joined(separator: ", "))")
            if let transaction = block.signedTransactions?[safe: position] {
                out.append(contentsOf: details(transaction.transaction.body, number: number).map { "    " + $0 })
            }
            if let receipt = block.receipts?[safe: position], case .ok(let refund?) = receipt.result {
                out.append("    refund (\(refund.method)): \(refund.refund) CNY, exempt credit \(refund.exemptCredit)")
                for line in refund.lines where line.certificateNumber == number {
                    out.append("      line \(line.lineNo): quantity \(line.quantity), FOB \(line.fob), CNY \(line.fobCny) at rate \(line.refundRate)")
                }
            }
        }
        // A revoked certificate's declaration items may have been certified again: name the replacement.
        if certificate.status == "revoked" {
            var replacements = Set<String>()
            for declaration in Set(certificate.lines.map(\.declarationNo)) {
                if let body = try? get("/v1/certificates?declaration=\(declaration)&limit=50"),
                    let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
                    let items = object["items"] as? [[String: Any]]
                {
                    for item in items {
                        if let other = item["certificateNumber"] as? String, other != number { replacements.insert(other) }
                    }
                }
            }
            out.append("")
            out.append(replacements.isEmpty ? "not replaced (yet)" : "replaced by certificate \(replacements.sorted().joined(separator: ", "))")
        }
        return out.joined(separator: "\n")
    }

    /// The business fields of one step, as a person reads them.
    static func details(_ body: TransactionBody, number: String) -> [String] {
        switch body {
        case .recordDeclaration(let b):
            return ["customs declaration \(b.declarationNo) (\(b.customsCode)), exported \(b.exportDate) by \(b.consignorTaxId), \(b.items.count) items"]
        case .applyCertificate(let b):
            return ["application \(b.applicationId) for principal \(b.principalName) \(b.principalTaxId), \(b.lines.count) lines"]
        case .issueCertificate(let b):
            return ["issued as \(b.certificateNumber): handler \(b.handler) (\(b.handledOn)), reviewer \(b.reviewer) (\(b.reviewedOn))"]
        case .rejectApplication(let b):
            return ["application \(b.applicationId) rejected: \(b.reason)"]
        case .revokeCertificate(let b):
            return ["revoked: \(b.reason)"]
        case .claimRefund(let b):
            let lines = b.lines.filter { $0.certificateNumber == number }.map { "line \($0.lineNo) reserves \($0.quantity)" }
            return ["claim \(b.claimId) for period \(b.period): \(lines.joined(separator: ", "))"]
        case .approveRefund(let b):
            return ["claim \(b.claimId) approved"]
        case .rejectRefund(let b):
            return ["claim \(b.claimId) rejected: \(b.reason)"]
        case .registerEnterprise, .fileTradeOperator:
            return []
        }
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
