import CertChainLedger
import CertChainModel
import CertChainNet
import Foundation

/// Encoded `GET /v1/certificates/{number}` answers, each kept with the exact state value it was computed
/// from. A request still reads the current value from SQLite (an indexed lookup) and gets the cached
/// answer only when the bytes are identical, so an answer can never be staler than the committed state;
/// what the cache saves is decoding the record, building the view and encoding the JSON for the
/// certificates that enterprises, bureaus and auditors poll over and over.
final class CertificateAnswerCache: Sendable {
    /// One certificate's answer.
    struct Entry: Sendable {
        /// The `cert/<number>` state value the answer was computed from.
        let stateValue: [UInt8]
        /// The decoded record (for the access check: parties and bureau).
        let record: CertificateRecord
        /// The JSON body of the 200 answer.
        let body: [UInt8]
    }

    private let entries: BoundedCache<String, Entry>

    /// An empty cache holding at most `entriesMax` answers.
    init(entriesMax: Int = 20_000) { entries = BoundedCache(entriesMax: entriesMax) }

    /// Whether `a` and `b` hold the same bytes (one memcmp).
    static func sameBytes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.count == b.count && a.withUnsafeBytes { x in b.withUnsafeBytes { y in x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 } }
    }

    /// The answer for `number` whose committed state value is `stateValue`: cached if computed from the same
    /// bytes, otherwise computed with `compute` and cached. Nil when the value does not decode.
    func answer(number: String, stateValue: [UInt8], compute: () -> (record: CertificateRecord, body: [UInt8])?) -> Entry? {
        if let entry = entries[number], Self.sameBytes(entry.stateValue, stateValue) { return entry }
        guard let computed = compute() else { return nil }
        let entry = Entry(stateValue: stateValue, record: computed.record, body: computed.body)
        entries[number] = entry
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
    /// Certificate `number` as committed now — its record (for the access rule) and its encoded answer — read once
    /// from SQLite and decoded only when the stored value changed; nil when there is no such certificate.
    func certificateAnswer(number: String) -> CertificateAnswerCache.Entry? {
        let key = Ledger.certificateKey(number)
        guard let value = (try? store.stateValue(key: key)) ?? nil else { return nil }
        return certificateAnswers.answer(number: number, stateValue: value) {
            let reader = SingleValueReader(key: key, value: value)
            guard let record = Ledger.certificateRecord(number: number, in: reader),
                let view = Ledger.certificate(number: number, in: reader), let body = Self.encodeJSON(view)
            else { return nil }
            return (record, body)
        }
    }
}
