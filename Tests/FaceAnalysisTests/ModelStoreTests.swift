import FaceAnalysis
import FaceImageFiles
import Foundation
import XCTest

/// ModelStore's checks and the loaders' error reporting, on temporary model
/// directories holding copies of the real manifests.
final class ModelStoreTests: XCTestCase {
  private let caffemodel = "res10_300x300_ssd_iter_140000.caffemodel"
  private let prototxt = "res10_300x300_ssd_deploy.prototxt"

  private var realWeights: String { Fixtures.modelDirectory + "/weights" }

  /// The real manifest `name`, with `changes` (key → new value) applied.
  private func manifestText(_ name: String, _ changes: [String: String] = [:]) throws -> String {
    let path = Fixtures.modelDirectory + "/\(name).model"
    try Fixtures.require(path, "model manifest")
    var lines = try String(contentsOfFile: path, encoding: .utf8).components(separatedBy: "\n")
    for (key, value) in changes {
      guard let index = lines.firstIndex(where: { $0.hasPrefix(key + " =") }) else {
        XCTFail("\(path) has no '\(key)' line")
        continue
      }
      lines[index] = "\(key) = \(value)"
    }
    return lines.joined(separator: "\n")
  }

  /// A temporary model directory with `manifests` (name → text) and an empty `weights/`.
  private func modelDirectory(_ manifests: [String: String]) throws -> URL {
    let dir = try Fixtures.temporaryDirectory(for: self)
    try FileManager.default.createDirectory(at: dir.appendingPathComponent("weights"), withIntermediateDirectories: true)
    for (name, text) in manifests {
      try text.write(to: dir.appendingPathComponent("\(name).model"), atomically: true, encoding: .utf8)
    }
    return dir
  }

  private func write(_ data: Data, _ dir: URL, _ name: String) throws -> String {
    let url = dir.appendingPathComponent("weights").appendingPathComponent(name)
    try data.write(to: url)
    return url.path
  }

  /// Reproducible junk (SplitMix64), so a failure can be replayed byte for byte.
  private func junk(count: Int, seed: UInt64) -> Data {
    var state = seed
    var bytes = [UInt8](repeating: 0, count: count)
    for i in 0..<count {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      bytes[i] = UInt8(truncatingIfNeeded: z ^ (z >> 31))
    }
    return Data(bytes)
  }

  /// Asserts a `.modelInvalid` whose path names `file` and whose description names it too.
  private func assertModelInvalid(
    _ error: FaceAnalysisError?, naming file: String, reason part: String? = nil,
    sourceFile: StaticString = #filePath, line: UInt = #line
  ) {
    guard case .modelInvalid(let path, let reason)? = error else {
      XCTFail("expected modelInvalid naming \(file), got \(String(describing: error))", file: sourceFile, line: line)
      return
    }
    XCTAssertTrue(path.contains(file), "path '\(path)' should name \(file)", file: sourceFile, line: line)
    XCTAssertTrue(error!.description.contains(file), error!.description, file: sourceFile, line: line)
    XCTAssertFalse(reason.isEmpty, file: sourceFile, line: line)
    if let part {
      XCTAssertTrue(reason.contains(part), "reason '\(reason)' should mention '\(part)'", file: sourceFile, line: line)
    }
  }

  // MARK: - Missing things

  func testMissingDirectory() throws {
    let dir = try Fixtures.temporaryDirectory(for: self).appendingPathComponent("no-such-dir").path
    let store = ModelStore(directory: dir)
    let error = assertFaceError(try store.manifest(named: "res10-ssd"))
    guard case .modelDirectoryMissing(let path, let hint)? = error else {
      return XCTFail("expected modelDirectoryMissing, got \(String(describing: error))")
    }
    XCTAssertEqual(path, dir)
    XCTAssertTrue(hint.contains("make models"), hint)
    XCTAssertTrue(error!.description.contains(dir))
    // The loaders report the same thing.
    XCTAssertEqual(assertFaceError(try SSDFaceDetector(store: store)), error)
    XCTAssertEqual(assertFaceError(try CydralAgeGenderClassifier(store: store)), error)
    XCTAssertFalse(ModelStore.looksLikeModelDirectory(dir))
  }

