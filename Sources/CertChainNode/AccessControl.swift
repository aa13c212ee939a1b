import CertChainCrypto
import CertChainLedger
import CertChainModel
import CertChainNet
import Foundation

/// Who an authenticated request comes from.
enum AccessIdentity: Sendable, Equatable {
    case enterprise(taxId: String)
    case organization(id: String, role: OrganizationRole)
    case auditor(id: String)

    /// The identity as written in `X-Certchain-Identity`.
    var text: String {
        switch self {
        case .enterprise(let taxId): return "ent:" + taxId
        case .organization(let id, _): return "org:" + id
        case .auditor(let id): return "auditor:" + id
        }
    }
}

/// Why a request is refused: 401 (who are you?) or 403 (not for you), with a stable code.
struct AccessRefusal: Error, Sendable {
    var status: Int
    var code: String
    var message: String

    init(_ status: Int, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    /// A 403 `forbidden` refusal.
    static func forbidden(_ message: String) -> AccessRefusal { AccessRefusal(403, "forbidden", message) }
}

/// What the access check decided: route the request, or answer it now (refusal or session endpoint).
enum AccessOutcome {
    /// Route the request; `certificate` is what the check already read for `GET /v1/certificates/{number}` (the route answers from it).
    case proceed(certificate: CertificateRead? = nil)
    case respond(HTTPResponse)
}

/// Certificate `number` as read once for both the access rule and the answer (`entry` nil: no such certificate).
struct CertificateRead {
    let number: String
    let entry: CertificateAnswerCache.Entry?
}

extension Node {
    /// Authenticates and authorizes a request before it is routed (docs/ACCESS.md).
    func checkAccess(_ request: HTTPRequest, _ parts: [String]) -> AccessOutcome {
        // Compared by count first: matching against array literals would build those arrays on every request.
        switch (request.method, parts.count) {
        case ("GET", 2) where parts[0] == "v1" && parts[1] == "status", ("GET", 1) where parts[0] == "metrics",
            ("POST", 2) where parts[0] == "v1" && parts[1] == "transactions":
            return .proceed()
        case (_, 2) where parts[0] == "v1" && parts[1] == "sessions": return sessionRoute(request)
        // The public endpoints answer a method they do not take with 405, not with a demand to authenticate.
        case (let method, 2) where parts[0] == "v1" && parts[1] == "status" && method != "HEAD",
            (let method, 1) where parts[0] == "metrics" && method != "HEAD":
            return .respond(.methodNotAllowed(allow: "GET", message: "\(method) is not supported on \(request.path) (GET only)"))
        case (let method, 2) where parts[0] == "v1" && parts[1] == "transactions":
            return .respond(.methodNotAllowed(allow: "POST", message: "\(method) is not supported on \(request.path) (POST only)"))
        default: break
        }
        // Web pages and assets are public; other methods get the router's 405.
        guard parts.first == "v1", request.method == "GET" || request.method == "POST" || request.method == "DELETE" else { return .proceed() }
        let identity: AccessIdentity
        switch authenticate(request, allowBearer: true) {
        case .failure(let refusal): return .respond(refuse(refusal, request))
        case .success(let found): identity = found
        }
        var certificate: CertificateRead?
        if let refusal = authorize(identity, request, parts, certificate: &certificate) {
            return .respond(refuse(refusal, request, identity: identity))
        }
        return .proceed(certificate: certificate)
    }

    /// Logs a refusal (identity, method, path, reason) and makes its JSON error answer.
    func refuse(_ refusal: AccessRefusal, _ request: HTTPRequest, identity: AccessIdentity? = nil) -> HTTPResponse {
        let claimed = identity?.text ?? request.headers[RequestAuthentication.identityHeader.lowercased()].map { "\($0) (unverified)" }
            ?? (request.headers["authorization"] != nil ? "(bearer)" : "-")
        let path = String(String.UnicodeScalarView(request.path.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? "?" : $0 }))
        if refusalLogLimiter.allow() {
            let dropped = refusalLogLimiter.suppressed
            log.warn("access refused: \(refusal.status) \(refusal.code) identity=\(claimed) \(request.method) \(path): \(refusal.message)"
                + (dropped > 0 ? " (\(dropped) refusals not logged so far: rate limit)" : ""))
        }
        var response = HTTPResponse.error(refusal.status, code: refusal.code, message: refusal.message)
        if refusal.status == 401 { response.headers.append(("WWW-Authenticate", "Bearer realm=\"certchain\", Certchain-Signature")) }
        return response
    }

    // MARK: - Authentication

