import CertChainCrypto
import Foundation
import CertChainModel

/// Executes one transaction against the overlay: authorization, formats, then the kind's rules (SPEC section 3).
struct Executor {
    let genesis: Genesis
    let tables: Tables
    var overlay: Overlay
    let tx: Transaction
    let ref: TxReference
    let blockDate: String

    init(genesis: Genesis, tables: Tables, overlay: Overlay, tx: Transaction, ref: TxReference, blockDate: String) {
        self.genesis = genesis; self.tables = tables; self.overlay = overlay; self.tx = tx; self.ref = ref; self.blockDate = blockDate
    }

    // MARK: state access

    func load<T: StateRecord>(_ type: T.Type, _ key: String) -> T? { overlay.record(type, key) }
    mutating func store<T: StateRecord>(_ value: T, _ key: String) { overlay.put(key, record: value) }
    func exists(_ key: String) -> Bool { overlay.exists(key) }

    var stats: LedgerStatistics { load(LedgerStatistics.self, Keys.stats) ?? LedgerStatistics() }

    // MARK: entry point

    /// Runs every check and effect; returns the refund for approvals.
    mutating func run() throws -> RefundResult? {
        guard tx.chainId == genesis.chainId else { throw Rejection(.wrongChain, "transaction is for chain \(tx.chainId), this is \(genesis.chainId)") }
        try authorize()
        try checkEffectiveDate()
        switch tx.body {
        case .registerEnterprise(let b): try validate(b); try register(b)
        case .fileTradeOperator(let b): try validate(b); try fileTradeOperator(b)
        case .recordDeclaration(let b): try validate(b); try recordDeclaration(b)
        case .applyCertificate(let b): try validate(b); try apply(b)
        case .issueCertificate(let b): try validate(b); try issue(b)
        case .rejectApplication(let b): try validate(b); try rejectApplication(b)
        case .revokeCertificate(let b): try validate(b); try revoke(b)
        case .claimRefund(let b): try validate(b); try claim(b)
        case .approveRefund(let b): try text(b.claimId, "claimId"); return try decideClaim(b.claimId, approve: true, reason: nil)
        case .rejectRefund(let b):
            try text(b.claimId, "claimId"); try text(b.reason, "reason")
            _ = try decideClaim(b.claimId, approve: false, reason: b.reason)
        }
        return nil
    }

    // MARK: authorization and dates

    var signerOrg: Organization? { tx.signer.hasPrefix("org:") ? tables.organizations[String(tx.signer.dropFirst(4))] : nil }
    var signerTaxId: String? { tx.signer.hasPrefix("ent:") ? String(tx.signer.dropFirst(4)) : nil }

    func authorize() throws {
        let kind = tx.kind
        if let org = signerOrg {
            let allowed: Set<TransactionKind>
            switch org.role {
            case .taxBureau: allowed = [.registerEnterprise, .issueCertificate, .rejectApplication, .revokeCertificate, .approveRefund, .rejectRefund]
            case .customs: allowed = [.recordDeclaration]
            case .commerce: allowed = [.fileTradeOperator]
            }
            if allowed.contains(kind) { return }
            throw Rejection(.unauthorized, "\(org.role.rawValue) \(org.id) may not sign \(kind.rawValue)")
        }
        if let taxId = signerTaxId, exists(Keys.enterprise(taxId)) {
            if kind == .applyCertificate || kind == .claimRefund { return }
            throw Rejection(.unauthorized, "an enterprise may not sign \(kind.rawValue)")
        }
        throw Rejection(.unauthorized, "signer \(tx.signer) is neither a genesis organization nor a registered enterprise")
    }

    func checkEffectiveDate() throws {
        guard CalendarDate.isValid(tx.effectiveDate) else { throw Rejection(.invalidDate, "effectiveDate \(tx.effectiveDate) is not a calendar date") }
        if genesis.historicalImport { return }
        guard let earliest = CalendarDate.adding(days: -7, to: blockDate) else { throw Rejection(.invalidDate, "block date \(blockDate) is invalid") }
        guard tx.effectiveDate <= blockDate, tx.effectiveDate >= earliest else {
            throw Rejection(.invalidDate, "effectiveDate \(tx.effectiveDate) must be within 7 days up to the block date \(blockDate)")
        }
    }

