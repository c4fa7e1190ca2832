import AgeGenderMeta
import CGStreamer
import Foundation
import GstPipeline
import XCTest

/// The `agegenderjson` element: JSON Lines from GstAgeGenderMeta, anywhere after
/// agegender, in real pipelines with the real models.
final class JSONElementTests: XCTestCase {
  override func setUpWithError() throws { try Fixtures.setUp() }

  private func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("agegenderjson-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
  }

  /// Every line of a JSON Lines file, each parsed with JSONSerialization.
  private func readLines(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws -> [[String: Any]] {
    let text = try String(contentsOfFile: try Fixtures.require(path), encoding: .utf8)
    XCTAssertTrue(text.hasSuffix("\n"), "the last line is not terminated", file: file, line: line)
    return try text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { line in
      let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
      return try XCTUnwrap(object as? [String: Any], "not a JSON object: \(line)")
    }
  }

  private func number(_ value: Any?) -> Double? { (value as? NSNumber)?.doubleValue }

  /// Checks one parsed face object has every field with a plausible value.
  private func checkFace(_ face: [String: Any], frameWidth: Double, frameHeight: Double) {
    for key in ["x", "y", "width", "height", "confidence", "age", "age_min", "age_max", "gender_confidence", "track_id"] {
      XCTAssertNotNil(number(face[key]), "face lacks numeric \(key): \(face)")
    }
    // The default detector's five landmarks, [x, y] each, inside (or at the edge of) the frame.
    let landmarks = face["landmarks"] as? [[Any]]
    XCTAssertEqual(landmarks?.count, 5, "landmarks: \(String(describing: face["landmarks"]))")
    for point in landmarks ?? [] {
      let x = number(point.first) ?? -99, y = number(point.last) ?? -99
      XCTAssertEqual(point.count, 2)
      XCTAssertTrue(x >= -2 && x <= frameWidth + 2 && y >= -2 && y <= frameHeight + 2, "landmark outside the frame: \(face)")
    }
    XCTAssertEqual(face.count, 12, "unexpected keys: \(face.keys.sorted())")
    let gender = face["gender"] as? String
    XCTAssertTrue(gender == "female" || gender == "male", "gender \(String(describing: gender))")
    let x = number(face["x"]) ?? -1, w = number(face["width"]) ?? -1
    let y = number(face["y"]) ?? -1, h = number(face["height"]) ?? -1
    XCTAssertTrue(x >= -2 && x + w <= frameWidth + 2 && y >= -2 && y + h <= frameHeight + 2, "box outside the frame: \(face)")
    XCTAssertTrue((0...100).contains(number(face["age"]) ?? -1))
    XCTAssertLessThanOrEqual(number(face["age_min"]) ?? 1, number(face["age"]) ?? 0)
    XCTAssertGreaterThanOrEqual(number(face["age_max"]) ?? 0, number(face["age"]) ?? 1)
    XCTAssertTrue((0.5...1).contains(number(face["gender_confidence"]) ?? 0))
    XCTAssertTrue((0...1).contains(number(face["confidence"]) ?? -1))
    XCTAssertGreaterThanOrEqual(number(face["track_id"]) ?? -1, 0)
  }

  /// One pipeline, two writers on the same analysed frames: one right after the
  /// element (480x270, the clip's size), one after videoconvert ! videoscale !
  /// 960x540 ! tee ! queue. One line per frame in both; the second's boxes are
  /// the first's doubled. After the frames, both have the same person lines
  /// (one per person: the element's events pass convert, scale, tee and queue)
  /// and the summary line.
  func testLinesAfterConvertScaleTeeQueueHaveBoxesScaledTwice() throws {
    let video = try Fixtures.video("head-pose-face-detection-female-and-male.mp4")
    let dir = try temporaryDirectory()
    let direct = dir.appendingPathComponent("direct.jsonl").path
    let scaled = dir.appendingPathComponent("scaled.jsonl").path
    let pipeline = try Pipeline(
      "filesrc location=\(video) ! decodebin ! videoconvert ! agegender async=false ! tee name=split "
        + "split. ! queue ! agegenderjson location=\(direct) ! fakesink "
        + "split. ! queue ! videoconvert ! videoscale ! video/x-raw,width=960,height=540 ! tee ! queue "
        + "! agegenderjson location=\(scaled) ! fakesink")
    try pipeline.run(timeoutSeconds: 180)

    let smallLines = try readLines(direct), largeLines = try readLines(scaled)
    let small = smallLines.filter { $0["event"] == nil }, large = largeLines.filter { $0["event"] == nil }
    XCTAssertEqual(small.count, 56, "one line per frame of the 56-frame clip")
    XCTAssertEqual(large.count, 56, "one line per frame of the 56-frame clip")
    var pairs = 0, facesSeen = 0, lastPTS = -1.0
    for (a, b) in zip(small, large) {
      XCTAssertEqual(Set(b.keys), ["pts", "running_time", "width", "height", "faces"])
      XCTAssertEqual(number(a["width"]), 480)
      XCTAssertEqual(number(a["height"]), 270)
      XCTAssertEqual(number(b["width"]), 960)
      XCTAssertEqual(number(b["height"]), 540)
      let pts = try XCTUnwrap(number(b["pts"]), "pts missing: \(b)")
      XCTAssertEqual(number(a["pts"]), pts, "the two lines of a frame have different pts")
      XCTAssertGreaterThan(pts, lastPTS, "pts not increasing")
      lastPTS = pts
      let runningTime = try XCTUnwrap(number(b["running_time"]), "running_time missing: \(b)")
      XCTAssertLessThanOrEqual(runningTime, pts)
      let facesA = try XCTUnwrap(a["faces"] as? [[String: Any]]), facesB = try XCTUnwrap(b["faces"] as? [[String: Any]])
      XCTAssertEqual(facesA.count, facesB.count)
      for (fa, fb) in zip(facesA, facesB) {
        checkFace(fa, frameWidth: 480, frameHeight: 270)
        checkFace(fb, frameWidth: 960, frameHeight: 540)
        for key in ["x", "y", "width", "height"] {
          let original = number(fa[key]) ?? .nan, doubled = number(fb[key]) ?? .nan
          XCTAssertEqual(doubled, 2 * original, accuracy: 1.01, "\(key) not scaled 2x: \(fa) vs \(fb)")
        }
        for key in ["age", "gender", "confidence", "gender_confidence", "track_id"] {
          XCTAssertEqual("\(fa[key] ?? "nil")", "\(fb[key] ?? "nil")", "\(key) changed by scaling")
        }
        pairs += 1
      }
      facesSeen += facesA.count
    }
    XCTAssertGreaterThanOrEqual(pairs, 100, "both people should be found in nearly every frame")
    XCTAssertEqual(facesSeen, pairs)
    let genders = Set(large.flatMap { ($0["faces"] as? [[String: Any]] ?? []).compactMap { $0["gender"] as? String } })
    XCTAssertEqual(genders, ["female", "male"])

    // The people and the summary, after the last frame, the same in both files.
    for lines in [smallLines, largeLines] {
      XCTAssertEqual(lines.count, 59, "56 frames, 2 people, 1 summary")
      XCTAssertEqual(lines.suffix(3).map { $0["event"] as? String }, ["track", "track", "summary"])
      XCTAssertTrue(lines.prefix(56).allSatisfy { $0["event"] == nil }, "an event line before the end of the stream")
    }
    XCTAssertEqual(
      try String(contentsOfFile: direct, encoding: .utf8).split(separator: "\n").suffix(3),
      try String(contentsOfFile: scaled, encoding: .utf8).split(separator: "\n").suffix(3))
    let people = smallLines.filter { $0["event"] as? String == "track" }
    XCTAssertEqual(Set(people.compactMap { $0["gender"] as? String }), ["female", "male"])
    XCTAssertEqual(people.map { number($0["frames"]) }, [56, 56])
    let summary = try XCTUnwrap(smallLines.last)
    XCTAssertEqual(number(summary["people"]), 2)
    XCTAssertEqual(number(summary["female"]), 1)
    XCTAssertEqual(number(summary["male"]), 1)
  }

  func testUnwritableLocationIsAResourceErrorNamingThePath() throws {
    let path = try temporaryDirectory().appendingPathComponent("no-such-folder/faces.jsonl").path
    let pipeline = try Pipeline("videotestsrc num-buffers=1 ! agegenderjson name=json location=\(path) ! fakesink")
    XCTAssertEqual(gst_element_set_state(pipeline.element, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE)
    let bus = gst_element_get_bus(pipeline.element)!
    defer { agb_object_unref(bus) }
    let message = try XCTUnwrap(gst_bus_timed_pop_filtered(bus, agb_seconds(5), GST_MESSAGE_ERROR), "no error message")
    defer { agb_message_unref(message) }
    var error: UnsafeMutablePointer<GError>?
    gst_message_parse_error(message, &error, nil)
    defer { if let error { g_error_free(error) } }
    let gerror = try XCTUnwrap(error)
    XCTAssertEqual(gerror.pointee.domain, gst_resource_error_quark())
    XCTAssertEqual(gerror.pointee.code, Int32(GST_RESOURCE_ERROR_OPEN_WRITE.rawValue))
    let text = String(cString: gerror.pointee.message)
    XCTAssertTrue(text.contains(path), "the error does not name the path: \(text)")
    let source = agb_message_src(message).flatMap { gst_object_get_name($0) }
    defer { g_free(source) }
    XCTAssertEqual(source.map { String(cString: $0) }, "json")
    XCTAssertFalse(FileManager.default.fileExists(atPath: path))
  }

  func testInspectDocumentsTheElement() throws {
    let result = try runProcess("/usr/bin/gst-inspect-1.0", ["agegenderjson"])
    XCTAssertEqual(result.status, 0, result.stderr)
    let text = result.stdout
    XCTAssertTrue(text.contains("Age and gender JSON writer"), text)
    XCTAssertTrue(text.contains("GstBaseTransform"))
    XCTAssertTrue(text.contains("GstAgeGenderMeta"))
    let templates = try XCTUnwrap(text.range(of: "Pad Templates:"))
    XCTAssertTrue(text[templates.lowerBound...].prefix(300).contains("ANY"), "pads do not accept any caps")
    let property = try XCTUnwrap(text.range(of: "  location "), "gst-inspect does not list location")
    let block = text[property.lowerBound...].prefix(400)
    XCTAssertTrue(block.contains("standard output"), String(block))
    XCTAssertTrue(block.contains("String. Default: null"), String(block))
  }

  /// No location: stdout. No meta: an empty face list and the size from the caps.
  func testStdoutWithoutMetaTakesTheSizeFromTheCaps() throws {
    let result = try runProcess(
      "/usr/bin/gst-launch-1.0",
      ["-q", "videotestsrc", "num-buffers=3", "!", "video/x-raw,width=64,height=48,framerate=25/1", "!", "agegenderjson",
        "!", "fakesink"])
    XCTAssertEqual(result.status, 0, result.stderr)
    let lines = result.stdout.split(separator: "\n")
    XCTAssertEqual(lines.count, 3, result.stdout)
    for (index, line) in lines.enumerated() {
      let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
      XCTAssertEqual(number(object["width"]), 64)
      XCTAssertEqual(number(object["height"]), 48)
      XCTAssertEqual(number(object["pts"]), Double(index) * 40_000_000)
      XCTAssertEqual((object["faces"] as? [Any])?.count, 0)
    }
  }

  /// Strings escaped, non-finite numbers and a missing pts written as null, ANY caps.
  func testEscapingNullsAndNonVideoCaps() throws {
    let path = try temporaryDirectory().appendingPathComponent("odd.jsonl").path
    let pipeline = try Pipeline(
      "appsrc name=src format=time caps=application/x-test ! agegenderjson location=\(path) ! fakesink")
    let source = agb_app_src_cast(try pipeline.child("src"))
    try pipeline.setState(GST_STATE_PLAYING)
    let gender = "quote\" backslash\\ newline\n tab\t bell\u{07} é 顔 🙂 \u{2028}"
    let face = FaceRecord(
      x: -3, y: 7, width: 20, height: 30, confidence: .nan, age: 1e-7, ageMin: 0, ageMax: .infinity,
      gender: gender, genderConfidence: 0.75, trackID: 1 << 40)
    for pts in [UInt64(5_000_000_000), UInt64.max] {  // the second has no timestamp
      let buffer = gst_buffer_new_allocate(nil, 16, nil)!
      buffer.pointee.pts = GstClockTime(pts)
      AgeGenderMeta.attach([face], frameWidth: 640, frameHeight: 360, to: buffer)
      XCTAssertEqual(gst_app_src_push_buffer(source, buffer), GST_FLOW_OK)
    }
    let bare = gst_buffer_new_allocate(nil, 16, nil)!
    bare.pointee.pts = 6_000_000_000
    XCTAssertEqual(gst_app_src_push_buffer(source, bare), GST_FLOW_OK)
    gst_app_src_end_of_stream(source)
    try pipeline.run(timeoutSeconds: 30)

    let lines = try readLines(path)
    XCTAssertEqual(lines.count, 3)
    XCTAssertEqual(number(lines[0]["pts"]), 5e9)
    XCTAssertTrue(lines[1]["pts"] is NSNull, "pts of an untimed buffer: \(String(describing: lines[1]["pts"]))")
    XCTAssertTrue(lines[1]["running_time"] is NSNull)
    XCTAssertEqual(number(lines[0]["width"]), 640)
    let faces = try XCTUnwrap(lines[0]["faces"] as? [[String: Any]])
    XCTAssertEqual(faces.count, 1)
    XCTAssertEqual(faces[0]["gender"] as? String, gender)
    XCTAssertTrue(faces[0]["confidence"] is NSNull)
    XCTAssertTrue(faces[0]["age_max"] is NSNull)
    // Foundation's parser is off by an ulp on 17-digit numbers; the text itself reads back exactly (below).
    XCTAssertEqual(number(faces[0]["age"]) ?? 0, 1e-7, accuracy: 1e-21)
    XCTAssertEqual(number(faces[0]["x"]), -3)
    XCTAssertEqual((faces[0]["track_id"] as? NSNumber)?.uint64Value, 1 << 40)
    // A buffer without meta and caps without a frame size.
    XCTAssertTrue(lines[2]["width"] is NSNull)
    XCTAssertTrue(lines[2]["height"] is NSNull)
    XCTAssertEqual((lines[2]["faces"] as? [Any])?.count, 0)
    // Raw text: control characters never appear unescaped; one line per object.
    let raw = try String(contentsOfFile: path, encoding: .utf8)
    XCTAssertEqual(raw.filter { $0 == "\n" }.count, 3)
    XCTAssertFalse(raw.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
    // json-glib writes doubles with 17 significant digits: a correctly rounding reader (strtod) gets them back exactly.
    let age = try XCTUnwrap(raw.range(of: "\"age\":"), raw)
    let ageText = String(raw[age.upperBound...].prefix { $0 != "," })
    XCTAssertEqual(ageText, "9.9999999999999995e-08")
    XCTAssertEqual(strtod(ageText, nil), 1e-7)
    XCTAssertTrue(raw.contains("\"gender_confidence\":0.75,"), raw)
  }
}
