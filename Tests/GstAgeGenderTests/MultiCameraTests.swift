import AgeGenderMeta
import CGStreamer
import Foundation
import GstPipeline
import XCTest

/// Many cameras in one process (issue 14): agegender elements share their
/// loaded models (one copy per file and input size, freed after the last
/// stops), unless their model settings or `model-instance-id` differ; four
/// streams survive 200 state changes each; four RTSP cameras from a local
/// server go into one mosaic MP4 with JSON lines per stream (`source-id`).
final class MultiCameraTests: XCTestCase {
  override func setUpWithError() throws { try Fixtures.setUp() }

  private func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("multicamera-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
  }

  /// `count` branches of one clip, each `... ! agegender name=agI <properties[I]> ! fakesink`.
  private func branches(_ video: String, _ properties: [String]) -> String {
    properties.enumerated().map { i, extra in
      "filesrc location=\(video) ! decodebin ! videoconvert ! agegender name=ag\(i) async=false \(extra) "
        + "! fakesink sync=false"
    }.joined(separator: " ")
  }

  /// Two elements in one pipeline load each model once (the second shares
  /// it), and the models are freed when both have stopped: anonymous RSS with
  /// two elements is close to that with one (a second copy of the models cost
  /// ~80 MB before the cache), and after NULL it is back to where it was
  /// before the models loaded.
  ///
  /// Runs in a fresh process (this test binary again, for this test only),
  /// with glibc's mmap threshold fixed, as LifecycleTests does and for the
  /// same reasons: RSS in the suite's own process moves with earlier tests.
  func testTwoElementsShareOneLoadedNetFreedAfterBothStop() throws {
    let name = "GstAgeGenderTests.MultiCameraTests/testTwoElementsShareOneLoadedNetFreedAfterBothStop"
    if ProcessInfo.processInfo.environment["AGEGENDER_SHARING_CHILD"] != "1" {
      let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
      let child = try runProcess(
        executable, [name], environment: ["AGEGENDER_SHARING_CHILD": "1", "MALLOC_MMAP_THRESHOLD_": "131072"],
        timeoutSeconds: 300)
      let lines = (child.stdout + child.stderr).split(separator: "\n")
      for line in lines where line.hasPrefix("sharing:") || line.contains("error:") { print(line) }
      XCTAssertEqual(child.status, 0, "the sharing run in its own process failed:\n" + lines.suffix(30).joined(separator: "\n"))
      XCTAssertTrue(lines.contains { $0.hasPrefix("sharing: anonymous RSS") }, "the child measured nothing")
      return
    }
    let video = try Fixtures.video("face-demographics-walking-and-pause.mp4")
    /// Plays to EOS; anonymous RSS (kB) at EOS, with the models loaded, and after NULL.
    func run(_ description: String) throws -> (playing: Int, stopped: Int) {
      let pipeline = try Pipeline(description)
      let bus = gst_element_get_bus(pipeline.element)!
      defer { agb_object_unref(bus) }
      try pipeline.setState(GST_STATE_PLAYING)
      let message = try XCTUnwrap(
        gst_bus_timed_pop_filtered(bus, agb_seconds(120), GstMessageType(rawValue: GST_MESSAGE_EOS.rawValue | GST_MESSAGE_ERROR.rawValue)),
        "no EOS within 120 s")
      let error = agb_message_type(message) == GST_MESSAGE_ERROR ? Pipeline.describeError(message) : nil
      agb_message_unref(message)
      if let error { throw Pipeline.Failure(error) }
      let playing = Robust.anonRSSKB()
      try Robust.setNull(pipeline)
      return (playing, Robust.anonRSSKB())
    }
    let one = branches(video, [""]), two = branches(video, ["", ""])
    // Warm-up, both pipelines once: GStreamer's, the decoders' and OpenCV's
    // one-time allocations, and the malloc arenas of the streaming threads
    // (the free top of a thread's arena stays resident: +3.7 MB after the
    // first two-branch run, none after the second).
    _ = try run(one)
    _ = try run(two)
    let before = Robust.anonRSSKB()
    let single = try run(one)
    var shared = (playing: 0, stopped: 0)
    let log = try ModelLog.capture { shared = try run(two) }
    print("sharing: anonymous RSS before \(before) kB; one element \(single.playing) kB playing, \(single.stopped) kB stopped; "
      + "two elements \(shared.playing) kB playing, \(shared.stopped) kB stopped")
    print("sharing: model lines of the two-element run:\n" + log.text)
    // One load of each net the stream uses, the other element shares it.
    for model in ["centerface.onnx at 480x256", "cydral-age-v1.onnx at 64x64", "cydral-gender-v1.onnx at 32x32",
      "shape_predictor_5_face_landmarks.dat"] {
      XCTAssertEqual(log.count("loaded", model), 1, "\(model):\n\(log.text)")
      XCTAssertEqual(log.count("shared", model), 1, "\(model):\n\(log.text)")
    }
    for (model, counts) in log.balance { XCTAssertEqual(counts.loaded, counts.freed, "\(model) not freed:\n\(log.text)") }
    // A second element adds its stream's buffers and state, not another copy
    // of the models (before the cache: +80 MB, issue 14's 154 -> 234 MB).
    XCTAssertLessThanOrEqual(shared.playing - single.playing, 20 * 1024, "the second element cost \(shared.playing - single.playing) kB")
    // Freed after both stopped: the models' ~70 MB leave, and memory is back where it was.
    XCTAssertGreaterThanOrEqual(shared.playing - shared.stopped, 40 * 1024, "NULL freed only \(shared.playing - shared.stopped) kB")
    XCTAssertLessThanOrEqual(shared.stopped - before, 3 * 1024, "after NULL: \(shared.stopped - before) kB more than before")
  }

