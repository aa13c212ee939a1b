import Foundation
import XCTest
import CertChainStore

/// Kills a writer process with SIGKILL mid-stream and checks that every block it reported as
/// committed survived, and that the store is consistent (no half-written block).
final class CrashTests: XCTestCase {
    static let pathVariable = "CERTCHAIN_STORE_CRASH_CHILD_PATH"

    /// The child side: runs only when the parent test starts this test binary with the variable set.
    func testChildWriterLoop() throws {
        guard let path = ProcessInfo.processInfo.environment[CrashTests.pathVariable] else { return }
        let store = try ChainStore(path: path)
        var height = (try store.lastBlock()?.height ?? 0) + 1
        while true {
            try store.commitBlock(makeBlock(height), stateChanges: [(key: "height", value: Array("\(height)".utf8))])
            try store.putConsensusRecords([(key: "last", value: Array("\(height)".utf8))])
            FileHandle.standardOutput.write(Data("COMMITTED \(height)\n".utf8))
            height += 1
        }
    }

    func testSIGKILLedWriterLosesNothingItReported() throws {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0])
        guard FileManager.default.isExecutableFile(atPath: executable.path), executable.path.hasSuffix(".xctest") else {
            throw XCTSkip("cannot re-run the test binary (\(executable.path)); skipping the SIGKILL test")
        }
        let directory = NSTemporaryDirectory() + "certchain-crash-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/chain.sqlite"

        var reported: UInt64 = 0
        for round in 0..<2 {
            let process = Process()
            process.executableURL = executable
            process.arguments = ["CertChainStoreTests.CrashTests/testChildWriterLoop"]
            var environment = ProcessInfo.processInfo.environment
            environment[CrashTests.pathVariable] = path
            process.environment = environment
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            try process.run()
            let target = reported + 30
            var buffer = ""
            let reader = pipe.fileHandleForReading
            while reported < target {
                let data = reader.availableData
                if data.isEmpty { break }   // child exited
                buffer += String(decoding: data, as: UTF8.self)
                while let newline = buffer.firstIndex(of: "\n") {
                    let line = String(buffer[..<newline])
                    buffer.removeSubrange(...newline)
                    if line.hasPrefix("COMMITTED "), let height = UInt64(line.dropFirst(10)) { reported = height }
                }
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationReason, .uncaughtSignal, "round \(round)")
            XCTAssertGreaterThanOrEqual(reported, target, "child stopped early in round \(round)")

            let store = try ChainStore(path: path)
            let last = try XCTUnwrap(try store.lastBlock()).height
            XCTAssertGreaterThanOrEqual(last, reported, "a block the child reported as committed was lost")
            XCTAssertEqual(try store.stateValue(key: "height"), Array("\(last)".utf8), "state not in step with blocks")
            XCTAssertEqual(try store.allTransactionHashes().count, Int(last) * 2)
            for height in 1...last {
                XCTAssertEqual(try store.blockBytes(height: height), Array("block-\(height)".utf8))
            }
            store.close()
            reported = last
        }
    }
}
