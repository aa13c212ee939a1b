import CSQLite
import Foundation

/// The node's durable store of opaque bytes in one SQLite file (WAL, synchronous=FULL):
/// blocks, commit certificates, receipts, the transaction index, state key-values,
/// secondary index rows, the consensus log and metadata.
///
/// One writer connection serialized by a lock; a small pool of reader connections so queries
/// never wait for the writer. Every write method is one SQLite transaction, durable on return.
/// Keys are compared and sorted by their UTF-8 bytes (SQLite BINARY collation).
public final class ChainStore: @unchecked Sendable {
    /// A transaction as stored: its hash, position in the block and receipt bytes.
    public struct StoredTransaction: Sendable {
        /// The transaction id.
        public var hash: [UInt8]
        /// Position in the block, from 0.
        public var index: Int
        /// The encoded receipt.
        public var receiptBytes: [UInt8]

        /// Creates a stored transaction.
        public init(hash: [UInt8], index: Int, receiptBytes: [UInt8]) {
            self.hash = hash
            self.index = index
            self.receiptBytes = receiptBytes
        }
    }

    /// A block as stored: height, hash, encoded block, encoded commit certificate and its transactions.
    public struct StoredBlock: Sendable {
        /// Block height.
        public var height: UInt64
        /// Block (header) hash.
        public var hash: [UInt8]
        /// The encoded block.
        public var blockBytes: [UInt8]
        /// The encoded commit certificate.
        public var certificateBytes: [UInt8]
        /// The block's transactions with their receipts.
        public var transactions: [StoredTransaction]

        /// Creates a stored block.
        public init(height: UInt64, hash: [UInt8], blockBytes: [UInt8], certificateBytes: [UInt8],
                    transactions: [StoredTransaction]) {
            self.height = height
            self.hash = hash
            self.blockBytes = blockBytes
            self.certificateBytes = certificateBytes
            self.transactions = transactions
        }
    }

    /// Largest page `stateEntries`/`indexEntries` return, whatever `limit` asks for.
    public static let pageEntriesMax = 10_000
    /// Number of reader connections kept open at most.
    public static let readerConnectionsMax = 4
    /// Schema version stored in `PRAGMA user_version`.
    static let schemaVersion: Int64 = 2

    /// The database file path.
    public let path: String

    private let writerLock = NSLock()
    private var writer: Connection?
    private let readerCondition = NSCondition()
    private var idleReaders: [Connection] = []
    private var readersOpen = 0
    private var closed = false

    /// Opens (creating if new) the store at `path`, the .sqlite file; creates the schema if missing.
    public init(path: String) throws {
        self.path = path
        let writer = try Connection(path: path, readOnly: false)
        try ChainStore.migrate(writer)
        self.writer = writer
    }

    deinit { close() }

    private static func migrate(_ db: Connection) throws {
        let version = try db.query("PRAGMA user_version") { $0.int(0) }.first ?? 0
        if version == schemaVersion { return }
        guard version == 0 else {
            throw StoreError(code: 0, operation: "open", message:
                "database schema version \(version) is not \(schemaVersion); this certchain build cannot read it"
                + (version < schemaVersion ? " (an older build made it: move the data folder away and the validator catches up from its peers)" : ""))
        }
        try db.execute("BEGIN IMMEDIATE")
        do {
            for sql in [
                """
                CREATE TABLE IF NOT EXISTS blocks(height INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE,
                    block BLOB NOT NULL, certificate BLOB NOT NULL)
                """,
                """
                CREATE TABLE IF NOT EXISTS transactions(hash BLOB PRIMARY KEY,
                    height INTEGER NOT NULL REFERENCES blocks(height), idx INTEGER NOT NULL,
                    receipt BLOB NOT NULL, UNIQUE(height, idx)) WITHOUT ROWID
                """,
                // A rowid table: state records are ~1 KB, which in a WITHOUT ROWID table spill into mostly empty overflow pages.
                "CREATE TABLE IF NOT EXISTS state(key TEXT PRIMARY KEY, value BLOB NOT NULL)",
                // The state tree's buckets: every state key with its bucket and value hash, read a bucket at a time.
                """
                CREATE TABLE IF NOT EXISTS state_tree(bucket INTEGER NOT NULL, key TEXT NOT NULL, value_hash BLOB NOT NULL,
                    PRIMARY KEY(bucket, key)) WITHOUT ROWID
                """,
                "CREATE TABLE IF NOT EXISTS indexes(key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID",
                "CREATE TABLE IF NOT EXISTS consensus(key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID",
                "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID",
                "PRAGMA user_version=\(schemaVersion)",
            ] {
                try db.execute(sql)
            }
            try db.execute("COMMIT")
        } catch {
            try? db.execute("ROLLBACK")
            throw error
        }
    }