  /// Different model settings do not share: another model-instance-id loads
  /// its own nets, another detection-size its own detector net (the
  /// classifier's nets are still shared), another detector its own; every
  /// model is freed at NULL.
  func testDifferentModelSettingsDoNotShare() throws {
    let video = try Fixtures.video("head-pose-face-detection-female-and-male.mp4")
    let log = try ModelLog.capture {
      try Pipeline(branches(video, ["", "model-instance-id=camera-b", "detection-size=320", "detector=ssd"]))
        .run(timeoutSeconds: 300)
    }
    // 480x270 frames: detection-size 256 -> a 480x256 input, 320 -> 480x288 (at most the frame, in 32s).
    XCTAssertEqual(log.count("loaded", "centerface.onnx at 480x256"), 2, "default and camera-b:\n\(log.text)")
    XCTAssertEqual(log.count("loaded", "centerface.onnx at 480x256 (model instance 'camera-b')"), 1, log.text)
    XCTAssertEqual(log.count("shared", "centerface.onnx at 480x256"), 0, log.text)
    XCTAssertEqual(log.count("loaded", "centerface.onnx at 480x288"), 1, log.text)
    XCTAssertEqual(log.count("loaded", "res10_300x300_ssd_iter_140000.caffemodel"), 1, log.text)
    // Cydral nets: one copy per instance; the detection-size and ssd elements share the default's.
    XCTAssertEqual(log.count("loaded", "cydral-age-v1.onnx"), 2, log.text)
    XCTAssertEqual(log.count("shared", "cydral-age-v1.onnx"), 2, log.text)
    for (model, counts) in log.balance { XCTAssertEqual(counts.loaded, counts.freed, "\(model) not freed:\n\(log.text)") }
  }

