import AgeGenderMeta
import Foundation
import GstPipeline
import XCTest

/// The metadata read the way applications read it: PyGObject pad probes, the C
/// header, and the Swift reader (AgeGenderMeta) the other tests use.
final class MetadataReaderTests: XCTestCase {
  override func setUpWithError() throws { try Fixtures.setUp() }

  private func python(_ mode: String) throws -> (Int, [String]) {
    let video = try Fixtures.video("head-pose-face-detection-female-and-male.mp4")
    let script = try Fixtures.require(Fixtures.repoRoot + "/Tests/python/probe_meta.py")
    let result = try runProcess("/usr/bin/python3", [script, video, mode])
    XCTAssertEqual(result.status, 0, "probe_meta.py \(mode): \(result.stdout.suffix(600)) \(result.stderr.suffix(600))")
    let lines = result.stdout.split(separator: "\n").map(String.init)
    let summary = try XCTUnwrap(lines.last { $0.contains("\"summary\"") }, result.stdout)
    let json = try JSONSerialization.jsonObject(with: Data(summary.utf8)) as? [String: Any]
    return ((json?["faces"] as? Int) ?? 0, lines)
  }

  func testPythonReadsRegionOfInterestMetasRightAfterTheElement() throws {
    let (faces, lines) = try python("roi")
    XCTAssertGreaterThanOrEqual(faces, 100)
    XCTAssertTrue(lines.contains { $0.contains("\"gender\": \"female\"") || $0.contains("\"gender\": \"male\"") })
  }

  func testPythonReadsOurMetaScaledTo960x540() throws {
    let (faces, lines) = try python("scaled")
    XCTAssertGreaterThanOrEqual(faces, 100)
    // Faces in the 480x270 clip are ~65 px wide; at 960x540 they must be about twice that.
    let widths = lines.compactMap { line -> Int? in
      guard let data = line.data(using: .utf8), let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
      else { return nil }
      return o["width"] as? Int
    }
    XCTAssertFalse(widths.isEmpty)
    XCTAssertGreaterThan(widths.reduce(0, +) / widths.count, 100)
  }

  func testCReaderWithThePublicHeader() throws {
    let source = try Fixtures.require(Fixtures.repoRoot + "/Tests/c/read_meta.c")
    let binary = FileManager.default.temporaryDirectory.appendingPathComponent("read_meta-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: binary) }
    let flags = try runProcess("/usr/bin/pkg-config", ["--cflags", "--libs", "gstreamer-1.0"])
    XCTAssertEqual(flags.status, 0, flags.stderr)
    let compile = try runProcess(
      "/usr/bin/cc",
      ["-Wall", "-Werror", "-o", binary, source, "-I", Fixtures.repoRoot + "/Sources/CGStreamer"]
        + flags.stdout.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty })
    XCTAssertEqual(compile.status, 0, compile.stderr)
    let video = try Fixtures.video("head-pose-face-detection-female-and-male.mp4")
    let run = try runProcess(
      binary,
      ["filesrc location=\(video) ! decodebin ! videoconvert ! agegender async=false ! videoconvert ! videoscale "
        + "! video/x-raw,width=960,height=540 ! fakesink name=sink"])
    XCTAssertEqual(run.status, 0, run.stdout.suffix(500) + run.stderr)
    XCTAssertTrue(run.stdout.contains("summary frames=56 frames-with-meta=56"), run.stdout.suffix(300) + "")
    let faceLines = run.stdout.split(separator: "\n").filter { $0.hasPrefix("face ") }
    XCTAssertGreaterThanOrEqual(faceLines.count, 100)
    XCTAssertTrue(faceLines.allSatisfy { $0.contains("gender=female") || $0.contains("gender=male") })
  }

  func testSwiftReaderSeesNoMetaWithoutTheElement() throws {
    let (frames, _) = try PipelineRun.collect(
      "videotestsrc num-buffers=2 ! video/x-raw,format=BGR,width=64,height=48 ! appsink name=sink sync=false")
    XCTAssertEqual(frames.count, 2)
    XCTAssertTrue(frames.allSatisfy { $0.faces == nil })
  }
}
