// swift-tools-version:6.0
// Standalone benchmark of three HTTP clients against dlg-mock; not part of the main package and not
// built by CI. See run.sh and docs/decisions.md ("HTTP client").
//
// BENCH_NO_AHC=1 drops AsyncHTTPClient (and its dependency graph) from the manifest, to time a clean
// build without it.
import PackageDescription

let withAHC = Context.environment["BENCH_NO_AHC"] == nil

var products: [Product] = [
    .executable(name: "bench-urlsession", targets: ["bench-urlsession"]),
    .executable(name: "bench-curl", targets: ["bench-curl"]),
]
var dependencies: [Package.Dependency] = []
var targets: [Target] = [
    .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
    .target(name: "BenchSupport"),
    .executableTarget(name: "bench-urlsession", dependencies: ["BenchSupport"]),
    // CurlTransport.swift is a verbatim copy of Sources/DlgCore/LLM/CurlTransport.swift.
    .executableTarget(name: "bench-curl", dependencies: ["BenchSupport", "CCurl"]),
]
if withAHC {
    products.append(.executable(name: "bench-ahc", targets: ["bench-ahc"]))
    dependencies.append(.package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"))
    // Already in AsyncHTTPClient's graph; named here for the NIOCore/NIOPosix imports.
    dependencies.append(.package(url: "https://github.com/apple/swift-nio", from: "2.100.0"))
    targets.append(.executableTarget(name: "bench-ahc", dependencies: [
        "BenchSupport", .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
    ]))
}

let package = Package(
    name: "http-clients-bench",
    platforms: [.macOS(.v14)],
    products: products,
    dependencies: dependencies,
    targets: targets
)
