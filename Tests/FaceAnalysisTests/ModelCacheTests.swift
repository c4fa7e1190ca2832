import FaceAnalysis
import Foundation
import XCTest

/// The process-wide model cache (issue 14), with the real models: detectors,
/// classifiers, landmarkers and cascades of one model instance share each
/// loaded model, load it once, and free it with their last user; different
/// settings, files or instances do not share.
///
/// Each test asks under a model instance name of its own, so models that other
/// tests (and the suite's fixtures) hold never count, and reads the cache's
/// observer lines for that instance.
final class ModelCacheTests: XCTestCase {
  /// The cache's lines for one model instance while `body` runs.
  final class Lines: @unchecked Sendable {
    private let lock = NSLock()
    private var all: [String] = []
    let instance: String

    init() { instance = "cache-test-\(UUID().uuidString.prefix(8))" }

    func add(_ line: String) {
      guard line.contains("'\(instance)'") else { return }
      lock.lock()
      all.append(line)
      lock.unlock()
    }

    /// Lines that start with `event` ("loaded", "shared", "freed") and name `what`.
    func count(_ event: String, _ what: String) -> Int {
      lock.lock()
      defer { lock.unlock() }
      return all.filter { $0.hasPrefix(event + " ") && $0.contains(what) }.count
    }

    var text: String {
      lock.lock()
      defer { lock.unlock() }
      return all.joined(separator: "\n")
    }
  }

  private var lines: Lines!

  override func setUpWithError() throws {
    try Fixtures.requireModels()
    try Fixtures.requireLandmarks()
    try Fixtures.require(Fixtures.modelDirectory + "/weights/centerface.onnx", "model weights")
    lines = Lines()
    let sink = lines!
    ModelCache.shared.setObserver { event, key in sink.add("\(event.rawValue) \(key)") }
  }

  override func tearDown() {
    ModelCache.shared.setObserver(nil)
  }

  private func store(_ instance: String? = nil) -> ModelStore {
    ModelStore(directory: Fixtures.modelDirectory, modelInstance: instance ?? lines.instance)
  }

  private func live(_ instance: String? = nil) -> [ModelCache.Key] {
    ModelCache.shared.liveModels.filter { $0.instance == (instance ?? lines.instance) }
  }

  /// Two detectors prepared for one frame size share one net, find the same
  /// face with it, and the net lives until the second lets go.
  func testDetectorsAtOneSizeShareOneNetFreedWithTheLast() throws {
    let image = try Fixtures.image(Fixtures.astronautPath)
    let layout = CenterFaceDetector.inputLayout(width: image.width, height: image.height, padding: 0, shortSide: 256)
    let size = "centerface.onnx at \(layout.width)x\(layout.height)"
    var first: CenterFaceDetector? = try CenterFaceDetector(store: store())
    var second: CenterFaceDetector? = try CenterFaceDetector(store: store())
    try first!.prepare(width: image.width, height: image.height, inputSize: 256)
    try second!.prepare(width: image.width, height: image.height, inputSize: 256)
    XCTAssertEqual(lines.count("loaded", size), 1, lines.text)
    XCTAssertEqual(lines.count("shared", size), 1, lines.text)
    let a = try first!.detect(in: image.view, threshold: 0.4)
    let b = try second!.detect(in: image.view, threshold: 0.4)
    XCTAssertEqual(a.count, 1)
    XCTAssertEqual(a, b, "one net, the same faces")
    XCTAssertEqual(live().map(\.inputWidth), [layout.width], "\(live())")
    first = nil
    XCTAssertEqual(live().count, 1, "the second detector still holds the net")
    XCTAssertEqual(lines.count("freed", size), 0)
    second = nil
    XCTAssertEqual(lines.count("freed", size), 1, lines.text)
    XCTAssertEqual(live(), [], "nothing left loaded after both let go")
  }

  /// Another input size, another model instance, other files: other nets. The
  /// classifier's nets are shared across detector settings.
  func testDifferentSettingsDoNotShare() throws {
    let image = try Fixtures.image(Fixtures.astronautPath)
    let other = lines.instance + "-other"
    let detectors = try [(store(), 256), (store(), 320), (store(other), 256)].map { store, size in
      let detector = try CenterFaceDetector(store: store, inputSize: size)
      try detector.prepare(width: image.width, height: image.height, inputSize: size)
      return detector
    }
    let at = { (size: Int) -> String in
      let layout = CenterFaceDetector.inputLayout(width: image.width, height: image.height, padding: 0, shortSide: size)
      return "centerface.onnx at \(layout.width)x\(layout.height)"
    }
    XCTAssertEqual(lines.count("loaded", at(256)), 1, lines.text)
    XCTAssertEqual(lines.count("loaded", at(320)), 1, lines.text)
    XCTAssertEqual(lines.count("shared", "centerface"), 0, lines.text)
    XCTAssertEqual(live().count, 2)
    XCTAssertEqual(live(other).count, 1)
    // Other files (res10's Caffe net) are another model altogether.
    let ssd = try SSDFaceDetector(store: store())
    XCTAssertEqual(lines.count("loaded", "res10"), 1, lines.text)
    let classifiers = try [store(), store(), store(other)].map { try CydralAgeGenderClassifier(store: $0) }
    XCTAssertEqual(lines.count("loaded", "cydral-age-v1.onnx"), 1, "one per instance:\n" + lines.text)
    XCTAssertEqual(lines.count("shared", "cydral-age-v1.onnx"), 1, lines.text)
    XCTAssertEqual(ModelCache.shared.liveModels.filter { $0.instance == other }.count, 3, "detector + age + gender")
    withExtendedLifetime((detectors, ssd, classifiers)) {}
  }

