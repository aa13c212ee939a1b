import Foundation

/// A fixed number of result slots filled from `DispatchQueue.concurrentPerform` workers (each slot behind one lock).
public final class ConcurrentSlots<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Value?]

    /// `count` empty slots.
    public init(count: Int) { values = Array(repeating: nil, count: count) }

    /// The value of slot `index` (nil until set).
    public subscript(index: Int) -> Value? {
        get { lock.withLock { values[index] } }
        set { lock.withLock { values[index] = newValue } }
    }

    /// Replaces slot `index` with `transform` of its value, atomically.
    public func update(_ index: Int, _ transform: (Value?) -> Value?) { lock.withLock { values[index] = transform(values[index]) } }

    /// Every slot, in order.
    public var all: [Value?] { lock.withLock { values } }
}

/// `transform(0..<count)` in index order, computed on all cores in chunks of `chunk` indices when there are at least
/// two chunks (on this thread otherwise). For work whose results depend on their index alone: the output is the same
/// either way.
public func concurrentMap<T: Sendable>(count: Int, chunk: Int = 64, _ transform: @Sendable (Int) -> T) -> [T] {
    guard count >= 2 * chunk else { return (0..<count).map(transform) }
    let results = ConcurrentSlots<[T]>(count: (count + chunk - 1) / chunk)
    DispatchQueue.concurrentPerform(iterations: (count + chunk - 1) / chunk) { part in
        results[part] = (part * chunk..<min(count, (part + 1) * chunk)).map(transform)
    }
    return results.all.flatMap { $0 ?? [] }
}
