import Foundation
import CertChainCrypto

/// Role of a genesis organization.
public enum OrganizationRole: String, Sendable, Codable, Hashable {
    case taxBureau, customs, commerce
}

/// An organization as in reference.json (no key).
public struct OrganizationInfo: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    public var role: OrganizationRole
    public var areas: [String]?
    public var certificatePrefix: String?
    public var customsCodes: [String]?
    /// Memberwise initializer.
    public init(id: String, name: String, role: OrganizationRole, areas: [String]? = nil, certificatePrefix: String? = nil, customsCodes: [String]? = nil) {
        self.id = id; self.name = name; self.role = role; self.areas = areas; self.certificatePrefix = certificatePrefix; self.customsCodes = customsCodes
    }
}

/// An organization fixed in genesis, with its signing key.
public struct Organization: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    public var role: OrganizationRole
    public var areas: [String]?
    public var certificatePrefix: String?
    public var customsCodes: [String]?
    /// Public key, lowercase hex of the raw key bytes.
    public var publicKey: String
    /// Creates an organization from its reference entry and key.
    public init(_ info: OrganizationInfo, publicKey: String) {
        id = info.id; name = info.name; role = info.role; areas = info.areas; certificatePrefix = info.certificatePrefix
        customsCodes = info.customsCodes; self.publicKey = publicKey
    }
    /// The entry without its key.
    public var info: OrganizationInfo {
        OrganizationInfo(id: id, name: name, role: role, areas: areas, certificatePrefix: certificatePrefix, customsCodes: customsCodes)
    }
}

/// A validator node of genesis.
public struct ValidatorInfo: Sendable, Equatable, Codable {
    public var id: String
    public var organization: String
    public var publicKey: String
    public var p2pAddress: String
    public var apiAddress: String
    /// Memberwise initializer.
    public init(id: String, organization: String, publicKey: String, p2pAddress: String, apiAddress: String) {
        self.id = id; self.organization = organization; self.publicKey = publicKey; self.p2pAddress = p2pAddress; self.apiAddress = apiAddress
    }
}

/// A read-only auditor identity.
public struct Auditor: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    public var publicKey: String
    /// Memberwise initializer.
    public init(id: String, name: String, publicKey: String) { self.id = id; self.name = name; self.publicKey = publicKey }
}

/// A commodity of the rate table (HS code, legal unit, VAT and refund rates, validity).
public struct Commodity: Sendable, Equatable, Codable {
    public var hsCode: String
    public var name: String
    public var unit: String
    public var unitCode: String
    public var vatRate: String
    public var refundRate: String
    public var validFrom: String
    public var validTo: String?
    /// True if valid on `date` (inclusive bounds).
    /// Memberwise initializer.
    public init(hsCode: String, name: String, unit: String, unitCode: String, vatRate: String, refundRate: String, validFrom: String, validTo: String? = nil) {
        self.hsCode = hsCode; self.name = name; self.unit = unit; self.unitCode = unitCode; self.vatRate = vatRate; self.refundRate = refundRate; self.validFrom = validFrom; self.validTo = validTo
    }
    public func isValid(on date: String) -> Bool { validFrom <= date && (validTo.map { date <= $0 } ?? true) }
}

/// A customs trade mode (监管方式).
public struct TradeMode: Sendable, Equatable, Codable {
    public var code: String
    public var name: String
    public var refundable: Bool
    /// Memberwise initializer.
    public init(code: String, name: String, refundable: Bool) {
        self.code = code; self.name = name; self.refundable = refundable
    }
}

/// A currency of the table.
public struct CurrencyInfo: Sendable, Equatable, Codable {
    public var code: String
    public var customsCode: String
    /// Memberwise initializer.
    public init(code: String, customsCode: String) {
        self.code = code; self.customsCode = customsCode
    }
}

/// Deadlines: certificate application `MM-DD` of the year after export; refund claim date per export year.
public struct Deadlines: Sendable, Equatable, Codable {
    public var certificateApplication: String
    public var refundClaim: [String: String]
    /// Memberwise initializer.
    public init(certificateApplication: String, refundClaim: [String: String]) {
        self.certificateApplication = certificateApplication; self.refundClaim = refundClaim
    }
}

