import CertChainModel
import Foundation
import XCTest

@testable import CertChainNode

/// Shared scaffolding of the multi-process tests: a local network of real `certchain node` processes.
extension XCTestCase {
    /// Starts `validators` validator processes on 127.0.0.1 (samples/small reference data), stopped at teardown.
    func makeTestnet(validators: Int = 4) throws -> (Testnet, Genesis) {
        let root = NetworkTests.repositoryRoot
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("certchain-net-\(UUID().uuidString)").path
        let testnet = Testnet(directory: directory)
        var options = Testnet.CreateOptions(
            templatePath: root.appendingPathComponent("genesis/template.json").path,
            referencePath: root.appendingPathComponent("samples/small/reference.json").path)
        options.validators = validators
        let genesis = try testnet.create(options)
        let binary = try NetworkTests.executable()
        for index in genesis.validators.indices { try testnet.startNode(index, executable: binary) }
        for index in genesis.validators.indices {
            XCTAssertTrue(
                testnet.waitUntilServing(index, apiAddress: genesis.validators[index].apiAddress, timeoutSeconds: 30),
                "node\(index) did not start: \(log(testnet, index))")
        }
        addTeardownBlock {
            for index in genesis.validators.indices { testnet.stopNode(index, graceSeconds: 5) }
            if ProcessInfo.processInfo.environment["KEEPNET"] == nil { try? FileManager.default.removeItem(atPath: directory) }
        }
        return (testnet, genesis)
    }

    /// Replay options for samples/small against every node of `testnet`.
    func smallReplayOptions(_ testnet: Testnet, _ genesis: Genesis) -> WorkloadReplay.Options {
        var options = WorkloadReplay.Options(
            workloadDirectory: NetworkTests.repositoryRoot.appendingPathComponent("samples/small").path,
            apiURLs: genesis.validators.map { "http://\($0.apiAddress)" }, keysDirectory: testnet.keysDirectory)
        options.timeoutSeconds = 120
        return options
    }

    /// The tail of validator `index`'s log, for failure messages.
    func log(_ testnet: Testnet, _ index: Int) -> String {
        (try? String(contentsOfFile: testnet.nodeDirectory(index) + "/node.log", encoding: .utf8)).map { String($0.suffix(4000)) } ?? "(no log)"
    }
}
