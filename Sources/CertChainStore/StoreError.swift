/// An error from the chain store: the SQLite result code (0 when the error is the store's own),
/// what the store was doing, and a message that says what went wrong.
public struct StoreError: Error, CustomStringConvertible, Sendable, Equatable {
    /// SQLite's extended result code, or 0 for errors raised by the store itself.
    public var code: Int32
    /// The operation that failed, e.g. `commitBlock` or `open /var/node/chain.sqlite`.
    public var operation: String
    /// SQLite's message or the store's explanation.
    public var message: String

    /// Creates an error.
    public init(code: Int32, operation: String, message: String) {
        self.code = code
        self.operation = operation
        self.message = message
    }

    /// True when a UNIQUE/PRIMARY KEY/CHECK/foreign-key constraint rejected the write.
    public var isConstraintViolation: Bool { code & 0xff == 19 }

    /// A readable description including a hint for common causes.
    public var description: String {
        var text = "store: \(operation) failed"
        if code != 0 { text += " (SQLite code \(code))" }
        text += ": \(message)"
        switch code & 0xff {
        case 5, 6: text += " — another process holds the database; stop it or use a different data directory"
        case 8: text += " — the database file or its directory is read-only; check permissions"
        case 11, 26: text += " — the file is not a valid certchain database or is corrupt; restore it from a peer or backup"
        case 13: text += " — the disk is full"
        case 14: text += " — cannot open the file; check that the directory exists and is writable"
        default: break
        }
        return text
    }
}
