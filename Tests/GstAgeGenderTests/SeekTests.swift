import AgeGenderMeta
import CGStreamer
import Foundation
import GstPipeline
import XCTest

/// Issue 15: seeking, flushes, discontinuities, timestamp jumps, rate changes,
/// reverse playback and frame stepping, on real pipelines. Every wait is
/// bounded; a missing clip fails the test naming it.
final class SeekTests: XCTestCase {
  override func setUpWithError() throws { try Fixtures.setUp() }

  /// Scene A (2 people, 56 frames) then scene B (3 people, 41 frames), both 480x270 at 12.5 fps.
  static let sceneA = "head-pose-face-detection-female-and-male.mp4"
  static let sceneB = "face-demographics-walking-and-pause.mp4"
  static let frameNs: UInt64 = 80_000_000
  static let sceneBStart: UInt64 = 56 * frameNs

  nonisolated(unsafe) private static var clip: String?

  /// The two scenes scaled to one size and joined into one H.264 MP4 (a key
  /// frame every 5 frames), made once per test process in a temp folder.
  static func twoSceneClip() throws -> String {
    if let clip, FileManager.default.fileExists(atPath: clip) { return clip }
    let a = try Fixtures.video(sceneA), b = try Fixtures.video(sceneB)
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("agegender-seek-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let out = folder.appendingPathComponent("two-scenes.mp4").path
    let scale = "videoscale ! videorate ! video/x-raw,width=480,height=270,framerate=25/2"
    let words =
      ("concat name=c ! videoconvert ! video/x-raw,format=I420 ! x264enc key-int-max=5 speed-preset=ultrafast "
      + "! mp4mux ! filesink location=\(out) "
      + "filesrc location=\(a) ! decodebin ! \(scale) ! c. filesrc location=\(b) ! decodebin ! \(scale) ! c.")
      .split(separator: " ").map(String.init)
    let result = try runProcess("/usr/bin/gst-launch-1.0", ["-q"] + words, timeoutSeconds: 120)
    XCTAssertEqual(result.status, 0, "making the two-scene clip: \(result.stdout) \(result.stderr)")
    try Fixtures.require(out, hint: "the two-scene clip was not made")
    clip = out
    return out
  }

  override class func tearDown() {
    if let clip { try? FileManager.default.removeItem(atPath: (clip as NSString).deletingLastPathComponent) }
    clip = nil
    super.tearDown()
  }

  /// One frame as it reached the sink.
  struct Shown {
    var pts: UInt64
    var faces: [FaceRecord]
    var ids: Set<UInt64> { Set(faces.map(\.trackID)) }
  }

  static func describe(_ path: String, _ properties: String, sync: Bool = false) -> String {
    "filesrc location=\(path) ! qtdemux ! h264parse ! avdec_h264 ! videoconvert ! agegender name=ag \(properties) "
      + "! appsink name=sink sync=\(sync) max-buffers=4"
  }

  static func shown(_ sample: OpaquePointer) -> Shown {
    let buffer = gst_sample_get_buffer(sample)!
    return Shown(pts: UInt64(agb_buffer_pts(buffer)), faces: AgeGenderMeta.faces(of: buffer) ?? [])
  }

  /// The next frame (nil at EOS); a bus error or `timeout` seconds without one fails.
  static func pull(_ pipeline: Pipeline, timeout: Double = 60, file: StaticString = #filePath, line: UInt = #line)
    throws -> Shown? {
    let sink = agb_app_sink_cast(try pipeline.child("sink"))
    let deadline = monotonicSeconds() + timeout
    while monotonicSeconds() < deadline {
      if let error = pipeline.pendingError() { throw Pipeline.Failure(error) }
      if let sample = gst_app_sink_try_pull_sample(sink, 50_000_000) {
        defer { agb_sample_unref(sample) }
        return shown(sample)
      }
      if gst_app_sink_is_eos(sink) != 0 { return nil }
    }
    XCTFail("no frame and no EOS within \(timeout) s", file: file, line: line)
    throw Pipeline.Failure("hang: no frame within \(timeout) s")
  }

  /// Every frame until EOS.
  static func pullAll(_ pipeline: Pipeline, timeout: Double = 120) throws -> [Shown] {
    var out: [Shown] = []
    let deadline = monotonicSeconds() + timeout
    while let frame = try pull(pipeline, timeout: max(1, deadline - monotonicSeconds())) { out.append(frame) }
    return out
  }

  static func seek(_ pipeline: Pipeline, to position: UInt64, rate: Double = 1, flush: Bool = true,
    stop: UInt64? = nil) -> Bool {
    var flags = GST_SEEK_FLAG_ACCURATE.rawValue
    if flush { flags |= GST_SEEK_FLAG_FLUSH.rawValue }
    let stopType = stop == nil ? GST_SEEK_TYPE_NONE : GST_SEEK_TYPE_SET
    return gst_element_seek(
      pipeline.element, rate, GST_FORMAT_TIME, GstSeekFlags(rawValue: flags), GST_SEEK_TYPE_SET, gint64(position),
      stopType, stop.map { gint64($0) } ?? -1) != 0
  }

  /// Waits (bounded) for a pending state change to finish.
  static func settle(_ pipeline: Pipeline, seconds: UInt64 = 30, file: StaticString = #filePath, line: UInt = #line) {
    let result = gst_element_get_state(pipeline.element, nil, nil, agb_seconds(guint64(seconds)))
    XCTAssertNotEqual(result, GST_STATE_CHANGE_FAILURE, pipeline.pendingError() ?? "state change failed",
      file: file, line: line)
    XCTAssertNotEqual(result, GST_STATE_CHANGE_ASYNC, "state change did not finish in \(seconds) s", file: file, line: line)
  }

  static func byX(_ faces: [FaceRecord]) -> [FaceRecord] { faces.sorted { ($0.x, $0.y) < ($1.x, $1.y) } }

  // MARK: Flushing seek

  /// A flushing seek from scene A into scene B: every track id after it is
  /// greater than every id before it, and the first frame after it shows what
  /// a fresh pipeline that starts at that position shows (nothing of scene A
  /// is fused into it).
  func testFlushingSeekFromSceneAIntoSceneBStartsNewTracks() throws {
    for async in [false, true] { try flushingSeekFromSceneAIntoSceneB(async: async) }
  }

  private func flushingSeekFromSceneAIntoSceneB(async: Bool) throws {
    let clip = try Self.twoSceneClip()
    let target = Self.sceneBStart + 9 * Self.frameNs  // a key frame of scene B (every 5 frames)
    let pipeline = try Pipeline(Self.describe(clip, "async=\(async)"))
    try pipeline.setState(GST_STATE_PLAYING)
    var before: [Shown] = []
    while before.count < 20, let frame = try Self.pull(pipeline) { before.append(frame) }
    XCTAssertEqual(before.count, 20)
    XCTAssertTrue(before.allSatisfy { $0.pts < Self.sceneBStart }, "the first 20 frames are scene A")
    let idsBefore = before.reduce(into: Set<UInt64>()) { $0.formUnion($1.ids) }
    XCTAssertGreaterThanOrEqual(idsBefore.count, 2, "scene A's two people are tracked")
    XCTAssertTrue(Self.seek(pipeline, to: target), "the seek was refused")
    let after = try Self.pullAll(pipeline)
    try Robust.setNull(pipeline)
    XCTAssertEqual(after.first?.pts, target, "the first frame after an accurate seek is its target")
    XCTAssertGreaterThanOrEqual(after.count, 30)
    let idsAfter = after.reduce(into: Set<UInt64>()) { $0.formUnion($1.ids) }
    XCTAssertFalse(idsAfter.isEmpty, "scene B's people are found")
    XCTAssertGreaterThan(idsAfter.min() ?? 0, idsBefore.max() ?? .max, "ids after the seek \(idsAfter) vs before \(idsBefore)")

    // The same position analysed by a fresh pipeline.
    let fresh = try Pipeline(Self.describe(clip, "async=\(async)"))
    try fresh.setState(GST_STATE_PAUSED)
    Self.settle(fresh)
    XCTAssertTrue(Self.seek(fresh, to: target))
    Self.settle(fresh)
    try fresh.setState(GST_STATE_PLAYING)
    var first: Shown?
    while let frame = try Self.pull(fresh) {
      if frame.pts >= target {
        first = frame
        break
      }
    }
    try Robust.setNull(fresh)
    let reference = try XCTUnwrap(first, "the fresh pipeline showed no frame at the target")
    XCTAssertEqual(reference.pts, target)
    let seeked = Self.byX(after.first?.faces ?? []), expected = Self.byX(reference.faces)
    XCTAssertFalse(expected.isEmpty, "faces at the target")
    XCTAssertEqual(seeked.count, expected.count, "faces on the first frame after the seek")
    for (s, e) in zip(seeked, expected) {
      XCTAssertEqual(s.age, e.age, accuracy: 1e-9, "age on the first frame after the seek")
      XCTAssertEqual(s.gender, e.gender)
      XCTAssertEqual(s.genderConfidence, e.genderConfidence, accuracy: 1e-9)
      XCTAssertEqual([s.x, s.y, s.width, s.height], [e.x, e.y, e.width, e.height])
    }
  }

  // MARK: Discontinuities in an appsrc stream

  private func checkNewScene(at cut: Int, _ outcome: Robust.Outcome, _ label: String,
    file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertNil(outcome.error, "\(label): \(outcome.error ?? "")", file: file, line: line)
    let frames = outcome.frames.map { $0.faces ?? [] }
    XCTAssertEqual(frames.count, 2 * cut, label, file: file, line: line)
    guard frames.count == 2 * cut else { return }
    let before = Set(frames[..<cut].flatMap { $0.map(\.trackID) })
    let after = Set(frames[cut...].flatMap { $0.map(\.trackID) })
    XCTAssertEqual(before.count, 1, "\(label): one face, one track before the cut: \(before)", file: file, line: line)
    XCTAssertEqual(after.count, 1, "\(label): one track after the cut: \(after)", file: file, line: line)
    XCTAssertGreaterThan(after.min() ?? 0, before.max() ?? .max, "\(label): ids increase", file: file, line: line)
    // Fusion restarts: the first frame after the cut is analysed as the very
    // first frame was (the same image), not fused with the frames before it.
    XCTAssertEqual(frames[cut].first?.age ?? -1, frames[0].first?.age ?? -2, accuracy: 1e-9,
      "\(label): fusion restarts at the cut", file: file, line: line)
    XCTAssertNotEqual(frames[cut - 1].first?.age ?? -1, frames[0].first?.age ?? -1,
      "\(label): (the test is sensitive: fusion changes the shown age over the first frames)", file: file, line: line)
  }

  /// A DISCONT buffer in an appsrc stream starts a new scene, with and without the worker.
  func testDiscontBufferStartsANewScene() throws {
    for async in [false, true] {
      let outcome = try Robust.push(count: 20, middle: "videoconvert ! agegender async=\(async)", timeout: 120) { i in
        let frame = Robust.astronautFrame()
        if i == 10 { frame.buffer.pointee.mini_object.flags |= GST_BUFFER_FLAG_DISCONT.rawValue }
        return frame
      }
      checkNewScene(at: 10, outcome, "DISCONT, async=\(async)")
    }
  }
}

extension SeekTests {
  // MARK: Timestamp jumps

  /// A timestamp jump without DISCONT, forwards (10 s) or backwards, starts a
  /// new scene; a gap of three frames (160 ms, under the 0.5 s threshold) does not.
  func testTimestampJumpWithoutDiscontStartsANewScene() throws {
    let frame: GstClockTime = 40_000_000
    let cases: [(String, (Int) -> GstClockTime)] = [
      ("forward jump", { i in GstClockTime(i) * frame + (i >= 10 ? 10_000_000_000 : 0) }),
      ("backward jump", { i in i < 10 ? 20_000_000_000 + GstClockTime(i) * frame : GstClockTime(i - 10) * frame }),
    ]
    for (label, timestamp) in cases {
      let outcome = try Robust.push(
        count: 20, middle: "videoconvert ! agegender async=false", timeout: 120, timestamp: timestamp
      ) { _ in Robust.astronautFrame() }
      checkNewScene(at: 10, outcome, label)
    }
    let gap = try Robust.push(
      count: 20, middle: "videoconvert ! agegender async=false", timeout: 120,
      timestamp: { i in GstClockTime(i + (i >= 10 ? 3 : 0)) * frame }
    ) { _ in Robust.astronautFrame() }
    XCTAssertNil(gap.error)
    let ids = Set(gap.frames.flatMap { ($0.faces ?? []).map(\.trackID) })
    XCTAssertEqual(ids.count, 1, "a short gap keeps the track: \(ids)")
  }

  /// A decoder that drops late frames (QoS) flags the next one DISCONT, its
  /// timestamp continuing after the missing frames: the track goes on. (Taken
  /// for a new scene, every drop restarted the analysis in paced streams.) A
  /// DISCONT with no frame missing is still a new scene (testDiscontBufferStartsANewScene).
  func testDiscontAfterDroppedFramesKeepsTheTrack() throws {
    let frame: GstClockTime = 40_000_000
    for missing: GstClockTime in [1, 4] {
      let outcome = try Robust.push(
        count: 20, middle: "videoconvert ! agegender async=false", timeout: 120,
        timestamp: { i in GstClockTime(i) * frame + (i >= 10 ? missing * frame : 0) }
      ) { i in
        let image = Robust.astronautFrame()
        if i == 10 { image.buffer.pointee.mini_object.flags |= GST_BUFFER_FLAG_DISCONT.rawValue }
        return image
      }
      XCTAssertNil(outcome.error)
      XCTAssertEqual(outcome.frames.count, 20)
      let ids = Set(outcome.frames.flatMap { ($0.faces ?? []).map(\.trackID) })
      XCTAssertEqual(ids.count, 1, "\(missing) frames dropped before a DISCONT keep the track: \(ids)")
    }
  }
}

extension SeekTests {
  // MARK: Rates and reverse playback

  /// Plays `path` from PAUSED after a flushing seek at `rate` (negative: from
  /// the end back to the start) and returns every frame shown.
  static func play(_ path: String, rate: Double, duration: UInt64) throws -> [Shown] {
    let pipeline = try Pipeline(describe(path, "async=false"))
    try pipeline.setState(GST_STATE_PAUSED)
    settle(pipeline)
    XCTAssertTrue(rate < 0 ? seek(pipeline, to: 0, rate: rate, stop: duration) : seek(pipeline, to: 0, rate: rate),
      "seek at rate \(rate) refused")
    settle(pipeline)
    try pipeline.setState(GST_STATE_PLAYING)
    let frames = try pullAll(pipeline)
    try Robust.setNull(pipeline)
    return frames
  }

  /// Reverse playback (rate -1) and rate 2 show faces on at least 90% of the
  /// frames the forward run shows them on, and tracking goes on: about as many
  /// tracks as forward (the reversed groups of pictures, each flagged DISCONT,
  /// do not restart the tracks).
  func testReversePlaybackAndRateTwoKeepTrackingAndFusion() throws {
    let clips = [(try Fixtures.video(Self.sceneA), 56 * Self.frameNs), (try Self.twoSceneClip(), 97 * Self.frameNs)]
    for (path, duration) in clips {
      let name = (path as NSString).lastPathComponent
      let forward = try Self.play(path, rate: 1, duration: duration)
      let withFaces = forward.filter { !$0.faces.isEmpty }.count
      let forwardIDs = forward.reduce(into: Set<UInt64>()) { $0.formUnion($1.ids) }
      XCTAssertGreaterThanOrEqual(forward.count, Int(duration / Self.frameNs) - 1, name)
      XCTAssertGreaterThan(withFaces, forward.count / 2, name)
      for rate in [-1.0, 2.0] {
        let frames = try Self.play(path, rate: rate, duration: duration)
        let faces = frames.filter { !$0.faces.isEmpty }.count
        let ids = frames.reduce(into: Set<UInt64>()) { $0.formUnion($1.ids) }
        print("\(name) rate \(rate): \(frames.count) frames, \(faces) with faces, \(ids.count) tracks; "
          + "forward \(forward.count), \(withFaces), \(forwardIDs.count)")
        XCTAssertGreaterThanOrEqual(frames.count, forward.count - 2, "\(name) rate \(rate): frames")
        XCTAssertGreaterThanOrEqual(Double(faces), 0.9 * Double(withFaces), "\(name) rate \(rate): frames with faces")
        XCTAssertLessThanOrEqual(ids.count, forwardIDs.count + 2, "\(name) rate \(rate): tracks \(ids.sorted())")
        if rate < 0 {
          let pts = frames.map(\.pts)
          XCTAssertEqual(pts, pts.sorted(by: >), "\(name): reverse playback shows decreasing timestamps")
        }
      }
    }
  }
}

extension SeekTests {
  // MARK: Frame stepping and seeks while the worker is busy

  /// The next preroll frame (after a step or a seek in PAUSED); bounded.
  static func preroll(_ pipeline: Pipeline, timeout: Double = 20, file: StaticString = #filePath, line: UInt = #line)
    throws -> Shown {
    let sink = agb_app_sink_cast(try pipeline.child("sink"))
    let deadline = monotonicSeconds() + timeout
    while monotonicSeconds() < deadline {
      if let error = pipeline.pendingError() { throw Pipeline.Failure(error) }
      if let sample = gst_app_sink_try_pull_preroll(sink, 50_000_000) {
        defer { agb_sample_unref(sample) }
        return shown(sample)
      }
    }
    XCTFail("no preroll frame within \(timeout) s", file: file, line: line)
    throw Pipeline.Failure("hang: no preroll frame within \(timeout) s")
  }

  /// Sends a one-frame step event and waits (bounded) for its STEP_DONE.
  static func step(_ pipeline: Pipeline, file: StaticString = #filePath, line: UInt = #line) throws {
    let event = gst_event_new_step(GST_FORMAT_BUFFERS, 1, 1.0, 1, 0)
    XCTAssertTrue(gst_element_send_event(pipeline.element, event) != 0, "step event refused", file: file, line: line)
    let bus = gst_element_get_bus(pipeline.element)!
    defer { agb_object_unref(bus) }
    let types = GstMessageType(rawValue: GST_MESSAGE_STEP_DONE.rawValue | GST_MESSAGE_ERROR.rawValue)
    guard let message = gst_bus_timed_pop_filtered(bus, agb_seconds(20), types) else {
      XCTFail("no STEP_DONE within 20 s", file: file, line: line)
      throw Pipeline.Failure("hang: no STEP_DONE")
    }
    defer { agb_message_unref(message) }
    if agb_message_type(message) == GST_MESSAGE_ERROR { throw Pipeline.Failure(Pipeline.describeError(message)) }
  }

  /// Frame stepping in PAUSED, with and without the worker: each step shows
  /// the next frame, analysed, its faces keeping their tracks; a flushing seek
  /// in between (into scene B) starts new tracks and stepping goes on.
  func testStepEventsInPausedAndASeekBetweenSteps() throws {
    let clip = try Self.twoSceneClip()
    for async in [false, true] {
      let pipeline = try Pipeline(Self.describe(clip, "async=\(async)", sync: true))
      try pipeline.setState(GST_STATE_PAUSED)
      Self.settle(pipeline)
      var previous = try Self.preroll(pipeline)
      XCTAssertEqual(previous.pts, 0)
      var seenA = previous.ids
      for _ in 0..<6 {
        try Self.step(pipeline)
        let frame = try Self.preroll(pipeline)
        XCTAssertEqual(frame.pts, previous.pts + Self.frameNs, "async=\(async): a step shows the next frame")
        seenA.formUnion(frame.ids)
        previous = frame
      }
      XCTAssertFalse(previous.faces.isEmpty, "async=\(async): faces while stepping")
      XCTAssertLessThanOrEqual(seenA.count, 2, "async=\(async): stepping keeps scene A's two tracks: \(seenA)")
      let target = Self.sceneBStart + 10 * Self.frameNs
      XCTAssertTrue(Self.seek(pipeline, to: target))
      Self.settle(pipeline)
      previous = try Self.preroll(pipeline)
      XCTAssertEqual(previous.pts, target)
      var seenB = previous.ids
      for _ in 0..<4 {
        try Self.step(pipeline)
        let frame = try Self.preroll(pipeline)
        XCTAssertEqual(frame.pts, previous.pts + Self.frameNs, "async=\(async): stepping after the seek")
        seenB.formUnion(frame.ids)
        previous = frame
      }
      XCTAssertFalse(seenB.isEmpty, "async=\(async): faces in scene B")
      XCTAssertGreaterThan(seenB.min() ?? 0, seenA.max() ?? .max, "async=\(async): new tracks after the seek")
      // And it still plays to the end.
      try pipeline.setState(GST_STATE_PLAYING)
      let rest = try Self.pullAll(pipeline, timeout: 60)
      XCTAssertGreaterThan(rest.count, 10)
      try Robust.setNull(pipeline)
    }
  }

  /// 100 random flushing seeks while playing (paced by the sink, so the
  /// worker analyses after each scene's first detection interval) with
  /// async=true: bounded time, no crash, and no track id from before a seek
  /// shown after it.
  func testHundredRandomSeeksWhilePlayingWithTheWorker() throws {
    let clip = try Self.twoSceneClip()
    let pipeline = try Pipeline(Self.describe(clip, "async=true", sync: true))
    try pipeline.setState(GST_STATE_PLAYING)
    Self.settle(pipeline)
    let started = monotonicSeconds()
    var generator = SeededBytes(seed: 15)
    var maxShown: UInt64 = 0
    var framesAfterSeeks = 0, facesAfterSeeks = 0
    for round in 0..<100 {
      let frames = Int(generator.next() % 95)
      let target = UInt64(frames) * Self.frameNs
      XCTAssertTrue(Self.seek(pipeline, to: target), "seek \(round) refused")
      let before = maxShown
      // Mostly 1-3 frames; every 7th round 24 frames, past the first detection
      // interval of the scene (analysed in the stream), so that the worker
      // analyses and the next seek can come mid-analysis.
      for _ in 0..<(round % 7 == 6 ? 24 : 1 + round % 3) {
        guard let frame = try Self.pull(pipeline, timeout: 20) else { break }
        framesAfterSeeks += 1
        if !frame.faces.isEmpty { facesAfterSeeks += 1 }
        XCTAssertGreaterThanOrEqual(frame.pts, target, "seek \(round): a frame from before the seek came out")
        for id in frame.ids {
          XCTAssertGreaterThan(id, before, "seek \(round) to \(target / 1_000_000) ms: track \(id) from before the seek shown after it")
        }
        maxShown = max(maxShown, frame.ids.max() ?? 0)
      }
      XCTAssertLessThan(monotonicSeconds() - started, 240, "100 seeks took too long")
      if monotonicSeconds() - started > 240 { break }
    }
    print("100 seeks: \(framesAfterSeeks) frames after seeks, \(facesAfterSeeks) with faces, "
      + "\(Int(monotonicSeconds() - started)) s")
    XCTAssertGreaterThan(framesAfterSeeks, 100)
    XCTAssertGreaterThan(facesAfterSeeks, 0, "the worker's results are shown between seeks")
    try Robust.setNull(pipeline)
  }
}

extension SeekTests {
  // MARK: The player example

  /// examples/python/player.py runs headless with a scripted key sequence:
  /// seek +5 s (into scene B), rate 2, two steps, seek -5 s, reverse, half
  /// speed, normal speed, then to the end; every command takes effect and
  /// the ids after the first seek are new.
  func testPlayerExampleRunsHeadlessWithAScript() throws {
    let script = try Fixtures.require(Fixtures.repoRoot + "/examples/python/player.py")
    let clip = try Self.twoSceneClip()
    let commands = "seek+5,rate2,step,step,seek-5,rate-1,rate0.5,rate1,eos"
    let result = try runProcess(
      "/usr/bin/python3", [script, "--sink", "fakesink", "--script", commands, "--timeout", "120", clip],
      timeoutSeconds: 180)
    XCTAssertEqual(result.status, 0, "player.py: \(result.stdout.suffix(1500)) \(result.stderr.suffix(1500))")
    let lines = result.stdout.split(separator: "\n").map(String.init)
    func fields(_ line: String) -> [String: String] {
      var out: [String: String] = [:]
      for word in line.split(separator: " ") {
        guard let eq = word.firstIndex(of: "=") else { continue }
        out[String(word[..<eq])] = String(word[word.index(after: eq)...])
      }
      return out
    }
    // Frames between commands: [command name: frames shown after it].
    var segments: [(String, [(pts: Double, rate: String, ids: [UInt64])])] = [("start", [])]
    for line in lines {
      if line.hasPrefix("command ") {
        segments.append((String(line.split(separator: " ")[1]), []))
      } else if line.hasPrefix("frame ") {
        let f = fields(line)
        let ids = line.split(separator: "[").dropFirst().compactMap { UInt64($0.split(separator: " ")[0].dropFirst(3)) }
        segments[segments.count - 1].1.append((Double(f["pts"] ?? "") ?? -1, f["rate"] ?? "", ids))
      }
    }
    XCTAssertEqual(segments.map(\.0), ["start"] + commands.split(separator: ",").map(String.init),
      "every command was run: \(result.stdout.suffix(2000))")
    guard segments.count == 10 else { return }
    for (name, frames) in segments where name != "eos" {
      XCTAssertFalse(frames.isEmpty, "\(name): frames shown after it")
    }
    let start = segments[0].1, seek = segments[1].1
    XCTAssertTrue(start.allSatisfy { $0.pts < 2 }, "starts at the beginning")
    XCTAssertTrue(seek.allSatisfy { $0.pts >= 5 }, "seek+5 lands in scene B: \(seek.map(\.pts))")
    let before = Set(start.flatMap(\.ids)), after = Set(seek.flatMap(\.ids))
    XCTAssertFalse(before.isEmpty)
    XCTAssertFalse(after.isEmpty)
    XCTAssertGreaterThan(after.min() ?? 0, before.max() ?? .max, "new ids after the seek")
    XCTAssertTrue(segments[2].1.allSatisfy { $0.rate == "2.0" })
    XCTAssertEqual(segments[3].1.count, 1, "a step shows one frame")
    XCTAssertEqual(segments[4].1.count, 1, "a step shows one frame")
    XCTAssertTrue(segments[5].1.allSatisfy { $0.pts < 2 }, "seek-5 goes back to scene A")
    let reverse = segments[6].1.map(\.pts)
    XCTAssertEqual(reverse, reverse.sorted(by: >), "rate -1 plays backwards")
    XCTAssertTrue(segments[6].1.allSatisfy { $0.rate == "-1.0" })
    let summary = fields(lines.last { $0.hasPrefix("summary ") } ?? "")
    XCTAssertEqual(summary["commands"], "9")
    XCTAssertGreaterThan(Int(summary["frames_with_faces"] ?? "") ?? 0, 20)
  }
}