    // MARK: format helpers (SPEC section 2)

    func text(_ s: String, _ field: String) throws {
        guard Formats.isText(s) else { throw Rejection(.invalidField, "\(field) must be non-empty text of at most 512 characters") }
    }
    func taxId(_ s: String, _ field: String) throws {
        guard TaxID.isValid(s) else { throw Rejection(.invalidTaxId, "\(field) \(s) is not a valid unified social credit code") }
    }
    func date(_ s: String, _ field: String) throws {
        guard CalendarDate.isValid(s) else { throw Rejection(.invalidDate, "\(field) \(s) is not a YYYY-MM-DD calendar date") }
    }
    func declarationNo(_ s: String) throws {
        guard Formats.isDeclarationNumber(s) else { throw Rejection(.invalidDeclarationNumber, "\(s) is not an 18-digit export declaration number") }
    }
    func certificateNo(_ s: String) throws {
        guard Formats.isCertificateNumber(s) else { throw Rejection(.invalidCertificateNumber, "\(s) is not an 18-digit certificate number") }
    }
    func tradeMode(_ s: String) throws {
        guard tables.tradeModes[s] != nil else { throw Rejection(.invalidTradeMode, "trade mode \(s) is not in the genesis table") }
    }
    func currency(_ s: String) throws {
        guard tables.currencies.contains(s) else { throw Rejection(.invalidCurrency, "currency \(s) is not in the genesis table") }
    }
    func hsCode(_ s: String, on date: String) throws {
        guard Formats.isDigits(s, count: 10), tables.commodity(s, on: date, in: genesis) != nil else {
            throw Rejection(.invalidHsCode, "HS code \(s) is not in the commodity table on \(date)")
        }
    }
    @discardableResult
    func quantity(_ s: String) throws -> Decimal {
        guard let q = ExactDecimal.parse(s, maxScale: 4), q > 0 else {
            throw Rejection(.invalidQuantity, "quantity \(s) must be a decimal > 0 with at most 4 decimals")
        }
        return q
    }
    @discardableResult
    func amount(_ s: String, _ field: String, positive: Bool) throws -> Decimal {
        guard let a = ExactDecimal.parse(s, maxScale: 2), !positive || a > 0 else {
            throw Rejection(.invalidAmount, "\(field) \(s) must be a decimal \(positive ? ">" : "≥") 0 with at most 2 decimals")
        }
        return a
    }

    // MARK: formats per kind

    func validate(_ b: RegisterEnterpriseBody) throws {
        try taxId(b.taxId, "taxId")
        try text(b.name, "name")
        guard ["production", "trading", "integratedService"].contains(b.kind) else {
            throw Rejection(.invalidField, "kind must be production, trading or integratedService")
        }
        try text(b.bureau, "bureau")
        let expected = genesis.suite == .sm2sm3 ? 65 : 32
        guard b.publicKey == b.publicKey.lowercased(), let key = Hex.decode(b.publicKey), key.count == expected,
              genesis.suite != .sm2sm3 || key.first == 0x04 else {
            throw Rejection(.invalidPublicKey, "publicKey must be lowercase hex of a \(expected)-byte \(genesis.suite.rawValue) public key")
        }
    }

    func validate(_ b: FileTradeOperatorBody) throws {
        try taxId(b.taxId, "taxId")
        try date(b.filedOn, "filedOn")
    }

