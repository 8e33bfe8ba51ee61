// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "WeightDrift",
    products: [
        .executable(name: "weightdrift", targets: ["weightdrift"]),
        .library(name: "Checkpoint", targets: ["Checkpoint"]),
        .library(name: "Drift", targets: ["Drift"]),
        .library(name: "Report", targets: ["Report"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
    ],
    targets: [
        // libhdf5 from Debian's libhdf5-dev, linked statically (headers under include/hdf5/serial;
        // see Sources/CHDF5/module.modulemap).
        .systemLibrary(
            name: "CHDF5",
            providers: [.apt(["libhdf5-dev"])]
        ),
        // AVX2 + F16C kernels (C, per-function target attributes) behind a run-time CPU check.
        .target(name: "CKernels"),
        // The only module with raw HDF5 ids and pointers.
        .target(name: "HDF5", dependencies: ["CHDF5"], swiftSettings: swiftSettings),
        // Keras checkpoint layouts → one Checkpoint value.
        .target(name: "Checkpoint", dependencies: ["HDF5", "CKernels"], swiftSettings: swiftSettings),
        // Matching, streamed metrics, policy and verdicts.
        .target(name: "Drift", dependencies: ["Checkpoint", "CKernels", "Yams"], swiftSettings: swiftSettings),
        // Renderers: report values → text.
        // The published JSON Schemas (Schemas/) ship beside the sources, not in the binary.
        .target(name: "Report", dependencies: ["Checkpoint", "Drift", .product(name: "Crypto", package: "swift-crypto")],
                exclude: ["Schemas"], swiftSettings: swiftSettings),
        .executableTarget(
            name: "weightdrift",
            dependencies: [
                "Checkpoint", "Drift", "Report",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The sample checkpoints and their ground truth, for the test targets.
        .target(name: "SampleFixtures", dependencies: ["Checkpoint"], path: "Tests/SampleFixtures",
                swiftSettings: swiftSettings),
        .testTarget(name: "HDF5Tests", dependencies: ["HDF5", "SampleFixtures"], swiftSettings: swiftSettings),
        .testTarget(name: "CheckpointTests", dependencies: ["Checkpoint", "HDF5", "SampleFixtures"], swiftSettings: swiftSettings),
        .testTarget(name: "DriftTests", dependencies: ["Drift", "Checkpoint", "SampleFixtures"], swiftSettings: swiftSettings),
        .testTarget(name: "ReportTests", dependencies: ["Report", "Drift", "Checkpoint", "SampleFixtures"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "CLITests", dependencies: ["SampleFixtures", "Checkpoint"], swiftSettings: swiftSettings),
    ]
)