    /// The identity of a signed request, or of a bearer token when `allowBearer`.
    func authenticate(_ request: HTTPRequest, allowBearer: Bool) -> Result<AccessIdentity, AccessRefusal> {
        let nowMs = core.clock()
        if let authorization = request.headers["authorization"] {
            guard allowBearer else {
                return .failure(AccessRefusal(401, "signature-required", "this endpoint needs a signed request, not a bearer token"))
            }
            let parts = authorization.split(separator: " ", maxSplits: 1).map(String.init)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else {
                return .failure(AccessRefusal(401, "invalid-token", "Authorization must be `Bearer <token>`"))
            }
            return sessions.lookup(Self.trimmingWhitespace(parts[1]), nowMs: nowMs)
        }
        let headers = request.headers
        guard let identityText = headers[RequestAuthentication.identityHeader.lowercased()],
            let timestampText = headers[RequestAuthentication.timestampHeader.lowercased()],
            let signatureText = headers[RequestAuthentication.signatureHeader.lowercased()]
        else {
            return .failure(AccessRefusal(
                401, "authentication-required",
                "sign the request (X-Certchain-Identity, X-Certchain-Timestamp, X-Certchain-Signature) or send Authorization: Bearer <token>"))
        }
        guard let (identity, keyHex) = identityKey(identityText), let key = core.keyCache.key(suite: suite, hex: keyHex) else {
            return .failure(AccessRefusal(
                401, "unknown-identity", "\(identityText) is not a registered enterprise (ent:<taxId>), a genesis organization (org:<id>) or auditor (auditor:<id>)"))
        }
        guard let timestamp = Int64(timestampText) else {
            return .failure(AccessRefusal(401, "invalid-timestamp", "X-Certchain-Timestamp must be milliseconds since 1970"))
        }
        let (skew, overflow) = timestamp.subtractingReportingOverflow(nowMs)
        guard !overflow, skew.magnitude <= RequestAuthentication.timestampSkewMaxMs.magnitude else {
            return .failure(AccessRefusal(
                401, "stale-timestamp",
                "the request timestamp is \(overflow ? "far" : "\(skew / 1000) s") off this node's clock (allowed ±\(RequestAuthentication.timestampSkewMaxMs / 1000) s)"))
        }
        let text = RequestAuthentication.canonicalString(
            chainId: genesis.chainId, method: request.method, path: request.path, query: request.query, identity: identityText,
            timestampMs: timestamp, bodyHash: hashAlgorithm.hash(request.body))
        guard let signature = Hex.decode(signatureText.lowercased()), key.verify(signature: signature, message: Array(text.utf8)) else {
            return .failure(AccessRefusal(401, "bad-request-signature", "the request signature does not verify with \(identityText)'s key"))
        }
        return .success(identity)
    }