    func validate(_ b: RecordDeclarationBody) throws {
        try declarationNo(b.declarationNo)
        guard Formats.isDigits(b.customsCode, count: 4) else { throw Rejection(.invalidField, "customsCode must be 4 digits") }
        guard b.declarationNo.hasPrefix(b.customsCode) else {
            throw Rejection(.invalidDeclarationNumber, "declaration \(b.declarationNo) does not start with customs code \(b.customsCode)")
        }
        try date(b.exportDate, "exportDate")
        try taxId(b.consignorTaxId, "consignorTaxId")
        try tradeMode(b.tradeMode)
        try currency(b.currency)
        guard !b.items.isEmpty, b.items.count <= 999 else { throw Rejection(.invalidItemNumber, "a declaration has 1…999 items") }
        var seen = Set<Int>()
        for item in b.items {
            guard (1...999).contains(item.itemNo), seen.insert(item.itemNo).inserted else {
                throw Rejection(.invalidItemNumber, "itemNo \(item.itemNo) must be 1…999 and unique")
            }
            try hsCode(item.hsCode, on: b.exportDate)
            try text(item.goodsName, "goodsName")
            try text(item.unit, "unit")
            try quantity(item.quantity)
            try amount(item.fob, "fob", positive: true)
        }
    }

    func validate(_ b: ApplyCertificateBody) throws {
        try text(b.applicationId, "applicationId")
        try taxId(b.principalTaxId, "principalTaxId")
        try text(b.principalName, "principalName")
        guard !b.lines.isEmpty, b.lines.count <= 99 else { throw Rejection(.invalidLineNumber, "a certificate has 1…99 lines") }
        for (i, l) in b.lines.enumerated() {
            guard l.lineNo == i + 1 else { throw Rejection(.invalidLineNumber, "lineNo \(l.lineNo) must be \(i + 1): lines are consecutive from 1") }
            try declarationNo(l.declarationNo)
            guard (1...999).contains(l.itemNo) else { throw Rejection(.invalidItemNumber, "itemNo \(l.itemNo) must be 1…999") }
            try date(l.exportDate, "exportDate")
            try tradeMode(l.tradeMode)
            try hsCode(l.hsCode, on: l.exportDate)
            try text(l.goodsName, "goodsName")
            try text(l.unit, "unit")
            try quantity(l.quantity)
            try currency(l.currency)
            try amount(l.fob, "fob", positive: true)
        }
        var seen = Set<String>()
        for l in b.lines where !seen.insert(l.declarationNo + "/" + String(l.itemNo)).inserted {
            throw Rejection(.duplicateLine, "declaration \(l.declarationNo) item \(l.itemNo) appears twice")
        }
    }

    func validate(_ b: IssueCertificateBody) throws {
        try text(b.applicationId, "applicationId")
        try certificateNo(b.certificateNumber)
        try text(b.handler, "handler")
        try date(b.handledOn, "handledOn")
        try text(b.reviewer, "reviewer")
        try date(b.reviewedOn, "reviewedOn")
    }

    func validate(_ b: RejectApplicationBody) throws {
        try text(b.applicationId, "applicationId")
        try text(b.reason, "reason")
    }

    func validate(_ b: RevokeCertificateBody) throws {
        try certificateNo(b.certificateNumber)
        try text(b.reason, "reason")
    }

    func validate(_ b: ClaimRefundBody) throws {
        try text(b.claimId, "claimId")
        guard Formats.isPeriod(b.period) else { throw Rejection(.invalidPeriod, "period \(b.period) must be YYYYMM") }
        for code in b.exchangeRates.keys.sorted(by: keyPrecedes) {
            try currency(code)
            guard let r = ExactDecimal.parse(b.exchangeRates[code]!, maxScale: 6), r > 0 else {
                throw Rejection(.invalidExchangeRate, "exchange rate for \(code) must be a decimal > 0 with at most 6 decimals")
            }
        }
        guard !b.lines.isEmpty, b.lines.count <= 999 else { throw Rejection(.invalidLineNumber, "a claim has 1…999 lines") }
        for l in b.lines {
            try certificateNo(l.certificateNumber)
            guard (1...99).contains(l.lineNo) else { throw Rejection(.invalidLineNumber, "lineNo \(l.lineNo) must be 1…99") }
            try quantity(l.quantity)
            if let a = l.invoiceAmount { try amount(a, "invoiceAmount", positive: false) }
        }
        if let c = b.periodEndCredit { try amount(c, "periodEndCredit", positive: false) }
    }

    // MARK: rules and effects

