import FaceAnalysis
import FaceImageFiles
import Foundation
import XCTest

/// Paths and shared, lazily loaded models for the FaceAnalysis tests.
///
/// Everything here is real: the models in `Models/` (weights fetched by
/// `make models`) and the media in `../shared/testdata`. A missing file fails
/// the test with a message naming it; nothing is skipped.
enum Fixtures {
  /// The repository root: Tests/FaceAnalysisTests/TestSupport.swift → two levels up.
  static let repoRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  static var modelDirectory: String { repoRoot.appendingPathComponent("Models").path }
  static var testData: URL {
    repoRoot.deletingLastPathComponent().appendingPathComponent("shared/testdata").standardizedFileURL
  }
  static var astronautPath: String { testData.appendingPathComponent("stills/astronaut.png").path }
  static var hopperPath: String { testData.appendingPathComponent("stills/hopper.jpg").path }
  static var facesDirectory: String { testData.appendingPathComponent("faces").path }

  /// The known face region of astronaut.png (checked by hand on the image).
  static let astronautFace = Box(x: 177, y: 62, width: 271 - 177, height: 172 - 62)

  /// Fails the calling test (and throws) unless `path` exists and is not empty.
  static func require(_ path: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
    let attributes = try? FileManager.default.attributesOfItem(atPath: path)
    let size = (attributes?[.size] as? NSNumber)?.intValue ?? 0
    if attributes == nil || size == 0 {
      let media = what.contains("image") ? " (shared test media: check that ../shared/testdata is checked out)" : ""
      let message = "missing \(what): \(path) — run make models\(media)"
      XCTFail(message, file: file, line: line)
      throw MissingFixture(message: message)
    }
  }

