// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "drivesd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "drivesd", targets: ["drivesd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0", traits: ["JSON", "YAML"]),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.34.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/hummingbird-project/swift-websocket.git", from: "1.6.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // JSON shapes of CloudSigma's objects. No I/O.
        .target(name: "DriveModel", swiftSettings: swiftSettings),
        // The drive status state machine. Pure: no I/O, time passed in.
        .target(name: "DriveLifecycle", dependencies: ["DriveModel"], swiftSettings: swiftSettings),
        // The seam between the API and storage: the store protocols, their inputs and errors, and
        // the signals a store gives (commits, scheduled work). No storage engine in here.
        .target(
            name: "DriveStorage",
            dependencies: [
                "DriveModel", "DriveLifecycle",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings),
        // The SQLite implementation of the store protocols: the only module that touches SQLite.
        .target(
            name: "DriveStore",
            dependencies: [
                "DriveModel", "DriveLifecycle", "DriveStorage",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The PostgreSQL implementation of the store protocols (several processes on one
        // database): the only module that touches PostgreSQL.
        .target(
            name: "DriveStorePostgres",
            dependencies: [
                "DriveModel", "DriveLifecycle", "DriveStorage",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // Shared/ is DriveStore's Shared/ (a symbolic link): the same stores, compiled over
            // SyncSQL instead of GRDB, with `#if POSTGRES` where the engines differ.
            swiftSettings: swiftSettings + [.define("POSTGRES")]
        ),
        // Drives' bytes: the data directory (extent files), uploads, reads, and the removal of
        // what nothing references. The database side goes through `ContentRepository`.
        .target(
            name: "DriveContent",
            dependencies: [
                "DriveModel", "DriveLifecycle", "DriveStorage",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Background services: the transition worker and the after-commit outbox runner.
        .target(
            name: "DriveWorker",
            dependencies: [
                "DriveStorage",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // HTTP front end: controllers hold store protocols, never a storage engine.
        .target(
            name: "DriveAPI",
            dependencies: [
                "DriveModel", "DriveLifecycle", "DriveStorage", "DriveWorker", "DriveContent",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "WSCore", package: "swift-websocket"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            resources: [
                .embedInCode("Documents/schemas/drive-schema.json"),
                .embedInCode("Documents/schemas/license-schema.json"),
                .embedInCode("Documents/schemas/capabilities.json"),
                .embedInCode("Documents/schemas/job-schema.json"),
                .embedInCode("Documents/schemas/libdrive-schema.json"),
                .embedInCode("Documents/schemas/tag-schema.json"),
                .embedInCode("Documents/schemas/snapshot-schema.json"),
                .embedInCode("Documents/schemas/profile-schema.json"),
                .embedInCode("Documents/schemas/server-schema.json"),
                .embedInCode("Documents/schemas/capabilities-schema.json"),
                .embedInCode("Documents/schemas/ip-schema.json"),
                .embedInCode("Documents/schemas/vlan-schema.json"),
                // The web console: templates, style sheet and script, in the binary.
                .embedInCode("Console/Resources/layout.mustache"),
                .embedInCode("Console/Resources/login.mustache"),
                .embedInCode("Console/Resources/overview.mustache"),
                .embedInCode("Console/Resources/account.mustache"),
                .embedInCode("Console/Resources/drive.mustache"),
                .embedInCode("Console/Resources/jobs.mustache"),
                .embedInCode("Console/Resources/transitions.mustache"),
                .embedInCode("Console/Resources/faults.mustache"),
                .embedInCode("Console/Resources/requests.mustache"),
                .embedInCode("Console/Resources/upload.mustache"),
                .embedInCode("Console/Resources/states.mustache"),
                .embedInCode("Console/Resources/error.mustache"),
                .embedInCode("Console/Resources/console.css"),
                .embedInCode("Console/Resources/console.js"),
            ],
            swiftSettings: swiftSettings
        ),
        // The composition root: picks the storage implementation, builds the API and its services.
        .target(
            name: "DrivesdApp",
            dependencies: [
                "DriveAPI", "DriveStorage", "DriveStore", "DriveStorePostgres", "DriveWorker", "DriveContent",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "drivesd",
            dependencies: [
                "DrivesdApp", "DriveAPI", "DriveStorage", "DriveStore", "DriveStorePostgres", "DriveWorker", "DriveContent",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DriveModelTests",
            dependencies: ["DriveModel"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DriveLifecycleTests",
            dependencies: ["DriveLifecycle", "DriveModel"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DriveStoreTests",
            dependencies: [
                "DriveStore", "DriveStorage", "DriveLifecycle", "DriveModel", "DriveWorker", "DriveContent",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DrivesdProcessTests",
            dependencies: [
                "drivesd", "DriveStore", "DriveStorePostgres", "DriveStorage", "DriveLifecycle", "DriveModel", "DriveContent",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DriveAPITests",
            dependencies: [
                "DriveAPI", "DrivesdApp", "DriveStorage", "DriveStore", "DriveStorePostgres", "DriveWorker", "DriveModel",
                "DriveLifecycle", "DriveContent",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWSTesting", package: "hummingbird-websocket"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
    ]
)