    mutating func register(_ b: RegisterEnterpriseBody) throws {
        guard let org = signerOrg, b.bureau == org.id else {
            throw Rejection(.notCompetentBureau, "bureau \(b.bureau) must be the signing tax bureau")
        }
        guard !exists(Keys.enterprise(b.taxId)) else { throw Rejection(.duplicateEnterprise, "enterprise \(b.taxId) is already registered") }
        store(EnterpriseRecord(taxId: b.taxId, name: b.name, kind: b.kind, bureau: b.bureau, publicKey: b.publicKey,
                               tradeOperator: false, filedOn: nil, registered: ref, filed: nil), Keys.enterprise(b.taxId))
    }

    mutating func fileTradeOperator(_ b: FileTradeOperatorBody) throws {
        guard var e = load(EnterpriseRecord.self, Keys.enterprise(b.taxId)) else {
            throw Rejection(.enterpriseNotFound, "enterprise \(b.taxId) is not registered")
        }
        e.tradeOperator = true
        e.filedOn = b.filedOn
        e.filed = ref
        store(e, Keys.enterprise(b.taxId))
    }

    mutating func recordDeclaration(_ b: RecordDeclarationBody) throws {
        guard !exists(Keys.declaration(b.declarationNo)) else {
            throw Rejection(.duplicateDeclaration, "declaration \(b.declarationNo) is already recorded")
        }
        guard let e = load(EnterpriseRecord.self, Keys.enterprise(b.consignorTaxId)), e.tradeOperator else {
            throw Rejection(.consignorNotTradeOperator, "consignor \(b.consignorTaxId) is not a registered foreign-trade operator")
        }
        _ = e
        for item in b.items {
            let c = tables.commodity(item.hsCode, on: b.exportDate, in: genesis)!
            guard c.unit == item.unit else {
                throw Rejection(.unitMismatch, "item \(item.itemNo): unit \(item.unit) is not the legal unit \(c.unit) of \(item.hsCode)")
            }
        }
        let items = b.items.map {
            DeclarationItemRecord(itemNo: $0.itemNo, hsCode: $0.hsCode, goodsName: $0.goodsName, unit: $0.unit,
                                  quantity: $0.quantity, fob: $0.fob, heldBy: nil)
        }
        store(DeclarationRecord(declarationNo: b.declarationNo, customsCode: b.customsCode, exportDate: b.exportDate,
                                consignorTaxId: b.consignorTaxId, tradeMode: b.tradeMode, currency: b.currency, items: items,
                                recorded: ref), Keys.declaration(b.declarationNo))
    }

