// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "patron",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "patron", targets: ["patron"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-openapi-runtime.git", from: "1.13.4"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird.git", from: "2.1.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.17.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
    ],
    targets: [
        // Shared vocabulary: typed identifiers, money, points, the clock.
        .target(name: "SharedModels", swiftSettings: swiftSettings),
        // The one rule language: parser, type checker, evaluator.
        .target(name: "Expressions", dependencies: ["SharedModels"], swiftSettings: swiftSettings),
        // Domain rooms: Foundation + SharedModels only.
        .target(name: "Customers", dependencies: ["SharedModels"], swiftSettings: swiftSettings),
        .target(name: "Access", dependencies: ["SharedModels"], swiftSettings: swiftSettings),
        .target(name: "Loyalty", dependencies: ["SharedModels", "Customers", "Expressions"], swiftSettings: swiftSettings),
        // Marketing: segments, campaigns, their outbox and responses.
        .target(name: "Campaigns", dependencies: ["SharedModels", "Expressions"], swiftSettings: swiftSettings),
        // Service: requests and complaints in queues with value-based SLAs, threads, surveys.
        .target(name: "Support", dependencies: ["SharedModels", "Customers"], swiftSettings: swiftSettings),
        // Sales: leads handed over by campaigns, opportunities and the pipeline, key accounts.
        .target(name: "Sales", dependencies: ["SharedModels"], swiftSettings: swiftSettings),
        // Partners and coalitions: outlets, the points they pay for, the rewards they honour, statements, settlements.
        .target(name: "Partners", dependencies: ["SharedModels"], swiftSettings: swiftSettings),
        // Customer intelligence: RFM, lifetime value, churn, baskets — pure numerics over values.
        // Optimised in debug builds too: model fitting in -Onone is 10–50× slower, which would make
        // the tests that reproduce the published results take minutes.
        .target(
            name: "Analytics", dependencies: ["SharedModels"],
            swiftSettings: swiftSettings + [.unsafeFlags(["-O"], .when(configuration: .debug))]),
        // The Jobs room: background jobs as services, scheduled and claimed in the database.
        .target(
            name: "Jobs",
            dependencies: [
                "SharedModels", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Storage: each domain's store protocols implemented once over SQLKit.
        .target(
            name: "Storage",
            dependencies: [
                "SharedModels", "Customers", "Access", "Loyalty", "Analytics", "Campaigns", "Support", "Partners", "Sales", "Expressions", "Jobs",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StorageSQLite",
            dependencies: [
                "Storage", "Expressions", "SharedModels", .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The same SQLite file through GRDB.swift (PATRON_SQLITE_DRIVER=grdb): #18's driver spike.
        .target(
            name: "StorageGRDB",
            dependencies: [
                "Storage", "Expressions", "SharedModels", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "SQLKit", package: "sql-kit"), .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StoragePostgres",
            dependencies: [
                "Storage", "SharedModels", .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The REST API: OpenAPI-generated types and handlers over domain facades.
        .target(
            name: "HTTPAPI",
            dependencies: [
                "SharedModels", "Customers", "Access", "Loyalty", "Analytics", "Campaigns", "Support", "Sales", "Partners", "Expressions", "Jobs",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            exclude: ["openapi-generator-config.yaml"],
            swiftSettings: swiftSettings
        ),
        // Staff console, member portal and partner portal: server-rendered Mustache pages over the domain facades.
        .target(
            name: "WebConsole",
            dependencies: [
                "SharedModels", "Customers", "Access", "Loyalty", "Analytics", "Campaigns", "Support", "Partners", "Sales", "Expressions", "Jobs", "Interchange",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"), .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Templates"), .copy("Static")],
            swiftSettings: swiftSettings
        ),
        // Message channels: SMTP, the SMS gateway, print files, Mustache templates (behind the
        // Campaigns room's MessageChannel and TemplateEngine).
        .target(
            name: "Channels",
            dependencies: [
                "Campaigns", "SharedModels", .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Composition root: configuration, stores, services, the router, the jobs, the server.
        .target(
            name: "App",
            dependencies: [
                "SharedModels", "Customers", "Access", "Loyalty", "Analytics", "Campaigns", "Support", "Partners", "Sales", "Storage", "StorageSQLite", "StorageGRDB", "StoragePostgres", "HTTPAPI",
                "WebConsole", "Jobs", "Channels",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Resources/openapi.yaml")],
            swiftSettings: swiftSettings
        ),
        // Interchange: CSV import and export, file analysis, campaign plan files.
        .target(
            name: "Interchange",
            dependencies: [
                "Customers", "Loyalty", "Campaigns", "Analytics", "SharedModels",
            ],
            swiftSettings: swiftSettings
        ),
        // The demo company and the benchmarks (patron demo, serve --demo, patron bench).
        .target(
            name: "Demo",
            dependencies: [
                "App", "Interchange", "Access", "Customers", "Loyalty", "Analytics", "Campaigns", "Partners", "Sales", "Support", "SharedModels",
                "Storage", "HTTPAPI", "WebConsole", "Channels",
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "patron",
            dependencies: [
                "App", "Interchange", "Demo", "Access", "Customers", "Loyalty", "Analytics", "Campaigns", "Support", "Sales", "Jobs", "SharedModels",
                "Storage", .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TestSupport",
            dependencies: [
                "App", "Storage", "StorageSQLite", "StoragePostgres", "SharedModels", .product(name: "Logging", package: "swift-log"),
                .product(name: "SQLKit", package: "sql-kit"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "SharedModelsTests", dependencies: ["SharedModels"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ExpressionsTests", dependencies: ["Expressions", .product(name: "PropertyBased", package: "swift-property-based")],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "JobsTests", dependencies: ["Jobs", "App", "Storage", "SharedModels", "TestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings),
        .testTarget(name: "InterchangeTests", dependencies: ["Interchange", "App", "Demo", "SharedModels", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "HTTPAPITests",
            dependencies: [
                "HTTPAPI", "Access", "SharedModels", .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"), .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(name: "SalesTests", dependencies: ["Sales"], swiftSettings: swiftSettings),
        .testTarget(name: "AccessTests", dependencies: ["Access", "SharedModels"], swiftSettings: swiftSettings),
        .testTarget(name: "PartnersTests", dependencies: ["Partners", "SharedModels"], swiftSettings: swiftSettings),
        .testTarget(name: "ChannelsTests", dependencies: ["Channels", "Campaigns", "SharedModels"], swiftSettings: swiftSettings),
        .testTarget(name: "WebConsoleTests", dependencies: ["WebConsole", "Loyalty", "Analytics", "SharedModels"], swiftSettings: swiftSettings),
        .testTarget(name: "DemoTests", dependencies: ["Demo", "App", "Loyalty", "SharedModels", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "StorageSQLiteTests", dependencies: ["StorageSQLite", "StorageGRDB", "Storage", "SharedModels", .product(name: "SQLKit", package: "sql-kit")],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "StoragePostgresTests",
            dependencies: [
                "StoragePostgres", "Storage", "SharedModels", .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"), .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(name: "SupportTests", dependencies: ["Support", "SharedModels"], swiftSettings: swiftSettings),
        .testTarget(name: "CampaignsTests", dependencies: ["Campaigns", "SharedModels"], swiftSettings: swiftSettings),
        .testTarget(name: "AnalyticsTests", dependencies: ["Analytics", "SharedModels"], swiftSettings: swiftSettings),
        .testTarget(name: "CustomersTests", dependencies: ["Customers", "SharedModels"], swiftSettings: swiftSettings),
        .testTarget(
            name: "LoyaltyTests",
            dependencies: [
                "Loyalty", "Customers", "Access", "SharedModels", "TestSupport", "App", "Demo", "Interchange", "Storage", "Expressions",
                "StoragePostgres",
                .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "SQLKit", package: "sql-kit"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "StorageTests",
            dependencies: [
                "TestSupport", "Storage", "Customers", "Access", "Analytics", "App", "Demo", "Interchange", "SharedModels", "Expressions",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "AppTests",
            dependencies: [
                "TestSupport", "App", "Interchange", "Demo", "Channels", "WebConsole", "HTTPAPI", "Customers", "Access", "Analytics", "Campaigns", "Jobs", "Loyalty",
                "StorageSQLite", "StoragePostgres", "Expressions", "Support", "Partners", "Sales", "SharedModels", "Storage",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