  /// Streams a synchronising sink plays at the clock's pace (display sinks'
  /// qos=true) never wait for the shared nets while playing: each analyses in
  /// the stream only its preroll frame, then hands every frame to its worker
  /// (the first frame while playing, before the sink's first QoS event,
  /// because other elements run in the process). (The first detection
  /// interval analysed in the stream, and frames that looked ahead of the
  /// clock after the decoder skipped late ones, made 8 paced 480x270 streams
  /// drop 11-16 frames each.) A file alone in its process, played as fast as
  /// possible, is analysed in the stream frame by frame, as the control
  /// shows; both runs show faces.
  func testPacedStreamsAnalyseOnlyTheirPrerollFrameInTheStream() throws {
    let video = try Fixtures.video("head-pose-face-detection-female-and-male.mp4")
    func run(_ sink: String, streams: Int) throws -> (log: ModelLog, faces: Int) {
      let description = (0..<streams).map { i in
        "filesrc location=\(video) ! decodebin ! videoconvert ! agegender name=ag\(i) post-messages=true ! \(sink)"
      }.joined(separator: " ")
      var faces = 0
      let log = try ModelLog.capture(prefix: "pacing: ", level: GST_LEVEL_DEBUG) {
        try Pipeline(description).run(timeoutSeconds: 300) { message in
          guard agb_message_type(message) == GST_MESSAGE_ELEMENT, let structure = gst_message_get_structure(message),
            let text = gst_structure_to_string(structure)
          else { return }
          if String(cString: text).contains("track-id") { faces += 1 }
          g_free(text)
        }
      }
      return (log, faces)
    }
    let paced = try run("fakesink sync=true qos=true max-lateness=20000000", streams: 4)
    XCTAssertEqual(paced.log.all.filter { $0.hasPrefix("a sink paces the stream") }.count, 4, paced.log.text)
    XCTAssertEqual(paced.log.all.filter { $0.contains("analysed in the stream") }.count, 4,
      "each paced stream analyses only its preroll frame in the stream:\n\(paced.log.text)")
    XCTAssertGreaterThan(paced.faces, 0, "the worker's faces are shown")
    let fast = try run("fakesink sync=false", streams: 1)
    XCTAssertEqual(fast.log.all.filter { $0.hasPrefix("a sink paces the stream") }.count, 0, fast.log.text)
    XCTAssertGreaterThanOrEqual(fast.log.all.filter { $0.contains("analysed in the stream") }.count, 50,
      "a file played as fast as possible is analysed in the stream:\n\(fast.log.text)")
    XCTAssertGreaterThan(fast.faces, 0)
  }