  func testMissingManifest() throws {
    let dir = try modelDirectory([:])
    let store = ModelStore(directory: dir.path)
    let error = assertFaceError(try store.manifest(named: "res10-ssd"))
    guard case .modelMissing(let path, let hint)? = error else {
      return XCTFail("expected modelMissing, got \(String(describing: error))")
    }
    XCTAssertEqual(path, dir.appendingPathComponent("res10-ssd.model").path)
    XCTAssertTrue(hint.contains("res10-ssd"), hint)
    XCTAssertFalse(ModelStore.looksLikeModelDirectory(dir.path))
  }

  func testRealModelDirectoryLooksLikeOne() throws {
    try Fixtures.require(Fixtures.modelDirectory + "/res10-ssd.model", "model manifest")
    XCTAssertTrue(ModelStore.looksLikeModelDirectory(Fixtures.modelDirectory))
    XCTAssertEqual(ModelStore(directory: "/m").weightsDirectory, "/m/weights")
    XCTAssertEqual(ModelStore(directory: "/m/").weightsDirectory, "/m/weights")
  }

  func testManifestWithoutWeightsNamesTheFullPathAndMakeModels() throws {
    let dir = try modelDirectory([
      "res10-ssd": try manifestText("res10-ssd"), "cydral-age": try manifestText("cydral-age"),
      "cydral-gender": try manifestText("cydral-gender"),
    ])
    let store = ModelStore(directory: dir.path)
    XCTAssertTrue(ModelStore.looksLikeModelDirectory(dir.path))
    let cases: [(String, () throws -> Any)] = [
      (caffemodel, { try SSDFaceDetector(store: store) }),
      ("cydral-age-v1.onnx", { try CydralAgeGenderClassifier(store: store) }),
    ]
    for (file, load) in cases {
      let expected = dir.appendingPathComponent("weights").appendingPathComponent(file).path
      let error = assertFaceError(try load())
      guard case .modelMissing(let path, _)? = error else {
        XCTFail("expected modelMissing for \(file), got \(String(describing: error))")
        continue
      }
      XCTAssertEqual(path, expected)
      XCTAssertTrue(error!.description.contains(expected), error!.description)
      XCTAssertTrue(error!.description.contains("make models"), error!.description)
    }
  }

  func testCaffeConfigFileIsCheckedToo() throws {
    try Fixtures.requireModels()
    // Weights present (an absolute path in the manifest), prototxt missing.
    let dir = try modelDirectory(["res10-ssd": try manifestText("res10-ssd", ["file": "\(realWeights)/\(caffemodel)"])])
    let store = ModelStore(directory: dir.path)
    let manifest = try store.manifest(named: "res10-ssd")
    let error = assertFaceError(try store.files(of: manifest))
    let expected = dir.appendingPathComponent("weights/\(prototxt)").path
    XCTAssertEqual(error, .modelMissing(path: expected, hint: store.fetchHint(group: "default")))
  }

  func testFetchHintNamesTheGroupsMakeTarget() {
    let store = ModelStore(directory: "/m")
    XCTAssertTrue(store.fetchHint(group: "default").contains("'make models'"))
    XCTAssertTrue(store.fetchHint(group: "extra").contains("'make models-extra'"))
    XCTAssertTrue(store.fetchHint(group: "default").contains(ModelStore.environmentVariable))
  }

  func testEmptyWeightsFile() throws {
    let dir = try modelDirectory(["res10-ssd": try manifestText("res10-ssd")])
    let empty = try write(Data(), dir, caffemodel)
    _ = try write(Data("name: \"x\"\n".utf8), dir, prototxt)
    let store = ModelStore(directory: dir.path)
    let manifest = try store.manifest(named: "res10-ssd")
    let direct = assertFaceError(try store.files(of: manifest))
    assertModelInvalid(direct, naming: empty, reason: "empty")
    XCTAssertTrue(direct?.description.contains("empty") ?? false)
    // The detector reports it the same way, before OpenCV sees the file.
    XCTAssertEqual(assertFaceError(try SSDFaceDetector(store: store)), direct)
  }

  // MARK: - Corrupt weights: an error naming the file, never a crash

  func testCorruptCaffeWeights() throws {
    try Fixtures.requireModels()
    let dir = try modelDirectory([
      "res10-ssd": try manifestText("res10-ssd", ["config-file": "\(realWeights)/\(prototxt)"])
    ])
    let corrupt = try write(junk(count: 100_000, seed: 1), dir, caffemodel)
    let error = assertFaceError(try SSDFaceDetector(store: ModelStore(directory: dir.path)))
    assertModelInvalid(error, naming: corrupt)
  }