    /// `text.trimmingCharacters(in: .whitespaces)`, without the Foundation call when both ends are ASCII other than space
    /// and tab (the only ASCII whitespace), so there is nothing to trim: a token as sent.
    static func trimmingWhitespace(_ text: String) -> String {
        func plain(_ byte: UInt8?) -> Bool { byte.map { $0 < 0x80 && $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") } ?? false }
        if plain(text.utf8.first) && plain(text.utf8.last) { return text }
        return text.trimmingCharacters(in: .whitespaces)
    }

    /// The identity named by `text` and its public key (hex): registered enterprises from state, organizations and auditors from genesis.
    func identityKey(_ text: String) -> (AccessIdentity, String)? {
        if text.hasPrefix("ent:") {
            let taxId = String(text.dropFirst(4))
            return Ledger.enterprise(taxId: taxId, in: reader).map { (.enterprise(taxId: taxId), $0.publicKey) }
        }
        if text.hasPrefix("org:") {
            let id = String(text.dropFirst(4))
            return genesis.organizations.first { $0.id == id }.map { (.organization(id: id, role: $0.role), $0.publicKey) }
        }
        if text.hasPrefix("auditor:") {
            let id = String(text.dropFirst(8))
            return genesis.auditors.first { $0.id == id }.map { (.auditor(id: id), $0.publicKey) }
        }
        return nil
    }

    // MARK: - Authorization

    /// nil when `identity` may make this request; otherwise a 403 saying why. Missing records pass (the route answers 404).
    /// A certificate read for the rule is left in `certificate`, so the route answers from the very value that was checked.
    func authorize(_ identity: AccessIdentity, _ request: HTTPRequest, _ parts: [String], certificate: inout CertificateRead?) -> AccessRefusal? {
        if case .auditor = identity { return nil }
        let isOrganization: Bool
        if case .organization = identity { isOrganization = true } else { isOrganization = false }
        let state = reader
        let who = identity.text
        switch (request.method, parts.count, parts.count > 1 ? parts[1] : "") {
        case ("GET", 2, "stats"), ("GET", 3, "blocks"):
            return isOrganization ? nil : .forbidden("\(who) may not read \(parts[1]): organizations and auditors only")
        case ("GET", 3, "transactions"):
            if isOrganization { return nil }
            guard let signer = committedSigner(parts[2]) else { return nil }  // pending or unknown: the answer shows no content
            return signer == who ? nil : .forbidden("\(who) may read only its own transactions")
        case ("GET", 3, "certificates"):
            let read = CertificateRead(number: parts[2], entry: certificateAnswer(number: parts[2]))
            certificate = read
            return authorizeCertificate(read, identity)
        case ("GET", 4, "certificates") where parts[3] == "history":
            return authorizeCertificate(CertificateRead(number: parts[2], entry: certificateAnswer(number: parts[2])), identity)
        case ("GET", 2, "certificates"): return authorizeCertificateQuery(identity, request.query)
        case ("GET", 2, "refunds"): return authorizeRefundQuery(identity, request.query)
        case ("GET", 3, "applications"):
            guard let record = Ledger.application(id: parts[2], in: state) else { return nil }
            return mayReadParties([record.agentTaxId, record.principalTaxId], identity) ? nil : .forbidden("\(who) may not read application \(parts[2])")
        case ("GET", 3, "claims"):
            guard let record = Ledger.claim(id: parts[2], in: state) else { return nil }
            return mayReadParties([record.principalTaxId], identity) ? nil : .forbidden("\(who) may not read claim \(parts[2])")
        case ("GET", 3, "declarations"):
            if case .organization(_, .customs) = identity { return nil }
            guard let record = Ledger.declaration(number: parts[2], in: state) else { return nil }
            return mayReadParties([record.consignorTaxId], identity) ? nil : .forbidden("\(who) may not read declaration \(parts[2])")
        case ("GET", 3, "enterprises"):
            if case .organization(_, let role) = identity, role != .taxBureau { return nil }  // customs and commerce check enterprises
            return mayReadParties([parts[2]], identity) ? nil : .forbidden("\(who) may not read enterprise \(parts[2])")
        default:
            return .forbidden("no access rule lets \(who) use \(request.method) \(request.path) (auditors only)")
        }
    }

    /// nil when `identity` may read the certificate `read` (or it does not exist).
    func authorizeCertificate(_ read: CertificateRead, _ identity: AccessIdentity) -> AccessRefusal? {
        guard let answer = read.entry else { return nil }
        return mayRead(certificate: answer.record, identity) ? nil : .forbidden("\(identity.text) may not read certificate \(read.number)")
    }

    /// Whether `identity` is one of the parties, or the tax bureau competent for one of them.
    func mayReadParties(_ taxIds: [String], _ identity: AccessIdentity) -> Bool {
        switch identity {
        case .auditor: return true
        case .enterprise(let taxId): return taxIds.contains(taxId)
        case .organization(let id, .taxBureau): return taxIds.contains { isCompetent(bureau: id, for: $0) }
        case .organization: return false
        }
    }

    /// Agent, principal, the issuing bureau, a bureau competent for either party, or an auditor.
    func mayRead(certificate record: CertificateRecord, _ identity: AccessIdentity) -> Bool {
        if case .organization(let id, .taxBureau) = identity, record.bureau == id { return true }
        return mayReadParties([record.agentTaxId, record.principalTaxId], identity)
    }

    /// Whether the enterprise `taxId` is registered with tax bureau `bureau`.
    func isCompetent(bureau: String, for taxId: String) -> Bool {
        Ledger.enterprise(taxId: taxId, in: reader)?.bureau == bureau
    }

    /// The signer (`org:…`/`ent:…`) of a committed transaction, nil when it is not committed here.
    func committedSigner(_ hashText: String) -> String? {
        guard let id = Hex.decode(hashText.lowercased()), let location = (try? store.transactionLocation(hash: id)) ?? nil,
            let bytes = (try? store.blockBytes(height: location.height)) ?? nil, let block = try? Block.decode(bytes),
            location.index < block.transactions.count
        else { return nil }
        return block.transactions[location.index].transaction.signer
    }

    /// Certificate searches: enterprises must name themselves as agent or principal; tax bureaus an enterprise they are competent for.
    func authorizeCertificateQuery(_ identity: AccessIdentity, _ query: [String: String]) -> AccessRefusal? {
        let parties = [query["agent"], query["principal"]].compactMap { $0 }
        // Every result matches all filters, so one party the caller may see is enough.
        if parties.contains(where: { mayReadParties([$0], identity) }) { return nil }
        switch identity {
        case .enterprise(let taxId):
            return .forbidden("enterprises search only their own certificates: add agent=\(taxId) or principal=\(taxId)")
        case .organization(_, .taxBureau):
            return .forbidden("tax bureaus search the certificates of enterprises they are competent for: add agent= or principal=")
        default:
            return .forbidden("\(identity.text) may not search certificates")
        }
    }

    /// Refund searches: enterprises must name themselves as principal; tax bureaus a principal they are competent for.
    func authorizeRefundQuery(_ identity: AccessIdentity, _ query: [String: String]) -> AccessRefusal? {
        if let principal = query["principal"], mayReadParties([principal], identity) { return nil }
        switch identity {
        case .enterprise(let taxId): return .forbidden("enterprises see only their own refunds: add principal=\(taxId)")
        case .organization(_, .taxBureau): return .forbidden("tax bureaus see refunds of principals they are competent for: add principal=")
        default: return .forbidden("\(identity.text) may not search refunds")
        }
    }

    // MARK: - Sessions

    /// `POST /v1/sessions` (signed; optional body `{"ttlSeconds": n}`) → a bearer token; `DELETE /v1/sessions` (bearer) ends it.
    func sessionRoute(_ request: HTTPRequest) -> AccessOutcome {
        switch request.method {
        case "POST":
            switch authenticate(request, allowBearer: false) {
            case .failure(let refusal): return .respond(refuse(refusal, request))
            case .success(let identity):
                var lifetimeMs = SessionStore.lifetimeMaxMs
                if !request.body.isEmpty {
                    let secondsMax = Int(SessionStore.lifetimeMaxMs / 1000)
                    guard let body = try? JSONDecoder().decode(SessionRequest.self, from: Data(request.body)),
                        body.ttlSeconds.map({ (1...secondsMax).contains($0) }) ?? true
                    else {
                        return .respond(.error(
                            400, code: "invalid-session-request",
                            message: "the body must be empty or {\"ttlSeconds\": n} with n a whole number of seconds from 1 to \(secondsMax)"))
                    }
                    if let seconds = body.ttlSeconds { lifetimeMs = Int64(seconds) * 1000 }
                }
                let session = sessions.create(for: identity, nowMs: core.clock(), lifetimeMs: lifetimeMs)
                log.info("session opened for \(identity.text) until \(session.expiresMs)")
                return .respond(json(
                    201, SessionResponse(token: session.token, tokenType: "Bearer", identity: identity.text, expiresAtMs: session.expiresMs)))
            }
        case "DELETE":
            guard let authorization = request.headers["authorization"], authorization.lowercased().hasPrefix("bearer ") else {
                return .respond(refuse(AccessRefusal(401, "authentication-required", "send Authorization: Bearer <token> to end that session"), request))
            }
            let token = String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces)
            guard sessions.revoke(token) else {
                return .respond(refuse(AccessRefusal(401, "invalid-token", "the bearer token is unknown here"), request))
            }
            return .respond(json(200, ["revoked": true]))
        default:
            return .respond(.methodNotAllowed(allow: "POST, DELETE", message: "\(request.method) is not supported on /v1/sessions"))
        }
    }
}

/// `POST /v1/sessions`.
struct SessionResponse: Codable {
    var token: String
    var tokenType: String
    var identity: String
    var expiresAtMs: Int64
}

/// Lets at most `perSecond` events through each second (refusal log lines: a flood of bad requests must not
/// fill the disk); the first line after a suppressed stretch says how many were dropped.
final class RateLimiter: @unchecked Sendable {
    private let lock = NSLock()
    private let perSecond: Int
    private var windowStart = Date()
    private var used = 0
    private(set) var suppressed = 0

    init(perSecond: Int) { self.perSecond = perSecond }

    /// Whether one more event may pass now.
    func allow() -> Bool {
        lock.withLock {
            if Date().timeIntervalSince(windowStart) >= 1 {
                windowStart = Date()
                used = 0
            }
            guard used < perSecond else {
                suppressed += 1
                return false
            }
            used += 1
            return true
        }
    }
}

/// `POST /v1/sessions` body: the session's lifetime, at most `SessionStore.lifetimeMaxMs`.
struct SessionRequest: Decodable {
    var ttlSeconds: Int?
}
