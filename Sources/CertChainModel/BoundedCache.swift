import Foundation

/// A thread-safe map for caches whose misses only cost a recomputation: when it holds `entriesMax` entries the
/// next insertion starts it over, so memory stays bounded with no bookkeeping per hit.
public final class BoundedCache<Key: Hashable, Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [Key: Value] = [:]
    /// Most entries kept.
    public let entriesMax: Int

    /// An empty cache holding at most `entriesMax` entries.
    public init(entriesMax: Int) {
        precondition(entriesMax > 0, "entriesMax must be positive")
        self.entriesMax = entriesMax
    }

    /// The value cached under `key`; setting a value inserts it (starting over when full), setting nil removes it.
    public subscript(key: Key) -> Value? {
        get { lock.withLock { entries[key] } }
        set {
            lock.withLock {
                guard let newValue else {
                    entries[key] = nil
                    return
                }
                if entries[key] == nil && entries.count >= entriesMax { entries.removeAll(keepingCapacity: true) }
                entries[key] = newValue
            }
        }
    }
}

/// Bytes (a transaction id, a digest) as a dictionary or set key, hashed in one pass over the buffer: `[UInt8]`
/// itself hashes byte by byte, which shows in profiles where ids are looked up per transaction.
public struct ByteKey: Hashable, Sendable {
    /// The bytes.
    public let bytes: [UInt8]

    /// A key for `bytes`.
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(bytes.count)
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
