// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "dlgforge",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "DlgCore", targets: ["DlgCore"]),
        // The seven tools in one binary; dlg-gen, dlg-dedup, ... are links to it (scripts/link-tools.sh).
        .executable(name: "dlg", targets: ["dlg"]),
        .executable(name: "dlg-mock", targets: ["dlg-mock"]),
        .executable(name: "dlg-fuzz", targets: ["dlg-fuzz"]),
        .executable(name: "dlg-loadgen", targets: ["dlg-loadgen"]),
        .executable(name: "dlg-nearbench", targets: ["dlg-nearbench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // Core Library: records, JSON/JSONL, config, LLM client, retrieval, stages. No CLI.
        .systemLibrary(name: "CJansson", pkgConfig: "jansson", providers: [.apt(["libjansson-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // The response cache (LLM/ResponseCache.swift).
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "DlgCore", dependencies: [
            "CJansson", "CCurl", "CLibPQ", "CSQLite", "Yams", .product(name: "Logging", package: "swift-log"),
        ]),

        // CLI support: option groups, error to exit code, stdout handling.
        // DlgMock: the mock dlg-run --dry-run runs its sample against, in process.
        .target(name: "DlgCLI", dependencies: [
            "DlgCore", "DlgMock", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // The mock OpenAI-compatible server used by tests and benchmarks.
        .target(name: "DlgMock", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),

        // Tools: thin wiring over DlgCore, one root command per tool (DlgGen, DlgDedup, ...).
        .target(name: "DlgTools", dependencies: [
            "DlgCLI", "DlgCore", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The one binary of the tools: `dlg gen ...`, or `dlg-gen ...` through a link named so.
        .executableTarget(name: "dlg", dependencies: [
            "DlgTools", "DlgCLI", "DlgCore", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "dlg-mock", dependencies: [
            "DlgMock", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // The fuzzer of the parsers (make fuzz; a short run in make test).
        .executableTarget(name: "dlg-fuzz", dependencies: [
            "DlgCore", "DlgTestSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Our LLM client alone against a server, for make bench.
        .executableTarget(name: "dlg-loadgen", dependencies: [
            "DlgCore", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // The near-duplicate index alone (checks per CPU-second, bytes per question), for make bench.
        .executableTarget(name: "dlg-nearbench", dependencies: ["DlgCore"]),

        // Tests
        .target(name: "DlgTestSupport", dependencies: ["DlgCore"], path: "Sources/DlgTestSupport"),
        .testTarget(name: "DlgCoreTests", dependencies: [
            "DlgCore", "DlgTestSupport", "DlgMock", .product(name: "Logging", package: "swift-log"),
        ]),
        // RunSummaryText and DryRunText: a run's end and a dry run as people read them.
        .testTarget(name: "DlgCLITests", dependencies: ["DlgCLI", "DlgCore"]),
        .testTarget(name: "ToolTests", dependencies: ["DlgCore", "DlgTestSupport"], exclude: ["Fixtures"]),
        // DlgTestSupport: BinaryTests runs the built dlg-mock as a child process (ChildProcess).
        .testTarget(name: "DlgMockTests", dependencies: ["DlgMock", "DlgTestSupport"], exclude: ["Golden"]),
        // One test per behaviour upstream dlgforge's own tests pin, and the compatibility items (issue 15).
        .testTarget(name: "ConformanceTests", dependencies: ["DlgCore", "DlgTestSupport"]),
    ]
)
