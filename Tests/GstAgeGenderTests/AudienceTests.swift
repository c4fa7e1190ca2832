import AgeGenderEvents
import CGStreamer
import FaceAnalysis
import Foundation
import GstPipeline
import XCTest

/// Issue 12: one event per person and a summary at end of stream, on the bus
/// (`agegender-track`, `agegender-summary`) and as agegenderjson lines, on real
/// pipelines with the real models and the shared clips.
final class AudienceTests: XCTestCase {
  override func setUpWithError() throws { try Fixtures.setUp() }

  static let frameNs: UInt64 = 80_000_000  // the shared clips: 12.5 fps

  private func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("agegender-audience-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
  }

  /// What a run posted and wrote: the people and summaries from the bus, and agegenderjson's lines.
  struct Run {
    var people: [PersonTrack] = []
    var summaries: [AudienceSummary] = []
    var lines: [[String: Any]] = []
    var frameLines: [[String: Any]] { lines.filter { $0["event"] == nil } }
    func events(_ kind: String) -> [[String: Any]] { lines.filter { $0["event"] as? String == kind } }
  }

  /// Plays `source ! agegender <properties> ! agegenderjson ! fakesink` to EOS.
  private func run(_ source: String, _ properties: String = "") throws -> Run {
    let json = try temporaryDirectory().appendingPathComponent("lines.jsonl").path
    let pipeline = try Pipeline(
      "\(source) ! videoconvert ! agegender async=false \(properties) ! agegenderjson location=\(json) ! fakesink")
    var result = Run()
    try pipeline.run(timeoutSeconds: 180) { message in
      guard agb_message_type(message) == GST_MESSAGE_ELEMENT, let s = gst_message_get_structure(message) else { return }
      if let person = PersonTrack(structure: s) { result.people.append(person) }
      if let summary = AudienceSummary(structure: s) { result.summaries.append(summary) }
    }
    let text = try String(contentsOfFile: try Fixtures.require(json), encoding: .utf8)
    XCTAssertTrue(text.hasSuffix("\n"), "the last line is not terminated")
    result.lines = try text.split(separator: "\n").map { line in
      try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], String(line))
    }
    return result
  }

  private func number(_ value: Any?) -> Double? { (value as? NSNumber)?.doubleValue }

  private func file(_ clip: String) throws -> String { "filesrc location=\(try Fixtures.video(clip)) ! decodebin" }

  /// The head-pose clip (2 people, 56 frames) followed by 30 black frames, as one
  /// MP4 with continuous timestamps: the faces are lost before the stream ends.
  private func clipWithFacesThenNone() throws -> String {
    let faces = try Fixtures.video("head-pose-face-detection-female-and-male.mp4")
    let out = try temporaryDirectory().appendingPathComponent("faces-then-black.mp4").path
    let caps = "video/x-raw,width=480,height=270,framerate=25/2"
    let words =
      ("concat name=c ! videoconvert ! video/x-raw,format=I420 ! x264enc speed-preset=ultrafast ! mp4mux "
      + "! filesink location=\(out) filesrc location=\(faces) ! decodebin ! videoconvert ! videoscale ! videorate "
      + "! \(caps) ! c. videotestsrc pattern=black num-buffers=30 ! \(caps) ! c.")
      .split(separator: " ").map(String.init)
    let result = try runProcess("/usr/bin/gst-launch-1.0", ["-q"] + words, timeoutSeconds: 120)
    XCTAssertEqual(result.status, 0, "making the clip: \(result.stdout) \(result.stderr)")
    return try Fixtures.require(out, hint: "the faces-then-black clip was not made")
  }

  // MARK: Tests

  /// The issue's check: gst-launch-1.0 -m prints one agegender-track per person and one agegender-summary.
  func testGstLaunchPrintsOneTrackMessagePerPersonAndOneSummary() throws {
    let video = try Fixtures.video("face-demographics-walking-and-pause.mp4")
    let result = try runProcess(
      "/usr/bin/gst-launch-1.0",
      ["-m", "filesrc", "location=\(video)", "!", "decodebin", "!", "videoconvert", "!", "agegender", "!", "fakesink"],
      timeoutSeconds: 180)
    XCTAssertEqual(result.status, 0, result.stderr)
    let lines = result.stdout.split(separator: "\n")
    let tracks = lines.filter { $0.contains("(element): agegender-track,") }
    let summaries = lines.filter { $0.contains("(element): agegender-summary,") }
    XCTAssertEqual(tracks.count, 3, "one message per person (3 in the clip):\n\(tracks.joined(separator: "\n"))")
    XCTAssertEqual(summaries.count, 1, result.stdout)
    XCTAssertTrue(
      summaries.first?.contains("people=(uint)3, female=(uint)2, male=(uint)1") == true, "\(summaries)")
    for track in tracks {
      for field in ["track-id=(guint64)", "first-pts=(guint64)", "last-pts=(guint64)", "frames=(uint)41", "age=(double)",
        "age-min=(double)", "age-max=(double)", "gender=(string)", "gender-confidence=(double)", "max-face-width=(int)"]
      {
        XCTAssertTrue(track.contains(field), "\(field) missing: \(track)")
      }
      // Calibrated by default: age-min < age < age-max (the ~80% interval the frames' metadata carry).
      func value(_ field: String) -> Double? {
        guard let start = track.range(of: field + "=(double)") else { return nil }
        return Double(track[start.upperBound...].prefix { $0 != "," && $0 != ";" })
      }
      let age = try XCTUnwrap(value("age"), String(track))
      XCTAssertLessThan(try XCTUnwrap(value("age-min")), age - 1, "the age interval: \(track)")
      XCTAssertGreaterThan(try XCTUnwrap(value("age-max")), age + 1, "the age interval: \(track)")
      // The overlay's label: the point age, not the interval.
      let gender = track.contains("gender=(string)female") ? "Female" : "Male"
      XCTAssertTrue(track.contains("label=(string)\"\(gender)\\,\\ \(Int(age.rounded()))\""), "the label: \(track)")
    }
  }

  /// Faces lost for more than track-max-missed frames end their tracks in the
  /// stream (the person lines come between frame lines); with a longer
  /// track-max-missed they end at EOS (after the last frame, before the summary).
  /// A detection every 4 frames: the first on black is frame 56, right after the faces.
  func testTracksEndByLossInTheStreamOrAtEndOfStream() throws {
    let clip = "filesrc location=\(try clipWithFacesThenNone()) ! decodebin"
    for (maxMissed, byLoss) in [(5, true), (200, false)] {
      let label = "detection-interval=4 track-max-missed=\(maxMissed)"
      let run = try self.run(clip, label)
      XCTAssertEqual(run.frameLines.count, 86, "\(label): 56 + 30 frames")
      XCTAssertEqual(run.people.count, 2, "\(label): \(run.people)")
      XCTAssertEqual(Set(run.people.map(\.gender)), [.female, .male], label)
      XCTAssertEqual(run.summaries.count, 1, label)
      XCTAssertEqual(run.summaries.first?.people, 2, label)
      XCTAssertEqual(run.events("track").count, 2, label)
      XCTAssertEqual(run.lines.last?["event"] as? String, "summary", label)
      for person in run.people {
        // Shown up to the first detection on black (frame 56), not beyond.
        let last = try XCTUnwrap(person.lastPTS, label)
        let first = try XCTUnwrap(person.firstPTS, label)
        XCTAssertLessThan(first, 2 * Self.frameNs, "\(label): found from the start")
        XCTAssertGreaterThanOrEqual(last, first + 54 * Self.frameNs, "\(label): followed through the faces")
        XCTAssertLessThanOrEqual(last, first + 55 * Self.frameNs, "\(label): shown on black frames")
        XCTAssertGreaterThanOrEqual(person.frames, 55, label)
        XCTAssertEqual(person.dwell, last - first + Self.frameNs, label)
      }
      let firstTrackLine = try XCTUnwrap(run.lines.firstIndex { $0["event"] as? String == "track" })
      let framesAfter = run.lines[firstTrackLine...].filter { $0["event"] == nil }
      if byLoss {
        // Ended with the 6th frame unseen (one more than track-max-missed): black frames follow.
        XCTAssertGreaterThanOrEqual(framesAfter.count, 20, "\(label): the tracks did not end in the stream")
        let lastShown = run.people.compactMap(\.lastPTS).max()!
        let nextFrame = try XCTUnwrap(number(framesAfter.first?["pts"]))
        XCTAssertEqual(nextFrame, Double(lastShown + 6 * Self.frameNs), accuracy: 1, "\(label): ended on the 6th frame unseen")
      } else {
        XCTAssertEqual(framesAfter.count, 0, "\(label): the tracks ended before the end of the stream")
      }
    }
  }

  /// A flushing seek from scene A (2 people) into scene B (3 people) ends scene
  /// A's tracks: their lines come with the first frame after the seek; scene B's
  /// at EOS; the summary counts all 5.
  func testAFlushingSeekEndsTheTracksOfTheSceneBeforeIt() throws {
    let clip = try SeekTests.twoSceneClip()
    let json = try temporaryDirectory().appendingPathComponent("seek.jsonl").path
    let target = SeekTests.sceneBStart + 9 * SeekTests.frameNs  // a key frame of scene B
    let pipeline = try Pipeline(
      "filesrc location=\(clip) ! qtdemux ! h264parse ! avdec_h264 ! videoconvert ! agegender async=false "
        + "! agegenderjson location=\(json) ! appsink name=sink sync=false max-buffers=4")
    try pipeline.setState(GST_STATE_PLAYING)
    var before = 0
    while before < 25, try SeekTests.pull(pipeline) != nil { before += 1 }
    XCTAssertEqual(before, 25)
    XCTAssertTrue(SeekTests.seek(pipeline, to: target), "the seek was refused")
    let after = try SeekTests.pullAll(pipeline)
    try Robust.setNull(pipeline)
    XCTAssertGreaterThanOrEqual(after.count, 30)

    let lines = try String(contentsOfFile: try Fixtures.require(json), encoding: .utf8).split(separator: "\n").map {
      try XCTUnwrap(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
    }
    let firstAfter = try XCTUnwrap(lines.firstIndex { number($0["pts"]) == Double(target) }, "no frame at the seek target")
    let sceneA = lines[..<firstAfter].filter { $0["event"] as? String == "track" }
    XCTAssertEqual(sceneA.count, 2, "scene A's people")
    XCTAssertEqual(lines[firstAfter - 2..<firstAfter].map { $0["event"] as? String }, ["track", "track"],
      "scene A's people come with the first frame after the seek")
    for person in sceneA {
      XCTAssertLessThan(number(person["last_pts"]) ?? .infinity, Double(SeekTests.sceneBStart))
      XCTAssertGreaterThanOrEqual(number(person["frames"]) ?? 0, 25)
    }
    let sceneB = lines[firstAfter...].filter { $0["event"] as? String == "track" }
    XCTAssertEqual(sceneB.count, 3, "scene B's people, at EOS")
    XCTAssertTrue(sceneB.allSatisfy { (number($0["first_pts"]) ?? 0) >= Double(target) })
    let summary = try XCTUnwrap(lines.last)
    XCTAssertEqual(summary["event"] as? String, "summary")
    XCTAssertEqual(number(summary["people"]), 5)
    XCTAssertEqual(number(summary["female"]), 3)
    XCTAssertEqual(number(summary["male"]), 2)
  }

  /// min-track-frames: the clip's people are shown in 41 frames each; at 41 they
  /// count, at 42 nobody does (no track message or line, a summary of 0).
  func testMinTrackFramesDecidesWhatIsAPerson() throws {
    let clip = try file("face-demographics-walking-and-pause.mp4")
    let kept = try run(clip, "min-track-frames=41")
    XCTAssertEqual(kept.people.map(\.frames), [41, 41, 41])
    XCTAssertEqual(kept.summaries.first?.people, 3)
    XCTAssertEqual(kept.summaries.first?.female, 2)
    XCTAssertEqual(kept.summaries.first?.male, 1)
    let dropped = try run(clip, "min-track-frames=42")
    XCTAssertEqual(dropped.people.count, 0)
    XCTAssertEqual(dropped.events("track").count, 0)
    XCTAssertEqual(dropped.summaries.first?.people, 0)
    XCTAssertEqual(number(dropped.events("summary").first?["people"]), 0)
    XCTAssertEqual(dropped.frameLines.count, 41, "frame lines do not depend on min-track-frames")
  }

  /// No face at all: every frame line, no person, and a summary of nobody.
  func testStreamWithoutFacesEndsWithASummaryOfNobody() throws {
    let run = try self.run("videotestsrc num-buffers=25 ! video/x-raw,width=320,height=240,framerate=25/1")
    XCTAssertEqual(run.frameLines.count, 25)
    XCTAssertEqual(run.people.count, 0)
    XCTAssertEqual(run.events("track").count, 0)
    XCTAssertEqual(run.summaries, [AudienceSummary()])
    let summary = try XCTUnwrap(run.lines.last)
    XCTAssertEqual(summary["event"] as? String, "summary")
    for key in ["people", "female", "male", "dwell_mean", "dwell_max"] { XCTAssertEqual(number(summary[key]), 0, key) }
    let brackets = try XCTUnwrap(summary["age_brackets"] as? [String: [String: Any]])
    XCTAssertEqual(brackets.keys.sorted(), ["0-12", "13-19", "20-29", "30-39", "40-49", "50-59", "60+"])
    XCTAssertTrue(brackets.values.allSatisfy { number($0["people"]) == 0 }, "\(brackets)")
  }

  /// The structures read back into what made them; the JSON lines parse and keep every field.
  func testEventStructuresAndLinesRoundTrip() throws {
    let person = PersonTrack(
      trackID: 1 << 40, firstPTS: 160_000_000, lastPTS: nil, frames: 41, age: 33.6, ageMin: 25, ageMax: 32,
      gender: .female, genderConfidence: 0.97, maxFaceWidth: 57, dwell: 3_280_000_000, label: "Female, 25-32")
    let s = person.makeStructure()
    defer { gst_structure_free(s) }
    XCTAssertEqual(PersonTrack(structure: s), person)
    var summary = AudienceSummary()
    summary.add(person)
    let t = summary.makeStructure()
    defer { gst_structure_free(t) }
    XCTAssertEqual(AudienceSummary(structure: t), summary)
    XCTAssertNil(PersonTrack(structure: t))
    XCTAssertNil(AudienceSummary(structure: s))

    let line = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(person.jsonText().utf8)) as? [String: Any])
    XCTAssertEqual(line["event"] as? String, "track")
    XCTAssertEqual((line["track_id"] as? NSNumber)?.uint64Value, 1 << 40)
    XCTAssertEqual(number(line["first_pts"]), 160_000_000)
    XCTAssertTrue(line["last_pts"] is NSNull)
    XCTAssertEqual(number(line["age"]), 33.6)
    XCTAssertEqual(line["gender"] as? String, "female")
    XCTAssertEqual(
      Set(line.keys),
      ["event", "track_id", "first_pts", "last_pts", "frames", "age", "age_min", "age_max", "gender", "gender_confidence",
        "max_face_width", "dwell", "label"])
    XCTAssertEqual(line["label"] as? String, "Female, 25-32")
    let total = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(summary.jsonText().utf8)) as? [String: Any])
    XCTAssertEqual(number(total["people"]), 1)
    let thirties = (total["age_brackets"] as? [String: [String: Any]])?["30-39"]
    XCTAssertEqual(number(thirties?["female"]), 1)
  }

  func testInspectDocumentsMinTrackFrames() throws {
    let result = try runProcess("/usr/bin/gst-inspect-1.0", ["agegender"])
    XCTAssertEqual(result.status, 0, result.stderr)
    let property = try XCTUnwrap(result.stdout.range(of: "  min-track-frames "), "gst-inspect does not list min-track-frames")
    let block = result.stdout[property.lowerBound...].prefix(900)
    XCTAssertTrue(block.contains("not a person"), String(block))
    XCTAssertTrue(block.contains("Default: 17"), String(block))
  }
}