/// Consensus parameters.
public struct ConsensusParameters: Sendable, Equatable, Codable {
    public var maxBlockTransactions: Int
    public var blockIntervalMs: Int
    public var requestTimeoutMs: Int
    public var checkpointInterval: Int
    public var maxClockSkewMs: Int
    /// Most blocks proposed but not yet committed at once (the PBFT window): latency is not throughput.
    public var blocksInFlightMax: Int
    /// Cap of the view-change timeout, which doubles per failed view.
    public var viewTimeoutMaxMs: Int
    /// Defaults: 500 transactions, 20 ms, 2000 ms, 128, 5000 ms, 4 blocks in flight, 60 s.
    public init(maxBlockTransactions: Int = 500, blockIntervalMs: Int = 20, requestTimeoutMs: Int = 2000,
                checkpointInterval: Int = 128, maxClockSkewMs: Int = 5000, blocksInFlightMax: Int = 4, viewTimeoutMaxMs: Int = 60_000) {
        self.maxBlockTransactions = maxBlockTransactions; self.blockIntervalMs = blockIntervalMs; self.requestTimeoutMs = requestTimeoutMs
        self.checkpointInterval = checkpointInterval; self.maxClockSkewMs = maxClockSkewMs
        self.blocksInFlightMax = blocksInFlightMax; self.viewTimeoutMaxMs = viewTimeoutMaxMs
    }
    /// Decodes, filling missing fields with defaults.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ConsensusParameters()
        maxBlockTransactions = try c.decodeIfPresent(Int.self, forKey: .maxBlockTransactions) ?? d.maxBlockTransactions
        blockIntervalMs = try c.decodeIfPresent(Int.self, forKey: .blockIntervalMs) ?? d.blockIntervalMs
        requestTimeoutMs = try c.decodeIfPresent(Int.self, forKey: .requestTimeoutMs) ?? d.requestTimeoutMs
        checkpointInterval = try c.decodeIfPresent(Int.self, forKey: .checkpointInterval) ?? d.checkpointInterval
        maxClockSkewMs = try c.decodeIfPresent(Int.self, forKey: .maxClockSkewMs) ?? d.maxClockSkewMs
        blocksInFlightMax = try c.decodeIfPresent(Int.self, forKey: .blocksInFlightMax) ?? d.blocksInFlightMax
        viewTimeoutMaxMs = try c.decodeIfPresent(Int.self, forKey: .viewTimeoutMaxMs) ?? d.viewTimeoutMaxMs
    }
}

/// The reference data of a workload (reference.json).
public struct ReferenceData: Sendable, Equatable, Codable {
    public var organizations: [OrganizationInfo]
    public var commodities: [Commodity]
    public var tradeModes: [TradeMode]
    public var currencies: [CurrencyInfo]
    public var deadlines: Deadlines
    /// Memberwise initializer.
    public init(organizations: [OrganizationInfo], commodities: [Commodity], tradeModes: [TradeMode], currencies: [CurrencyInfo], deadlines: Deadlines) {
        self.organizations = organizations; self.commodities = commodities; self.tradeModes = tradeModes; self.currencies = currencies; self.deadlines = deadlines
    }

    /// Loads reference.json.
    public static func load(_ url: URL) throws -> ReferenceData {
        try JSONDecoder().decode(ReferenceData.self, from: Data(contentsOf: url))
    }
}

/// The network configuration every node starts from.
public struct Genesis: Sendable, Equatable, Codable {
    public var chainId: String
    public var suite: SignatureSuite
    public var historicalImport: Bool
    public var organizations: [Organization]
    public var validators: [ValidatorInfo]
    public var auditors: [Auditor]
    public var commodities: [Commodity]
    public var tradeModes: [TradeMode]
    public var currencies: [CurrencyInfo]
    public var deadlines: Deadlines
    public var consensus: ConsensusParameters

    /// Memberwise initializer.
    public init(chainId: String, suite: SignatureSuite, historicalImport: Bool, organizations: [Organization], validators: [ValidatorInfo],
                auditors: [Auditor], commodities: [Commodity], tradeModes: [TradeMode], currencies: [CurrencyInfo],
                deadlines: Deadlines, consensus: ConsensusParameters = ConsensusParameters()) {
        self.chainId = chainId; self.suite = suite; self.historicalImport = historicalImport; self.organizations = organizations
        self.validators = validators; self.auditors = auditors; self.commodities = commodities; self.tradeModes = tradeModes
        self.currencies = currencies; self.deadlines = deadlines; self.consensus = consensus
    }

    /// The chain's hash algorithm.
    public var hashAlgorithm: HashAlgorithm { suite.hashAlgorithm }

    /// Organization by id.
    public func organization(_ id: String) -> Organization? { organizations.first { $0.id == id } }

