import CertChainModel
import Foundation

/// Generates a realistic, deterministic workload (SPEC section 6), like shared/workload/generate.py, streamed to disk.
public struct WorkloadGenerator: Sendable {
    /// What to generate.
    public struct Options: Sendable {
        /// Number of certificates issued on the happy path (re-issued ones after a revocation come on top).
        public var certificates: Int
        /// Seed of the pseudo-random sequence: the same seed gives byte-identical files.
        public var seed: UInt64
        /// Share of business steps that are preceded by a bad request.
        public var badRate: Double
        /// Upper bound on principal enterprises (generate.py uses max(8, N/5) without a bound).
        public var principalCap: Int
        /// Make the first certificate the 2021 pilot's real first one (LED模组, 990 千克, USD 36,408.00).
        public var pilotSeedCertificate: Bool
        /// Memberwise initializer with generate.py's defaults.
        public init(certificates: Int = 2811, seed: UInt64 = 2021, badRate: Double = 0.02, principalCap: Int = 20_000,
                    pilotSeedCertificate: Bool = true) {
            self.certificates = certificates; self.seed = seed; self.badRate = badRate; self.principalCap = principalCap
            self.pilotSeedCertificate = pilotSeedCertificate
        }
    }

    /// Counts of what was written.
    public struct Summary: Sendable, Equatable {
        /// Lines of transactions.jsonl.
        public var transactions: Int
        /// Requests expected to succeed.
        public var accepted: Int
        /// Requests expected to be rejected.
        public var rejected: Int
        /// Certificates issued (revoked ones included).
        public var certificatesIssued: Int
        /// Registered enterprises (agents and principals).
        public var enterprises: Int
        /// Approved refund claims.
        public var refundsApproved: Int
        /// Sum of approved refunds, yuan.
        public var refundTotal: String
        /// Count per `kind` or `kind:error`.
        public var byKind: [String: Int]
    }

    /// The options in use.
    public let options: Options

    /// A generator for `options`.
    public init(options: Options) { self.options = options }

    /// Writes reference.json, transactions.jsonl and expected.json into `directory` (created if needed).
    public func write(to directory: URL) throws -> Summary {
        guard options.certificates >= 1 else { throw ModelError.malformed("--certificates must be at least 1") }
        guard options.badRate >= 0, options.badRate <= 1 else { throw ModelError.malformed("--bad-rate must be within 0…1") }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var reference = JSONBytes(handle: nil)
        WorkloadTables.reference.write(to: &reference, depth: 0)
        try Data(reference.bytes).write(to: directory.appendingPathComponent("reference.json"))
        let txURL = directory.appendingPathComponent("transactions.jsonl")
        let handle = try WorkloadGenerator.create(txURL)
        defer { try? handle.close() }
        let run = GeneratorRun(options: options, output: JSONBytes(handle: handle))
        try run.enterprises()
        try run.certificates()
        try run.claims()
        try run.doubleClaims()
        try run.out.flush()
        let expectedURL = directory.appendingPathComponent("expected.json")
        let expectedHandle = try WorkloadGenerator.create(expectedURL)
        defer { try? expectedHandle.close() }
        var expected = JSONBytes(handle: expectedHandle)
        try run.writeExpected(&expected)
        try expected.flush()
        return run.summary
    }

    /// An empty file opened for writing (replacing any earlier one).
    static func create(_ url: URL) throws -> FileHandle {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw ModelError.malformed("cannot create \(url.path)")
        }
        return try FileHandle(forWritingTo: url)
    }
}

/// One generation run: enterprises, certificates and claims kept compact (integers), requests streamed out.
final class GeneratorRun {
    typealias T = WorkloadTables

    struct Enterprise {
        var taxId: String
        var name: String
        var kind: String
        var bureau: String
        var production: Bool { kind == "production" }
    }

    /// One issued certificate line; quantities in 1/10000 units, money in cents.
    struct Line {
        var quantity: Int64
        var fob: Int64
        var commodity: UInt8
        var customs: UInt8
        var itemNo: UInt16
        var exportDay: Int32
        var declarationSerial: Int32
        var reserved: Int64 = 0
        var consumed: Int64 = 0
        var fobUsed: Int64 = 0
    }

    struct Certificate {
        var serial: Int32
        var principal: Int32
        var agent: Int32
        var issuedDay: Int32
        var currency: UInt8
        var tradeMode: UInt8
        var pilotContract: Bool
        var revoked: Bool
        var contract: Int32
        var lineStart: Int32
        var lineCount: Int32
    }

    /// An application line as written (strings, so that bad variants can alter any field).
    struct ApplicationLine {
        var lineNo: Int
        var declarationNo: String
        var itemNo: Int
        var exportDate: String
        var tradeMode: String
        var hsCode: String
        var goodsName: String
        var unit: String
        var quantity: String
        var currency: String
        var fob: String
        var contractNo: String
    }

    struct ClaimLine {
        var certificateNumber: String
        var lineNo: Int
        var quantity: String
        var invoiceAmount: String?
        /// Index into `lines`, and the claimed quantity in 1/10000 units.
        var line: Int
        var units: Int64
    }

    struct Claim {
        var claimId: String
        var period: String
        var rates: [(String, String)]
        var lines: [ClaimLine]
        var periodEndCredit: String?
    }

