// swift-tools-version: 6.1
import PackageDescription

// Layers (DESIGN.md §4); arrows point down only:
//   executables → P2PServer → P2PClient (the server's own endpoint), Mailbox, RaftStorage, Transport
//   P2PClient → Delivery, ClientProtocol, LMDB (its own ledger), Transport — never Mailbox
//   Mailbox, RaftStorage → LMDB → CLMDB; Mailbox, ClientProtocol, Delivery → MessageModel → P2PCore
//   Delivery (pure delivery cores: client outbox/inbox, server push window; no I/O, no clocks)
//   RaftStorage → Raft (pure: no NIO, no LMDB, no clocks)
//   Transport → WireCodec (NIOCore only) → P2PCore; Transport → ReliableDatagram (UDP tunnels)
//   ReliableDatagram (pure KCP-compatible ARQ: no I/O, no clocks; no dependencies)
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "p2pcore",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "P2PServer", targets: ["P2PServer"]),
        .library(name: "P2PClient", targets: ["P2PClient"]),
        .library(name: "LMDB", targets: ["LMDB"]),
        .library(name: "Raft", targets: ["Raft"]),
        .library(name: "ReliableDatagram", targets: ["ReliableDatagram"]),
        .executable(name: "p2pcore-server", targets: ["P2PServerMain"]),
        .executable(name: "mailbox-admin", targets: ["MailboxAdmin"]),
        .executable(name: "lmdb-bench", targets: ["LMDBBench"]),
        .executable(name: "snapshot-bench", targets: ["SnapshotBench"]),
        .executable(name: "p2pcore-demo", targets: ["P2PDemo"]),
        .executable(name: "p2pcore-bench", targets: ["RelayBench"]),
        .executable(name: "raft-simulate", targets: ["RaftSimulate"]),
        // Delivery simulator (issue 13).
        .executable(name: "delivery-simulate", targets: ["DeliverySimulate"]),
        .executable(name: "p2pcore-chaos", targets: ["P2PChaos"]),
        .executable(name: "p2pcore-fuzz", targets: ["P2PFuzz"]),
        .executable(name: "p2pcore-attack", targets: ["P2PAttack"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        // Server configuration file + environment layering (issue 16).
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        // `Scripts/docs` (DocC catalogs of P2PClient and P2PServer); never part of a normal build.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        // Monitoring (issue 16): metrics API, Prometheus exposition, the monitor's HTTP server.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
    ],
    targets: [
        // MARK: Infra
        .systemLibrary(
            name: "CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        .target(name: "LMDB", dependencies: ["CLMDB"], swiftSettings: strict),
        .target(
            name: "P2PCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        .target(
            name: "WireCodec",
            dependencies: ["P2PCore", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        .target(
            name: "Transport",
            dependencies: [
                "P2PCore", "WireCodec", "ReliableDatagram",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // MARK: Domain
        .target(
            name: "Raft",
            dependencies: [
                "P2PCore",
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: strict
        ),
        .target(name: "ReliableDatagram", swiftSettings: strict),
        .target(name: "RaftSimulation", dependencies: ["Raft", "P2PCore"], swiftSettings: strict),
        .executableTarget(
            name: "RaftSimulate",
            dependencies: ["RaftSimulation", "P2PCore", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict
        ),
        // MARK: Delivery simulator (issue 13)
        .target(
            name: "DeliverySimulation",
            dependencies: ["Raft", "Mailbox", "LMDB", "ClientProtocol", "P2PCore", "Delivery", "MessageModel"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "DeliverySimulate",
            dependencies: ["DeliverySimulation", "P2PCore", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict
        ),
        .target(name: "RaftStorage", dependencies: ["Raft", "LMDB", "P2PCore"], swiftSettings: strict),
        .target(name: "MessageModel", dependencies: ["P2PCore"], swiftSettings: strict),
        .target(
            name: "Delivery",
            dependencies: ["P2PCore", "MessageModel", .product(name: "HeapModule", package: "swift-collections")],
            swiftSettings: strict
        ),
        .target(
            name: "Mailbox",
            dependencies: ["LMDB", "P2PCore", "MessageModel", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),

        .target(
            name: "ClientProtocol",
            dependencies: ["P2PCore", "MessageModel", "Transport"],
            swiftSettings: strict
        ),

        .target(
            name: "AdminProtocol",
            dependencies: [
                "P2PCore", "Transport", "WireCodec",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),

        // MARK: Runtimes
        .target(
            name: "P2PServer",
            dependencies: [
                "MessageModel", "P2PCore", "Raft", "RaftStorage", "Mailbox", "Delivery", "Transport", "WireCodec", "LMDB", "ClientProtocol", "P2PClient", "AdminProtocol",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "P2PClient",
            dependencies: [
                "P2PCore", "Transport", "WireCodec", "LMDB", "MessageModel", "Delivery", "ClientProtocol",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: strict
        ),

        // MARK: Fuzzing
        .target(
            name: "Fuzzing",
            dependencies: [
                "Raft", "Mailbox", "Delivery", "LMDB", "MessageModel", "P2PCore", "WireCodec", "ClientProtocol", "AdminProtocol", "ReliableDatagram", "P2PClient",
                "P2PServer", "Transport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "P2PFuzz",
            dependencies: ["Fuzzing", "P2PCore", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict
        ),

        // MARK: Executables
        // Log output formats for executables (text or one JSON object per line).
        .target(
            name: "LogFormats",
            dependencies: [.product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // p2pcore-server's settings: flags > environment (P2PCORE_*) > config file > defaults.
        .target(
            name: "P2PServerSettings",
            dependencies: [
                "P2PServer", "P2PCore", "Mailbox", "LogFormats",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ClusterHarness",
            dependencies: [
                "P2PClient", "AdminProtocol", "P2PCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "P2PServerMain",
            dependencies: [
                "P2PServer", "P2PCore", "P2PServerSettings", "LogFormats",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "P2PChaos",
            dependencies: [
                "ClusterHarness", "P2PClient", "P2PCore", "AdminProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "P2PAttack",
            dependencies: [
                "ClusterHarness", "Transport", "WireCodec", "ClientProtocol", "AdminProtocol", "P2PClient", "MessageModel", "P2PCore", "P2PServer", "Raft", "Mailbox",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "MailboxAdmin",
            dependencies: [
                "P2PCore", "AdminProtocol", "Transport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "P2PDemo",
            dependencies: [
                "ClusterHarness", "P2PClient", "P2PCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Thousands of protocol-level clients in one process, for p2pcore-bench scale/queued.
        .target(
            name: "SimulatedClients",
            dependencies: ["P2PCore", "Transport", "WireCodec", "ClientProtocol", "MessageModel", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "RelayBench",
            dependencies: [
                "ClusterHarness", "P2PClient", "P2PCore", "SimulatedClients", "AdminProtocol", "MessageModel", "Delivery",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Sources/Benchmarks/RelayBench",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "SnapshotBench",
            dependencies: ["P2PServer", "Mailbox", "MessageModel", "LMDB", "Raft", "P2PCore", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Benchmarks/SnapshotBench",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "LMDBBench",
            dependencies: ["LMDB", "CLMDB", "RaftStorage", "P2PCore", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Benchmarks/LMDBBench",
            swiftSettings: strict
        ),

        // MARK: Tests
        .target(
            name: "TestSupport",
            dependencies: ["ClusterHarness", "P2PClient", "P2PCore"],
            path: "Tests/TestSupport",
            swiftSettings: strict
        ),
        .testTarget(name: "LMDBTests", dependencies: ["TestSupport", "LMDB"], swiftSettings: strict),
        .testTarget(name: "P2PCoreTests", dependencies: ["TestSupport", "P2PCore"], swiftSettings: strict),
        .testTarget(
            name: "P2PServerTests",
            dependencies: [
                "TestSupport", "P2PServer", "P2PClient", "ClusterHarness", "Mailbox", "Raft", "LMDB", "MessageModel", "P2PCore", "AdminProtocol", "ClientProtocol", "Transport", "WireCodec",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "WireCodecTests",
            dependencies: [
                "WireCodec",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TransportTests",
            dependencies: [
                "TestSupport", "Transport", "WireCodec", "P2PCore", "ReliableDatagram",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "P2PClientTests", dependencies: ["TestSupport", "ClusterHarness", "P2PClient", "ClientProtocol", "Delivery", "Mailbox", "LMDB", "MessageModel", "P2PCore"], swiftSettings: strict),
        .testTarget(name: "RaftTests", dependencies: ["TestSupport", "Raft", "RaftSimulation", "P2PCore"], swiftSettings: strict),
        .testTarget(name: "RaftStorageTests", dependencies: ["TestSupport", "RaftStorage", "Raft", "LMDB", "P2PCore"], swiftSettings: strict),
        .testTarget(name: "ReliableDatagramTests", dependencies: ["TestSupport", "ReliableDatagram", "P2PCore"], swiftSettings: strict),
        .testTarget(name: "FuzzTests", dependencies: ["TestSupport", "Fuzzing", "Raft"], swiftSettings: strict),
        .testTarget(name: "DeliveryTests", dependencies: ["Delivery", "MessageModel", "P2PCore"], swiftSettings: strict),
        .testTarget(name: "DeliverySimulationTests", dependencies: ["DeliverySimulation", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "LogFormatsTests", dependencies: ["LogFormats", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .testTarget(
            name: "P2PServerSettingsTests",
            dependencies: [
                "TestSupport", "P2PServerSettings", "P2PServer", "P2PCore", "LogFormats", "Mailbox",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "SimulatedClientsTests", dependencies: ["SimulatedClients", "MessageModel", "P2PCore"], swiftSettings: strict),
        .testTarget(name: "MailboxTests", dependencies: ["TestSupport", "ClusterHarness", "Mailbox", "LMDB", "MessageModel", "P2PCore"], swiftSettings: strict),
    ]
)