  struct MissingFixture: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
  }

  static let weightFiles = [
    "res10_300x300_ssd_iter_140000.caffemodel", "res10_300x300_ssd_deploy.prototxt",
    "cydral-age-v1.onnx", "cydral-gender-v1.onnx",
  ]

  /// Checks the manifests and every weights file the default models need.
  static func requireModels(file: StaticString = #filePath, line: UInt = #line) throws {
    for name in ["res10-ssd", "cydral-age", "cydral-gender"] {
      try require(modelDirectory + "/\(name).model", "model manifest", file: file, line: line)
    }
    for name in weightFiles {
      try require(modelDirectory + "/weights/\(name)", "model weights", file: file, line: line)
    }
  }

  static let landmarkWeights = "shape_predictor_5_face_landmarks.dat"

  /// Checks the landmark manifest and weights (also fetched by `make models`).
  static func requireLandmarks(file: StaticString = #filePath, line: UInt = #line) throws {
    try require(modelDirectory + "/dlib-landmarks5.model", "model manifest", file: file, line: line)
    try require(modelDirectory + "/weights/\(landmarkWeights)", "model weights", file: file, line: line)
  }

  nonisolated(unsafe) private static var cachedLandmarker: FaceLandmarker?

  static func landmarker(file: StaticString = #filePath, line: UInt = #line) throws -> FaceLandmarker {
    try requireLandmarks(file: file, line: line)
    if let cachedLandmarker { return cachedLandmarker }
    let made = try FaceLandmarker(store: ModelStore(directory: modelDirectory))
    cachedLandmarker = made
    return made
  }

  static func image(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws -> OwnedImage {
    try require(path, "test image", file: file, line: line)
    return try OwnedImage(contentsOf: path)
  }

  // Loading the nets costs a few hundred milliseconds; share one set across tests.
  // (XCTest runs tests serially on one thread.)
  nonisolated(unsafe) private static var cachedDetector: SSDFaceDetector?
  nonisolated(unsafe) private static var cachedClassifier: CydralAgeGenderClassifier?

  nonisolated(unsafe) private static var cachedCenterFace: CenterFaceDetector?

  /// The CenterFace detector (the element's default) with its default settings.
  static func centerFace(file: StaticString = #filePath, line: UInt = #line) throws -> CenterFaceDetector {
    try require(modelDirectory + "/centerface.model", "model manifest", file: file, line: line)
    try require(modelDirectory + "/weights/centerface.onnx", "model weights", file: file, line: line)
    if let cachedCenterFace { return cachedCenterFace }
    let made = try CenterFaceDetector(store: ModelStore(directory: modelDirectory))
    cachedCenterFace = made
    return made
  }

  /// A detector with the default settings. Tests that change settings restore them.
  static func detector(file: StaticString = #filePath, line: UInt = #line) throws -> SSDFaceDetector {
    try requireModels(file: file, line: line)
    if let cachedDetector { return cachedDetector }
    let made = try SSDFaceDetector(store: ModelStore(directory: modelDirectory))
    cachedDetector = made
    return made
  }

  static func classifier(file: StaticString = #filePath, line: UInt = #line) throws -> CydralAgeGenderClassifier {
    try requireModels(file: file, line: line)
    if let cachedClassifier { return cachedClassifier }
    let made = try CydralAgeGenderClassifier(store: ModelStore(directory: modelDirectory))
    cachedClassifier = made
    return made
  }

  /// A fresh temporary directory, removed when the test ends.
  static func temporaryDirectory(for testCase: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("FaceAnalysisTests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    testCase.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
  }
}

/// Packed pixels owned by the test, in any layout, for building ImageViews.
final class PixelBuffer {
  let width: Int
  let height: Int
  let stride: Int
  let format: PixelFormat
  var bytes: [UInt8]

  init(width: Int, height: Int, stride: Int, format: PixelFormat, bytes: [UInt8]) {
    precondition(bytes.count >= stride * height)
    self.width = width
    self.height = height
    self.stride = stride
    self.format = format
    self.bytes = bytes
  }

  /// Runs `body` with a view over the bytes (valid only inside `body`).
  func withView<T>(_ body: (ImageView) throws -> T) rethrows -> T {
    try bytes.withUnsafeMutableBytes { raw in
      try body(ImageView(data: raw.baseAddress!, width: width, height: height, stride: stride, format: format))
    }
  }

  /// R, G, B of the pixel at (x, y).
  func rgb(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
    let (r, g, b) = Self.offsets(format)
    let p = y * stride + x * format.bytesPerPixel
    return (bytes[p + r], bytes[p + g], bytes[p + b])
  }

  /// Byte offsets of R, G, B in one pixel of `format`, worked out here independently of the bridge.
  static func offsets(_ format: PixelFormat) -> (r: Int, g: Int, b: Int) {
    switch format {
    case .bgr, .bgrx, .bgra: return (2, 1, 0)
    case .rgb, .rgbx, .rgba: return (0, 1, 2)
    case .xbgr, .abgr: return (3, 2, 1)
    case .xrgb, .argb: return (1, 2, 3)
    case .gray8: return (0, 0, 0)
    }
  }

  /// A copy of the pixels of `box` (rounded inwards to whole pixels) of a packed BGR image.
  static func crop(_ image: OwnedImage, _ box: Box) -> PixelBuffer {
    precondition(image.format == .bgr)
    let x0 = max(0, Int(box.x.rounded(.up))), y0 = max(0, Int(box.y.rounded(.up)))
    let x1 = min(image.width, Int(box.maxX.rounded(.down))), y1 = min(image.height, Int(box.maxY.rounded(.down)))
    let w = x1 - x0, h = y1 - y0
    precondition(w > 0 && h > 0)
    let src = image.view.data.assumingMemoryBound(to: UInt8.self)
    var out = [UInt8](repeating: 0, count: w * h * 3)
    for y in 0..<h {
      for i in 0..<(w * 3) { out[y * w * 3 + i] = src[(y0 + y) * image.stride + x0 * 3 + i] }
    }
    return PixelBuffer(width: w, height: h, stride: w * 3, format: .bgr, bytes: out)
  }

  /// Copies a packed BGR image into `format` (byte shuffling done here, not by the bridge),
  /// with `stride` bytes per row (default: tightly packed). Padding and X/A bytes get
  /// distinctive junk so a bridge that reads them would be caught.
  static func convert(_ image: OwnedImage, to format: PixelFormat, stride: Int? = nil) -> PixelBuffer {
    precondition(image.format == .bgr)
    let bpp = format.bytesPerPixel
    let rowBytes = stride ?? image.width * bpp
    var out = [UInt8](repeating: 0xA5, count: rowBytes * image.height)
    let source = image.view
    let src = source.data.assumingMemoryBound(to: UInt8.self)
    precondition(format != .gray8, "not a colour layout")
    let (r, g, b) = offsets(format)
    // The padding byte (X or A) of 4-byte layouts: the one R, G and B leave free.
    let x: Int? = bpp == 4 ? 6 - r - g - b : nil
    for y in 0..<image.height {
      for px in 0..<image.width {
        let s = y * source.stride + px * 3
        let d = y * rowBytes + px * bpp
        out[d + b] = src[s]
        out[d + g] = src[s + 1]
        out[d + r] = src[s + 2]
        if let x { out[d + x] = UInt8(truncatingIfNeeded: px &* 37 &+ y &* 11) }
      }
    }
    return PixelBuffer(width: image.width, height: image.height, stride: rowBytes, format: format, bytes: out)
  }
}

extension XCTestCase {
  /// Asserts that `body` throws `FaceAnalysisError` and returns it.
  @discardableResult
  func assertFaceError<T>(
    _ body: @autoclosure () throws -> T, _ message: String = "", file: StaticString = #filePath, line: UInt = #line
  ) -> FaceAnalysisError? {
    do {
      let value = try body()
      XCTFail("expected a FaceAnalysisError, got \(value) \(message)", file: file, line: line)
    } catch let error as FaceAnalysisError {
      return error
    } catch {
      XCTFail("expected a FaceAnalysisError, got \(type(of: error)): \(error) \(message)", file: file, line: line)
    }
    return nil
  }
}
