import CertChainCrypto
import CertChainModel
import CertChainNet
import Foundation
import XCTest

@testable import CertChainNode

/// Signed requests, sessions and the canonical string, without a network.
final class AccessUnitTests: XCTestCase {
    func testCanonicalStringEncodesAndSortsTheQuery() {
        let text = RequestAuthentication.canonicalString(
            chainId: "c", method: "get", path: "/v1/certificates", query: ["status": "consumed", "agent": "A B&=中", "after": ""],
            identity: "auditor:a", timestampMs: 42, bodyHash: [0xab, 0x01])
        XCTAssertEqual(text, "certchain/request/v1\nc\nGET\n/v1/certificates\nafter=&agent=A%20B%26%3D%E4%B8%AD&status=consumed\nauditor:a\n42\nab01")
        let parsed = RequestAuthentication.parseTarget("/v1/x%2Fy?b=1+2&a=%E4%B8%AD&a=last")
        XCTAssertEqual(parsed?.path, "/v1/x/y")
        XCTAssertEqual(parsed?.query, ["a": "last", "b": "1 2"])
        XCTAssertNil(RequestAuthentication.parseTarget("/v1/x?a=%zz"))
    }

    func testSignerHeadersVerifyWithTheKey() throws {
        let key = try PrivateKey.generate(suite: .sm2sm3)
        let signer = RequestSigner(identity: "ent:91440300595655961F", key: key, chainId: "chain")
        let headers = try signer.headers(method: "GET", target: "/v1/refunds?principal=91440300595655961F&period=202103", timestampMs: 1000)
        let values = Dictionary(uniqueKeysWithValues: headers.map { ($0.0, $0.1) })
        XCTAssertEqual(values[RequestAuthentication.timestampHeader], "1000")
        let text = RequestAuthentication.canonicalString(
            chainId: "chain", method: "GET", path: "/v1/refunds", query: ["period": "202103", "principal": "91440300595655961F"],
            identity: "ent:91440300595655961F", timestampMs: 1000, bodyHash: HashAlgorithm.sm3.hash([]))
        let signature = try XCTUnwrap(Hex.decode(try XCTUnwrap(values[RequestAuthentication.signatureHeader])))
        XCTAssertTrue(key.publicKey.verify(signature: signature, message: Array(text.utf8)))
        XCTAssertFalse(key.publicKey.verify(signature: signature, message: Array((text + "x").utf8)))
    }

    func testSessionsExpireAreBoundedAndRevocable() {
        let store = SessionStore()
        let identity = AccessIdentity.auditor(id: "a")
        let session = store.create(for: identity, nowMs: 0, lifetimeMs: 5_000)
        XCTAssertEqual(session.token.count, 64)
        XCTAssertEqual(session.expiresMs, 5_000)
        XCTAssertEqual(try store.lookup(session.token, nowMs: 4_999).get(), identity)
        XCTAssertEqual(store.lookup(session.token, nowMs: 5_000).failureCode, "token-expired")
        XCTAssertEqual(store.lookup(session.token, nowMs: 5_001).failureCode, "invalid-token")
        XCTAssertEqual(store.lookup(String(repeating: "0", count: 64), nowMs: 0).failureCode, "invalid-token")
        XCTAssertEqual(store.lookup("nothex", nowMs: 0).failureCode, "invalid-token")
        let long = store.create(for: identity, nowMs: 0, lifetimeMs: 10 * SessionStore.lifetimeMaxMs)
        XCTAssertEqual(long.expiresMs, SessionStore.lifetimeMaxMs)
        XCTAssertTrue(store.revoke(long.token))
        XCTAssertEqual(store.lookup(long.token, nowMs: 1).failureCode, "invalid-token")
        for i in 0..<(SessionStore.capacity + 10) { _ = store.create(for: .enterprise(taxId: "\(i)"), nowMs: 1) }
        XCTAssertLessThanOrEqual(store.count, SessionStore.capacity)
    }
}