  func testCorruptCaffePrototxt() throws {
    try Fixtures.requireModels()
    let dir = try modelDirectory([
      "res10-ssd": try manifestText("res10-ssd", ["file": "\(realWeights)/\(caffemodel)"])
    ])
    let corrupt = try write(junk(count: 20_000, seed: 2), dir, prototxt)
    let error = assertFaceError(try SSDFaceDetector(store: ModelStore(directory: dir.path)))
    // The error's path names the weights with the prototxt in brackets; the prototxt must be named.
    assertModelInvalid(error, naming: corrupt)
  }

  func testCorruptOnnxWeights() throws {
    try Fixtures.requireModels()
    // Corrupt age net, real gender net.
    var dir = try modelDirectory([
      "cydral-age": try manifestText("cydral-age"),
      "cydral-gender": try manifestText("cydral-gender", ["file": "\(realWeights)/cydral-gender-v1.onnx"]),
    ])
    var corrupt = try write(junk(count: 100_000, seed: 3), dir, "cydral-age-v1.onnx")
    assertModelInvalid(assertFaceError(try CydralAgeGenderClassifier(store: ModelStore(directory: dir.path))), naming: corrupt)

    // Real age net, corrupt gender net.
    dir = try modelDirectory([
      "cydral-age": try manifestText("cydral-age", ["file": "\(realWeights)/cydral-age-v1.onnx"]),
      "cydral-gender": try manifestText("cydral-gender"),
    ])
    corrupt = try write(junk(count: 50_000, seed: 4), dir, "cydral-gender-v1.onnx")
    assertModelInvalid(assertFaceError(try CydralAgeGenderClassifier(store: ModelStore(directory: dir.path))), naming: corrupt)
  }

  func testTruncatedDownloads() throws {
    try Fixtures.requireModels()
    // What an interrupted download leaves: the first 64 KiB of the real files.
    func head(_ name: String) throws -> Data {
      let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: "\(realWeights)/\(name)"))
      defer { try? handle.close() }
      return try handle.read(upToCount: 65_536) ?? Data()
    }
    let dir = try modelDirectory([
      "res10-ssd": try manifestText("res10-ssd", ["config-file": "\(realWeights)/\(prototxt)"]),
      "cydral-age": try manifestText("cydral-age"),
      "cydral-gender": try manifestText("cydral-gender", ["file": "\(realWeights)/cydral-gender-v1.onnx"]),
    ])
    let caffe = try write(try head(caffemodel), dir, caffemodel)
    let onnx = try write(try head("cydral-age-v1.onnx"), dir, "cydral-age-v1.onnx")
    let store = ModelStore(directory: dir.path)
    assertModelInvalid(assertFaceError(try SSDFaceDetector(store: store)), naming: caffe)
    assertModelInvalid(assertFaceError(try CydralAgeGenderClassifier(store: store)), naming: onnx)
  }

  // MARK: - Models in the wrong place

  func testModelsWithTheWrongRoleAreRejected() throws {
    try Fixtures.requireModels()
    let store = ModelStore(directory: Fixtures.modelDirectory)
    let notDetector = assertFaceError(try SSDFaceDetector(store: store, model: "cydral-age"))
    assertModelInvalid(notDetector, naming: "cydral-age-v1.onnx", reason: "not a dnn face detector")
    let notAge = assertFaceError(try CydralAgeGenderClassifier(store: store, ageModel: "cydral-gender"))
    assertModelInvalid(notAge, naming: "cydral-gender-v1.onnx", reason: "not an age-value model")
    let notGender = assertFaceError(try CydralAgeGenderClassifier(store: store, genderModel: "cydral-age"))
    assertModelInvalid(notGender, naming: "cydral-age-v1.onnx", reason: "not a gender model")
  }

  func testNetworkWithTheWrongNumberOfOutputs() throws {
    try Fixtures.requireModels()
    // A "gender" manifest that points at the 81-class age net: refused when it loads.
    let dir = try modelDirectory([
      "cydral-age": try manifestText("cydral-age", ["file": "\(realWeights)/cydral-age-v1.onnx"]),
      "cydral-gender": try manifestText("cydral-gender", ["file": "\(realWeights)/cydral-age-v1.onnx"]),
    ])
    let error = assertFaceError(try CydralAgeGenderClassifier(store: ModelStore(directory: dir.path)))
    assertModelInvalid(error, naming: "cydral-age-v1.onnx", reason: "gives 81 outputs per face, its manifest describes 2")
  }
}