    mutating func apply(_ b: ApplyCertificateBody) throws {
        let agent = signerTaxId!
        guard !exists(Keys.application(b.applicationId)) else {
            throw Rejection(.duplicateApplication, "application \(b.applicationId) already exists")
        }
        guard exists(Keys.enterprise(b.principalTaxId)) else {
            throw Rejection(.enterpriseNotFound, "principal \(b.principalTaxId) is not registered")
        }
        var decls: [String: DeclarationRecord] = [:]
        for l in b.lines {
            guard let d = decls[l.declarationNo] ?? load(DeclarationRecord.self, Keys.declaration(l.declarationNo)) else {
                throw Rejection(.declarationNotFound, "line \(l.lineNo): declaration \(l.declarationNo) is not recorded")
            }
            guard d.consignorTaxId == agent else {
                throw Rejection(.consignorMismatch, "line \(l.lineNo): declaration \(l.declarationNo) was declared by another consignor")
            }
            guard let item = d.items.first(where: { $0.itemNo == l.itemNo }) else {
                throw Rejection(.declarationMismatch, "line \(l.lineNo): declaration \(l.declarationNo) has no item \(l.itemNo)")
            }
            let fields: [(String, String, String)] = [
                ("exportDate", l.exportDate, d.exportDate), ("tradeMode", l.tradeMode, d.tradeMode), ("currency", l.currency, d.currency),
                ("hsCode", l.hsCode, item.hsCode), ("goodsName", l.goodsName, item.goodsName), ("unit", l.unit, item.unit),
                ("quantity", l.quantity, item.quantity), ("fob", l.fob, item.fob),
            ]
            for (name, mine, theirs) in fields where mine != theirs {
                throw Rejection(.declarationMismatch, "line \(l.lineNo): \(name) \(mine) differs from the declaration's \(theirs)")
            }
            if let holder = item.heldBy {
                throw Rejection(.declarationItemCertified, "line \(l.lineNo): declaration \(l.declarationNo) item \(l.itemNo) is held by \(holder)")
            }
            let year = Int(l.exportDate.prefix(4))!
            let deadline = String(year + 1) + "-" + genesis.deadlines.certificateApplication
            guard tx.effectiveDate <= deadline else {
                throw Rejection(.deadlinePassed, "line \(l.lineNo): the application deadline for exports of \(year) was \(deadline)")
            }
            decls[l.declarationNo] = d
        }
        for l in b.lines {
            var d = decls[l.declarationNo]!
            let i = d.items.firstIndex { $0.itemNo == l.itemNo }!
            d.items[i].heldBy = "application:" + b.applicationId
            decls[l.declarationNo] = d
        }
        for no in decls.keys.sorted(by: keyPrecedes) { store(decls[no]!, Keys.declaration(no)) }
        store(ApplicationRecord(applicationId: b.applicationId, agentTaxId: agent, principalTaxId: b.principalTaxId,
                                principalName: b.principalName, lines: b.lines, status: "pending", certificateNumber: nil,
                                reason: nil, applied: ref, decided: nil), Keys.application(b.applicationId))
    }

    func pendingApplication(_ id: String) throws -> (ApplicationRecord, EnterpriseRecord) {
        guard let app = load(ApplicationRecord.self, Keys.application(id)) else {
            throw Rejection(.applicationNotFound, "application \(id) does not exist")
        }
        guard app.status == "pending" else { throw Rejection(.applicationNotPending, "application \(id) is \(app.status)") }
        guard let agent = load(EnterpriseRecord.self, Keys.enterprise(app.agentTaxId)), agent.bureau == signerOrg?.id else {
            throw Rejection(.notCompetentBureau, "\(tx.signer) is not the competent bureau of agent \(app.agentTaxId)")
        }
        return (app, agent)
    }

    mutating func setHolder(_ lines: [CertificateLineInput], to holder: String?) {
        var decls: [String: DeclarationRecord] = [:]
        for l in lines {
            guard var d = decls[l.declarationNo] ?? load(DeclarationRecord.self, Keys.declaration(l.declarationNo)),
                  let i = d.items.firstIndex(where: { $0.itemNo == l.itemNo }) else { continue }
            d.items[i].heldBy = holder
            decls[l.declarationNo] = d
        }
        for no in decls.keys.sorted(by: keyPrecedes) { store(decls[no]!, Keys.declaration(no)) }
    }

    mutating func issue(_ b: IssueCertificateBody) throws {
        var (app, agent) = try pendingApplication(b.applicationId)
        let org = signerOrg!
        guard let prefix = org.certificatePrefix, b.certificateNumber.hasPrefix(prefix) else {
            throw Rejection(.invalidCertificateNumber, "certificate number \(b.certificateNumber) must start with \(org.id)'s prefix \(org.certificatePrefix ?? "-")")
        }
        guard !exists(Keys.certificate(b.certificateNumber)) else {
            throw Rejection(.duplicateCertificateNumber, "certificate number \(b.certificateNumber) is already used")
        }
        let lastExport = app.lines.map(\.exportDate).max() ?? ""
        guard b.handledOn <= b.reviewedOn, b.handledOn >= lastExport else {
            throw Rejection(.invalidDateOrder, "need export dates (latest \(lastExport)) ≤ handledOn \(b.handledOn) ≤ reviewedOn \(b.reviewedOn)")
        }
        let cert = CertificateRecord(certificateNumber: b.certificateNumber, applicationId: app.applicationId, bureau: org.id,
                                     agentTaxId: agent.taxId, agentName: agent.name, principalTaxId: app.principalTaxId,
                                     principalName: app.principalName, handler: b.handler, handledOn: b.handledOn,
                                     reviewer: b.reviewer, reviewedOn: b.reviewedOn,
                                     lines: app.lines.map { CertificateLineRecord(line: $0, reserved: "0", consumed: "0", fobUsed: "0") },
                                     revoked: false, revocationReason: nil, issued: ref, history: [ref])
        store(cert, Keys.certificate(b.certificateNumber))
        app.status = "issued"
        app.certificateNumber = b.certificateNumber
        app.decided = ref
        store(app, Keys.application(app.applicationId))
        setHolder(app.lines, to: "certificate:" + b.certificateNumber)
        var s = stats
        s.certificatesIssued += 1
        s.certificateStatus["issued", default: 0] += 1
        store(s, Keys.stats)
    }

