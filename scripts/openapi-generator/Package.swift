// swift-tools-version:6.2
// Builds swift-openapi-generator as a command-line tool for scripts/generate-openapi.sh.
// The generated code is committed, so normal builds and CI never build the generator.
import PackageDescription

let package = Package(
    name: "openapi-generator-tool",
    dependencies: [
        .package(url: "https://github.com/apple/swift-openapi-generator.git", from: "1.14.3")
    ],
    targets: []
)
