import Foundation
import GstPipeline
import XCTest

/// The three example applications in examples/ (C, Python, Swift package), each
/// built as its README says and run on a shared clip with the staged plugin.
final class ExampleTests: XCTestCase {
  override func setUpWithError() throws { try Fixtures.setUp() }

  static let clip = "head-pose-face-detection-female-and-male.mp4"

  /// Parses the examples' shared output format and checks it: one line per face
  /// (`frame=N x=.. y=.. width=.. height=.. age=.. gender=.. gender_confidence=.. confidence=.. track_id=..`)
  /// and a `summary ...` line that agrees with them.
  private func checkOutput(_ name: String, _ result: (status: Int32, stdout: String, stderr: String),
    file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(result.status, 0, "\(name) failed: \(result.stdout.suffix(400)) \(result.stderr.suffix(800))",
      file: file, line: line)
    func fields(_ text: Substring) -> [String: String] {
      var out: [String: String] = [:]
      for word in text.split(separator: " ") {
        guard let eq = word.firstIndex(of: "=") else { continue }
        out[String(word[..<eq])] = String(word[word.index(after: eq)...])
      }
      return out
    }
    let lines = result.stdout.split(separator: "\n")
    let faces = lines.filter { $0.hasPrefix("frame=") }.map(fields)
    guard let summaryLine = lines.last(where: { $0.hasPrefix("summary ") }) else {
      XCTFail("\(name) printed no summary: \(result.stdout.suffix(400))", file: file, line: line)
      return
    }
    let summary = fields(summaryLine)
    XCTAssertEqual(summary["frames"], "56", "\(name): \(summaryLine)", file: file, line: line)
    XCTAssertGreaterThanOrEqual(Int(summary["frames_with_faces"] ?? "") ?? 0, 50, "\(name): \(summaryLine)", file: file, line: line)
    XCTAssertEqual(summary["faces"], String(faces.count), "\(name): summary disagrees with the face lines", file: file, line: line)
    XCTAssertGreaterThanOrEqual(faces.count, 100, "\(name): both people in nearly every frame", file: file, line: line)
    XCTAssertGreaterThan(Int(summary["female"] ?? "") ?? 0, 40, "\(name): \(summaryLine)", file: file, line: line)
    XCTAssertGreaterThan(Int(summary["male"] ?? "") ?? 0, 40, "\(name): \(summaryLine)", file: file, line: line)
    var frames = Set<Int>()
    for face in faces {
      let desc = face.map { "\($0)=\($1)" }.sorted().joined(separator: " ")
      XCTAssertTrue(face["gender"] == "female" || face["gender"] == "male", "\(name): \(desc)", file: file, line: line)
      XCTAssertTrue((1...56).contains(Int(face["frame"] ?? "") ?? 0), "\(name): \(desc)", file: file, line: line)
      frames.insert(Int(face["frame"] ?? "") ?? 0)
      let x = Int(face["x"] ?? "") ?? -99, y = Int(face["y"] ?? "") ?? -99
      let w = Int(face["width"] ?? "") ?? 0, h = Int(face["height"] ?? "") ?? 0
      XCTAssertTrue(x >= -2 && y >= -2 && w > 20 && h > 20 && x + w <= 482 && y + h <= 272, "\(name): box \(desc)",
        file: file, line: line)
      XCTAssertTrue((0...100).contains(Double(face["age"] ?? "") ?? -1), "\(name): \(desc)", file: file, line: line)
      XCTAssertTrue((0.5...1).contains(Double(face["gender_confidence"] ?? "") ?? 0), "\(name): \(desc)", file: file, line: line)
      XCTAssertTrue((0.5...1).contains(Double(face["confidence"] ?? "") ?? 0), "\(name): \(desc)", file: file, line: line)
      XCTAssertNotNil(UInt64(face["track_id"] ?? ""), "\(name): \(desc)", file: file, line: line)
    }
    XCTAssertEqual(summary["frames_with_faces"], String(frames.count), "\(name): \(summaryLine)", file: file, line: line)
  }

  func testCExampleWithItsMakefile() throws {
    let dir = Fixtures.repoRoot + "/examples/c"
    try Fixtures.require(dir + "/read_faces.c")
    try Fixtures.require(dir + "/Makefile")
    let binary = FileManager.default.temporaryDirectory.appendingPathComponent("read_faces-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: binary) }
    let build = try runProcess(
      "/usr/bin/make", ["-s", "-C", dir, "OUT=\(binary)", "CFLAGS=-Wall -Wextra -Werror -O2"], timeoutSeconds: 120)
    XCTAssertEqual(build.status, 0, build.stdout + build.stderr)
    let video = try Fixtures.video(Self.clip)
    checkOutput("read_faces (C)", try runProcess(binary, [video]))
  }

  func testPythonExample() throws {
    let script = try Fixtures.require(Fixtures.repoRoot + "/examples/python/read_faces.py")
    let video = try Fixtures.video(Self.clip)
    let result = try runProcess("/usr/bin/python3", [script, video])
    checkOutput("read_faces.py", result)
    // It also reads the ROI metas, which must agree with GstAgeGenderMeta right after the element.
    let summary = result.stdout.split(separator: "\n").last { $0.hasPrefix("summary ") } ?? ""
    XCTAssertTrue(summary.contains("roi_mismatches=0"), String(summary))
    XCTAssertFalse(summary.contains("roi_faces=0 "), String(summary))
  }

  /// Builds examples/swift, its own SwiftPM package that depends on this one by
  /// path, in a scratch folder under the temp dir (kept, so reruns are incremental).
  func testSwiftExamplePackage() throws {
    let package = Fixtures.repoRoot + "/examples/swift"
    try Fixtures.require(package + "/Package.swift")
    try Fixtures.require(package + "/Sources/read-faces/main.swift")
    let scratch = FileManager.default.temporaryDirectory
      .appendingPathComponent(
        "gst-agegender-example-swift" + Fixtures.repoRoot.map { $0.isLetter || $0.isNumber ? String($0) : "-" }.joined()
      ).path
    let started = monotonicSeconds()
    let build = try runProcess(
      "/usr/bin/env", ["swift", "build", "-c", "release", "--package-path", package, "--scratch-path", scratch],
      timeoutSeconds: 420)
    XCTAssertEqual(build.status, 0, String((build.stdout + build.stderr).suffix(3000)))
    print("examples/swift built in \(Int(monotonicSeconds() - started)) s")
    let binary = try Fixtures.require(scratch + "/release/read-faces", hint: "swift build of examples/swift")
    let video = try Fixtures.video(Self.clip)
    checkOutput("read-faces (Swift)", try runProcess(binary, [video]))
  }
}