    mutating func rejectApplication(_ b: RejectApplicationBody) throws {
        var (app, _) = try pendingApplication(b.applicationId)
        app.status = "rejected"
        app.reason = b.reason
        app.decided = ref
        store(app, Keys.application(app.applicationId))
        setHolder(app.lines, to: nil)
    }

    mutating func revoke(_ b: RevokeCertificateBody) throws {
        guard var cert = load(CertificateRecord.self, Keys.certificate(b.certificateNumber)) else {
            throw Rejection(.certificateNotFound, "certificate \(b.certificateNumber) does not exist")
        }
        guard cert.bureau == signerOrg?.id else { throw Rejection(.notCompetentBureau, "only the issuing bureau \(cert.bureau) may revoke") }
        guard !cert.revoked else { throw Rejection(.certificateRevoked, "certificate \(b.certificateNumber) is already revoked") }
        for l in cert.lines where ExactDecimal.stored(l.reserved) > 0 || ExactDecimal.stored(l.consumed) > 0 {
            throw Rejection(.certificateInUse, "line \(l.line.lineNo) has quantity reserved or consumed by refund claims")
        }
        let before = cert.status
        cert.revoked = true
        cert.revocationReason = b.reason
        cert.history.append(ref)
        store(cert, Keys.certificate(cert.certificateNumber))
        setHolder(cert.lines.map(\.line), to: nil)
        var s = stats
        s.certificateStatus[before, default: 0] -= 1
        s.certificateStatus["revoked", default: 0] += 1
        store(s, Keys.stats)
    }

