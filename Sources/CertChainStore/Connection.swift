import CSQLite

/// A value bound to or read from an SQL statement.
enum SQLValue {
    case int(Int64)
    case text(String)
    /// TEXT given as raw bytes, bound unchanged (used for range bounds that may not be valid UTF-8).
    case textBytes([UInt8])
    case blob([UInt8])
    case null
}

/// One SQLite connection with a per-connection prepared-statement cache.
/// Not thread-safe: the owner serializes all use (a lock per connection).
final class Connection {
    private var db: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]
    let path: String

    /// SQLITE_TRANSIENT: SQLite copies bound buffers before the call returns.
    private static var transient: sqlite3_destructor_type { unsafeBitCast(-1, to: sqlite3_destructor_type.self) }

    init(path: String, readOnly: Bool) throws {
        self.path = path
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(handle)
            throw StoreError(code: rc, operation: "open \(path)", message: message)
        }
        db = handle
        sqlite3_extended_result_codes(handle, 1)
        sqlite3_busy_timeout(handle, 10_000)
        do {
            if readOnly {
                try execute("PRAGMA query_only=ON")
            } else {
                let mode = try query("PRAGMA journal_mode=WAL") { $0.text(0) }.first ?? ""
                guard mode.lowercased() == "wal" else {
                    throw StoreError(code: 0, operation: "open \(path)", message: "cannot switch to WAL journal mode (got \(mode))")
                }
                // After a checkpoint the log is cut back to this size instead of keeping its largest size on disk.
                _ = try query("PRAGMA journal_size_limit=\(Connection.walBytesMax)") { $0.int(0) }
            }
            try execute("PRAGMA synchronous=FULL")
            try execute("PRAGMA foreign_keys=ON")
        } catch {
            close()
            throw error
        }
    }

    /// Largest write-ahead log kept on disk between checkpoints.
    static let walBytesMax = 4 << 20

    deinit { close() }

    /// Finalizes cached statements and closes the connection; idempotent.
    func close() {
        for statement in statements.values { sqlite3_finalize(statement) }
        statements.removeAll()
        if let db { sqlite3_close_v2(db) }
        db = nil
    }

    private func error(_ rc: Int32, _ operation: String) -> StoreError {
        let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "connection closed"
        return StoreError(code: rc, operation: operation, message: message)
    }

    private func prepared(_ sql: String) throws -> OpaquePointer {
        if let statement = statements[sql] { return statement }
        guard let db else { throw StoreError(code: 0, operation: sql, message: "the store is closed") }
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw error(rc, "prepare \(sql)") }
        statements[sql] = statement
        return statement
    }

    private func bind(_ statement: OpaquePointer, _ values: [SQLValue], _ sql: String) throws {
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let rc: Int32
            switch value {
            case let .int(number):
                rc = sqlite3_bind_int64(statement, index, number)
            case let .text(string):
                rc = bindText(statement, index, Array(string.utf8))
            case let .textBytes(bytes):
                rc = bindText(statement, index, bytes)
            case let .blob(bytes) where bytes.isEmpty:
                rc = sqlite3_bind_zeroblob(statement, index, 0)
            case let .blob(bytes):
                rc = bytes.withUnsafeBytes {
                    sqlite3_bind_blob(statement, index, $0.baseAddress, Int32($0.count), Connection.transient)
                }
            case .null:
                rc = sqlite3_bind_null(statement, index)
            }
            guard rc == SQLITE_OK else { throw error(rc, "bind \(sql)") }
        }
    }

    private func bindText(_ statement: OpaquePointer, _ index: Int32, _ bytes: [UInt8]) -> Int32 {
        // A non-null pointer even for "" so SQLite binds an empty string, not NULL.
        let terminated = bytes + [0]
        return terminated.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                sqlite3_bind_text(statement, index, $0, Int32(bytes.count), Connection.transient)
            }
        }
    }

    /// Runs a statement that returns no rows (or whose rows are ignored).
    func execute(_ sql: String, _ values: [SQLValue] = []) throws {
        _ = try query(sql, values) { _ in () }
    }

    /// Runs a statement and maps every result row.
    func query<T>(_ sql: String, _ values: [SQLValue] = [], row: (Row) throws -> T) throws -> [T] {
        let statement = try prepared(sql)
        // Reset at the end so no read transaction stays open (it would pin a WAL snapshot).
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        try bind(statement, values, sql)
        var rows: [T] = []
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw error(rc, sql) }
            rows.append(try row(Row(statement: statement)))
        }
        return rows
    }

    /// Rows changed by the last INSERT/UPDATE/DELETE.
    var changes: Int { db.map { Int(sqlite3_changes($0)) } ?? 0 }

    /// A read-only view of the current result row.
    struct Row {
        let statement: OpaquePointer

        func int(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }

        func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }

        func blob(_ column: Int32) -> [UInt8] {
            let count = Int(sqlite3_column_bytes(statement, column))
            guard count > 0, let pointer = sqlite3_column_blob(statement, column) else { return [] }
            return Array(UnsafeRawBufferPointer(start: pointer, count: count))
        }

        func text(_ column: Int32) -> String {
            guard let pointer = sqlite3_column_text(statement, column) else { return "" }
            let count = Int(sqlite3_column_bytes(statement, column))
            return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
        }
    }
}