  /// Eight threads asking at once load each net once, and classifying on the
  /// shared nets from four threads at once gives what one thread alone gives
  /// (the bridge serialises each net's forwards).
  func testConcurrentUsersLoadOnceAndGetTheSameResults() throws {
    let image = try Fixtures.image(Fixtures.astronautPath)
    let face = Fixtures.astronautFace
    let made = Box8()
    DispatchQueue.concurrentPerform(iterations: 8) { i in
      let classifier = try? CydralAgeGenderClassifier(store: store())
      made.set(i, classifier)
    }
    let classifiers = made.values.compactMap { $0 }
    XCTAssertEqual(classifiers.count, 8)
    XCTAssertEqual(lines.count("loaded", "cydral-age-v1.onnx"), 1, lines.text)
    XCTAssertEqual(lines.count("loaded", "cydral-gender-v1.onnx"), 1, lines.text)
    let alone = try XCTUnwrap(try classifiers[0].classify(image.view, faces: [face]).first)
    let failures = NSLock()
    var mismatches: [String] = []
    DispatchQueue.concurrentPerform(iterations: 4) { i in
      for round in 0..<25 {
        let got = try? classifiers[i].classify(image.view, faces: [face]).first
        if got?.age != alone.age || got?.femaleProbability != alone.femaleProbability {
          failures.lock()
          mismatches.append("thread \(i) round \(round): \(String(describing: got)) vs \(alone)")
          failures.unlock()
        }
      }
    }
    XCTAssertEqual(mismatches, [])
  }

  /// The shape predictor and the Haar cascade are shared the same way.
  func testLandmarkerAndCascadeAreSharedAndFreed() throws {
    try Fixtures.require(HaarFaceDetector.defaultCascadePath, "Haar cascade (Debian opencv-data)")
    var landmarkers: [FaceLandmarker] = try (0..<3).map { _ in try FaceLandmarker(store: store()) }
    var cascades: [HaarFaceDetector] = try (0..<3).map { _ in
      try HaarFaceDetector(modelInstance: lines.instance)
    }
    XCTAssertEqual(lines.count("loaded", "shape_predictor_5_face_landmarks.dat"), 1, lines.text)
    XCTAssertEqual(lines.count("shared", "shape_predictor_5_face_landmarks.dat"), 2, lines.text)
    XCTAssertEqual(lines.count("loaded", "haarcascade_frontalface_default.xml"), 1, lines.text)
    let image = try Fixtures.image(Fixtures.astronautPath)
    XCTAssertGreaterThanOrEqual(try cascades[2].detect(in: image.view, threshold: 0.5).count, 1)
    XCTAssertEqual(
      try landmarkers[1].landmarks(for: [Fixtures.astronautFace], in: image.view).first?.count, 5)
    landmarkers.removeAll()
    cascades.removeAll()
    XCTAssertEqual(lines.count("freed", "shape_predictor"), 1, lines.text)
    XCTAssertEqual(lines.count("freed", "haarcascade"), 1, lines.text)
    XCTAssertEqual(live(), [])
  }

  /// Files are told apart by identity: another spelling of one path (a
  /// symbolic link) is the same file, a copy is not.
  func testFilesAreToldApartByIdentityNotBySpelling() throws {
    let weights = Fixtures.modelDirectory + "/weights/cydral-gender-v1.onnx"
    let directory = try Fixtures.temporaryDirectory(for: self)
    let link = directory.appendingPathComponent("link.onnx").path
    let copy = directory.appendingPathComponent("copy.onnx").path
    try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: weights)
    try FileManager.default.copyItem(atPath: weights, toPath: copy)
    let original = try XCTUnwrap(ModelCache.FileIdentity(path: weights))
    XCTAssertEqual(ModelCache.FileIdentity(path: link), original)
    XCTAssertEqual(ModelCache.FileIdentity(path: Fixtures.modelDirectory + "/weights/./cydral-gender-v1.onnx"), original)
    XCTAssertNotEqual(ModelCache.FileIdentity(path: copy), original)
    XCTAssertNil(ModelCache.FileIdentity(path: directory.appendingPathComponent("missing.onnx").path))
  }
}

/// Eight optional classifiers filled from concurrent threads.
private final class Box8: @unchecked Sendable {
  private let lock = NSLock()
  private(set) var values = [CydralAgeGenderClassifier?](repeating: nil, count: 8)
  func set(_ i: Int, _ value: CydralAgeGenderClassifier?) {
    lock.lock()
    values[i] = value
    lock.unlock()
  }
}