    mutating func claim(_ b: ClaimRefundBody) throws {
        let principal = signerTaxId!
        guard !exists(Keys.claim(b.claimId)) else { throw Rejection(.duplicateClaim, "claim \(b.claimId) already exists") }
        var certs: [String: CertificateRecord] = [:]
        var seen = Set<String>()
        for l in b.lines {
            guard let cert = certs[l.certificateNumber] ?? load(CertificateRecord.self, Keys.certificate(l.certificateNumber)) else {
                throw Rejection(.certificateNotFound, "certificate \(l.certificateNumber) does not exist")
            }
            guard !cert.revoked else { throw Rejection(.certificateRevoked, "certificate \(l.certificateNumber) is revoked") }
            guard cert.principalTaxId == principal else {
                throw Rejection(.principalMismatch, "certificate \(l.certificateNumber) names principal \(cert.principalTaxId)")
            }
            guard seen.insert(l.certificateNumber + "/" + String(l.lineNo)).inserted else {
                throw Rejection(.duplicateLine, "certificate \(l.certificateNumber) line \(l.lineNo) is claimed twice")
            }
            guard let line = cert.lines.first(where: { $0.line.lineNo == l.lineNo }) else {
                throw Rejection(.certificateLineNotFound, "certificate \(l.certificateNumber) has no line \(l.lineNo)")
            }
            guard b.exchangeRates[line.line.currency] != nil else {
                throw Rejection(.missingExchangeRate, "no exchange rate for \(line.line.currency)")
            }
            let q = ExactDecimal.stored(l.quantity)
            let left = ExactDecimal.stored(line.line.quantity) - ExactDecimal.stored(line.reserved) - ExactDecimal.stored(line.consumed)
            guard q <= left else {
                throw Rejection(.overConsumption, "certificate \(l.certificateNumber) line \(l.lineNo): \(l.quantity) claimed, \(ExactDecimal.plain(left)) left")
            }
            guard tables.tradeModes[line.line.tradeMode]?.refundable == true else {
                throw Rejection(.nonRefundableTradeMode, "trade mode \(line.line.tradeMode) is not refundable")
            }
            let year = String(line.line.exportDate.prefix(4))
            guard let deadline = genesis.deadlines.refundClaim[year], tx.effectiveDate <= deadline else {
                throw Rejection(.deadlinePassed, "the refund claim deadline for exports of \(year) is \(genesis.deadlines.refundClaim[year] ?? "not set")")
            }
            certs[l.certificateNumber] = cert
        }
        let kind = load(EnterpriseRecord.self, Keys.enterprise(principal))?.kind ?? ""
        if kind == "production" {
            guard b.periodEndCredit != nil else { throw Rejection(.invalidAmount, "a production enterprise's claim needs periodEndCredit") }
        } else {
            for l in b.lines where l.invoiceAmount == nil {
                throw Rejection(.invalidAmount, "a trading enterprise's claim needs invoiceAmount on every line")
            }
        }
        for l in b.lines {
            var cert = certs[l.certificateNumber]!
            let i = cert.lines.firstIndex { $0.line.lineNo == l.lineNo }!
            cert.lines[i].reserved = ExactDecimal.plain(ExactDecimal.stored(cert.lines[i].reserved) + ExactDecimal.stored(l.quantity))
            certs[l.certificateNumber] = cert
        }
        for no in certs.keys.sorted(by: keyPrecedes) {
            var cert = certs[no]!
            cert.history.append(ref)
            store(cert, Keys.certificate(no))
        }
        store(ClaimRecord(claimId: b.claimId, principalTaxId: principal, period: b.period, exchangeRates: b.exchangeRates,
                          lines: b.lines, periodEndCredit: b.periodEndCredit, status: "pending", refund: nil, reason: nil,
                          claimed: ref, decided: nil), Keys.claim(b.claimId))
        var s = stats
        s.refundClaims += 1
        store(s, Keys.stats)
    }

    mutating func decideClaim(_ id: String, approve: Bool, reason: String?) throws -> RefundResult? {
        guard var claim = load(ClaimRecord.self, Keys.claim(id)) else { throw Rejection(.claimNotFound, "claim \(id) does not exist") }
        guard claim.status == "pending" else { throw Rejection(.claimNotPending, "claim \(id) is \(claim.status)") }
        guard let principal = load(EnterpriseRecord.self, Keys.enterprise(claim.principalTaxId)), principal.bureau == signerOrg?.id else {
            throw Rejection(.notCompetentBureau, "\(tx.signer) is not the competent bureau of principal \(claim.principalTaxId)")
        }
        var certs: [String: CertificateRecord] = [:]
        var before: [String: String] = [:]
        for l in claim.lines where certs[l.certificateNumber] == nil {
            let cert = load(CertificateRecord.self, Keys.certificate(l.certificateNumber))!
            certs[l.certificateNumber] = cert
            before[l.certificateNumber] = cert.status
        }
        var result: RefundResult?
        if approve {
            result = computeRefund(claim, principal: principal, certs: &certs)
        } else {
            for l in claim.lines {
                var cert = certs[l.certificateNumber]!
                let i = cert.lines.firstIndex { $0.line.lineNo == l.lineNo }!
                cert.lines[i].reserved = ExactDecimal.plain(ExactDecimal.stored(cert.lines[i].reserved) - ExactDecimal.stored(l.quantity))
                certs[l.certificateNumber] = cert
            }
        }
        var s = stats
        for no in certs.keys.sorted(by: keyPrecedes) {
            var cert = certs[no]!
            cert.history.append(ref)
            store(cert, Keys.certificate(no))
            let after = cert.status
            if after != before[no]! {
                s.certificateStatus[before[no]!, default: 0] -= 1
                s.certificateStatus[after, default: 0] += 1
            }
        }
        if let result {
            s.refundsApproved += 1
            s.refundTotal = ExactDecimal.string(ExactDecimal.stored(s.refundTotal) + ExactDecimal.stored(result.refund))
            s.exemptCreditTotal = ExactDecimal.string(ExactDecimal.stored(s.exemptCreditTotal) + ExactDecimal.stored(result.exemptCredit))
        }
        store(s, Keys.stats)
        claim.status = approve ? "approved" : "rejected"
        claim.refund = result
        claim.reason = reason
        claim.decided = ref
        store(claim, Keys.claim(id))
        return result
    }

