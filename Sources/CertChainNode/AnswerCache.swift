import CertChainLedger
import CertChainNet
import Foundation

/// Encoded `GET /v1/certificates/{number}` answers, each kept with the exact state value it was computed
/// from. A request still reads the current value from SQLite (one indexed lookup) and gets the cached
/// answer only when the bytes are identical, so an answer can never be staler than the committed state;
/// what the cache saves is decoding the record, building the view and encoding the JSON for the
/// certificates that enterprises, bureaus and auditors poll over and over.
final class CertificateAnswerCache: @unchecked Sendable {
    /// One certificate's answer.
    struct Entry {
        /// The `cert/<number>` state value the answer was computed from.
        let stateValue: [UInt8]
        /// The decoded record (for the access check: parties and bureau).
        let record: CertificateRecord
        /// The JSON body of the 200 answer.
        let body: [UInt8]
    }

    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    /// Most answers kept; beyond it the cache starts over (bounded memory, no bookkeeping per hit).
    let entriesMax: Int

    /// An empty cache holding at most `entriesMax` answers.
    init(entriesMax: Int = 20_000) { self.entriesMax = entriesMax }

    /// The answer for `number` whose committed state value is `stateValue`: cached if computed from the same
    /// bytes, otherwise computed with `compute` and cached. Nil when the value does not decode.
    func answer(number: String, stateValue: [UInt8], compute: () -> (record: CertificateRecord, body: [UInt8])?) -> Entry? {
        if let entry = lock.withLock({ entries[number] }), entry.stateValue == stateValue { return entry }
        guard let computed = compute() else { return nil }
        let entry = Entry(stateValue: stateValue, record: computed.record, body: computed.body)
        lock.withLock {
            if entries.count >= entriesMax { entries.removeAll(keepingCapacity: true) }
            entries[number] = entry
        }
        return entry
    }
}

/// A state reader over one known key-value (to compute an answer from bytes already read).
struct SingleValueReader: StateReader {
    let key: String
    let value: [UInt8]
    func value(forKey key: String) -> [UInt8]? { key == self.key ? value : nil }
}

extension Node {
    /// `GET /v1/certificates/{number}` (without a proof): authenticate, read the state value once, answer from
    /// the cache when the value is unchanged, and apply the same access rule as every other read.
    func certificateAnswer(_ request: HTTPRequest, number: String) -> HTTPResponse {
        let identity: AccessIdentity
        switch authenticate(request, allowBearer: true) {
        case .failure(let refusal): return refuse(refusal, request)
        case .success(let found): identity = found
        }
        let key = Ledger.certificateKey(number)
        let notFound = HTTPResponse.error(404, code: "certificate-not-found", message: "no certificate \(number) on this chain")
        guard let value = (try? store.stateValue(key: key)) ?? nil else { return notFound }
        let entry = certificateAnswers.answer(number: number, stateValue: value) {
            let reader = SingleValueReader(key: key, value: value)
            guard let record = Ledger.certificateRecord(number: number, in: reader),
                let view = Ledger.certificate(number: number, in: reader)
            else { return nil }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            guard let body = try? encoder.encode(view) else { return nil }
            return (record, Array(body))
        }
        guard let entry else { return .error(500, code: "internal", message: "certificate \(number) could not be read") }
        if !mayRead(certificate: entry.record, identity) {
            return refuse(.forbidden("\(identity.text) may not read certificate \(number)"), request, identity: identity)
        }
        return .json(200, entry.body)
    }
}
