import CertChainCrypto
import Foundation

/// Short-lived bearer tokens for browser sessions, in memory only (a restart logs everyone out).
///
/// Tokens are 32 random bytes (64 hex characters); the node keeps only their SHA-256, so lookups do not
/// depend on the token's bytes beyond a hash-table probe. At most `capacity` sessions; the oldest goes first.
final class SessionStore: @unchecked Sendable {
    /// A live session: who it is for and until when.
    struct Session {
        var identity: AccessIdentity
        var expiresMs: Int64
    }

    /// Longest (and default) lifetime of a token; a client may ask for less.
    static let lifetimeMaxMs: Int64 = 15 * 60 * 1000
    /// Most live sessions per node.
    static let capacity = 10_000

    private let lock = NSLock()
    private var sessions: [[UInt8]: Session] = [:]
    private var order: [(hash: [UInt8], expiresMs: Int64)] = []

    /// Number of sessions held (expired ones included until pruned).
    var count: Int { lock.withLock { sessions.count } }

    /// A new token for `identity`, valid until the returned time.
    func create(for identity: AccessIdentity, nowMs: Int64, lifetimeMs: Int64 = lifetimeMaxMs) -> (token: String, expiresMs: Int64) {
        let token = SecureRandom.bytes(32)
        let hash = Digest.sha256(token)
        let expires = nowMs + min(max(1000, lifetimeMs), Self.lifetimeMaxMs)
        lock.withLock {
            prune(nowMs: nowMs)
            while sessions.count >= Self.capacity, let oldest = order.first {
                order.removeFirst()
                sessions[oldest.hash] = nil
            }
            sessions[hash] = Session(identity: identity, expiresMs: expires)
            order.append((hash, expires))
        }
        return (Hex.encode(token), expires)
    }

    /// The session of a presented token, or why it is refused (`invalid-token`, `token-expired`).
    func lookup(_ tokenHex: String, nowMs: Int64) -> Result<AccessIdentity, AccessRefusal> {
        // 64 bytes that are all hex digits are 64 characters: counted in bytes (no grapheme walk).
        guard tokenHex.utf8.count == 64, let token = Hex.decode(tokenHex.lowercased()) else {
            return .failure(AccessRefusal(401, "invalid-token", "the bearer token is not 64 hex characters"))
        }
        let hash = Digest.sha256(token)
        return lock.withLock {
            guard let session = sessions[hash] else {
                return .failure(AccessRefusal(401, "invalid-token", "the bearer token is unknown here (forged, revoked, or issued by another node)"))
            }
            guard session.expiresMs > nowMs else {
                sessions[hash] = nil
                return .failure(AccessRefusal(401, "token-expired", "the bearer token expired; sign POST /v1/sessions again"))
            }
            return .success(session.identity)
        }
    }

    /// Ends the session of `tokenHex`; true if it existed.
    func revoke(_ tokenHex: String) -> Bool {
        guard let token = Hex.decode(tokenHex.lowercased()) else { return false }
        let hash = Digest.sha256(token)
        return lock.withLock { sessions.removeValue(forKey: hash) != nil }
    }

    /// Drops expired or revoked sessions from the front of the creation-ordered queue (others go on lookup or eviction). Caller holds the lock.
    private func prune(nowMs: Int64) {
        var drop = 0
        while drop < order.count, order[drop].expiresMs <= nowMs || sessions[order[drop].hash] == nil {
            sessions[order[drop].hash] = nil
            drop += 1
        }
        if drop > 0 { order.removeFirst(drop) }
    }
}
