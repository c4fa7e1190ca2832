// swift-tools-version:6.0
// A small application reading gst-agegender's per-face metadata from Swift.
// It depends on the plugin's package by path and uses its AgeGenderMeta library
// product (whose CGStreamer module, the GStreamer headers, comes with it).
import PackageDescription

let package = Package(
  name: "agegender-example",
  dependencies: [
    .package(name: "gst-agegender", path: "../..")
  ],
  targets: [
    .executableTarget(
      name: "read-faces",
      dependencies: [.product(name: "AgeGenderMeta", package: "gst-agegender")],
      path: "Sources/read-faces")
  ],
  swiftLanguageModes: [.v5]
)