    // MARK: connections

    private func withWriter<T>(_ operation: String, _ body: (Connection) throws -> T) throws -> T {
        writerLock.lock()
        defer { writerLock.unlock() }
        guard let writer else { throw StoreError(code: 0, operation: operation, message: "the store is closed") }
        return try body(writer)
    }

    /// Runs `body` in one write transaction (BEGIN IMMEDIATE … COMMIT), rolled back on any error.
    private func writeTransaction(_ operation: String, _ body: (Connection) throws -> Void) throws {
        try withWriter(operation) { db in
            try db.execute("BEGIN IMMEDIATE")
            do {
                try body(db)
                try db.execute("COMMIT")
            } catch let error as StoreError {
                try? db.execute("ROLLBACK")
                throw StoreError(code: error.code, operation: operation, message: error.message)
            } catch {
                try? db.execute("ROLLBACK")
                throw error
            }
        }
    }

    private func withReader<T>(_ operation: String, _ body: (Connection) throws -> T) throws -> T {
        let reader = try checkoutReader(operation)
        defer { checkinReader(reader) }
        do {
            return try body(reader)
        } catch let error as StoreError {
            throw StoreError(code: error.code, operation: operation, message: error.message)
        }
    }

    private func checkoutReader(_ operation: String) throws -> Connection {
        readerCondition.lock()
        defer { readerCondition.unlock() }
        while true {
            if closed { throw StoreError(code: 0, operation: operation, message: "the store is closed") }
            if let reader = idleReaders.popLast() { return reader }
            if readersOpen < ChainStore.readerConnectionsMax {
                readersOpen += 1
                do {
                    return try Connection(path: path, readOnly: true)
                } catch {
                    readersOpen -= 1
                    throw error
                }
            }
            readerCondition.wait()
        }
    }

    private func checkinReader(_ reader: Connection) {
        readerCondition.lock()
        defer { readerCondition.unlock() }
        if closed {
            reader.close()
            readersOpen -= 1
        } else {
            idleReaders.append(reader)
        }
        readerCondition.signal()
    }

    /// Closes all connections; later calls throw "the store is closed". Idempotent.
    public func close() {
        writerLock.lock()
        writer?.close()
        writer = nil
        writerLock.unlock()
        readerCondition.lock()
        closed = true
        for reader in idleReaders { reader.close() }
        readersOpen -= idleReaders.count
        idleReaders.removeAll()
        readerCondition.broadcast()
        readerCondition.unlock()
    }

    // MARK: blocks

    /// Writes block, certificate, receipts, tx index and state changes (nil value = delete) in ONE
    /// SQLite transaction. Fails, leaving nothing behind, if height != lastHeight+1 (an empty store
    /// takes 0 or 1 first) or a transaction hash is already stored.
    public func commitBlock(_ block: StoredBlock, stateChanges: [(key: String, value: [UInt8]?)]) throws {
        try commitBlock(block, stateChanges: stateChanges, indexEntries: [])
    }

    /// As `commitBlock(_:stateChanges:)`, also upserting secondary index rows (e.g. certificate history)
    /// in the same transaction; query them with `indexEntries(keyPrefix:after:limit:)`.
    public func commitBlock(_ block: StoredBlock, stateChanges: [(key: String, value: [UInt8]?)],
                            indexEntries: [(key: String, value: [UInt8])]) throws {
        try commitBlock(block, stateChanges: stateChanges, bucketChanges: [], indexEntries: indexEntries)
    }