    let options: WorkloadGenerator.Options
    var rng: WorkloadRandom
    var out: JSONBytes
    var seq = 0
    var accepted = 0
    var rejected = 0
    var counts: [String: Int] = [:]
    var usedNames = Set<String>()
    var usedTaxIds = Set<String>()
    var agents: [Enterprise] = []
    var principals: [Enterprise] = []
    var certs: [Certificate] = []
    var lines: [Line] = []
    var certsByAgent: [[Int32]] = []
    var declarationSerial: [Int: Int] = [:]
    var usedDeclarations = Set<Int64>()
    var certificateSerial: Int32 = 0
    var refundClaims = 0
    var refundsApproved = 0
    var refundTotal = Decimal(0)
    var exemptCreditTotal = Decimal(0)
    let dateBase = CalendarDate.dayNumber(2019, 1, 1)
    var dateCache: [[UInt8]] = []
    var dateStringCache: [String] = []
    var yearMonthCache: [(Int, Int)] = []
    let refundRates: [Decimal]
    /// Largest gap between consecutive declaration serials: 900 as in generate.py, less when millions keep 9 digits.
    let serialStep: Int
    let vatRates: [Decimal]
    let monthlyRates: [[Decimal]]

    init(options: WorkloadGenerator.Options, output: JSONBytes) {
        self.options = options
        rng = WorkloadRandom(seed: options.seed)
        serialStep = max(1, min(900, 4_000_000_000 / (options.certificates * 13 / 10 + 1)))
        out = output
        refundRates = T.commodities.map { ExactDecimal.stored($0.refundRate) }
        vatRates = T.commodities.map { ExactDecimal.stored($0.vatRate) }
        monthlyRates = T.monthlyRates.map { $0.map(ExactDecimal.stored) }
        dateStringCache = (0..<(366 * 6)).map { CalendarDate.date(dayNumber: dateBase + $0) }
        dateCache = dateStringCache.map { Array($0.utf8) }
        yearMonthCache = dateStringCache.map { let c = CalendarDate.components($0)!; return (c.0, c.1) }
    }

    // MARK: helpers

    func day(_ y: Int, _ m: Int, _ d: Int) -> Int { CalendarDate.dayNumber(y, m, d) }

    func dateBytes(_ day: Int) -> [UInt8] {
        let i = day - dateBase
        return i >= 0 && i < dateCache.count ? dateCache[i] : Array(CalendarDate.date(dayNumber: day).utf8)
    }

    func dateString(_ day: Int) -> String {
        let i = day - dateBase
        return i >= 0 && i < dateStringCache.count ? dateStringCache[i] : CalendarDate.date(dayNumber: day)
    }

    /// (year, month) of a day number.
    func yearMonth(_ day: Int) -> (Int, Int) {
        let i = day - dateBase
        if i >= 0 && i < yearMonthCache.count { return yearMonthCache[i] }
        let c = CalendarDate.components(CalendarDate.date(dayNumber: day))!
        return (c.0, c.1)
    }

    func writeDate(_ day: Int) {
        out.bytes.append(34); out.raw(dateBytes(day)); out.bytes.append(34)
    }

    func bad() -> Bool { rng.chance(options.badRate) }

    func person() -> String {
        var s = rng.pick(T.surnames)
        for _ in 0..<rng.int(1, 2) { s += rng.pick(T.given) }
        return s
    }

    func companyName(_ suffix: String) -> String {
        var attempt = 0
        while true {
            attempt += 1
            var n = suffix == "dg" ? "东莞市" : "深圳市"
            n += rng.pick(T.nameA) + rng.pick(T.nameA)
            // Two-word names run out (28×28×14) long before 20,000 principals: then a third word.
            if attempt > 8 { n += rng.pick(T.nameA) }
            n += suffix == "agent" ? "供应链服务有限公司" : rng.pick(T.nameB) + "有限公司"
            if usedNames.insert(n).inserted { return n }
        }
    }

    func orgCode() -> [UInt8] {
        var body: [UInt8] = []
        for _ in 0..<8 { body.append(T.usccAlphabet[rng.int(0, 30)]) }
        var s = 0
        for (c, w) in zip(body, T.orgCodeWeights) { s += T.orgCodeAlphabet.firstIndex(of: c)! * w }
        let c = 11 - s % 11
        body.append(c == 10 ? UInt8(ascii: "X") : c == 11 ? UInt8(ascii: "0") : UInt8(48 + c))
        return body
    }

    static func usccCheck(_ first17: [UInt8]) -> UInt8 {
        var s = 0
        for (c, w) in zip(first17, T.usccWeights) { s += T.usccAlphabet.firstIndex(of: c)! * w }
        return T.usccAlphabet[(31 - s % 31) % 31]
    }

    /// A fresh valid unified social credit code (never one handed out before in this run).
    func uscc(_ area: String) -> String {
        while true {
            var first17 = Array(("91" + area).utf8)
            first17 += orgCode()
            let code = String(decoding: first17 + [GeneratorRun.usccCheck(first17)], as: UTF8.self)
            if usedTaxIds.insert(code).inserted { return code }
        }
    }

    /// The same code with a wrong check character.
    static func corrupt(_ code: String) -> String {
        var u = Array(code.utf8)
        let i = T.usccAlphabet.firstIndex(of: u[17])!
        u[17] = T.usccAlphabet[(i + 7) % 31]
        return String(decoding: u, as: UTF8.self)
    }