extension Result where Failure == AccessRefusal {
    /// The refusal code, nil on success.
    var failureCode: String? {
        if case .failure(let refusal) = self { return refusal.code }
        return nil
    }
}

/// Four real validators replay samples/small; then enterprises, bureaus, customs and the auditor read over HTTP.
final class AccessNetworkTests: XCTestCase {
    struct Reply {
        var status: Int
        var body: [UInt8]
        var object: [String: Any] { ((try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]) ?? [:] }
        var code: String? { object["error"] as? String }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    var api: HTTPClient!

    func get(_ path: String, as signer: RequestSigner?, timestampMs: Int64? = nil, extra: [(String, String)] = []) throws -> Reply {
        let headers = try signer?.headers(method: "GET", target: path, timestampMs: timestampMs) ?? []
        let response = try api.request("GET", path, headers: headers + extra)
        return Reply(status: response.status, body: response.body)
    }

    func testAccessRulesQueriesAndSessions() throws {
        let (testnet, genesis) = try makeTestnet()
        let root = NetworkTests.repositoryRoot
        let options = smallReplayOptions(testnet, genesis)
        let replay = WorkloadReplay(options: options)
        let summary = try replay.run(log: { _ in })
        // The replay read blocks, certificates and stats signed as the auditor.
        XCTAssertEqual(summary.mismatches, 0, summary.mismatchDetails.joined(separator: "\n"))
        XCTAssertTrue(summary.stateMatchesExpected, summary.stateDifferences.joined(separator: "\n"))

        api = try HTTPClient(url: "http://\(genesis.validators[1].apiAddress)")
        let auditor = try XCTUnwrap(try RequestSigner.auditor(keysDirectory: testnet.keysDirectory, chainId: genesis.chainId))
        func enterprise(_ taxId: String) throws -> RequestSigner {
            RequestSigner(identity: "ent:" + taxId, key: try XCTUnwrap(replay.enterpriseKeys[taxId], taxId), chainId: genesis.chainId)
        }
        func organization(_ id: String) throws -> RequestSigner {
            let pem = try String(contentsOfFile: testnet.keysDirectory + "/org-\(id).pem", encoding: .utf8)
            return RequestSigner(identity: "org:" + id, key: try PrivateKey(pem: pem), chainId: genesis.chainId)
        }
        let expected = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("samples/small/expected.json"))) as? [String: Any])
        let certificates = try XCTUnwrap(expected["certificates"] as? [String: [String: Any]])
        func party(_ number: String, _ role: String) -> String { certificates[number]?[role + "TaxId"] as? String ?? "" }

        // Public endpoints stay public.
        XCTAssertEqual(try get("/v1/status", as: nil).status, 200)
        XCTAssertEqual(try get("/metrics", as: nil).status, 200)

        // An enterprise reads its certificates as agent and as principal, and nothing else.
        let first = "440300202100000001"
        let agent = party(first, "agent"), principal = party(first, "principal")
        let asAgent = try enterprise(agent), asPrincipal = try enterprise(principal)
        let foreign = try XCTUnwrap(certificates.keys.sorted().first { ![agent, principal].contains(party($0, "agent")) && ![agent, principal].contains(party($0, "principal")) })
        var reply = try get("/v1/certificates/\(first)", as: asAgent)
        XCTAssertEqual(reply.status, 200, reply.text)
        XCTAssertEqual(reply.object["certificateNumber"] as? String, first)
        XCTAssertEqual(try get("/v1/certificates/\(first)", as: asPrincipal).status, 200)
        XCTAssertEqual(try get("/v1/certificates/\(first)/history", as: asPrincipal).status, 200)
        XCTAssertEqual(try get("/v1/certificates/\(first)?proof=true", as: asAgent).status, 200)
        XCTAssertEqual(try get("/v1/certificates/\(first)?proof=1", as: asAgent).code, "invalid-query", "a misspelt proof flag is refused")
        reply = try get("/v1/certificates/\(foreign)", as: asAgent)
        XCTAssertEqual(reply.status, 403, reply.text)
        XCTAssertEqual(reply.code, "forbidden")
        XCTAssertEqual(try get("/v1/certificates/\(foreign)/history", as: asAgent).status, 403)
        XCTAssertEqual(try get("/v1/certificates/\(foreign)?proof=true", as: asAgent).status, 403)
        // The access check and the answer share one read: whoever may read a certificate gets the auditor's very bytes;
        // an unknown number is still 404 for an enterprise, and a foreign one 403 however often it is asked.
        let auditorView = try get("/v1/certificates/\(first)", as: auditor)
        XCTAssertEqual(auditorView.status, 200)
        for signer in [asAgent, asPrincipal, asAgent] {
            let view = try get("/v1/certificates/\(first)", as: signer)
            XCTAssertEqual(view.status, 200)
            XCTAssertEqual(view.body, auditorView.body, "\(signer.identity) reads other bytes")
        }
        reply = try get("/v1/certificates/440300202199999999", as: asAgent)
        XCTAssertEqual(reply.status, 404, reply.text)
        XCTAssertEqual(reply.code, "certificate-not-found")
        for _ in 0..<3 { XCTAssertEqual(try get("/v1/certificates/\(foreign)", as: asAgent).status, 403) }
        XCTAssertEqual(try get("/v1/enterprises/\(agent)", as: asAgent).status, 200)
        XCTAssertEqual(try get("/v1/enterprises/\(party(foreign, "agent"))", as: asAgent).status, 403)
        XCTAssertEqual(try get("/v1/blocks/1", as: asAgent).status, 403)
        XCTAssertEqual(try get("/v1/stats", as: asAgent).status, 403)

        // Unauthenticated: missing, bad signature, stale timestamp, unknown identity, tampered target.
        reply = try get("/v1/certificates/\(first)", as: nil)
        XCTAssertEqual(reply.status, 401)
        XCTAssertEqual(reply.code, "authentication-required")
        let impostor = RequestSigner(identity: auditor.identity, key: try PrivateKey.generate(suite: genesis.suite), chainId: genesis.chainId)
        reply = try get("/v1/certificates/\(first)", as: impostor)
        XCTAssertEqual(reply.status, 401); XCTAssertEqual(reply.code, "bad-request-signature")
        reply = try get("/v1/certificates/\(first)", as: auditor, timestampMs: Clock.nowMs() - 6 * 60_000)
        XCTAssertEqual(reply.status, 401); XCTAssertEqual(reply.code, "stale-timestamp")
        reply = try get("/v1/certificates/\(first)", as: auditor, timestampMs: Clock.nowMs() + 6 * 60_000)
        XCTAssertEqual(reply.code, "stale-timestamp")
        let stranger = RequestSigner(identity: "ent:91350100M000100Y4Y", key: try PrivateKey.generate(suite: genesis.suite), chainId: genesis.chainId)
        reply = try get("/v1/certificates/\(first)", as: stranger)
        XCTAssertEqual(reply.status, 401); XCTAssertEqual(reply.code, "unknown-identity")
        var nobody = auditor
        nobody.identity = "auditor:nobody"
        XCTAssertEqual(try get("/v1/certificates/\(first)", as: nobody).code, "unknown-identity")
        let signedForOther = try auditor.headers(method: "GET", target: "/v1/certificates/\(first)")
        let tampered = try api.request("GET", "/v1/certificates/\(foreign)", headers: signedForOther)
        XCTAssertEqual(tampered.status, 401)
        var wrongChain = auditor
        wrongChain.chainId = "another-chain"
        XCTAssertEqual(try get("/v1/certificates/\(first)", as: wrongChain).code, "bad-request-signature")

        // Tax bureaus: only certificates of enterprises they are competent for (or issued).
        func bureau(_ taxId: String) throws -> String {
            try XCTUnwrap(try get("/v1/enterprises/\(taxId)", as: auditor).object["bureau"] as? String)
        }
        let taxBureaus = genesis.organizations.filter { $0.role == .taxBureau }.map(\.id)
        var checkedBureau = false
        for number in certificates.keys.sorted() {
            let cert = try get("/v1/certificates/\(number)", as: auditor).object
            let involved = Set([try bureau(party(number, "agent")), try bureau(party(number, "principal")), cert["bureau"] as? String ?? ""])
            guard let outsider = taxBureaus.first(where: { !involved.contains($0) }) else { continue }
            let competent = try bureau(party(number, "agent"))
            let competentView = try get("/v1/certificates/\(number)", as: try organization(competent))
            XCTAssertEqual(competentView.status, 200)
            XCTAssertEqual(competentView.body, try get("/v1/certificates/\(number)", as: auditor).body)
            XCTAssertEqual(try get("/v1/certificates?agent=\(party(number, "agent"))", as: try organization(competent)).status, 200)
            reply = try get("/v1/certificates/\(number)", as: try organization(outsider))
            XCTAssertEqual(reply.status, 403, "\(outsider) on \(number)")
            XCTAssertEqual(try get("/v1/certificates?agent=\(party(number, "agent"))", as: try organization(outsider)).status, 403)
            XCTAssertEqual(try get("/v1/enterprises/\(party(number, "agent"))", as: try organization(outsider)).status, 403)
            checkedBureau = true
            break
        }
        XCTAssertTrue(checkedBureau, "no certificate whose parties are all with one bureau")
        let customs = try organization(try XCTUnwrap(genesis.organizations.first { $0.role == .customs }).id)
        let firstView = try get("/v1/certificates/\(first)", as: auditor).object
        let declaration = try XCTUnwrap(((firstView["lines"] as? [[String: Any]])?.first)?["declarationNo"] as? String)
        XCTAssertEqual(try get("/v1/declarations/\(declaration)", as: customs).status, 200)
        XCTAssertEqual(try get("/v1/certificates/\(first)", as: customs).status, 403)
        XCTAssertEqual(try get("/v1/blocks/1", as: customs).status, 200)
        XCTAssertEqual(try get("/v1/declarations/\(declaration)", as: asAgent).status, 200)  // the agent declared it
        XCTAssertEqual(try get("/v1/declarations/\(declaration)", as: asPrincipal).status, agent == principal ? 200 : 403)

        // The auditor's queries: every filter, stable pagination, totals.
        func all(_ base: String, limit: Int, as signer: RequestSigner = auditor) throws -> [[String: Any]] {
            var items: [[String: Any]] = []
            var after: String?
            for _ in 0..<1000 {
                let separator = base.contains("?") ? "&" : "?"
                let page = try get(base + separator + "limit=\(limit)" + (after.map { "&after=\($0)" } ?? ""), as: signer)
                XCTAssertEqual(page.status, 200, page.text)
                let pageItems = page.object["items"] as? [[String: Any]] ?? []
                XCTAssertLessThanOrEqual(pageItems.count, limit)
                items += pageItems
                after = page.object["next"] as? String
                if after == nil { break }
            }
            return items
        }
        func numbers(_ items: [[String: Any]]) -> [String] { items.compactMap { $0["certificateNumber"] as? String } }
        let everything = numbers(try all("/v1/certificates", limit: 200))
        XCTAssertEqual(everything, certificates.keys.sorted())
        XCTAssertEqual(numbers(try all("/v1/certificates", limit: 7)), everything)
        let page2a = try get("/v1/certificates?limit=5&after=\(try XCTUnwrap(try get("/v1/certificates?limit=5", as: auditor).object["next"] as? String))", as: auditor)
        XCTAssertEqual(numbers(page2a.object["items"] as? [[String: Any]] ?? []), Array(everything[5..<10]))
        XCTAssertEqual(try get("/v1/certificates?limit=100000", as: auditor).object["limit"] as? Int, QueryLimits.maxLimit)
        XCTAssertEqual(try get("/v1/certificates?limit=99999999999999999999999", as: auditor).object["limit"] as? Int, QueryLimits.maxLimit, "a limit beyond Int is capped too")
        XCTAssertEqual(try get("/v1/certificates?limit=-5", as: auditor).code, "invalid-limit")
        XCTAssertEqual(try get("/v1/certificates?after=bm9wZQ", as: auditor).code, "invalid-cursor")
        XCTAssertEqual(try get("/v1/certificates?limit=0", as: auditor).code, "invalid-limit")
        XCTAssertEqual(try get("/v1/certificates?agnet=\(agent)", as: auditor).code, "invalid-query")
        XCTAssertEqual(try get("/v1/certificates?status=lost", as: auditor).code, "invalid-status")
        for taxId in Set(certificates.values.compactMap { $0["agentTaxId"] as? String }).sorted().prefix(4) {
            XCTAssertEqual(numbers(try all("/v1/certificates?agent=\(taxId)", limit: 2)), certificates.keys.sorted().filter { party($0, "agent") == taxId })
        }
        for taxId in Set(certificates.values.compactMap { $0["principalTaxId"] as? String }).sorted().prefix(4) {
            XCTAssertEqual(numbers(try all("/v1/certificates?principal=\(taxId)", limit: 3)), certificates.keys.sorted().filter { party($0, "principal") == taxId })
        }
        for status in ["issued", "partiallyConsumed", "consumed", "revoked"] {
            XCTAssertEqual(
                numbers(try all("/v1/certificates?status=\(status)", limit: 10)),
                certificates.keys.sorted().filter { certificates[$0]?["status"] as? String == status }, status)
        }
        let byDeclaration = try all("/v1/certificates?declaration=\(declaration)", limit: 10)
        XCTAssertTrue(numbers(byDeclaration).contains(first))
        for item in byDeclaration {
            XCTAssertTrue((item["lines"] as? [[String: Any]] ?? []).contains { $0["declarationNo"] as? String == declaration })
        }
        let fullViews = try all("/v1/certificates", limit: 200)
        func issuedOn(_ item: [String: Any]) -> String { (item["issuedAt"] as? [String: Any])?["effectiveDate"] as? String ?? "" }
        let dates = fullViews.map(issuedOn).sorted()
        let (from, to) = (dates[dates.count / 4], dates[dates.count * 3 / 4])
        let inRange = try all("/v1/certificates?issuedFrom=\(from)&issuedTo=\(to)", limit: 4)
        XCTAssertEqual(Set(numbers(inRange)), Set(numbers(fullViews.filter { issuedOn($0) >= from && issuedOn($0) <= to })))
        XCTAssertEqual(inRange.map(issuedOn), inRange.map(issuedOn).sorted(), "ordered by issue date")
        XCTAssertEqual(
            Set(numbers(try all("/v1/certificates?issuedFrom=\(from)&issuedTo=\(to)&status=consumed&agent=\(agent)", limit: 3))),
            Set(numbers(fullViews.filter {
                issuedOn($0) >= from && issuedOn($0) <= to && $0["status"] as? String == "consumed"
                    && ($0["agent"] as? [String: Any])?["taxId"] as? String == agent
            })))

        // Refunds: the whole set's totals are expected.json's; pages add up to them; principal and period filters.
        XCTAssertEqual(try get("/v1/refunds?from=202112&to=202101", as: auditor).code, "invalid-range")
        XCTAssertEqual(try get("/v1/certificates?issuedFrom=2021-12-31&issuedTo=2021-01-01", as: auditor).code, "invalid-range")
        reply = try get("/v1/refunds?limit=1", as: auditor)
        XCTAssertEqual(reply.status, 200, reply.text)
        let totals = try XCTUnwrap(reply.object["totals"] as? [String: Any])
        XCTAssertEqual(totals["refund"] as? String, expected["refundTotal"] as? String)
        XCTAssertEqual(totals["exemptCredit"] as? String, expected["exemptCreditTotal"] as? String)
        XCTAssertEqual(totals["claims"] as? Int, expected["refundsApproved"] as? Int)
        let refunds = try all("/v1/refunds", limit: 8)
        XCTAssertEqual(refunds.count, expected["refundsApproved"] as? Int)
        XCTAssertEqual(Set(refunds.compactMap { $0["claimId"] as? String }).count, refunds.count)
        func sum(_ items: [[String: Any]], _ field: String) -> String {
            ExactDecimal.string(items.reduce(Decimal(0)) { $0 + ExactDecimal.stored($1[field] as? String ?? "0") }, scale: 2)
        }
        XCTAssertEqual(sum(refunds, "refund"), expected["refundTotal"] as? String)
        XCTAssertEqual(sum(refunds, "exemptCredit"), expected["exemptCreditTotal"] as? String)
        let refundPrincipal = try XCTUnwrap(refunds.first?["principalTaxId"] as? String)
        let period = try XCTUnwrap(refunds.first?["period"] as? String)
        for (query, selected) in [
            ("principal=\(refundPrincipal)", refunds.filter { $0["principalTaxId"] as? String == refundPrincipal }),
            ("principal=\(refundPrincipal)&period=\(period)",
             refunds.filter { $0["principalTaxId"] as? String == refundPrincipal && $0["period"] as? String == period }),
            ("period=\(period)", refunds.filter { $0["period"] as? String == period }),
            ("from=\(period)&to=209912", refunds.filter { ($0["period"] as? String ?? "") >= period }),
            ("from=200001&to=\(period)", refunds.filter { ($0["period"] as? String ?? "") <= period }),
        ] {
            let items = try all("/v1/refunds?\(query)", limit: 3)
            XCTAssertEqual(Set(items.compactMap { $0["claimId"] as? String }), Set(selected.compactMap { $0["claimId"] as? String }), query)
            let pageTotals = try get("/v1/refunds?\(query)", as: auditor).object["totals"] as? [String: Any]
            XCTAssertEqual(pageTotals?["refund"] as? String, sum(selected, "refund"), query)
            XCTAssertEqual(pageTotals?["exemptCredit"] as? String, sum(selected, "exemptCredit"), query)
            XCTAssertEqual(pageTotals?["claims"] as? Int, selected.count, query)
        }
        XCTAssertEqual(try get("/v1/refunds?period=2021-03", as: auditor).code, "invalid-period")

        // Enterprises and bureaus query only what is theirs.
        XCTAssertEqual(try get("/v1/certificates?agent=\(agent)", as: asAgent).status, 200)
        XCTAssertEqual(try get("/v1/certificates?principal=\(principal)&status=consumed", as: asPrincipal).status, 200)
        XCTAssertEqual(try get("/v1/certificates?agent=\(party(foreign, "agent"))", as: asAgent).status, 403)
        XCTAssertEqual(try get("/v1/certificates", as: asAgent).status, 403)
        XCTAssertEqual(try get("/v1/certificates?status=consumed", as: try organization(taxBureaus[0])).status, 403)
        let refundOwner = try enterprise(refundPrincipal)
        XCTAssertEqual(try get("/v1/refunds?principal=\(refundPrincipal)", as: refundOwner).status, 200)
        XCTAssertEqual(try get("/v1/refunds", as: refundOwner).status, 403)
        let claimId = try XCTUnwrap(refunds.first?["claimId"] as? String)
        XCTAssertEqual(try get("/v1/claims/\(claimId)", as: refundOwner).status, 200)
        if let otherClaim = refunds.first(where: { $0["principalTaxId"] as? String != refundPrincipal })?["claimId"] as? String {
            XCTAssertEqual(try get("/v1/claims/\(otherClaim)", as: refundOwner).status, 403)
        }

        // Browser sessions: a bearer token with the identity's rights; forged, expired and revoked tokens refused.
        func openSession(_ signer: RequestSigner, body: [UInt8] = []) throws -> HTTPResponse {
            try api.request("POST", "/v1/sessions", body: body, headers: try signer.headers(method: "POST", target: "/v1/sessions", body: body))
        }
        var response = try openSession(asAgent)
        XCTAssertEqual(response.status, 201, response.bodyText)
        let session = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        let token = try XCTUnwrap(session["token"] as? String)
        XCTAssertEqual(token.count, 64)
        XCTAssertEqual(session["identity"] as? String, "ent:" + agent)
        let bearer = [("Authorization", "Bearer " + token)]
        XCTAssertEqual(try get("/v1/certificates/\(first)", as: nil, extra: bearer).body, auditorView.body)
        XCTAssertEqual(try get("/v1/certificates/\(first)", as: nil, extra: [("Authorization", "Bearer  " + token + " ")]).status, 200, "spaces around the token")
        XCTAssertEqual(try get("/v1/certificates/\(foreign)", as: nil, extra: bearer).status, 403)
        reply = try get("/v1/certificates/\(first)", as: nil, extra: [("Authorization", "Bearer " + String(repeating: "ab", count: 32))])
        XCTAssertEqual(reply.status, 401); XCTAssertEqual(reply.code, "invalid-token")
        response = try api.request("POST", "/v1/sessions", headers: bearer)
        XCTAssertEqual(response.status, 401, "a token cannot mint tokens")
        for bad in [#"{"ttlSeconds":0}"#, #"{"ttlSeconds":901}"#, #"{"ttlSeconds":true}"#, #"{"ttlSeconds":"60"}"#, #"{"ttlSeconds":1e30}"#] {
            response = try openSession(asAgent, body: Array(bad.utf8))
            XCTAssertEqual(response.status, 400, bad)
        }
        response = try openSession(asAgent, body: Array(#"{"ttlSeconds":1}"#.utf8))
        let shortToken = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])?["token"] as? String)
        XCTAssertEqual(try get("/v1/certificates/\(first)", as: nil, extra: [("Authorization", "Bearer " + shortToken)]).status, 200)
        usleep(1_300_000)
        reply = try get("/v1/certificates/\(first)", as: nil, extra: [("Authorization", "Bearer " + shortToken)])
        XCTAssertEqual(reply.status, 401); XCTAssertEqual(reply.code, "token-expired")
        response = try api.request("DELETE", "/v1/sessions", headers: bearer)
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(try get("/v1/certificates/\(first)", as: nil, extra: bearer).code, "invalid-token")
        // A token is held by the node that issued it.
        let other = try HTTPClient(url: "http://\(genesis.validators[2].apiAddress)")
        XCTAssertEqual(try other.request("GET", "/v1/status").status, 200)
        // A public endpoint asked with a method it does not take: 405, not a demand to authenticate.
        for (method, path, allow) in [
            ("DELETE", "/v1/status", "GET"), ("POST", "/v1/status", "GET"), ("PUT", "/metrics", "GET"), ("GET", "/v1/transactions", "POST"),
            ("PUT", "/v1/sessions", "POST, DELETE"),
        ] {
            let answer = try other.request(method, path)
            XCTAssertEqual(answer.status, 405, "\(method) \(path)")
            XCTAssertEqual(answer.header("Allow"), allow, "405 names the methods \(path) takes")
        }

        // Refusals are logged with identity, path and reason.
        let log = try String(contentsOfFile: testnet.nodeDirectory(1) + "/node.log", encoding: .utf8)
        XCTAssertTrue(log.contains("access refused: 403 forbidden identity=ent:\(agent) GET /v1/certificates/\(foreign): "), String(log.suffix(3000)))
        XCTAssertTrue(log.contains("access refused: 401 authentication-required identity=- GET /v1/certificates/\(first)"))
        XCTAssertTrue(log.contains("access refused: 401 stale-timestamp identity=auditor:"))
        XCTAssertTrue(log.contains("access refused: 401 invalid-token identity=(bearer)"))
    }
}
