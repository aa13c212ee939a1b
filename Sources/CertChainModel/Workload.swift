import Foundation

/// Any JSON value, preserved for re-encoding (used for workload bodies).
public enum JSONValue: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case integer(Int64)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Decodes any JSON value.
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .integer(i) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    /// Encodes the value.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let d): try c.encode(d)
        case .integer(let i): try c.encode(i)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }
}

/// A workload expectation: `{"ok":true}`, `{"ok":true,"refund":{…}}` or `{"error":"code"}`.
public struct WorkloadExpect: Sendable, Equatable, Codable {
    public var ok: Bool?
    public var error: String?
    public var refund: RefundResult?
    /// Memberwise initializer.
    public init(ok: Bool? = nil, error: String? = nil, refund: RefundResult? = nil) { self.ok = ok; self.error = error; self.refund = refund }
}

/// One request of transactions.jsonl.
public struct WorkloadTransaction: Sendable, Equatable, Codable {
    public var seq: Int
    public var kind: TransactionKind
    public var signer: String
    public var effectiveDate: String
    public var body: JSONValue
    public var expect: WorkloadExpect
    public var note: String?

    /// The typed body; `publicKey` is inserted into registerEnterprise bodies (the replay's generated key).
    public func typedBody(publicKey: String? = nil) throws -> TransactionBody {
        var b = body
        if kind == .registerEnterprise, case .object(var o) = b {
            o["publicKey"] = .string(publicKey ?? "")
            b = .object(o)
        }
        return try TransactionBody.decodeJSON(kind: kind, data: try JSONEncoder().encode(b))
    }

    /// The taxId of a registerEnterprise body, if any.
    public var registeredTaxId: String? {
        if kind == .registerEnterprise, case .object(let o) = body, case .string(let t)? = o["taxId"] { return t }
        return nil
    }
}

/// Final state expected for one certificate.
public struct ExpectedCertificate: Sendable, Equatable, Codable {
    public var status: String
    public var principalTaxId: String
    public var agentTaxId: String
    public var consumed: [String: String]
}

/// expected.json: final counts, totals and every certificate's status.
public struct WorkloadExpected: Sendable, Equatable, Codable {
    public var transactions: Int
    public var accepted: Int
    public var rejected: Int
    public var certificatesIssued: Int
    public var certificateStatus: [String: Int]
    public var refundsApproved: Int
    public var refundTotal: String
    public var exemptCreditTotal: String
    public var certificates: [String: ExpectedCertificate]
}

/// A workload directory (SPEC section 6).
public struct Workload: Sendable {
    public var reference: ReferenceData
    public var transactions: [WorkloadTransaction]
    public var expected: WorkloadExpected?

    /// Loads reference.json, transactions.jsonl and (if present) expected.json from `directory`.
    public init(directory: URL) throws {
        reference = try ReferenceData.load(directory.appendingPathComponent("reference.json"))
        transactions = try Workload.loadTransactions(directory.appendingPathComponent("transactions.jsonl"))
        let e = directory.appendingPathComponent("expected.json")
        expected = FileManager.default.fileExists(atPath: e.path)
            ? try JSONDecoder().decode(WorkloadExpected.self, from: Data(contentsOf: e)) : nil
    }

    /// Parses a transactions.jsonl file (blank lines skipped).
    public static func loadTransactions(_ url: URL) throws -> [WorkloadTransaction] {
        let data = try Data(contentsOf: url)
        let decoder = JSONDecoder()
        var out: [WorkloadTransaction] = []
        for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            out.append(try decoder.decode(WorkloadTransaction.self, from: Data(line)))
        }
        return out
    }
}
