import CertChainLedger
import Foundation

/// Renders API answers the way a tax officer reads them: the certificate laid out like the paper
/// form 《代理出口货物证明》, and a certificate's history as a timeline.
public enum PaperForm {
    /// Lines of goods printed on one page of the paper form.
    public static let linesPerPage = 8

    static let statusNames = [
        "issued": "已开具 issued", "partiallyConsumed": "部分使用 partially consumed", "consumed": "已使用 consumed", "revoked": "已作废 revoked",
    ]

    /// The certificate JSON of `GET /v1/certificates/{number}` as the printed form, page by page.
    public static func render(certificateJSON: [UInt8]) throws -> String {
        render(try JSONDecoder().decode(CertificateView.self, from: Data(certificateJSON)))
    }

    /// The certificate as the printed form: header, parties, goods lines, 合计, review box, status.
    public static func render(_ view: CertificateView) -> String {
        let pages = max(1, (view.lines.count + linesPerPage - 1) / linesPerPage)
        var out: [String] = []
        let rule = String(repeating: "─", count: 78)
        for page in 0..<pages {
            out.append(centered("代理出口货物证明", width: 78))
            out.append(centered("Certificate of Agency Export of Goods", width: 78))
            out.append(pad("", 50) + "编号 No. \(view.certificateNumber)")
            out.append("受托企业 (agent)      \(view.agent.name)")
            out.append("  纳税人识别号        \(view.agent.taxId)")
            out.append("委托企业 (principal)  \(view.principal.name)")
            out.append("  纳税人识别号        \(view.principal.taxId)")
            out.append(rule)
            let slice = view.lines.dropFirst(page * linesPerPage).prefix(linesPerPage)
            for line in slice {
                out.append(
                    "\(pad(String(line.lineNo), 3)) \(line.goodsName)  商品代码 \(line.hsCode)  \(line.quantity) \(line.unit)  \(line.currency) \(line.fob)")
                out.append(
                    "    报关单号 \(line.declarationNo)-\(line.itemNo)  出口日期 \(line.exportDate)  贸易方式 \(line.tradeMode)  合同号 \(line.contractNo)"
                        + (line.verificationFormNo.map { $0.isEmpty ? "" : "  核销单号 \($0)" } ?? ""))
                out.append("    已申报待退 claimPending \(line.claimPending)  已使用 consumed \(line.consumed)  剩余 remaining \(line.remaining)")
            }
            if page == pages - 1 {
                out.append(rule)
                let quantities = view.quantityTotals.map { "\($0.total) \($0.unit ?? "")" }.joined(separator: "; ")
                let amounts = view.fobTotals.map { "\($0.currency ?? "") \($0.total)" }.joined(separator: "; ")
                out.append("合计 (totals)   数量 \(quantities)   出口额 \(amounts)")
                out.append(rule)
                out.append("税务机关审核意见 (review)   签发机关 \(view.bureau)")
                out.append("  经办人 handler  \(view.handler)  \(view.handledOn)      复核人 reviewer  \(view.reviewer)  \(view.reviewedOn)")
                out.append("状态 status: \(statusNames[view.status] ?? view.status)" + (view.revocationReason.map { "  作废原因 \($0)" } ?? ""))
                out.append(
                    "issued in block \(view.issuedAt.height), transaction \(view.issuedAt.txHash), application \(view.applicationId)")
            }
            out.append(pad("", 62) + "第 \(page + 1) 页 共 \(pages) 页")
            if page < pages - 1 { out.append("") }
        }
        return out.joined(separator: "\n")
    }

    /// The history JSON of `GET /v1/certificates/{number}/history` as a timeline, oldest first.
    public static func renderHistory(_ json: [UInt8]) throws -> String {
        struct History: Decodable {
            var certificateNumber: String
            var entries: [HistoryEntry]
        }
        let history = try JSONDecoder().decode(History.self, from: Data(json))
        var out = ["history of certificate \(history.certificateNumber) (\(history.entries.count) transactions)"]
        for entry in history.entries {
            out.append("\(entry.effectiveDate)  block \(pad(String(entry.height), 6)) #\(pad(String(entry.index), 3))  \(pad(entry.kind, 18)) \(entry.signer)  tx \(entry.txHash)")
        }
        return out.joined(separator: "\n")
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    static func centered(_ text: String, width: Int) -> String {
        let displayWidth = text.unicodeScalars.reduce(0) { $0 + ($1.value > 0x2E80 ? 2 : 1) }
        return String(repeating: " ", count: max(0, (width - displayWidth) / 2)) + text
    }
}
