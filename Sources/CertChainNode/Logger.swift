import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Line-oriented log to standard error (a node's `node.log` when started by `testnet up`).
public struct Logger: Sendable {
    /// Severity of a line.
    public enum Level: Int, Sendable, Comparable {
        case debug, info, warn, error, off
        /// Orders levels by severity.
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    /// Who is logging (the validator id).
    public var label: String
    /// Lines below this level are dropped.
    public var minimumLevel: Level

    /// A logger for `label` that prints lines at `minimumLevel` and above.
    public init(label: String, minimumLevel: Level = .info) {
        self.label = label
        self.minimumLevel = minimumLevel
    }

    /// Logs at debug level.
    public func debug(_ message: @autoclosure () -> String) { write(.debug, message) }
    /// Logs at info level.
    public func info(_ message: @autoclosure () -> String) { write(.info, message) }
    /// Logs at warn level.
    public func warn(_ message: @autoclosure () -> String) { write(.warn, message) }
    /// Logs at error level.
    public func error(_ message: @autoclosure () -> String) { write(.error, message) }

    private func write(_ level: Level, _ message: () -> String) {
        guard level >= minimumLevel, level != .off else { return }
        let stamp = ISO8601DateFormatter.string(from: Date(), timeZone: .gmt, formatOptions: [.withInternetDateTime, .withFractionalSeconds])
        Self.writeToStandardError(Array("\(stamp) \(level) [\(label)] \(message())\n".utf8))
    }

    /// Writes `bytes` to file descriptor 2 with write(2), giving up on an error: a log reader that went away (a
    /// closed pipe, a restarted collector) must never stop the validator, which FileHandle.write would do (it traps).
    static func writeToStandardError(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            // Bounded: every round writes at least one byte or stops.
            while offset < buffer.count {
                let written = Glibc.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }
}