  /// Four live streams on four threads, each through 200 random state changes
  /// (NULL, READY, PAUSED, PLAYING; two with async=true, two analysing in the
  /// stream), on shared models: no error, every change completes, each stream
  /// still analyses afterwards (the astronaut's face), and every model loaded
  /// during the run is freed at the end.
  func testFourStreamsTwoHundredStateChangesEach() throws {
    let still = try Fixtures.still("astronaut.png")
    let failures = Robust.Unchecked(Robust.Box([String]()))
    let lock = NSLock()
    func fail(_ text: String) {
      lock.lock()
      failures.value.value.append(text)
      lock.unlock()
    }
    let start = monotonicSeconds()
    let log = try ModelLog.capture {
      DispatchQueue.concurrentPerform(iterations: 4) { stream in
        do {
          let pipeline = try Pipeline(
            "filesrc location=\(still) ! pngdec ! imagefreeze is-live=true ! video/x-raw,framerate=25/1 "
              + "! videoconvert ! videoscale ! video/x-raw,width=320,height=240 "
              + "! agegender name=ag async=\(stream % 2 == 0) ! appsink name=sink sync=false drop=true max-buffers=1")
          let bus = gst_element_get_bus(pipeline.element)!
          defer { agb_object_unref(bus) }
          let states = [GST_STATE_NULL, GST_STATE_READY, GST_STATE_PAUSED, GST_STATE_PLAYING]
          var seed = UInt64(stream + 1) &* 0x9E37_79B9_7F4A_7C15
          func next(_ n: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(n))
          }
          for step in 0..<200 {
            let target = states[next(states.count)]
            let change = gst_element_set_state(pipeline.element, target)
            var reached = GST_STATE_VOID_PENDING
            let result = change == GST_STATE_CHANGE_FAILURE
              ? change : gst_element_get_state(pipeline.element, &reached, nil, agb_seconds(20))
            if result == GST_STATE_CHANGE_FAILURE || result == GST_STATE_CHANGE_ASYNC {
              fail("stream \(stream) step \(step): to \(target.rawValue) gave \(result.rawValue): "
                + (pipeline.pendingError(timeoutSeconds: 1) ?? "no error message"))
              break
            }
            while let message = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR) {
              fail("stream \(stream) step \(step): \(Pipeline.describeError(message))")
              agb_message_unref(message)
            }
            usleep(UInt32(next(40) * 1000))  // frames flow for a while (or not) before the next change
          }
          // Still analysing: the astronaut's face comes out within 20 s.
          gst_element_set_state(pipeline.element, GST_STATE_PLAYING)
          let sink = agb_app_sink_cast(try pipeline.child("sink"))
          var found = false
          let deadline = monotonicSeconds() + 20
          while !found && monotonicSeconds() < deadline {
            guard let sample = gst_app_sink_try_pull_sample(sink, 100_000_000) else { continue }
            if let buffer = gst_sample_get_buffer(sample), AgeGenderMeta.faces(of: buffer)?.count == 1 { found = true }
            agb_sample_unref(sample)
          }
          if !found { fail("stream \(stream): no face after the state changes") }
          try Robust.setNull(pipeline)
        } catch {
          fail("stream \(stream): \(error)")
        }
      }
    }
    print(String(format: "state changes: 4 streams x 200 in %.1f s; %d loads, %d shares", monotonicSeconds() - start,
      log.all.filter { $0.hasPrefix("loaded ") }.count, log.all.filter { $0.hasPrefix("shared ") }.count))
    XCTAssertEqual(failures.value.value, [])
    XCTAssertGreaterThan(log.count("shared", "centerface.onnx"), 0, "streams shared the detector net:\n\(log.text)")
    for (model, counts) in log.balance { XCTAssertEqual(counts.loaded, counts.freed, "\(model) not freed:\n\(log.text)") }
  }

  /// Four cameras served over RTSP by a local gst-rtsp-server
  /// (examples/multicamera/rtsp_server.py on 127.0.0.1, a free port), each
  /// through `rtspsrc ! decodebin ! agegender ! agegenderjson source-id=camN`
  /// into a 2x2 `compositor` mosaic encoded to MP4: the MP4 holds the mosaic,
  /// each stream's JSON lines name it and carry its faces, and the four
  /// elements load the detector net once.
  func testFourRTSPCamerasIntoOneMosaicWithJSONLinesPerStream() throws {
    let clips = [
      ("cam0", "face-demographics-walking.mp4", 35), ("cam1", "face-demographics-walking-and-pause.mp4", 41),
      ("cam2", "head-pose-face-detection-female-and-male.mp4", 56), ("cam3", "face-demographics-walking.mp4", 35),
    ]
    let server = try RTSPServer(try clips.map { ($0.0, try Fixtures.video($0.1)) })
    let dir = try temporaryDirectory()
    let mosaic = dir.appendingPathComponent("mosaic.mp4").path
    let tiles = [(0, 0), (480, 0), (0, 270), (480, 270)]
    var description = "compositor name=mix background=black "
      + tiles.enumerated().map { "sink_\($0.offset)::xpos=\($0.element.0) sink_\($0.offset)::ypos=\($0.element.1)" }
        .joined(separator: " ")
      // videorate: see examples/multicamera/mosaic.sh (a repeated first frame at time 0 failed mp4mux).
      + " ! video/x-raw,format=I420,width=960,height=540,framerate=25/2 ! videorate ! x264enc speed-preset=ultrafast tune=zerolatency "
      + "! h264parse ! mp4mux ! filesink location=\(mosaic)"
    for (i, clip) in clips.enumerated() {
      description += " rtspsrc location=\(server.url(clip.0)) latency=200 protocols=tcp ! decodebin ! videoconvert "
        + "! agegender ! agegenderjson source-id=\(clip.0) location=\(dir.path)/\(clip.0).jsonl "
        + "! videoconvert ! videoscale ! video/x-raw,width=480,height=270 ! queue ! mix.sink_\(i)"
    }
    let log = try ModelLog.capture {
      do {
        try Pipeline(description).run(timeoutSeconds: 120)
      } catch {
        throw Pipeline.Failure("\(error)\nRTSP server: \(server.errors)")
      }
    }
    // The four 480x270 streams share one CenterFace net (and one of each classifier net).
    XCTAssertEqual(log.count("loaded", "centerface.onnx at 480x256"), 1, log.text)
    XCTAssertGreaterThanOrEqual(log.count("shared", "centerface.onnx at 480x256"), 3, log.text)
    XCTAssertEqual(log.count("loaded", "cydral-age-v1.onnx"), 1, log.text)
    for (model, counts) in log.balance { XCTAssertEqual(counts.loaded, counts.freed, "\(model) not freed:\n\(log.text)") }

    let decoded = try PipelineRun.collect("filesrc location=\(mosaic) ! decodebin ! videoconvert ! appsink name=sink sync=false")
    XCTAssertGreaterThanOrEqual(decoded.frames.count, 45, "the mosaic runs as long as the longest clip (56 frames at 12.5 fps)")
    XCTAssertTrue(decoded.frames.allSatisfy { $0.width == 960 && $0.height == 540 }, "2x2 tiles of 480x270")

    for (source, _, frames) in clips {
      let lines = try readJSONLines("\(dir.path)/\(source).jsonl")
      XCTAssertGreaterThanOrEqual(lines.count, frames * 9 / 10, "\(source): a line per frame")
      XCTAssertTrue(lines.allSatisfy { $0["source_id"] as? String == source }, "\(source): every line names its stream")
      let withFaces = lines.filter { ($0["faces"] as? [Any])?.isEmpty == false }.count
      XCTAssertGreaterThanOrEqual(withFaces, lines.count / 2, "\(source): faces in \(withFaces) of \(lines.count) lines")
    }
  }

  /// examples/multicamera/mosaic.sh, as its header says, on two RTSP cameras:
  /// the mosaic MP4 and each camera's JSON lines.
  func testMosaicExampleScript() throws {
    let clips = [("cam0", "face-demographics-walking.mp4", 35), ("cam1", "head-pose-face-detection-female-and-male.mp4", 56)]
    let server = try RTSPServer(try clips.map { ($0.0, try Fixtures.video($0.1)) })
    let dir = try temporaryDirectory()
    let result = try runProcess(
      "/bin/sh", [Fixtures.repoRoot + "/examples/multicamera/mosaic.sh", dir.path] + clips.map { server.url($0.0) },
      environment: ["GST_DEBUG": "0"], timeoutSeconds: 120)
    XCTAssertEqual(result.status, 0, result.stdout + result.stderr + "\nRTSP server: \(server.errors)")
    let decoded = try PipelineRun.collect(
      "filesrc location=\(dir.path)/mosaic.mp4 ! decodebin ! videoconvert ! appsink name=sink sync=false")
    XCTAssertGreaterThanOrEqual(decoded.frames.count, 45)
    XCTAssertTrue(decoded.frames.allSatisfy { $0.width == 960 && $0.height == 540 })
    for (i, clip) in clips.enumerated() {
      let lines = try readJSONLines("\(dir.path)/cam\(i).jsonl")
      XCTAssertGreaterThanOrEqual(lines.count, clip.2 * 9 / 10, clip.0)
      XCTAssertTrue(lines.allSatisfy { $0["source_id"] as? String == "cam\(i)" }, clip.0)
    }
  }

  /// `source-id` goes into every line as "source_id" (JSON-escaped); unset, no such field.
  func testSourceIDIsWrittenInEveryLine() throws {
    let dir = try temporaryDirectory()
    let named = dir.appendingPathComponent("named.jsonl").path, plain = dir.appendingPathComponent("plain.jsonl").path
    let source = "door \"A\"\tcam ü"
    let pipeline = try Pipeline(
      "videotestsrc num-buffers=3 ! video/x-raw,width=64,height=48 ! agegenderjson name=named location=\(named) "
        + "! agegenderjson location=\(plain) ! fakesink")
    try Pipeline.setProperty(try pipeline.child("named"), "source-id", source)
    try pipeline.run(timeoutSeconds: 30)
    let lines = try readJSONLines(named)
    XCTAssertEqual(lines.count, 3)
    XCTAssertTrue(lines.allSatisfy { $0["source_id"] as? String == source }, "\(lines)")
    let text = try String(contentsOfFile: named, encoding: .utf8)
    XCTAssertTrue(text.hasPrefix("{\"source_id\":\"door \\\"A\\\"\\tcam ü\",\"pts\":"), text)
    let others = try readJSONLines(plain)
    XCTAssertEqual(others.count, 3)
    XCTAssertTrue(others.allSatisfy { $0["source_id"] == nil }, "\(others)")
  }
}