    func certificateNumber(_ serial: Int32) -> String {
        var w = JSONBytes(handle: nil)
        w.raw("4403002021")
        w.digits(UInt64(serial), width: 8)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    func declarationNumber(_ customs: Int, _ year: Int, _ serial: Int) -> String {
        var w = JSONBytes(handle: nil)
        w.raw(T.customsCodes[customs]); w.digits(UInt64(year), width: 4); w.raw("0"); w.digits(UInt64(serial), width: 9)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    static func declarationKey(_ customs: Int, _ year: Int, _ serial: Int) -> Int64 {
        Int64(customs) << 50 | Int64(year) << 32 | Int64(serial)
    }

    // MARK: emitting

    /// Writes one request line; `error` nil means `{"ok":true}`, `refund` writes the approval's expected amounts.
    func emit(_ kind: String, _ signer: String, _ day: Int, error: String? = nil, note: String? = nil,
              refund: ((GeneratorRun) -> Void)? = nil, body: (GeneratorRun) -> Void) throws {
        seq += 1
        out.raw("{\"seq\":"); out.int(seq)
        out.raw(",\"kind\":"); out.string(kind)
        out.raw(",\"signer\":"); out.string(signer)
        out.raw(",\"effectiveDate\":"); writeDate(day)
        out.raw(",\"body\":")
        body(self)
        out.raw(",\"expect\":")
        if let error {
            out.raw("{\"error\":"); out.string(error); out.raw("}")
            rejected += 1
            counts[kind + ":" + error, default: 0] += 1
        } else {
            out.raw("{\"ok\":true")
            if let refund { out.raw(",\"refund\":"); refund(self) }
            out.raw("}")
            accepted += 1
            counts[kind, default: 0] += 1
        }
        if let note { out.raw(",\"note\":"); out.string(note) }
        out.raw("}\n")
        try out.flushIfFull()
    }

    func field(_ k: StaticString, _ v: String, first: Bool = false) {
        if !first { out.bytes.append(44) }
        out.key(k); out.string(v)
    }

    func writeRegistration(_ e: Enterprise) {
        out.raw("{"); field("taxId", e.taxId, first: true); field("name", e.name); field("kind", e.kind); field("bureau", e.bureau)
        out.raw("}")
    }

    func writeApplication(_ id: String, _ principalTaxId: String, _ principalName: String, _ lines: [ApplicationLine]) {
        out.raw("{"); field("applicationId", id, first: true); field("principalTaxId", principalTaxId); field("principalName", principalName)
        out.raw(",\"lines\":[")
        for (i, l) in lines.enumerated() {
            out.raw(i == 0 ? "{" : ",{")
            out.key("lineNo"); out.int(l.lineNo)
            field("declarationNo", l.declarationNo)
            out.raw(",\"itemNo\":"); out.int(l.itemNo)
            field("exportDate", l.exportDate); field("verificationFormNo", ""); field("tradeMode", l.tradeMode)
            field("hsCode", l.hsCode); field("goodsName", l.goodsName); field("unit", l.unit); field("quantity", l.quantity)
            field("currency", l.currency); field("fob", l.fob); field("contractNo", l.contractNo)
            out.raw("}")
        }
        out.raw("]}")
    }

    func writeClaim(_ c: Claim) {
        out.raw("{"); field("claimId", c.claimId, first: true); field("period", c.period)
        out.raw(",\"exchangeRates\":{")
        for (i, (k, v)) in c.rates.enumerated() {
            if i > 0 { out.raw(",") }
            out.string(k); out.raw(":"); out.string(v)
        }
        out.raw("},\"lines\":[")
        for (i, l) in c.lines.enumerated() {
            out.raw(i == 0 ? "{" : ",{")
            field("certificateNumber", l.certificateNumber, first: true)
            out.raw(",\"lineNo\":"); out.int(l.lineNo)
            field("quantity", l.quantity)
            if let a = l.invoiceAmount { field("invoiceAmount", a) }
            out.raw("}")
        }
        out.raw("]")
        if let p = c.periodEndCredit { field("periodEndCredit", p) }
        out.raw("}")
    }

    // MARK: enterprises

    func enterprises() throws {
        let start = day(2021, 1, 4)
        var agentList = [Enterprise(taxId: "91440300595655961F", name: "深圳市一达通供应链服务有限公司", kind: "integratedService", bureau: "sz-tax-2")]
        usedTaxIds.insert(agentList[0].taxId)
        usedNames.insert(agentList[0].name)
        while agentList.count < 12 {
            agentList.append(Enterprise(taxId: uscc(rng.pick(T.areasSZ)), name: companyName("agent"), kind: "integratedService", bureau: "sz-tax-2"))
        }
        let count = min(max(8, options.certificates / 5), max(8, options.principalCap))
        var principalList: [Enterprise] = []
        principalList.reserveCapacity(count)
        for i in 0..<count {
            let dg = i % 4 == 3
            let taxId = uscc(rng.pick(dg ? T.areasDG : T.areasSZ))
            let name = companyName(dg ? "dg" : "sz")
            principalList.append(Enterprise(taxId: taxId, name: name, kind: rng.chance(0.7) ? "production" : "trading",
                                            bureau: dg ? "dg-tax" : "sz-tax-2"))
        }
        agents = agentList
        principals = principalList
        certsByAgent = Array(repeating: [], count: agents.count)
        for e in agents + principals {
            try emit("registerEnterprise", "org:" + e.bureau, start) { $0.writeRegistration(e) }
        }
        for a in agents {
            try emit("fileTradeOperator", "org:sz-commerce", start) { g in
                g.out.raw("{"); g.field("taxId", a.taxId, first: true); g.field("filedOn", g.dateString(start)); g.out.raw("}")
            }
        }
        for _ in 0..<max(1, Int(12 * options.badRate * 10)) {
            let e = Enterprise(taxId: GeneratorRun.corrupt(uscc("440305")), name: companyName("sz"), kind: "production", bureau: "sz-tax-2")
            try emit("registerEnterprise", "org:sz-tax-2", start, error: "invalid-tax-id") { $0.writeRegistration(e) }
        }
        let duplicate = principals[0]
        try emit("registerEnterprise", "org:" + duplicate.bureau, start, error: "duplicate-enterprise") { $0.writeRegistration(duplicate) }
        let stranger = Enterprise(taxId: uscc("440306"), name: companyName("sz"), kind: "production", bureau: "sz-customs")
        try emit("registerEnterprise", "org:sz-customs", start, error: "unauthorized") { $0.writeRegistration(stranger) }
    }

    // MARK: declarations and certificates

    struct Item {
        var commodity: Int
        var quantity: Int64
        var fob: Int64
    }

    func item(_ c: Int) -> Item {
        let row = T.commodities[c]
        let percent = Int64(rng.int(80, 125))
        let quantity: Int64 = row.byWeight ? Int64(rng.int(5000, 900_000)) * 100 : Int64(rng.int(10, 12000)) * 10_000
        // fob = round(quantity × price × percent / 100) in cents: quantity/10^4, price cents → /10^6 overall, half-up.
        let fob = (quantity * row.priceCents * percent + 500_000) / 1_000_000
        return Item(commodity: c, quantity: quantity, fob: fob)
    }

    func quantityText(_ units: Int64, commodity: Int) -> String {
        FixedPoint.quantity(units, fourDecimals: T.commodities[commodity].byWeight)
    }

    /// Records a declaration; returns its customs index and serial.
    func declaration(agent: Int, exportDay: Int, items: ArraySlice<Item>, currency: Int, tradeMode: Int) throws -> (Int, Int) {
        let customs = rng.int(0, T.customsCodes.count - 1)
        let year = yearMonth(exportDay).0
        let key = customs * 10_000 + year
        let serial = (declarationSerial[key] ?? rng.int(100_000_000, 400_000_000)) + rng.int(1, serialStep)
        declarationSerial[key] = serial
        usedDeclarations.insert(GeneratorRun.declarationKey(customs, year, serial))
        let number = declarationNumber(customs, year, serial)
        let consignor = agents[agent].taxId
        try emit("recordDeclaration", "org:sz-customs", exportDay) { g in
            g.out.raw("{"); g.field("declarationNo", number, first: true); g.field("customsCode", T.customsCodes[customs])
            g.out.raw(",\"exportDate\":"); g.writeDate(exportDay)
            g.field("consignorTaxId", consignor); g.field("tradeMode", T.tradeModes[tradeMode].code)
            g.field("currency", T.currencies[currency].code)
            g.out.raw(",\"items\":[")
            for (i, it) in items.enumerated() {
                let row = T.commodities[it.commodity]
                g.out.raw(i == 0 ? "{" : ",{")
                g.field("hsCode", row.hsCode, first: true); g.field("goodsName", row.name); g.field("unit", row.unit)
                g.field("quantity", g.quantityText(it.quantity, commodity: it.commodity))
                g.field("fob", FixedPoint.money(it.fob))
                g.out.raw(",\"itemNo\":"); g.out.int(i + 1)
                g.out.raw("}")
            }
            g.out.raw("]}")
        }
        return (customs, serial)
    }

    func applicationLine(_ l: Line, lineNo: Int, cert: Certificate) -> ApplicationLine {
        let row = T.commodities[Int(l.commodity)]
        let export = dateString(Int(l.exportDay))
        let year = yearMonth(Int(l.exportDay)).0
        return ApplicationLine(lineNo: lineNo, declarationNo: declarationNumber(Int(l.customs), year, Int(l.declarationSerial)),
                               itemNo: Int(l.itemNo), exportDate: export, tradeMode: T.tradeModes[Int(cert.tradeMode)].code,
                               hsCode: row.hsCode, goodsName: row.name, unit: row.unit,
                               quantity: quantityText(l.quantity, commodity: Int(l.commodity)),
                               currency: T.currencies[Int(cert.currency)].code, fob: FixedPoint.money(l.fob),
                               contractNo: (cert.pilotContract ? "YDT" : "HT") + export.prefix(4) + String(cert.contract))
    }

    func certificates() throws {
        let n = options.certificates
        let linesTarget = (n * 6314 * 2 + 2811) / (2 * 2811)
        var remaining = linesTarget
        let tradeModeIndex = Dictionary(uniqueKeysWithValues: T.tradeModes.enumerated().map { ($1.code, $0) })
        certs.reserveCapacity(n + n / 40)
        lines.reserveCapacity(linesTarget + linesTarget / 40)
        for i in 0..<n {
            let left = n - i
            var lineCount = max(1, min(6, (2 * remaining + left) / (2 * left) + [-1, 0, 0, 1][rng.int(0, 3)]))
            if left == 1 { lineCount = max(1, min(99, remaining)) }
            remaining -= lineCount
            let seed = options.pilotSeedCertificate && i == 0
            let agent = seed ? 0 : rng.int(0, agents.count - 1)
            let principal = rng.int(0, principals.count - 1)
            let currency = seed || rng.chance(0.8) ? 0 : rng.int(1, 4)
            let tradeMode = seed || rng.chance(0.75) ? 0 : tradeModeIndex[rng.pick(T.otherTradeModes)]!
            let exportDay = seed ? day(2021, 7, 19) : day(2021, 1, 5) + rng.int(0, 195)
            let items: [Item] = seed ? [Item(commodity: 0, quantity: 9_900_000, fob: 3_640_800)]
                : (0..<lineCount).map { _ in item(rng.pick(T.pool)) }
            let split = items.count > 1 && !seed && rng.chance(0.25)
            let cut = split ? rng.int(1, items.count - 1) : items.count
            var parts: [(customs: Int, serial: Int, day: Int, range: Range<Int>)] = []
            let first = try declaration(agent: agent, exportDay: exportDay, items: items[0..<cut], currency: currency, tradeMode: tradeMode)
            parts.append((first.0, first.1, exportDay, 0..<cut))
            if split {
                let secondDay = exportDay + rng.int(0, 3)
                let second = try declaration(agent: agent, exportDay: secondDay, items: items[cut...], currency: currency, tradeMode: tradeMode)
                parts.append((second.0, second.1, secondDay, cut..<items.count))
            }
            let applyDay = seed ? day(2021, 7, 22) : parts.map(\.day).max()! + rng.int(1, 12)
            let contract = Int32(rng.int(100_000, 999_999))
            var cert = Certificate(serial: 0, principal: Int32(principal), agent: Int32(agent), issuedDay: 0, currency: UInt8(currency),
                                   tradeMode: UInt8(tradeMode), pilotContract: seed, revoked: false, contract: contract,
                                   lineStart: Int32(lines.count), lineCount: Int32(items.count))
            var certLines: [Line] = []
            for p in parts {
                for (k, idx) in p.range.enumerated() {
                    let it = items[idx]
                    certLines.append(Line(quantity: it.quantity, fob: it.fob, commodity: UInt8(it.commodity), customs: UInt8(p.customs),
                                          itemNo: UInt16(k + 1), exportDay: Int32(p.day), declarationSerial: Int32(p.serial)))
                }
            }
            let appLines = certLines.enumerated().map { applicationLine($1, lineNo: $0 + 1, cert: cert) }
            let agentE = agents[agent], principalE = principals[principal]
            let appId = "APP-" + agentE.taxId.suffix(6) + "-" + pad(i + 1, 6)
            if !seed && bad() {
                try badApplication(agent: agent, principal: principal, appId: appId, lines: appLines, day: applyDay, cert: cert)
            }
            try emit("applyCertificate", "ent:" + agentE.taxId, applyDay) { $0.writeApplication(appId, principalE.taxId, principalE.name, appLines) }
            let issueDay = seed ? day(2021, 7, 24) : applyDay + rng.int(0, 4)
            if !seed && rng.chance(0.01) {
                try emit("rejectApplication", "org:sz-tax-2", issueDay) { g in
                    g.out.raw("{"); g.field("applicationId", appId, first: true); g.field("reason", "合同与报关信息不符"); g.out.raw("}")
                }
                continue
            }
            certificateSerial += 1
            let serial = certificateSerial
            let number = certificateNumber(serial)
            let handler = person(), reviewer = person()
            let writeIssue: (String, String, Int) -> (GeneratorRun) -> Void = { app, number, day in
                { g in
                    g.out.raw("{"); g.field("applicationId", app, first: true); g.field("certificateNumber", number)
                    g.field("handler", handler); g.field("handledOn", g.dateString(day)); g.field("reviewer", reviewer)
                    g.field("reviewedOn", g.dateString(day)); g.out.raw("}")
                }
            }
            if !seed && bad() {
                try emit("issueCertificate", "org:dg-tax", issueDay, error: "not-competent-bureau", body: writeIssue(appId, number, issueDay))
            }
            try emit("issueCertificate", "org:sz-tax-2", issueDay, body: writeIssue(appId, number, issueDay))
            if !seed && bad() {
                try emit("issueCertificate", "org:sz-tax-2", issueDay, error: "application-not-pending", body: writeIssue(appId, number, issueDay))
            }
            cert.serial = serial
            cert.issuedDay = Int32(issueDay)
            certsByAgent[agent].append(Int32(certs.count))
            certs.append(cert)
            lines.append(contentsOf: certLines)
            // A few certificates are revoked (nothing claimed yet) and re-applied for: their items are free again.
            if !seed && rng.chance(0.02) {
                let revokeDay = issueDay + rng.int(1, 5)
                try emit("revokeCertificate", "org:sz-tax-2", revokeDay) { g in
                    g.out.raw("{"); g.field("certificateNumber", number, first: true); g.field("reason", "委托方信息填写错误"); g.out.raw("}")
                }
                certs[certs.count - 1].revoked = true
                let appId2 = appId + "R"
                try emit("applyCertificate", "ent:" + agentE.taxId, revokeDay) { $0.writeApplication(appId2, principalE.taxId, principalE.name, appLines) }
                certificateSerial += 1
                let serial2 = certificateSerial
                try emit("issueCertificate", "org:sz-tax-2", revokeDay, body: writeIssue(appId2, certificateNumber(serial2), revokeDay))
                var cert2 = cert
                cert2.serial = serial2
                cert2.issuedDay = Int32(revokeDay)
                cert2.lineStart = Int32(lines.count)
                certsByAgent[agent].append(Int32(certs.count))
                certs.append(cert2)
                lines.append(contentsOf: certLines)
            }
        }
    }

    func pad(_ v: Int, _ width: Int) -> String {
        var w = JSONBytes(handle: nil)
        w.digits(UInt64(v), width: width)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    static let badApplicationKinds = ["mismatch-qty", "mismatch-hs", "unknown-decl", "principal-unknown", "not-consignor",
                                      "bad-decl-number", "duplicate-line", "zero-qty", "precision", "already-certified"]

    func badApplication(agent: Int, principal: Int, appId: String, lines appLines: [ApplicationLine], day: Int, cert: Certificate) throws {
        var kind = rng.pick(GeneratorRun.badApplicationKinds)
        var prior: Int?
        if kind == "already-certified" {
            let mine = certsByAgent[agent]
            for _ in 0..<(mine.isEmpty ? 0 : 10) {
                let c = Int(rng.pick(mine))
                if !certs[c].revoked { prior = c; break }
            }
            if prior == nil { kind = "mismatch-qty" }
        }
        if kind == "duplicate-line" && appLines.count >= 99 { kind = "mismatch-qty" }
        var b = appLines
        var signer = "ent:" + agents[agent].taxId
        var principalTaxId = principals[principal].taxId
        let error: String
        switch kind {
        case "mismatch-qty":
            let q = ExactDecimal.stored(b[0].quantity) + 1
            b[0].quantity = T.commodities.first { $0.hsCode == b[0].hsCode }!.byWeight ? ExactDecimal.string(q, scale: 4) : ExactDecimal.plain(q)
            error = "declaration-mismatch"
        case "mismatch-hs":
            b[0].hsCode = b[0].hsCode != "8517130000" ? "8517130000" : "8471300000"
            error = "declaration-mismatch"
        case "unknown-decl":
            let no = b[0].declarationNo
            let customs = T.customsCodes.firstIndex(of: String(no.prefix(4)))!
            let year = Int(no.dropFirst(4).prefix(4))!
            var serial = Int(no.suffix(9))!
            repeat { serial = (serial + 7) % 1_000_000_000 } while usedDeclarations.contains(GeneratorRun.declarationKey(customs, year, serial))
            b[0].declarationNo = declarationNumber(customs, year, serial)
            error = "declaration-not-found"
        case "principal-unknown":
            principalTaxId = uscc("440305")
            error = "enterprise-not-found"
        case "not-consignor":
            var other = rng.int(0, agents.count - 2)
            if other >= agent { other += 1 }
            signer = "ent:" + agents[other].taxId
            error = "consignor-mismatch"
        case "bad-decl-number":
            var u = Array(b[0].declarationNo.utf8)
            u[8] = UInt8(ascii: "1")  // an import declaration
            b[0].declarationNo = String(decoding: u, as: UTF8.self)
            error = "invalid-declaration-number"
        case "duplicate-line":
            var copy = b[0]
            copy.lineNo = b.count + 1
            b.append(copy)
            error = "duplicate-line"
        case "zero-qty":
            b[0].quantity = "0"
            error = "invalid-quantity"
        case "already-certified":
            let c = certs[prior!]
            b = [applicationLine(lines[Int(c.lineStart)], lineNo: 1, cert: c)]
            error = "declaration-item-certified"
        default:
            b[0].fob += "1"  // three decimals
            error = "invalid-amount"
        }
        let principalName = principals[principal].name
        let body = b
        try emit("applyCertificate", signer, day, error: error, note: kind) { $0.writeApplication(appId + "X", principalTaxId, principalName, body) }
    }

    // MARK: refunds

    func rateText(_ currency: Int, month: Int) -> String { T.monthlyRates[currency][month - 1] }

    func claims() throws {
        var live = (0..<certs.count).filter { !certs[$0].revoked }
        if live.count > 1 {
            for i in stride(from: live.count - 1, to: 0, by: -1) { live.swapAt(i, rng.int(0, i)) }
        }
        var claimNo = 0
        for c in live {
            if rng.chance(0.08) { continue }  // not claimed yet
            let cert = certs[c]
            let principal = principals[Int(cert.principal)]
            let number = certificateNumber(cert.serial)
            let periods = rng.chance(0.15) ? 2 : 1
            for p in 0..<periods {
                claimNo += 1
                let claimDay = Int(cert.issuedDay) + rng.int(3, 40) + 30 * p
                let (year, month) = yearMonth(claimDay)
                var claimLines: [ClaimLine] = []
                for k in 0..<Int(cert.lineCount) {
                    let li = Int(cert.lineStart) + k
                    let l = lines[li]
                    let left = l.quantity - l.reserved - l.consumed
                    if left <= 0 { continue }
                    let weight = T.commodities[Int(l.commodity)].byWeight
                    var q: Int64
                    if periods == 2 && p == 0 {
                        // A first, partial claim: 30–70 %, whole pieces for counted goods.
                        q = l.quantity * Int64(rng.int(30, 70)) / 100
                        if !weight { q -= q % 10_000 }
                        if q <= 0 { continue }
                    } else {
                        q = left
                    }
                    var line = ClaimLine(certificateNumber: number, lineNo: k + 1, quantity: FixedPoint.quantity(q, fourDecimals: weight),
                                         invoiceAmount: nil, line: li, units: q)
                    if !principal.production {
                        let exportMonth = yearMonth(Int(l.exportDay)).1
                        let rate = monthlyRates[Int(cert.currency)][exportMonth - 1]
                        let percent = Decimal(rng.int(80, 95))
                        let fob = FixedPoint.decimal(l.fob, scale: 2), qd = FixedPoint.decimal(q, scale: 4), total = FixedPoint.decimal(l.quantity, scale: 4)
                        line.invoiceAmount = ExactDecimal.string(ExactDecimal.round(fob * qd * rate * percent / (total * 100)))
                    }
                    claimLines.append(line)
                }
                if claimLines.isEmpty { continue }
                let currency = T.currencies[Int(cert.currency)].code
                var claim = Claim(claimId: "CLM-" + principal.taxId.suffix(6) + "-" + pad(claimNo, 6),
                                  period: String(year) + pad(month, 2), rates: [(currency, rateText(Int(cert.currency), month: month))],
                                  lines: claimLines, periodEndCredit: nil)
                if principal.production {
                    claim.periodEndCredit = FixedPoint.money(Int64(rng.int(0, 800_000)) * 100 + Int64(rng.int(0, 99)))
                }
                if bad() { try badClaim(cert: c, claim: claim, day: claimDay) }
                let written = claim
                let principalSigner = "ent:" + principal.taxId
                try emit("claimRefund", principalSigner, claimDay) { $0.writeClaim(written) }
                refundClaims += 1
                for l in claim.lines { lines[l.line].reserved += l.units }
                let decideDay = claimDay + rng.int(1, 6)
                let bureau = "org:" + principal.bureau
                let claimId = claim.claimId
                if rng.chance(0.03) {
                    try emit("rejectRefund", bureau, decideDay) { g in
                        g.out.raw("{"); g.field("claimId", claimId, first: true); g.field("reason", "单证不齐"); g.out.raw("}")
                    }
                    for l in claim.lines { lines[l.line].reserved -= l.units }
                    continue
                }
                let result = computeRefund(claim, production: principal.production, currency: Int(cert.currency))
                try emit("approveRefund", bureau, decideDay, refund: { $0.writeRefund(result) }) { g in
                    g.out.raw("{"); g.field("claimId", claimId, first: true); g.out.raw("}")
                }
                refundsApproved += 1
                refundTotal += ExactDecimal.stored(result.refund)
                exemptCreditTotal += ExactDecimal.stored(result.exemptCredit)
                // After a certificate is claimed, revoking it is refused.
                if bad() {
                    try emit("revokeCertificate", "org:sz-tax-2", decideDay, error: "certificate-in-use") { g in
                        g.out.raw("{"); g.field("certificateNumber", number, first: true); g.field("reason", "误开"); g.out.raw("}")
                    }
                }
            }
        }
    }

    /// SPEC section 5 exactly as generate.py's compute_refund (Foundation Decimal, half-up to 0.01); consumes the claim.
    func computeRefund(_ claim: Claim, production: Bool, currency: Int) -> RefundResult {
        let rate = ExactDecimal.stored(claim.rates[0].1)
        var out: [RefundLine] = []
        var totalECR = Decimal(0), totalNC = Decimal(0), totalRefund = Decimal(0)
        for cl in claim.lines {
            let l = lines[cl.line]
            let fobTotal = FixedPoint.decimal(l.fob, scale: 2)
            let consumedAfter = l.consumed + cl.units
            let share = consumedAfter == l.quantity
                ? fobTotal - FixedPoint.decimal(l.fobUsed, scale: 2)
                : ExactDecimal.mulDivRound(fobTotal, FixedPoint.decimal(cl.units, scale: 4), FixedPoint.decimal(l.quantity, scale: 4))
            lines[cl.line].fobUsed += FixedPoint.cents(share)
            lines[cl.line].consumed = consumedAfter
            lines[cl.line].reserved -= cl.units
            let fobCny = ExactDecimal.round(share * rate)
            let c = Int(l.commodity)
            let rr = refundRates[c], vat = vatRates[c]
            var entry = RefundLine(certificateNumber: cl.certificateNumber, lineNo: cl.lineNo, quantity: cl.quantity,
                                   fob: ExactDecimal.string(share), fobCny: ExactDecimal.string(fobCny), refundRate: T.commodities[c].refundRate)
            if production {
                let ecr = ExactDecimal.round(fobCny * rr)
                let nc = ExactDecimal.round(fobCny * (vat - rr))
                entry.exemptCreditRefund = ExactDecimal.string(ecr)
                entry.nonCreditable = ExactDecimal.string(nc)
                totalECR += ecr
                totalNC += nc
            } else {
                let r = ExactDecimal.round(ExactDecimal.stored(cl.invoiceAmount ?? "0") * rr)
                entry.refund = ExactDecimal.string(r)
                totalRefund += r
            }
            out.append(entry)
        }
        if production {
            let credit = ExactDecimal.stored(claim.periodEndCredit ?? "0")
            let refund = min(credit, totalECR)
            return RefundResult(method: "exemptCreditRefund", lines: out, exemptCreditRefund: ExactDecimal.string(totalECR),
                                nonCreditable: ExactDecimal.string(totalNC), refund: ExactDecimal.string(refund),
                                exemptCredit: ExactDecimal.string(totalECR - refund))
        }
        return RefundResult(method: "exemptRefund", lines: out, exemptCreditRefund: nil, nonCreditable: nil,
                            refund: ExactDecimal.string(totalRefund), exemptCredit: "0.00")
    }

    func writeRefund(_ r: RefundResult) {
        out.raw("{"); field("method", r.method, first: true)
        out.raw(",\"lines\":[")
        for (i, l) in r.lines.enumerated() {
            out.raw(i == 0 ? "{" : ",{")
            field("certificateNumber", l.certificateNumber, first: true)
            out.raw(",\"lineNo\":"); out.int(l.lineNo)
            field("quantity", l.quantity); field("fob", l.fob); field("fobCny", l.fobCny); field("refundRate", l.refundRate)
            if let v = l.exemptCreditRefund { field("exemptCreditRefund", v) }
            if let v = l.nonCreditable { field("nonCreditable", v) }
            if let v = l.refund { field("refund", v) }
            out.raw("}")
        }
        out.raw("]")
        if let v = r.exemptCreditRefund { field("exemptCreditRefund", v) }
        if let v = r.nonCreditable { field("nonCreditable", v) }
        field("refund", r.refund); field("exemptCredit", r.exemptCredit)
        out.raw("}")
    }

    static let badClaimKinds = ["over-quantity", "wrong-principal", "unknown-cert", "duplicate-line", "missing-rate"]

    func badClaim(cert c: Int, claim: Claim, day: Int) throws {
        let cert = certs[c]
        let kind = rng.pick(GeneratorRun.badClaimKinds)
        var b = claim
        b.claimId += "X"
        var signer = "ent:" + principals[Int(cert.principal)].taxId
        let error: String
        switch kind {
        case "over-quantity":
            let l = lines[b.lines[0].line]
            b.lines[0].quantity = FixedPoint.quantity(l.quantity + 10_000, fourDecimals: T.commodities[Int(l.commodity)].byWeight)
            error = "over-consumption"
        case "wrong-principal":
            var other = rng.int(0, principals.count - 2)
            if other >= Int(cert.principal) { other += 1 }
            signer = "ent:" + principals[other].taxId
            error = "principal-mismatch"
        case "unknown-cert":
            b.lines[0].certificateNumber = "440300202199999999"
            error = "certificate-not-found"
        case "duplicate-line":
            b.lines.append(b.lines[0])
            error = "duplicate-line"
        default:
            b.rates = []
            error = "missing-exchange-rate"
        }
        let body = b
        try emit("claimRefund", signer, day, error: error, note: kind) { $0.writeClaim(body) }
    }

    /// Claims against lines already fully consumed, and against revoked certificates.
    func doubleClaims() throws {
        var consumed = (0..<certs.count).filter { c in
            !certs[c].revoked && (0..<Int(certs[c].lineCount)).contains { lines[Int(certs[c].lineStart) + $0].consumed > 0 }
        }
        let sample = min(consumed.count, max(3, consumed.count / 50))
        for i in 0..<sample { consumed.swapAt(i, rng.int(i, consumed.count - 1)) }
        let when = day(2021, 11, 10)
        for c in consumed.prefix(sample) {
            let cert = certs[c]
            guard let k = (0..<Int(cert.lineCount)).first(where: { lines[Int(cert.lineStart) + $0].consumed == lines[Int(cert.lineStart) + $0].quantity })
            else { continue }
            let number = certificateNumber(cert.serial)
            let claim = doubleClaim(cert, lineNo: k + 1, id: "CLM-DUP-" + number)
            try emit("claimRefund", "ent:" + principals[Int(cert.principal)].taxId, when, error: "over-consumption",
                     note: "double refund of a consumed line") { $0.writeClaim(claim) }
        }
        for cert in certs.filter(\.revoked).prefix(5) {
            let claim = doubleClaim(cert, lineNo: 1, id: "CLM-REV-" + certificateNumber(cert.serial))
            try emit("claimRefund", "ent:" + principals[Int(cert.principal)].taxId, when, error: "certificate-revoked",
                     note: "claim on a revoked certificate") { $0.writeClaim(claim) }
        }
    }

    func doubleClaim(_ cert: Certificate, lineNo: Int, id: String) -> Claim {
        let l = lines[Int(cert.lineStart) + lineNo - 1]
        let production = principals[Int(cert.principal)].production
        let line = ClaimLine(certificateNumber: certificateNumber(cert.serial), lineNo: lineNo,
                             quantity: quantityText(l.quantity, commodity: Int(l.commodity)),
                             invoiceAmount: production ? nil : "1000.00", line: Int(cert.lineStart) + lineNo - 1, units: l.quantity)
        return Claim(claimId: id, period: "202111", rates: [(T.currencies[Int(cert.currency)].code, rateText(Int(cert.currency), month: 11))],
                     lines: [line], periodEndCredit: production ? "100000.00" : nil)
    }

    // MARK: expected.json

    func status(_ cert: Certificate) -> String {
        if cert.revoked { return "revoked" }
        let range = Int(cert.lineStart)..<Int(cert.lineStart + cert.lineCount)
        if range.allSatisfy({ lines[$0].consumed == lines[$0].quantity }) { return "consumed" }
        return range.contains { lines[$0].consumed > 0 } ? "partiallyConsumed" : "issued"
    }

    var summary: WorkloadGenerator.Summary {
        WorkloadGenerator.Summary(transactions: seq, accepted: accepted, rejected: rejected, certificatesIssued: certs.count,
                                  enterprises: agents.count + principals.count, refundsApproved: refundsApproved,
                                  refundTotal: ExactDecimal.string(refundTotal), byKind: counts)
    }

    /// expected.json with generate.py's fields and layout (indent 1); the certificate map is streamed.
    func writeExpected(_ w: inout JSONBytes) throws {
        var statusCounts: [String: Int] = [:]
        var live = 0, liveLines = 0
        for c in certs {
            statusCounts[status(c), default: 0] += 1
            if !c.revoked { live += 1; liveLines += Int(c.lineCount) }
        }
        let head: [(String, PrettyJSON)] = [
            ("transactions", .int(seq)), ("accepted", .int(accepted)), ("rejected", .int(rejected)),
            ("byKind", .object(counts.keys.sorted().map { ($0, .int(counts[$0]!)) })),
            ("certificatesIssued", .int(certs.count)), ("certificatesLive", .int(live)), ("certificateLinesLive", .int(liveLines)),
            ("certificateStatus", .object(statusCounts.keys.sorted().map { ($0, .int(statusCounts[$0]!)) })),
            ("refundClaims", .int(refundClaims)), ("refundsApproved", .int(refundsApproved)),
            ("refundTotal", .string(ExactDecimal.string(refundTotal))), ("exemptCreditTotal", .string(ExactDecimal.string(exemptCreditTotal))),
        ]
        var text = JSONBytes(handle: nil)
        PrettyJSON.object(head).write(to: &text, depth: 0)
        text.bytes.removeLast(2)  // "\n}": the certificates follow
        w.raw(text.bytes)
        w.raw(",\n \"certificates\": {")
        for (i, c) in certs.enumerated() {
            w.raw(i == 0 ? "\n  " : ",\n  ")
            w.string(certificateNumber(c.serial))
            w.raw(": {\n   \"status\": "); w.string(status(c))
            w.raw(",\n   \"principalTaxId\": "); w.string(principals[Int(c.principal)].taxId)
            w.raw(",\n   \"agentTaxId\": "); w.string(agents[Int(c.agent)].taxId)
            w.raw(",\n   \"consumed\": {")
            var any = false
            for k in 0..<Int(c.lineCount) {
                let l = lines[Int(c.lineStart) + k]
                guard l.consumed > 0 else { continue }
                w.raw(any ? ",\n    " : "\n    ")
                any = true
                w.string(String(k + 1)); w.raw(": ")
                w.string(quantityText(l.consumed, commodity: Int(l.commodity)))
            }
            w.raw(any ? "\n   }\n  }" : "}\n  }")
            try w.flushIfFull()
        }
        w.raw(certs.isEmpty ? "}\n}" : "\n }\n}")
    }
}
