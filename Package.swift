// swift-tools-version:6.0
// gst-agegender: a GStreamer plugin (libgstagegender.so) that finds faces and
// estimates age and gender with OpenCV's dnn module.
import PackageDescription
import Foundation

let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
// Debian 12 ships OpenCV 4.6 headers here; its opencv4.pc comes only with the
// heavy libopencv-dev, so the path is named directly.
let openCVInclude = "/usr/include/opencv4"

// The plugin's Swift uses neither Regex nor Swift concurrency: without their
// implicit imports the plugin does not load libswift_StringProcessing,
// libswift_RegexParser, libswift_Concurrency and libdispatch into every
// process that plays a stream (~1.6 MB resident).
let pluginSwiftSettings: [SwiftSetting] = [
  .unsafeFlags([
    "-Xfrontend", "-disable-implicit-string-processing-module-import",
    "-Xfrontend", "-disable-implicit-concurrency-module-import",
  ])
]

let package = Package(
  name: "gst-agegender",
  products: [
    // The GStreamer plugin. GStreamer finds it by file name: libgstagegender.so.
    .library(name: "gstagegender", type: .dynamic, targets: ["GstAgeGender"]),
    // Reading the per-face metadata from Swift applications.
    .library(name: "AgeGenderMeta", targets: ["AgeGenderMeta"]),
    .executable(name: "agegender-eval", targets: ["AgeGenderEval"]),
    .executable(name: "agegender-annotate", targets: ["AgeGenderAnnotate"]),
    .executable(name: "agegender-stability", targets: ["AgeGenderStability"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    // agegender-annotate's HTML report (issue 12): Mustache templates, no dependencies of its own.
    .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
  ],
  targets: [
    .systemLibrary(
      name: "CGStreamer", path: "Sources/CGStreamer", pkgConfig: "gstreamer-video-1.0",
      providers: [.apt(["libgstreamer1.0-dev", "libgstreamer-plugins-base1.0-dev"])]),
    // libmosquitto for agegenderjson's MQTT publishing (issue 13); its own network thread.
    .systemLibrary(
      name: "CMosquitto", path: "Sources/CMosquitto", pkgConfig: "libmosquitto",
      providers: [.apt(["libmosquitto-dev"])]),
    // json-glib for agegenderjson's lines and the audience events' JSON (issue 12).
    .systemLibrary(
      name: "CJSONGlib", path: "Sources/CJSONGlib", pkgConfig: "json-glib-1.0",
      providers: [.apt(["libjson-glib-dev"])]),
    // Xlib for agegender-annotate --display (a destroyed window must not exit the process) and its tests.
    .systemLibrary(
      name: "CX11", path: "Sources/CX11", pkgConfig: "x11", providers: [.apt(["libx11-dev"])]),
    .target(
      name: "COpenCVBridge", path: "Sources/COpenCVBridge",
      cxxSettings: [.unsafeFlags(["-I\(openCVInclude)", "-O2"])],
      linkerSettings: [
        .linkedLibrary("opencv_dnn"), .linkedLibrary("opencv_objdetect"), .linkedLibrary("opencv_imgproc"),
        .linkedLibrary("opencv_core"),
      ]),
    // Image files for tools and tests only (imgcodecs pulls in GDAL: not in the plugin).
    .target(
      name: "COpenCVImageIO", dependencies: ["COpenCVBridge"], path: "Sources/COpenCVImageIO",
      cxxSettings: [.unsafeFlags(["-I\(openCVInclude)", "-O2"])],
      linkerSettings: [.linkedLibrary("opencv_imgcodecs"), .linkedLibrary("opencv_imgproc"), .linkedLibrary("opencv_core")]),
    .target(name: "FaceImageFiles", dependencies: ["FaceAnalysis", "COpenCVImageIO", "COpenCVBridge"]),
    // Face analysis core: plain Swift over the OpenCV bridge, no GStreamer.
    .target(name: "FaceAnalysis", dependencies: ["COpenCVBridge"], swiftSettings: pluginSwiftSettings),
    // The GstCustomMeta that carries faces, shared by the element and readers.
    .target(name: "AgeGenderMeta", dependencies: ["CGStreamer"], swiftSettings: pluginSwiftSettings),
    // Per-person track events and the audience summary: their GstStructure and JSON forms; the faces' JSON.
    .target(
      name: "AgeGenderEvents", dependencies: ["CGStreamer", "CJSONGlib", "FaceAnalysis", "AgeGenderMeta"],
      swiftSettings: pluginSwiftSettings),
    // The audience report of agegender-annotate --report: one self-contained HTML page.
    .target(
      name: "AudienceReport",
      dependencies: ["FaceAnalysis", .product(name: "Mustache", package: "swift-mustache")]),
    // The GStreamer layer: registration, properties, caps, metadata, overlay.
    .target(
      name: "GstAgeGender",
      dependencies: ["CGStreamer", "CMosquitto", "FaceAnalysis", "AgeGenderMeta", "AgeGenderEvents"],
      swiftSettings: pluginSwiftSettings,
      linkerSettings: [
        // Export only gst_plugin_agegender_get_desc.
        .unsafeFlags(["-Xlinker", "--version-script=\(root)/Sources/GstAgeGender/exports.map"])
      ]),
    // Driving pipelines from Swift: shared by the command-line tools and the tests.
    .target(name: "GstPipeline", dependencies: ["CGStreamer"]),
    .executableTarget(
      name: "AgeGenderEval",
      dependencies: [
        "CGStreamer", "AgeGenderMeta", "FaceAnalysis", "FaceImageFiles", "GstPipeline",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .executableTarget(
      name: "AgeGenderStability",
      dependencies: [
        "CGStreamer", "AgeGenderMeta", "GstPipeline", .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    // agegender-annotate: file, http(s) or yt-dlp URL -> annotated MP4 + JSON Lines.
    .executableTarget(
      name: "AgeGenderAnnotate",
      dependencies: [
        "CGStreamer", "CX11", "AgeGenderMeta", "AgeGenderEvents", "AudienceReport", "FaceAnalysis", "FaceImageFiles",
        "GstPipeline", .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .testTarget(name: "FaceAnalysisTests", dependencies: ["FaceAnalysis", "FaceImageFiles"]),
    .testTarget(
      name: "GstAgeGenderTests",
      dependencies: [
        "CGStreamer", "CX11", "AgeGenderMeta", "AgeGenderEvents", "AudienceReport", "FaceAnalysis", "FaceImageFiles",
        "GstPipeline",
      ]),
  ],
  swiftLanguageModes: [.v5],
  cxxLanguageStandard: .cxx17
)
