import Foundation
import CertChainCrypto

/// One line of a refund computation (SPEC section 5), shaped like the workload's `expect.refund.lines`.
public struct RefundLine: Sendable, Equatable, Codable {
    public var certificateNumber: String
    public var lineNo: Int
    public var quantity: String
    public var fob: String
    public var fobCny: String
    public var refundRate: String
    public var exemptCreditRefund: String?
    public var nonCreditable: String?
    public var refund: String?
    /// Memberwise initializer.
    public init(certificateNumber: String, lineNo: Int, quantity: String, fob: String, fobCny: String, refundRate: String,
                exemptCreditRefund: String? = nil, nonCreditable: String? = nil, refund: String? = nil) {
        self.certificateNumber = certificateNumber; self.lineNo = lineNo; self.quantity = quantity; self.fob = fob
        self.fobCny = fobCny; self.refundRate = refundRate; self.exemptCreditRefund = exemptCreditRefund
        self.nonCreditable = nonCreditable; self.refund = refund
    }
}

/// The refund computed when a claim is approved.
public struct RefundResult: Sendable, Equatable, Codable {
    /// `exemptCreditRefund` (production, 免抵退) or `exemptRefund` (trading, 免退).
    public var method: String
    public var lines: [RefundLine]
    public var exemptCreditRefund: String?
    public var nonCreditable: String?
    public var refund: String
    public var exemptCredit: String
    /// Memberwise initializer.
    public init(method: String, lines: [RefundLine], exemptCreditRefund: String?, nonCreditable: String?, refund: String, exemptCredit: String) {
        self.method = method; self.lines = lines; self.exemptCreditRefund = exemptCreditRefund; self.nonCreditable = nonCreditable
        self.refund = refund; self.exemptCredit = exemptCredit
    }

    func write(to w: inout CanonicalWriter) {
        w.string(method)
        w.array(lines) { w, l in
            w.string(l.certificateNumber); w.int(l.lineNo); w.string(l.quantity); w.string(l.fob); w.string(l.fobCny)
            w.string(l.refundRate); w.optionalString(l.exemptCreditRefund); w.optionalString(l.nonCreditable); w.optionalString(l.refund)
        }
        w.optionalString(exemptCreditRefund); w.optionalString(nonCreditable); w.string(refund); w.string(exemptCredit)
    }

    static func read(from r: inout CanonicalReader) throws -> RefundResult {
        RefundResult(method: try r.string(),
                     lines: try r.array { r in
                         RefundLine(certificateNumber: try r.string(), lineNo: try r.int(), quantity: try r.string(), fob: try r.string(),
                                    fobCny: try r.string(), refundRate: try r.string(), exemptCreditRefund: try r.optionalString(),
                                    nonCreditable: try r.optionalString(), refund: try r.optionalString())
                     },
                     exemptCreditRefund: try r.optionalString(), nonCreditable: try r.optionalString(),
                     refund: try r.string(), exemptCredit: try r.string())
    }
}

/// Outcome of one transaction: ok (with the refund for approvals) or an error code.
public enum ReceiptResult: Sendable, Equatable, Codable {
    case ok(refund: RefundResult?)
    case error(code: ErrorCode, message: String)

    enum CodingKeys: String, CodingKey { case ok, refund, error, message }

    /// True for ok.
    public var isOK: Bool { if case .ok = self { return true } else { return false } }
    /// The error code, if any.
    public var errorCode: ErrorCode? { if case .error(let c, _) = self { return c } else { return nil } }

    /// Decodes `{"ok":true,"refund":{...}}` or `{"error":"code","message":"..."}`.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let code = try c.decodeIfPresent(ErrorCode.self, forKey: .error) {
            self = .error(code: code, message: try c.decodeIfPresent(String.self, forKey: .message) ?? "")
        } else {
            self = .ok(refund: try c.decodeIfPresent(RefundResult.self, forKey: .refund))
        }
    }

    /// Encodes the JSON form.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .ok(let refund):
            try c.encode(true, forKey: .ok)
            try c.encodeIfPresent(refund, forKey: .refund)
        case .error(let code, let message):
            try c.encode(code, forKey: .error)
            try c.encode(message, forKey: .message)
        }
    }
}

/// The deterministic receipt of one ordered transaction.
public struct Receipt: Sendable, Equatable, Codable {
    public var txHash: [UInt8]
    public var result: ReceiptResult

    /// Memberwise initializer.
    public init(txHash: [UInt8], result: ReceiptResult) { self.txHash = txHash; self.result = result }

    /// Canonical binary form: txHash, tag 0 = ok (+ optional refund) / 1 = error (+ code, message).
    public func encode() -> [UInt8] {
        var w = CanonicalWriter()
        w.byteString(txHash)
        switch result {
        case .ok(let refund):
            w.u8(0)
            if let refund { w.u8(1); refund.write(to: &w) } else { w.u8(0) }
        case .error(let code, let message):
            w.u8(1); w.string(code.rawValue); w.string(message)
        }
        return w.bytes
    }

