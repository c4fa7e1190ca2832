import CGStreamer
import Foundation
import GstPipeline
import XCTest

/// Missing or bad models give an element error when the element starts, naming
/// the file (and, when missing, the command that fetches it); never a crash.
final class ModelErrorTests: XCTestCase {
  override func setUpWithError() throws { try Fixtures.setUp() }

  private var scratch: URL!

  override func setUp() {
    scratch = FileManager.default.temporaryDirectory.appendingPathComponent("agegender-models-\(UUID().uuidString)")
  }

  override func tearDown() {
    try? FileManager.default.removeItem(at: scratch)
  }

  /// A copy of the real model directory in which `mutate` breaks something.
  private func modelCopy(_ mutate: (URL) throws -> Void) throws -> String {
    let weights = scratch.appendingPathComponent("weights")
    try FileManager.default.createDirectory(at: weights, withIntermediateDirectories: true)
    let source = URL(fileURLWithPath: Fixtures.modelDirectory)
    for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where name.hasSuffix(".model") {
      try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: scratch.appendingPathComponent(name))
    }
    for name in try FileManager.default.contentsOfDirectory(atPath: source.appendingPathComponent("weights").path)
    where !name.hasPrefix(".") {
      // Symlinks keep the copy cheap; a test replaces the one it breaks.
      try FileManager.default.createSymbolicLink(
        at: weights.appendingPathComponent(name), withDestinationURL: source.appendingPathComponent("weights/\(name)"))
    }
    try mutate(weights)
    return scratch.path
  }

  /// Starts a one-frame pipeline with model-dir set and returns the error text.
  private func startError(modelDir: String, properties: [String: String] = [:]) throws -> String {
    let settings = properties.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: " ")
    let pipeline = try Pipeline("videotestsrc num-buffers=1 ! videoconvert ! agegender name=ag \(settings) ! fakesink")
    try Pipeline.setProperty(try pipeline.child("ag"), "model-dir", modelDir)
    do {
      try pipeline.run(timeoutSeconds: 60)
    } catch let failure as Pipeline.Failure {
      return failure.message
    }
    XCTFail("the pipeline ran although the models are broken")
    return ""
  }

  func testMissingModelDirectory() throws {
    let message = try startError(modelDir: "/nonexistent/agegender-models")
    XCTAssertTrue(message.contains("/nonexistent/agegender-models"), message)
    XCTAssertTrue(message.contains("make models"), message)
    XCTAssertTrue(message.hasPrefix("ag:"), "the error comes from the element: \(message)")
  }

  func testEachMissingModelFileIsNamed() throws {
    let ssd = ["res10_300x300_ssd_iter_140000.caffemodel", "res10_300x300_ssd_deploy.prototxt"]
    for file in ssd + ["centerface.onnx", "cydral-age-v1.onnx", "cydral-gender-v1.onnx", "shape_predictor_5_face_landmarks.dat"] {
      let dir = try modelCopy { try FileManager.default.removeItem(at: $0.appendingPathComponent(file)) }
      let message = try startError(modelDir: dir, properties: ssd.contains(file) ? ["detector": "ssd"] : [:])
      XCTAssertTrue(message.contains("weights/\(file)"), "\(file): \(message)")
      XCTAssertTrue(message.contains("is missing"), message)
      XCTAssertTrue(message.contains("make models"), message)
      try FileManager.default.removeItem(at: scratch)
    }
  }

  func testCorruptEmptyAndWrongFormatModelsAreNamed() throws {
    let cases: [(String, Data)] = [
      ("cydral-age-v1.onnx", Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) })),
      ("cydral-gender-v1.onnx", Data()),
      ("res10_300x300_ssd_iter_140000.caffemodel", Data((0..<1000).map { UInt8(truncatingIfNeeded: $0 * 31) })),
      // An ONNX file where Caffe weights are expected.
      ("res10_300x300_ssd_iter_140000.caffemodel", try Data(contentsOf: URL(fileURLWithPath: Fixtures.modelDirectory + "/weights/cydral-gender-v1.onnx"))),
      // A shape predictor that is not one, and one cut short.
      ("shape_predictor_5_face_landmarks.dat", Data((0..<5000).map { UInt8(truncatingIfNeeded: $0 * 7) })),
      ("shape_predictor_5_face_landmarks.dat", try Data(contentsOf: URL(fileURLWithPath: Fixtures.modelDirectory + "/weights/shape_predictor_5_face_landmarks.dat")).prefix(50_000)),
      // Truncated ONNX.
      ("cydral-age-v1.onnx", try Data(contentsOf: URL(fileURLWithPath: Fixtures.modelDirectory + "/weights/cydral-age-v1.onnx")).prefix(100_000)),
      // The default detector: random bytes, empty, cut short, another net in its place.
      ("centerface.onnx", Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 40503 >> 3) })),
      ("centerface.onnx", Data()),
      ("centerface.onnx", try Data(contentsOf: URL(fileURLWithPath: Fixtures.modelDirectory + "/weights/centerface.onnx")).prefix(1_000_000)),
      ("centerface.onnx", try Data(contentsOf: URL(fileURLWithPath: Fixtures.modelDirectory + "/weights/cydral-gender-v1.onnx"))),
    ]
    for (file, bytes) in cases {
      let dir = try modelCopy { weights in
        let target = weights.appendingPathComponent(file)
        try FileManager.default.removeItem(at: target)
        try bytes.write(to: target)
      }
      let message = try startError(modelDir: dir, properties: file.hasPrefix("res10") ? ["detector": "ssd"] : [:])
      XCTAssertTrue(message.contains("weights/\(file)"), "\(file) (\(bytes.count) bytes): \(message)")
      XCTAssertTrue(message.contains("cannot be loaded") || message.contains("empty"), message)
      try FileManager.default.removeItem(at: scratch)
    }
  }

  func testEnvironmentVariableChoosesTheModelDirectory() throws {
    let result = try runProcess(
      "/usr/bin/gst-launch-1.0", ["videotestsrc", "num-buffers=1", "!", "videoconvert", "!", "agegender", "!", "fakesink"],
      environment: ["AGEGENDER_MODEL_DIR": "/nonexistent/from-environment"], timeoutSeconds: 60)
    XCTAssertNotEqual(result.status, 0)
    XCTAssertTrue((result.stdout + result.stderr).contains("/nonexistent/from-environment"), result.stdout + result.stderr)
  }
}