    /// Canonical binary encoding (tag "certchain/genesis/v1", fields in declaration order).
    public var canonicalBytes: [UInt8] {
        var w = CanonicalWriter()
        w.string("certchain/genesis/v1"); w.string(chainId); w.string(suite.rawValue); w.bool(historicalImport)
        func strings(_ a: [String]?, _ w: inout CanonicalWriter) {
            if let a { w.u8(1); w.array(a) { w, s in w.string(s) } } else { w.u8(0) }
        }
        w.array(organizations) { w, o in
            w.string(o.id); w.string(o.name); w.string(o.role.rawValue); strings(o.areas, &w)
            w.optionalString(o.certificatePrefix); strings(o.customsCodes, &w); w.string(o.publicKey)
        }
        w.array(validators) { w, v in w.string(v.id); w.string(v.organization); w.string(v.publicKey); w.string(v.p2pAddress); w.string(v.apiAddress) }
        w.array(auditors) { w, a in w.string(a.id); w.string(a.name); w.string(a.publicKey) }
        w.array(commodities) { w, c in
            w.string(c.hsCode); w.string(c.name); w.string(c.unit); w.string(c.unitCode); w.string(c.vatRate); w.string(c.refundRate)
            w.string(c.validFrom); w.optionalString(c.validTo)
        }
        w.array(tradeModes) { w, t in w.string(t.code); w.string(t.name); w.bool(t.refundable) }
        w.array(currencies) { w, c in w.string(c.code); w.string(c.customsCode) }
        w.string(deadlines.certificateApplication); w.stringMap(deadlines.refundClaim)
        w.int(consensus.maxBlockTransactions); w.int(consensus.blockIntervalMs); w.int(consensus.requestTimeoutMs)
        w.int(consensus.checkpointInterval); w.int(consensus.maxClockSkewMs)
        w.int(consensus.blocksInFlightMax); w.int(consensus.viewTimeoutMaxMs)
        return w.bytes
    }

    /// Hash of the canonical encoding with the suite's hash.
    public func hash() -> [UInt8] { suite.hash(canonicalBytes) }

    /// Loads genesis JSON.
    public static func load(_ url: URL) throws -> Genesis { try JSONDecoder().decode(Genesis.self, from: Data(contentsOf: url)) }

    /// Pretty, sorted-key JSON.
    public func jsonData() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try e.encode(self)
    }
}

/// A validator entry without its key (what a person edits).
public struct ValidatorTemplate: Sendable, Equatable, Codable {
    public var id: String
    public var organization: String
    public var p2pAddress: String
    public var apiAddress: String
    /// Memberwise initializer.
    public init(id: String, organization: String, p2pAddress: String, apiAddress: String) {
        self.id = id; self.organization = organization; self.p2pAddress = p2pAddress; self.apiAddress = apiAddress
    }
}

/// An auditor entry without its key.
public struct AuditorTemplate: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    /// Memberwise initializer.
    public init(id: String, name: String) { self.id = id; self.name = name }
}

/// Genesis without keys: the file a person edits; the CLI generates keys and produces a `Genesis`.
public struct GenesisTemplate: Sendable, Equatable, Codable {
    public var chainId: String
    public var suite: SignatureSuite
    public var historicalImport: Bool
    public var organizations: [OrganizationInfo]
    public var validators: [ValidatorTemplate]
    public var auditors: [AuditorTemplate]
    public var commodities: [Commodity]
    public var tradeModes: [TradeMode]
    public var currencies: [CurrencyInfo]
    public var deadlines: Deadlines
    public var consensus: ConsensusParameters

    /// A template from workload reference data: one validator per organization (node0… at 127.0.0.1:26600+i / 8600+i).
    public init(reference: ReferenceData, chainId: String, suite: SignatureSuite = .sm2sm3, historicalImport: Bool = true,
                auditors: [AuditorTemplate] = [AuditorTemplate(id: "auditor", name: "审计署")],
                consensus: ConsensusParameters = ConsensusParameters(), basePort: Int = 26600, baseAPIPort: Int = 8600) {
        self.chainId = chainId; self.suite = suite; self.historicalImport = historicalImport
        organizations = reference.organizations
        validators = reference.organizations.enumerated().map { i, o in
            ValidatorTemplate(id: "node\(i)", organization: o.id, p2pAddress: "127.0.0.1:\(basePort + i)", apiAddress: "127.0.0.1:\(baseAPIPort + i)")
        }
        self.auditors = auditors
        commodities = reference.commodities; tradeModes = reference.tradeModes; currencies = reference.currencies
        deadlines = reference.deadlines; self.consensus = consensus
    }

    /// Fills in keys (hex, by organization / validator / auditor id); throws if one is missing.
    public func genesis(organizationKeys: [String: String], validatorKeys: [String: String], auditorKeys: [String: String]) throws -> Genesis {
        func key(_ m: [String: String], _ id: String) throws -> String {
            guard let k = m[id] else { throw ModelError.malformed("no public key for \(id)") }
            return k
        }
        return Genesis(chainId: chainId, suite: suite, historicalImport: historicalImport,
                       organizations: try organizations.map { Organization($0, publicKey: try key(organizationKeys, $0.id)) },
                       validators: try validators.map {
                           ValidatorInfo(id: $0.id, organization: $0.organization, publicKey: try key(validatorKeys, $0.id),
                                         p2pAddress: $0.p2pAddress, apiAddress: $0.apiAddress)
                       },
                       auditors: try auditors.map { Auditor(id: $0.id, name: $0.name, publicKey: try key(auditorKeys, $0.id)) },
                       commodities: commodities, tradeModes: tradeModes, currencies: currencies, deadlines: deadlines, consensus: consensus)
    }
}