    /// Decodes the canonical binary form.
    public static func decode(_ bytes: [UInt8]) throws -> Receipt {
        var r = CanonicalReader(bytes)
        let hash = try r.byteString()
        let result: ReceiptResult
        switch try r.u8() {
        case 0: result = .ok(refund: try r.bool() ? try RefundResult.read(from: &r) : nil)
        case 1:
            let name = try r.string()
            guard let code = ErrorCode(rawValue: name) else { throw ModelError.malformed("unknown error code \(name)") }
            result = .error(code: code, message: try r.string())
        default: throw ModelError.malformed("receipt tag")
        }
        try r.finish()
        return Receipt(txHash: hash, result: result)
    }

    /// Merkle root over the canonical receipts (the header's receiptRoot).
    public static func root(_ receipts: [Receipt], _ alg: HashAlgorithm) -> [UInt8] {
        Merkle.root(leaves: receipts.map { $0.encode() }, hash: alg)
    }

    enum CodingKeys: String, CodingKey { case txHash }
    /// Decodes the JSON form: `txHash` hex plus the result fields.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        guard let h = Hex.decode(try c.decode(String.self, forKey: .txHash)) else {
            throw DecodingError.dataCorruptedError(forKey: .txHash, in: c, debugDescription: "not hex")
        }
        txHash = h
        result = try ReceiptResult(from: decoder)
    }
    /// Encodes the JSON form.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Hex.encode(txHash), forKey: .txHash)
        try result.encode(to: encoder)
    }

    /// Compares with a workload expectation: ok vs error code, and every refund amount by value to the cent; nil if it matches.
    public func mismatch(against expect: WorkloadExpect) -> String? {
        result.mismatch(against: expect)
    }
}

extension ReceiptResult {
    /// Compares with a workload expectation; nil if it matches, else a description of the first difference.
    public func mismatch(against expect: WorkloadExpect) -> String? {
        switch self {
        case .error(let code, let message):
            if let e = expect.error { return e == code.rawValue ? nil : "expected error \(e), got \(code.rawValue): \(message)" }
            return "expected ok, got \(code.rawValue): \(message)"
        case .ok(let refund):
            if let e = expect.error { return "expected error \(e), got ok" }
            guard let want = expect.refund else { return nil }
            guard let got = refund else { return "expected a refund, got none" }
            return RefundResult.compare(got, want)
        }
    }
}

extension RefundResult {
    static func same(_ a: String?, _ b: String?) -> Bool {
        switch (a, b) {
        case (nil, nil): return true
        case (let x?, let y?):
            guard let dx = ExactDecimal.parse(x, maxScale: 8), let dy = ExactDecimal.parse(y, maxScale: 8) else { return x == y }
            return ExactDecimal.round(dx, scale: 2) == ExactDecimal.round(dy, scale: 2)
        default: return false
        }
    }

    /// First difference between a computed and an expected refund, or nil.
    public static func compare(_ got: RefundResult, _ want: RefundResult) -> String? {
        if got.method != want.method { return "method \(got.method) != \(want.method)" }
        if got.lines.count != want.lines.count { return "\(got.lines.count) lines != \(want.lines.count)" }
        for (g, w) in zip(got.lines, want.lines) {
            if g.certificateNumber != w.certificateNumber || g.lineNo != w.lineNo { return "line identity \(g.certificateNumber)/\(g.lineNo)" }
            let pairs: [(String, String?, String?)] = [("fob", g.fob, w.fob), ("fobCny", g.fobCny, w.fobCny), ("refundRate", g.refundRate, w.refundRate),
                                                       ("exemptCreditRefund", g.exemptCreditRefund, w.exemptCreditRefund),
                                                       ("nonCreditable", g.nonCreditable, w.nonCreditable), ("refund", g.refund, w.refund)]
            for (name, a, b) in pairs where !same(a, b) {
                return "line \(g.lineNo) \(name): \(a ?? "nil") != \(b ?? "nil")"
            }
            if let gq = ExactDecimal.parse(g.quantity, maxScale: 8), let wq = ExactDecimal.parse(w.quantity, maxScale: 8), gq != wq {
                return "line \(g.lineNo) quantity \(g.quantity) != \(w.quantity)"
            }
        }
        let totals: [(String, String?, String?)] = [("exemptCreditRefund", got.exemptCreditRefund, want.exemptCreditRefund),
                                                    ("nonCreditable", got.nonCreditable, want.nonCreditable),
                                                    ("refund", got.refund, want.refund), ("exemptCredit", got.exemptCredit, want.exemptCredit)]
        for (name, a, b) in totals where !same(a, b) { return "\(name): \(a ?? "nil") != \(b ?? "nil")" }
        return nil
    }
}
