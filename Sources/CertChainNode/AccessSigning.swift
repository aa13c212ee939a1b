import CertChainCrypto
import CertChainModel
import Foundation

/// The signed-request scheme of the API (docs/ACCESS.md): header names and the canonical string.
public enum RequestAuthentication {
    /// `ent:<taxId>`, `org:<id>` or `auditor:<id>`.
    public static let identityHeader = "X-Certchain-Identity"
    /// Milliseconds since 1970 (UTC), within ±`timestampSkewMaxMs` of the node's clock.
    public static let timestampHeader = "X-Certchain-Timestamp"
    /// Lowercase hex of the signature over `canonicalString`'s UTF-8 bytes.
    public static let signatureHeader = "X-Certchain-Signature"
    /// Largest accepted difference between a request's timestamp and the node's clock (5 minutes).
    public static let timestampSkewMaxMs: Int64 = 300_000

    /// The string a client signs: eight lines joined by "\n" (no trailing newline).
    ///
    /// `certchain/request/v1`, chainId, METHOD, encoded path, canonical query, identity, timestamp (decimal ms),
    /// lowercase hex of H(body) with the genesis suite's hash (SM3 or SHA-256; the empty body is hashed too).
    public static func canonicalString(
        chainId: String, method: String, path: String, query: [String: String], identity: String, timestampMs: Int64,
        bodyHash: [UInt8]
    ) -> String {
        [
            "certchain/request/v1", chainId, method.uppercased(), encode(path, keepSlash: true), canonicalQuery(query), identity,
            String(timestampMs), Hex.encode(bodyHash),
        ].joined(separator: "\n")
    }

    /// Query pairs sorted by the encoded key's bytes, each `key=value` percent-encoded, joined with `&`.
    public static func canonicalQuery(_ query: [String: String]) -> String {
        query.map { (encode($0.key, keepSlash: false), encode($0.value, keepSlash: false)) }
            .sorted { Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) }
            .map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// RFC 3986 percent-encoding of UTF-8: every byte except `A–Z a–z 0–9 - . _ ~` (and `/` if kept) as `%XX`, uppercase hex.
    public static func encode(_ text: String, keepSlash: Bool) -> String {
        var out = ""
        for byte in text.utf8 {
            let c = Character(Unicode.Scalar(byte))
            if (byte < 128 && (c.isLetter || c.isNumber)) || "-._~".contains(c) || (keepSlash && c == "/") {
                out.append(c)
            } else {
                out += "%" + String(format: "%02X", byte)
            }
        }
        return out
    }

    /// Splits a request target (`/v1/x?a=1&b=2`) into its decoded path and query as the node's HTTP server does
    /// (`+` in the query is a space; the last of repeated keys wins); nil on a bad escape.
    public static func parseTarget(_ target: String) -> (path: String, query: [String: String])? {
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        guard let path = percentDecode(String(parts[0]), plusIsSpace: false) else { return nil }
        var query: [String: String] = [:]
        if parts.count == 2 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard let key = percentDecode(String(kv[0]), plusIsSpace: true),
                    let value = kv.count == 2 ? percentDecode(String(kv[1]), plusIsSpace: true) : ""
                else { return nil }
                query[key] = value
            }
        }
        return (path, query)
    }

    static func percentDecode(_ text: String, plusIsSpace: Bool) -> String? {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%") {
                guard i + 2 < bytes.count, let byte = UInt8(String(decoding: bytes[(i + 1)...(i + 2)], as: UTF8.self), radix: 16) else { return nil }
                out.append(byte)
                i += 3
            } else {
                out.append(plusIsSpace && bytes[i] == UInt8(ascii: "+") ? UInt8(ascii: " ") : bytes[i])
                i += 1
            }
        }
        return String(validating: out, as: UTF8.self)
    }
}

/// Signs API requests as one identity (an enterprise, an organization or an auditor) with its key.
public struct RequestSigner: Sendable {
    /// `ent:<taxId>`, `org:<id>` or `auditor:<id>`.
    public var identity: String
    /// The identity's private key (the one registered on chain or in genesis).
    public var key: PrivateKey
    /// The chain the requests are for (from genesis or `GET /v1/status`).
    public var chainId: String

    /// A signer for `identity` with `key` on chain `chainId`.
    public init(identity: String, key: PrivateKey, chainId: String) {
        self.identity = identity
        self.key = key
        self.chainId = chainId
    }

    /// The three authentication headers for `method` on `target` (path and query, as sent) with `body`.
    public func headers(method: String, target: String, body: [UInt8] = [], timestampMs: Int64? = nil) throws -> [(String, String)] {
        guard let (path, query) = RequestAuthentication.parseTarget(target) else { throw NodeError("bad request target \(target)") }
        let timestamp = timestampMs ?? Clock.nowMs()
        let text = RequestAuthentication.canonicalString(
            chainId: chainId, method: method, path: path, query: query, identity: identity, timestampMs: timestamp,
            bodyHash: key.publicKey.suite.hashAlgorithm.hash(body))
        let signature = try key.sign(Array(text.utf8))
        return [
            (RequestAuthentication.identityHeader, identity), (RequestAuthentication.timestampHeader, String(timestamp)),
            (RequestAuthentication.signatureHeader, Hex.encode(signature)),
        ]
    }

    /// The auditor's signer from a key folder holding `auditor-<id>.pem` (a testnet's `keys/`); nil if there is none.
    public static func auditor(keysDirectory: String, chainId: String) throws -> RequestSigner? {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: keysDirectory)) ?? [])
            .filter { $0.hasPrefix("auditor-") && $0.hasSuffix(".pem") }.sorted()
        guard let name = names.first else { return nil }
        let pem = try String(contentsOfFile: keysDirectory + "/" + name, encoding: .utf8)
        let id = String(name.dropFirst("auditor-".count).dropLast(".pem".count))
        return RequestSigner(identity: "auditor:" + id, key: try PrivateKey(pem: pem), chainId: chainId)
    }
}
