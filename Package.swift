// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "certchain",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "certchain", targets: ["certchain"])
    ],
    targets: [
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "CSM2Verify", dependencies: ["COpenSSL"]),
        .target(name: "CertChainCrypto", dependencies: ["COpenSSL", "CSM2Verify"]),
        .target(name: "CertChainModel", dependencies: ["CertChainCrypto"]),
        .target(name: "CertChainLedger", dependencies: ["CertChainModel", "CertChainCrypto"]),
        .target(name: "PBFT"),
        .target(name: "CertChainStore", dependencies: ["CSQLite"]),
        .target(name: "CertChainNet"),
        .target(
            name: "CertChainNode",
            dependencies: ["CertChainCrypto", "CertChainModel", "CertChainLedger", "PBFT", "CertChainStore", "CertChainNet"]),
        .target(
            name: "CertChainSimulation",
            dependencies: ["CertChainNode", "CertChainCrypto", "CertChainModel", "CertChainLedger", "CertChainStore", "PBFT"]),
        .executableTarget(name: "certchain", dependencies: ["CertChainNode", "CertChainSimulation"]),
        .testTarget(name: "CertChainCryptoTests", dependencies: ["CertChainCrypto"]),
        .testTarget(name: "CertChainModelTests", dependencies: ["CertChainModel", "CertChainCrypto"]),
        .testTarget(name: "CertChainLedgerTests", dependencies: ["CertChainLedger", "CertChainModel", "CertChainCrypto"]),
        .testTarget(name: "PBFTTests", dependencies: ["PBFT"]),
        .testTarget(name: "CertChainStoreTests", dependencies: ["CertChainStore"]),
        .testTarget(name: "CertChainNetTests", dependencies: ["CertChainNet"]),
        .testTarget(name: "CertChainNodeTests", dependencies: ["CertChainNode"]),
        .testTarget(name: "CertChainSimulationTests", dependencies: ["CertChainSimulation", "CertChainNode"]),
    ],
    swiftLanguageModes: [.v6]
)