    /// As above, also writing the state tree's bucket entries (bucket, key, value hash; nil = deleted) in the
    /// same transaction; read them with `stateBucketEntries(_:)`.
    public func commitBlock(_ block: StoredBlock, stateChanges: [(key: String, value: [UInt8]?)],
                            bucketChanges: [(bucket: Int, key: String, valueHash: [UInt8]?)],
                            indexEntries: [(key: String, value: [UInt8])]) throws {
        guard block.height <= UInt64(Int64.max) else {
            throw StoreError(code: 0, operation: "commitBlock", message: "height \(block.height) exceeds the storable range")
        }
        try writeTransaction("commitBlock(height \(block.height))") { db in
            let last = try db.query("SELECT MAX(height) FROM blocks") { $0.isNull(0) ? nil : UInt64($0.int(0)) }.first ?? nil
            if let last {
                guard block.height == last + 1 else {
                    throw StoreError(code: 0, operation: "commitBlock", message:
                        "block height \(block.height) does not follow the last stored height \(last); expected \(last + 1)")
                }
            } else if block.height > 1 {
                throw StoreError(code: 0, operation: "commitBlock", message:
                    "the store is empty, so the first block must have height 0 or 1, not \(block.height)")
            }
            try db.execute("INSERT INTO blocks(height, hash, block, certificate) VALUES(?, ?, ?, ?)",
                           [.int(Int64(block.height)), .blob(block.hash), .blob(block.blockBytes), .blob(block.certificateBytes)])
            for tx in block.transactions {
                try db.execute("INSERT INTO transactions(hash, height, idx, receipt) VALUES(?, ?, ?, ?)",
                               [.blob(tx.hash), .int(Int64(block.height)), .int(Int64(tx.index)), .blob(tx.receiptBytes)])
            }
            for change in stateChanges {
                if let value = change.value {
                    try db.execute("INSERT INTO state(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                                   [.text(change.key), .blob(value)])
                } else {
                    try db.execute("DELETE FROM state WHERE key=?", [.text(change.key)])
                }
            }
            for change in bucketChanges {
                if let valueHash = change.valueHash {
                    try db.execute("""
                        INSERT INTO state_tree(bucket, key, value_hash) VALUES(?, ?, ?)
                            ON CONFLICT(bucket, key) DO UPDATE SET value_hash=excluded.value_hash
                        """, [.int(Int64(change.bucket)), .text(change.key), .blob(valueHash)])
                } else {
                    try db.execute("DELETE FROM state_tree WHERE bucket=? AND key=?", [.int(Int64(change.bucket)), .text(change.key)])
                }
            }
            for entry in indexEntries {
                try db.execute("INSERT INTO indexes(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                               [.text(entry.key), .blob(entry.value)])
            }
        }
    }

    /// Height and hash of the highest stored block, nil when no block is stored.
    public func lastBlock() throws -> (height: UInt64, hash: [UInt8])? {
        try withReader("lastBlock") { db in
            try db.query("SELECT height, hash FROM blocks ORDER BY height DESC LIMIT 1") {
                (height: UInt64($0.int(0)), hash: $0.blob(1))
            }.first
        }
    }

    /// The encoded block at `height`, nil if absent.
    public func blockBytes(height: UInt64) throws -> [UInt8]? {
        try blockColumn("block", height: height)
    }

    /// The encoded commit certificate of the block at `height`, nil if absent.
    public func certificateBytes(height: UInt64) throws -> [UInt8]? {
        try blockColumn("certificate", height: height)
    }

    /// The hash of the block at `height`, nil if absent.
    public func blockHash(height: UInt64) throws -> [UInt8]? {
        try blockColumn("hash", height: height)
    }

    /// The height of the block with hash `hash`, nil if absent.
    public func blockHeight(hash: [UInt8]) throws -> UInt64? {
        try withReader("blockHeight") { db in
            try db.query("SELECT height FROM blocks WHERE hash=?", [.blob(hash)]) { UInt64($0.int(0)) }.first
        }
    }

    private func blockColumn(_ column: String, height: UInt64) throws -> [UInt8]? {
        guard height <= UInt64(Int64.max) else { return nil }
        return try withReader("read \(column) at height \(height)") { db in
            try db.query("SELECT \(column) FROM blocks WHERE height=?", [.int(Int64(height))]) { $0.blob(0) }.first
        }
    }

    // MARK: transactions

    /// Height and position of a stored transaction, nil if unknown.
    public func transactionLocation(hash: [UInt8]) throws -> (height: UInt64, index: Int)? {
        try withReader("transactionLocation") { db in
            try db.query("SELECT height, idx FROM transactions WHERE hash=?", [.blob(hash)]) {
                (height: UInt64($0.int(0)), index: Int($0.int(1)))
            }.first
        }
    }

    /// The receipt bytes of a stored transaction, nil if unknown.
    public func receiptBytes(txHash: [UInt8]) throws -> [UInt8]? {
        try withReader("receiptBytes") { db in
            try db.query("SELECT receipt FROM transactions WHERE hash=?", [.blob(txHash)]) { $0.blob(0) }.first
        }
    }

    /// Hashes of every stored transaction in chain order (height, then index).
    public func allTransactionHashes() throws -> [[UInt8]] {
        try withReader("allTransactionHashes") { db in
            try db.query("SELECT hash FROM transactions ORDER BY height, idx") { $0.blob(0) }
        }
    }

    // MARK: state

    /// The value stored under state key `key`, nil if absent.
    public func stateValue(key: String) throws -> [UInt8]? {
        try withReader("stateValue") { db in
            try db.query("SELECT value FROM state WHERE key=?", [.text(key)]) { $0.blob(0) }.first
        }
    }

    /// The state tree entries (key, value hash) of `bucket`, sorted by key bytes.
    public func stateBucketEntries(_ bucket: Int) throws -> [(key: String, valueHash: [UInt8])] {
        try withReader("stateBucketEntries") { db in
            try db.query("SELECT key, value_hash FROM state_tree WHERE bucket=? ORDER BY key", [.int(Int64(bucket))]) {
                (key: $0.text(0), valueHash: $0.blob(1))
            }
        }
    }

    /// Calls `body` with every state tree entry, ordered by bucket then key bytes, without holding them all in memory.
    public func forEachStateBucketEntry(_ body: (_ bucket: Int, _ key: String, _ valueHash: [UInt8]) -> Void) throws {
        try withReader("forEachStateBucketEntry") { db in
            _ = try db.query("SELECT bucket, key, value_hash FROM state_tree ORDER BY bucket, key") {
                body(Int($0.int(0)), $0.text(1), $0.blob(2))
            }
        }
    }

    /// Number of state keys.
    public func stateKeyCount() throws -> Int {
        try withReader("stateKeyCount") { db in try db.query("SELECT COUNT(*) FROM state") { Int($0.int(0)) }.first ?? 0 }
    }

    /// Every state entry, sorted by key bytes.
    public func allState() throws -> [(key: String, value: [UInt8])] {
        try withReader("allState") { db in
            try db.query("SELECT key, value FROM state ORDER BY key") { (key: $0.text(0), value: $0.blob(1)) }
        }
    }

    /// Up to `limit` (at most `pageEntriesMax`) state entries whose key starts with `keyPrefix`
    /// and sorts after `after`, sorted by key bytes; pass the last key of a page as `after` for the next.
    public func stateEntries(keyPrefix: String, after: String?, limit: Int) throws -> [(key: String, value: [UInt8])] {
        try prefixEntries(table: "state", keyPrefix: keyPrefix, after: after, limit: limit)
    }

    /// Up to `limit` secondary index rows whose key starts with `keyPrefix`, after `after`, sorted by key bytes.
    public func indexEntries(keyPrefix: String, after: String?, limit: Int) throws -> [(key: String, value: [UInt8])] {
        try prefixEntries(table: "indexes", keyPrefix: keyPrefix, after: after, limit: limit)
    }

    private func prefixEntries(table: String, keyPrefix: String, after: String?, limit: Int) throws -> [(key: String, value: [UInt8])] {
        let count = min(max(limit, 0), ChainStore.pageEntriesMax)
        if count == 0 { return [] }
        var sql = "SELECT key, value FROM \(table) WHERE key >= ?"
        var values: [SQLValue] = [.text(keyPrefix)]
        if let upper = ChainStore.prefixUpperBound(keyPrefix) {
            sql += " AND key < ?"
            values.append(.textBytes(upper))
        }
        if let after {
            sql += " AND key > ?"
            values.append(.text(after))
        }
        sql += " ORDER BY key LIMIT ?"
        values.append(.int(Int64(count)))
        let prefixBytes = Array(keyPrefix.utf8)
        return try withReader("\(table) entries with prefix \(keyPrefix)") { db in
            try db.query(sql, values) { (key: $0.text(0), value: $0.blob(1)) }
        }.filter { $0.key.utf8.starts(with: prefixBytes) }
    }

    /// The smallest byte string greater than the UTF-8 of every string starting with `prefix`,
    /// nil for the empty prefix. Valid UTF-8 never contains 0xFF, so incrementing the last byte works.
    /// The result may be invalid UTF-8, so it is bound as raw text bytes (SQLite compares TEXT with memcmp).
    static func prefixUpperBound(_ prefix: String) -> [UInt8]? {
        var bytes = Array(prefix.utf8)
        guard let last = bytes.popLast() else { return nil }
        bytes.append(last + 1)
        return bytes
    }

    // MARK: consensus log and metadata

    /// Upserts consensus records in one transaction; durable (fsynced) when the call returns.
    public func putConsensusRecords(_ records: [(key: String, value: [UInt8])]) throws {
        try writeTransaction("putConsensusRecords") { db in
            for record in records {
                try db.execute("INSERT INTO consensus(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                               [.text(record.key), .blob(record.value)])
            }
        }
    }

    /// Upserts one consensus record; durable when the call returns.
    public func putConsensusRecord(key: String, value: [UInt8]) throws {
        try putConsensusRecords([(key: key, value: value)])
    }

    /// Every consensus record, sorted by key bytes.
    public func consensusRecords() throws -> [(key: String, value: [UInt8])] {
        try withReader("consensusRecords") { db in
            try db.query("SELECT key, value FROM consensus ORDER BY key") { (key: $0.text(0), value: $0.blob(1)) }
        }
    }

    /// Deletes every consensus record whose key starts with `keyPrefix` (all of them for "").
    public func deleteConsensusRecords(keyPrefix: String) throws {
        try writeTransaction("deleteConsensusRecords") { db in
            if let upper = ChainStore.prefixUpperBound(keyPrefix) {
                try db.execute("DELETE FROM consensus WHERE key >= ? AND key < ?", [.text(keyPrefix), .textBytes(upper)])
            } else {
                try db.execute("DELETE FROM consensus")
            }
        }
    }

    /// Deletes the consensus records with exactly these keys (records of sequences already committed).
    public func deleteConsensusRecords(keys: [String]) throws {
        guard !keys.isEmpty else { return }
        try writeTransaction("deleteConsensusRecords") { db in
            for key in keys { try db.execute("DELETE FROM consensus WHERE key = ?", [.text(key)]) }
        }
    }

    /// Upserts a metadata value; durable when the call returns.
    public func putMeta(key: String, value: [UInt8]) throws {
        try writeTransaction("putMeta") { db in
            try db.execute("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                           [.text(key), .blob(value)])
        }
    }

    /// The metadata value under `key`, nil if absent.
    public func meta(key: String) throws -> [UInt8]? {
        try withReader("meta") { db in
            try db.query("SELECT value FROM meta WHERE key=?", [.text(key)]) { $0.blob(0) }.first
        }
    }
}
