// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "omnichat",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "omnichatd", targets: ["omnichatd"]),
        .library(name: "OmnichatCore", targets: ["OmnichatCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", exact: "2.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", exact: "0.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", exact: "1.35.2"),
        .package(url: "https://github.com/vapor/postgres-nio", exact: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", exact: "2.37.6"),
    ],
    targets: [
        .target(
            name: "OmnichatCore",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "OmnichatAdapters",
            dependencies: [
                "OmnichatCore",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["Telegram/README.md", "Messenger/README.md", "WhatsApp/README.md", "LINE/README.md", "Custom/README.md"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "OmnichatStore",
            dependencies: [
                "OmnichatCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "OmnichatPostgres",
            dependencies: [
                "OmnichatCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // Shared/ is a link to OmnichatStore/Shared: the store's logic,
            // compiled here against this engine's `Database`.
            swiftSettings: swiftSettings + [.define("OMNICHAT_POSTGRES")]
        ),
        .target(
            // Seeders, in-memory fakes of the ports and a scripted transport,
            // for tests only (no production target depends on it).
            name: "OmnichatTesting",
            dependencies: ["OmnichatCore", "OmnichatStore", "OmnichatPostgres"],
            swiftSettings: swiftSettings
        ),
        .systemLibrary(
            name: "CCurl",
            path: "Sources/CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(
            name: "OmnichatDelivery",
            dependencies: [
                "OmnichatCore",
                "CCurl",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "OmnichatServer",
            dependencies: [
                "OmnichatCore",
                "OmnichatAdapters",
                "OmnichatStore",
                "OmnichatPostgres",
                "OmnichatDelivery",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "omnichatd",
            dependencies: [
                "OmnichatServer",
                "OmnichatPostgres",
                "OmnichatCore",
                "OmnichatDelivery",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "allocation-bench",
            dependencies: [
                "OmnichatServer", "OmnichatStore", "OmnichatCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/AllocationBench",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "bare-server",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")],
            path: "Benchmarks/BareServer",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "omnichat-bench",
            dependencies: [
                "OmnichatCore", "OmnichatDelivery", "OmnichatAdapters",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Benchmarks/OmnichatBench",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OmnichatCoreTests",
            dependencies: ["OmnichatCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            // Fast tests of routing and delivery logic on the in-memory fakes.
            name: "OmnichatUnitTests",
            dependencies: [
                "OmnichatTesting", "OmnichatCore", "OmnichatServer", "OmnichatDelivery", "OmnichatAdapters",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OmnichatAdaptersTests",
            dependencies: ["OmnichatAdapters", "OmnichatCore"],
            resources: [.copy("Fixtures"), .copy("Golden")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OmnichatIntegrationTests",
            dependencies: [
                "OmnichatServer", "OmnichatStore", "OmnichatPostgres", "OmnichatDelivery", "OmnichatCore", "OmnichatAdapters",
                "OmnichatTesting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