    /// SPEC section 5; mirrors generate.py compute_refund. Consumes the reserved quantities in `certs`.
    func computeRefund(_ claim: ClaimRecord, principal: EnterpriseRecord, certs: inout [String: CertificateRecord]) -> RefundResult {
        let production = principal.kind == "production"
        var lines: [RefundLine] = []
        var totalECR = Decimal(0), totalNC = Decimal(0), totalRefund = Decimal(0)
        for l in claim.lines {
            var cert = certs[l.certificateNumber]!
            let i = cert.lines.firstIndex { $0.line.lineNo == l.lineNo }!
            let line = cert.lines[i].line
            let q = ExactDecimal.stored(l.quantity)
            let total = ExactDecimal.stored(line.quantity)
            let fobTotal = ExactDecimal.stored(line.fob)
            let consumedAfter = ExactDecimal.stored(cert.lines[i].consumed) + q
            let fobUsed = ExactDecimal.stored(cert.lines[i].fobUsed)
            let share = consumedAfter == total ? fobTotal - fobUsed : ExactDecimal.mulDivRound(fobTotal, q, total)
            cert.lines[i].fobUsed = ExactDecimal.plain(fobUsed + share)
            cert.lines[i].consumed = ExactDecimal.plain(consumedAfter)
            cert.lines[i].reserved = ExactDecimal.plain(ExactDecimal.stored(cert.lines[i].reserved) - q)
            certs[l.certificateNumber] = cert
            let rate = ExactDecimal.stored(claim.exchangeRates[line.currency] ?? "0")
            let fobCny = ExactDecimal.round(share * rate)
            let commodity = tables.commodity(line.hsCode, on: line.exportDate, in: genesis)
            let vat = ExactDecimal.stored(commodity?.vatRate ?? "0")
            let rrText = commodity?.refundRate ?? "0"
            let rr = ExactDecimal.stored(rrText)
            var entry = RefundLine(certificateNumber: l.certificateNumber, lineNo: l.lineNo, quantity: l.quantity,
                                   fob: ExactDecimal.string(share), fobCny: ExactDecimal.string(fobCny), refundRate: rrText)
            if production {
                let ecr = ExactDecimal.round(fobCny * rr)
                let nc = ExactDecimal.round(fobCny * (vat - rr))
                entry.exemptCreditRefund = ExactDecimal.string(ecr)
                entry.nonCreditable = ExactDecimal.string(nc)
                totalECR += ecr
                totalNC += nc
            } else {
                let r = ExactDecimal.round(ExactDecimal.stored(l.invoiceAmount ?? "0") * rr)
                entry.refund = ExactDecimal.string(r)
                totalRefund += r
            }
            lines.append(entry)
        }
        if production {
            let credit = ExactDecimal.stored(claim.periodEndCredit ?? "0")
            let refund = min(credit, totalECR)
            return RefundResult(method: "exemptCreditRefund", lines: lines, exemptCreditRefund: ExactDecimal.string(totalECR),
                                nonCreditable: ExactDecimal.string(totalNC), refund: ExactDecimal.string(refund),
                                exemptCredit: ExactDecimal.string(totalECR - refund))
        }
        return RefundResult(method: "exemptRefund", lines: lines, exemptCreditRefund: nil, nonCreditable: nil,
                            refund: ExactDecimal.string(totalRefund), exemptCredit: "0.00")
    }
}
