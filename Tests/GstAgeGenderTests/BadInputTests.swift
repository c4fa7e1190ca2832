import AgeGenderMeta
import CGStreamer
import FaceAnalysis
import Foundation
import GstPipeline
import XCTest

/// The bad-input table of issue 6 (the rows ModelErrorTests does not cover):
/// every row ends in an element error, a GLib warning or a clean EOS, within
/// a time bound, and never crashes or hangs. Rows that matter for the worker
/// thread run with async=false and async=true.
final class BadInputTests: XCTestCase {
  override func setUpWithError() throws { try Fixtures.setUp() }

  private var scratch: URL!

  override func setUp() {
    scratch = FileManager.default.temporaryDirectory.appendingPathComponent("agegender-bad-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
  }

  override func tearDown() {
    try? FileManager.default.removeItem(at: scratch)
  }

  private func file(_ name: String, _ bytes: Data) throws -> String {
    let url = scratch.appendingPathComponent(name)
    try bytes.write(to: url)
    return url.path
  }

  private static func randomBytes(_ count: Int, seed: UInt64) -> Data {
    var generator = SeededBytes(seed: seed)
    return Data(generator.bytes(count))
  }

  // MARK: Haar cascades

  /// detector=haar with a cascade that is not one (random bytes, empty, XML of
  /// something else, a folder) or that does not exist: an element error at
  /// start naming the file, from code and from gst-launch.
  func testCascadeThatIsNotOneOrIsMissingIsAnElementErrorNamingIt() throws {
    let random = try file("random.xml", Self.randomBytes(5000, seed: 6))
    let empty = try file("empty.xml", Data())
    let otherXML = try file(
      "other.xml", Data("<?xml version=\"1.0\"?>\n<opencv_storage>\n<answer>42</answer>\n</opencv_storage>\n".utf8))
    let truncated = try file(
      "truncated.xml",
      try Data(contentsOf: URL(fileURLWithPath: HaarFaceDetector.defaultCascadePath)).prefix(20_000))
    let missing = scratch.appendingPathComponent("no-such-cascade.xml").path
    let cases: [(String, String)] = [
      (random, "is not an OpenCV cascade classifier file"), (empty, "empty"),
      (otherXML, "is not an OpenCV cascade classifier file"), (truncated, "cannot be loaded"),
      // A folder is not a file: reported as a missing file.
      (scratch.path, "is missing"), (missing, "is missing"),
    ]
    for (path, expected) in cases {
      let pipeline = try Pipeline("videotestsrc num-buffers=2 ! videoconvert ! agegender name=ag detector=haar ! fakesink")
      try Pipeline.setProperty(try pipeline.child("ag"), "cascade", path)
      let outcome = try Robust.play(pipeline, sink: false, timeout: 60)
      let error = try XCTUnwrap(outcome.error, "\(path): the pipeline ran with a bad cascade")
      XCTAssertTrue(error.hasPrefix("ag:"), "the error comes from the element: \(error)")
      XCTAssertTrue(error.contains(path), "the error names the file: \(error)")
      XCTAssertTrue(error.contains(expected), "\(path): \(error)")
    }
    for path in [random, missing] {
      let result = try Robust.launch([
        "videotestsrc", "num-buffers=2", "!", "videoconvert", "!", "agegender", "detector=haar", "cascade=\(path)", "!",
        "fakesink",
      ])
      XCTAssertNotEqual(result.status, 0)
      XCTAssertTrue(result.output.contains("ERROR: from element /GstPipeline:pipeline0/GstAgeGender:agegender0: model file \(path)"),
        result.output)
    }
  }

  // MARK: Property values

  /// gst-launch: an out-of-range number is refused by GLib with a warning and
  /// the default is kept (the pipeline runs, status 0); a value that does not
  /// parse makes gst-launch refuse the pipeline ("erroneous pipeline", status 1).
  func testOutOfRangeAndMalformedValuesFromGstLaunch() throws {
    let outOfRange = [
      ("max-faces", "100000"), ("max-faces", "0"), ("min-face-size", "-1"), ("detection-size", "10"),
      ("detection-size", "99999"), ("detection-threshold", "1.5"), ("detection-threshold", "-1"),
      ("scale-factor", "1.0"), ("detection-interval", "0"), ("classification-interval", "-5"), ("max-lag", "-1"),
    ]
    for (name, value) in outOfRange {
      let result = try Robust.launch([
        "videotestsrc", "num-buffers=2", "!", "videoconvert", "!", "agegender", "\(name)=\(value)", "!", "fakesink",
      ])
      XCTAssertEqual(result.status, 0, "\(name)=\(value): \(result.output)")
      XCTAssertTrue(result.output.contains("GLib-GObject-WARNING"), "\(name)=\(value): \(result.output)")
      XCTAssertTrue(result.output.contains("is invalid or out of range for property '\(name)'"), result.output)
      XCTAssertTrue(result.output.contains("Got EOS from element"), result.output)
    }
    let malformed = [
      ("detection-threshold", "abc"), ("max-faces", "12abc"), ("max-faces", "1e3"), ("detector", "foo"),
      ("classifier", "bar"), ("async", "maybe"), ("draw", "2"),
    ]
    for (name, value) in malformed {
      let result = try Robust.launch([
        "videotestsrc", "num-buffers=2", "!", "videoconvert", "!", "agegender", "\(name)=\(value)", "!", "fakesink",
      ])
      XCTAssertEqual(result.status, 1, "\(name)=\(value): \(result.output)")
      XCTAssertTrue(
        result.output.contains("could not set property \"\(name)\" in element \"agegender\" to \"\(value)\""),
        "\(name)=\(value): \(result.output)")
    }
  }

  /// From code: strings that do not parse (gst_util_set_object_arg, what
  /// Pipeline.setProperty uses) are ignored; out-of-range, NaN and infinite
  /// GValues (g_object_set_property) are refused by GLib with a warning; the
  /// old value stays and the element then runs normally.
  func testOutOfRangeAndMalformedValuesFromCode() throws {
    let pipeline = try Pipeline(
      "filesrc location=\(try Fixtures.still("astronaut.png")) ! pngdec ! imagefreeze num-buffers=2 ! videoconvert "
        + "! agegender name=ag ! appsink name=sink sync=false")
    let ag = try pipeline.child("ag")
    let names = ["detection-threshold", "max-faces", "detection-size", "min-face-size", "track-max-missed", "scale-factor", "detector", "async"]
    let defaults = Dictionary(uniqueKeysWithValues: names.map { ($0, Robust.property(ag, $0)) })
    let warnings = Robust.glibWarnings {
      for (name, value) in [
        ("detection-threshold", "abc"), ("max-faces", "12abc"), ("detector", "foo"), ("async", "maybe"),
        ("detection-size", ""),
      ] {
        try? Pipeline.setProperty(ag, name, value)
      }
      for v in [Double.nan, .infinity, -.infinity, -1, 1.000001] { Robust.setDouble(ag, "detection-threshold", v) }
      Robust.setDouble(ag, "scale-factor", 0.5)
      for v: Int32 in [0, -1, 257, .max, .min] { Robust.setInt(ag, "max-faces", v) }
      Robust.setInt(ag, "detection-size", 63)
      Robust.setInt(ag, "detection-size", 2161)
      Robust.setInt(ag, "min-face-size", -1)
      Robust.setInt(ag, "track-max-missed", -1)
      // A GValue of the wrong type: GLib cannot convert a string to an int.
      Robust.setString(ag, "max-faces", "7")
    }
    for name in names { XCTAssertEqual(Robust.property(ag, name), defaults[name], "\(name) kept its value") }
    XCTAssertEqual(defaults["detection-threshold"].flatMap { Double($0) }, 0.4)
    XCTAssertEqual(defaults["max-faces"], "32")
    // One GLib warning per refused GValue: 15 from g_object_set_property, and
    // "" for detection-size, which GStreamer parses as 0; the strings that do not
    // parse ("abc", "12abc", "foo", "maybe") are dropped silently.
    XCTAssertEqual(warnings.filter { $0.contains("is invalid or out of range for property") }.count, 16, "\(warnings)")
    XCTAssertTrue(warnings.contains { $0.contains("value \"0\" of type 'gint' is invalid or out of range for property 'detection-size'") })
    XCTAssertTrue(warnings.contains { $0.contains("unable to set property 'max-faces' of type 'gint' from value of type 'gchararray'") },
      "\(warnings)")
    // Strings: an empty model-dir means unset (the default models); NULL cascade means the default cascade.
    Robust.setString(ag, "model-dir", "")
    Robust.setString(ag, "cascade", nil)
    XCTAssertEqual(Robust.property(ag, "cascade"), HaarFaceDetector.defaultCascadePath)
    let outcome = try Robust.play(pipeline, timeout: 60)
    XCTAssertNil(outcome.error)
    XCTAssertEqual(outcome.frames.count, 2)
    XCTAssertEqual(outcome.frames.first?.faces?.count, 1, "the refused values left working settings")
  }

  // MARK: Caps

  /// YUY2 straight into the element: gst-launch cannot link it (status 1,
  /// "can't handle caps"); caps that arrive at run time (appsrc) give a clean
  /// not-negotiated error and the pipeline goes to NULL.
  func testCapsWeDoNotAcceptAreRefusedCleanly() throws {
    let result = try Robust.launch(["videotestsrc", "num-buffers=2", "!", "video/x-raw,format=YUY2", "!", "agegender", "!", "fakesink"])
    XCTAssertEqual(result.status, 1, result.output)
    XCTAssertTrue(result.output.contains("could not link videotestsrc0 to agegender0, agegender0 can't handle caps video/x-raw, format=(string)YUY2"),
      result.output)
    for caps in [
      "video/x-raw,format=YUY2,width=64,height=64,framerate=25/1",
      "video/x-raw,format=GRAY8,width=64,height=64,framerate=25/1",
      "video/x-raw,format=GRAY16_LE,width=64,height=64,framerate=25/1",
      "audio/x-raw,format=S16LE,rate=48000,channels=1,layout=interleaved",
    ] {
      for async in [false, true] {
        let outcome = try Robust.push(count: 3, middle: "agegender async=\(async)", timeout: 30) { _ in
          Robust.Frame(caps: caps, buffer: Robust.buffer(bytes: 64 * 64 * 2) { $0.initialize(repeating: 0, count: 64 * 64 * 2) })
        }
        let error = try XCTUnwrap(outcome.error, "\(caps) was accepted")
        XCTAssertTrue(error.contains("not-negotiated"), "\(caps): \(error)")
        XCTAssertEqual(outcome.frames.count, 0)
      }
    }
  }

  // MARK: Frame sizes and contents

  /// 1x1, 2x2, 641x479 (BGR rows padded to 1924 bytes), 7680x4320 (two
  /// frames), in both modes: every frame comes out, no error, bounded time.
  func testTinyOddAndHugeFrames() throws {
    for async in [false, true] {
      for (w, h, format, count, bound) in [
        (1, 1, "BGR", 5, 30.0), (2, 2, "RGBA", 5, 30), (641, 479, "BGR", 5, 60), (479, 641, "xRGB", 3, 60),
        (7680, 4320, "BGRx", 2, 120),
      ] {
        let pipeline = try Pipeline(
          "videotestsrc num-buffers=\(count) pattern=snow ! video/x-raw,format=\(format),width=\(w),height=\(h) "
            + "! agegender async=\(async) ! appsink name=sink sync=false")
        let outcome = try Robust.play(pipeline, timeout: bound)
        XCTAssertNil(outcome.error, "\(w)x\(h) \(format) async=\(async)")
        XCTAssertTrue(outcome.eos)
        XCTAssertEqual(outcome.frames.count, count, "\(w)x\(h) \(format) async=\(async)")
        XCTAssertTrue(outcome.frames.allSatisfy { $0.faces != nil && $0.width == Int32(w) })
        print("frames \(w)x\(h) \(format) async=\(async): \(count) in \(String(format: "%.2f", outcome.seconds)) s")
      }
    }
    // A face in an 8K frame is found and its box lies inside the frame.
    let still = try Fixtures.still("astronaut.png")
    let pipeline = try Pipeline(
      "filesrc location=\(still) ! pngdec ! imagefreeze num-buffers=2 ! videoscale add-borders=true "
        + "! video/x-raw,width=7680,height=4320,pixel-aspect-ratio=1/1 ! videoconvert ! video/x-raw,format=BGRx "
        + "! agegender async=false ! appsink name=sink sync=false")
    let outcome = try Robust.play(pipeline, timeout: 120)
    XCTAssertNil(outcome.error)
    XCTAssertEqual(outcome.frames.count, 2)
    for frame in outcome.frames {
      let face = try XCTUnwrap(frame.faces?.first, "the face in the 8K frame")
      XCTAssertGreaterThan(face.width, 500)
      XCTAssertLessThanOrEqual(face.x + face.width, 7680)
      XCTAssertLessThanOrEqual(face.y + face.height, 4320)
    }
  }

  /// Rows with 100 bytes of padding described by a GstVideoMeta: the face is
  /// found where it is with GStreamer's own stride, and the overlay never
  /// writes into the padding.
  func testPaddedStridesFromAVideoMeta() throws {
    let rowBytes = Robust.astronaut.width * 3
    for async in [false, true] {
      var boxes: [FaceRecord] = []
      for stride in [(rowBytes + 3) & ~3, rowBytes + 100, rowBytes + 4093] {
        // Async: the worker's first results show from a later frame on; a few frames with a pause each.
        let outcome = try Robust.push(count: async ? 8 : 1, middle: "agegender async=\(async)", timeout: 60, keepPixels: true) { _ in
          if async { usleep(150_000) }
          return Robust.astronautFrame(stride: stride)
        }
        XCTAssertNil(outcome.error, "stride \(stride)")
        let frame = try XCTUnwrap(outcome.frames.last)
        let face = try XCTUnwrap(frame.faces?.first, "stride \(stride) async=\(async): no face")
        boxes.append(face)
        let pixels = try XCTUnwrap(frame.pixels)
        XCTAssertEqual(pixels.count, stride * 512)
        if stride > rowBytes + 3 {
          let touched = (0..<512).filter { row in pixels[(row * stride + rowBytes)..<(row * stride + stride)].contains { $0 != 0xAB } }
          XCTAssertEqual(touched, [], "stride \(stride): the overlay wrote into the row padding")
        }
      }
      for face in boxes.dropFirst() {
        XCTAssertLessThanOrEqual(abs(face.x - boxes[0].x), 1)
        XCTAssertLessThanOrEqual(abs(face.width - boxes[0].width), 1)
        XCTAssertEqual(face.gender, boxes[0].gender)
      }
    }
  }

  /// Noise, black and white frames: no face, no error, in both modes.
  func testNoiseBlackAndWhiteFrames() throws {
    for async in [false, true] {
      for pattern in ["snow", "black", "white", "solid-color foreground-color=0xff808080"] {
        let pipeline = try Pipeline(
          "videotestsrc num-buffers=10 pattern=\(pattern) ! video/x-raw,format=BGRx,width=480,height=270 "
            + "! agegender async=\(async) close-up-detection=true ! appsink name=sink sync=false")
        let outcome = try Robust.play(pipeline, timeout: 60)
        XCTAssertNil(outcome.error, pattern)
        XCTAssertEqual(outcome.frames.count, 10, pattern)
        XCTAssertEqual(outcome.frames.compactMap(\.faces).flatMap { $0 }.count, 0, "\(pattern) has no face")
      }
    }
  }

  // MARK: Streams

  /// A copy of an MP4 cut at half its size. With the index (moov) first, the
  /// frames before the cut come out and the stream ends with EOS; with the
  /// index last, the demuxer reports that nothing is playable. Neither hangs
  /// nor involves an error from the element.
  ///
  /// The index-last file runs in its own gst-launch-1.0 process: in a process
  /// that has already run pipelines, GStreamer 1.22's qtdemux sometimes posts
  /// nothing at all for it (no error, no EOS: 18 of 30 runs in one process of
  /// filesrc ! decodebin ! videoconvert ! appsink, without agegender), while as
  /// the first pipeline of a process it reported the error in 40 of 40 runs.
  func testTruncatedMP4() throws {
    let head = try Data(contentsOf: URL(fileURLWithPath: try Fixtures.video("head-pose-face-detection-female-and-male.mp4")))
    let indexFirst = try file("cut-head-pose.mp4", head.prefix(head.count / 2))
    for async in [false, true] {
      let pipeline = try Pipeline(
        "filesrc location=\(indexFirst) ! decodebin ! videoconvert ! agegender name=ag async=\(async) ! appsink name=sink sync=false")
      let outcome = try Robust.play(pipeline, timeout: 120)
      print("truncated MP4, index first, async=\(async): \(outcome.frames.count) frames, EOS \(outcome.eos), error \(outcome.error ?? "none")")
      XCTAssertNil(outcome.error)
      XCTAssertTrue(outcome.eos)
      XCTAssertGreaterThan(outcome.frames.count, 10)
      XCTAssertLessThan(outcome.frames.count, 56)
      XCTAssertGreaterThan(outcome.frames.filter { $0.faces?.isEmpty == false }.count, 10, "faces before the cut")
    }
    let bench = try Data(contentsOf: URL(fileURLWithPath: try Fixtures.video("bench-walk-720p.mp4")))
    let indexLast = try file("cut-bench-walk.mp4", bench.prefix(bench.count / 2))
    for async in [false, true] {
      let result = try Robust.launch(
        ["filesrc", "location=\(indexLast)", "!", "decodebin", "!", "videoconvert", "!", "agegender", "async=\(async)", "!", "fakesink"],
        timeout: 60)
      print("truncated MP4, index last, async=\(async): status \(result.status)")
      XCTAssertEqual(result.status, 1, result.output)
      XCTAssertTrue(result.output.contains("ERROR: from element /GstPipeline:pipeline0/GstDecodeBin:decodebin0/GstQTDemux:qtdemux0: This file contains no playable streams."),
        result.output)
    }
  }

  /// The frame size changes twice mid-stream (appsrc caps 512x512 → 256x256 →
  /// 512x512): the element renegotiates, keeps finding the face, forgets the old
  /// tracks (the face gets track id 1 again after each change) and never shows
  /// a box from the previous size.
  func testResolutionChangeMidStreamResetsFaces() throws {
    let full = Robust.astronaut
    // The same portrait at half size (2x2 box average), packed BGR with 4-byte aligned rows.
    let half = 256, halfStride = (half * 3 + 3) & ~3
    var small = [UInt8](repeating: 0, count: halfStride * half)
    let source = full.view.data.assumingMemoryBound(to: UInt8.self)
    for y in 0..<half {
      for x in 0..<half {
        for c in 0..<3 {
          var sum = 0
          for dy in 0..<2 { for dx in 0..<2 { sum += Int(source[(2 * y + dy) * full.stride + (2 * x + dx) * 3 + c]) } }
          small[y * halfStride + x * 3 + c] = UInt8(sum / 4)
        }
      }
    }
    let smallFrame = small
    for async in [false, true] {
      let perSegment = async ? 24 : 4
      let outcome = try Robust.push(count: 3 * perSegment, middle: "agegender async=\(async)", timeout: 120) { i in
        if async { usleep(25_000) }
        if (i / perSegment) % 2 == 0 { return Robust.astronautFrame() }
        return Robust.Frame(
          caps: "video/x-raw,format=BGR,width=\(half),height=\(half),framerate=25/1",
          buffer: Robust.buffer(bytes: smallFrame.count) { out in out.update(from: smallFrame, count: smallFrame.count) })
      }
      XCTAssertNil(outcome.error, "async=\(async)")
      XCTAssertEqual(outcome.frames.count, 3 * perSegment)
      var previousIDs: Set<UInt64> = []
      for segment in 0..<3 {
        let frames = outcome.frames[(segment * perSegment)..<((segment + 1) * perSegment)]
        let size: Int32 = segment == 1 ? 256 : 512
        XCTAssertTrue(frames.allSatisfy { $0.width == size }, "segment \(segment)")
        let faces = frames.flatMap { $0.faces ?? [] }
        XCTAssertFalse(faces.isEmpty, "async=\(async) segment \(segment): the face is found after the change")
        for face in faces {
          XCTAssertLessThanOrEqual(face.x + face.width, size + 1, "async=\(async) segment \(segment): a box of the old size")
          XCTAssertLessThanOrEqual(face.y + face.height, size + 1)
        }
        // Tracks restart after a size change (a new scene), with new ids (issue 15: ids are never reused).
        let ids = Set(faces.map(\.trackID))
        XCTAssertEqual(ids.count, 1, "async=\(async) segment \(segment): one track: \(ids)")
        XCTAssertGreaterThan(ids.min() ?? 0, previousIDs.max() ?? 0,
          "async=\(async) segment \(segment): tracks restart after a size change, with new ids")
        previousIDs = ids
      }
    }
  }

  /// videotestsrc ! videoscale ! capsfilter whose caps change from code while
  /// playing: the element renegotiates each time and keeps working.
  func testCapsfilterChangedWhilePlaying() throws {
    for async in [false, true] {
      let pipeline = try Pipeline(
        "videotestsrc num-buffers=45 pattern=ball ! videoscale ! capsfilter name=f caps=video/x-raw,width=320,height=240 "
          + "! videoconvert ! agegender async=\(async) ! appsink name=sink sync=false")
      let filter = UnsafeMutableRawPointer(try pipeline.child("f")).assumingMemoryBound(to: GObject.self)
      let outcome = try Robust.play(pipeline, timeout: 60) { i in
        if i == 10 { gst_util_set_object_arg(filter, "caps", "video/x-raw,width=640,height=360") }
        if i == 25 { gst_util_set_object_arg(filter, "caps", "video/x-raw,width=97,height=55") }
      }
      XCTAssertNil(outcome.error)
      XCTAssertEqual(outcome.frames.count, 45)
      let widths = outcome.frames.map(\.width)
      XCTAssertEqual(Set(widths), [320, 640, 97], "\(widths)")
      XCTAssertEqual(widths.last, 97)
    }
  }

  /// EOS before any frame: EOS, no error, no frame, in both modes; also from
  /// appsrc before caps were ever set, and from gst-launch (status 0).
  func testEOSBeforeAnyFrame() throws {
    for async in [false, true] {
      let pipeline = try Pipeline("videotestsrc num-buffers=0 ! videoconvert ! agegender async=\(async) ! appsink name=sink sync=false")
      let outcome = try Robust.play(pipeline, timeout: 30)
      XCTAssertNil(outcome.error)
      XCTAssertTrue(outcome.eos)
      XCTAssertEqual(outcome.frames.count, 0)
      let empty = try Robust.push(count: 0, middle: "agegender async=\(async)", timeout: 30) { _ in fatalError("no frame") }
      XCTAssertNil(empty.error)
      XCTAssertTrue(empty.eos)
      let result = try Robust.launch(["videotestsrc", "num-buffers=0", "!", "videoconvert", "!", "agegender", "async=\(async)", "!", "fakesink"])
      XCTAssertEqual(result.status, 0, result.output)
      XCTAssertTrue(result.output.contains("Got EOS from element"), result.output)
    }
  }

  // MARK: Property changes while PLAYING

  /// Every property changed from code while PLAYING, in both modes.
  /// Thresholds, sizes, intervals, tracking, drawing and messages apply from the
  /// next frame. detector, classifier, cascade, align, async and model-dir are
  /// read when the element starts: changed while playing they change nothing
  /// until the next start (READY → PAUSED), which then loads the new models or
  /// fails with the usual element error.
  func testPropertyChangesWhilePlaying() throws {
    try Fixtures.require(Fixtures.modelDirectory + "/weights/age_net.caffemodel", hint: "run make models-levi-hassner")
    let still = try Fixtures.still("astronaut.png")
    for async in [false, true] {
      let pipeline = try Pipeline(
        "filesrc location=\(still) ! pngdec ! imagefreeze num-buffers=90 ! videoconvert ! agegender name=ag async=\(async) "
          + "! appsink name=sink sync=false max-buffers=1")
      let ag = try pipeline.child("ag")
      func set(_ name: String, _ value: String) { try? Pipeline.setProperty(ag, name, value) }
      let outcome = try Robust.play(pipeline, timeout: 180) { i in
        if async { usleep(30_000) }  // let the worker see a few frames per setting
        switch i {
        case 10: set("detection-threshold", "1.0")
        case 20: set("detection-threshold", "0.5"); set("min-face-size", "8192")
        case 30: set("min-face-size", "0"); set("max-faces", "1"); set("draw", "false"); set("post-messages", "true")
        case 35: set("detection-size", "64"); set("close-up-detection", "false")
        case 40: set("detection-size", "1200"); set("detection-interval", "7"); set("classification-interval", "3")
        case 45: set("detection-size", "300"); set("tracking", "false"); set("track-max-missed", "0")
        case 50:
          set("tracking", "true"); set("track-max-missed", "25"); set("detection-interval", "1"); set("draw", "true"); set("post-messages", "false")
          set("scale-factor", "3.5"); set("min-neighbors", "0")
        case 55: set("scale-factor", "1.1"); set("min-neighbors", "5")
        case 60:
          // Read at start only.
          set("detector", "haar"); set("classifier", "levi-hassner"); set("align", "false")
          set("async", async ? "false" : "true"); set("cascade", HaarFaceDetector.defaultCascadePath)
        default: break
        }
      }
      XCTAssertNil(outcome.error, "async=\(async)")
      XCTAssertEqual(outcome.frames.count, 90)
      let counts = outcome.frames.map { $0.faces?.count ?? -1 }
      print("faces per frame, async=\(async): \(counts)")
      if !async {
        // Effects follow within the frames already queued downstream (a few).
        XCTAssertTrue(counts[3..<10].allSatisfy { $0 == 1 }, "\(counts)")
        XCTAssertTrue(counts[16..<20].allSatisfy { $0 == 0 }, "threshold 1.0: \(counts)")
        XCTAssertTrue(counts[26..<30].allSatisfy { $0 == 0 }, "min-face-size 8192: \(counts)")
        XCTAssertTrue(counts[56..<90].allSatisfy { $0 == 1 }, "\(counts)")
      } else {
        XCTAssertTrue(counts.contains(1) && counts.contains(0), "\(counts)")
      }
      XCTAssertFalse(outcome.messages.filter { $0.hasPrefix("agegender,") }.isEmpty, "post-messages took effect")
      // Frames after the start-only changes still come from the SSD (confidence
      // below 1) and the Cydral nets (a calibrated interval around the age, in
      // log-age, so not an age group centred on it).
      let late = outcome.frames[75...].flatMap { $0.faces ?? [] }
      XCTAssertFalse(late.isEmpty)
      XCTAssertTrue(
        late.allSatisfy {
          $0.confidence < 1 && $0.ageMin < $0.age && $0.age < $0.ageMax && abs(($0.ageMin + $0.ageMax) / 2 - $0.age) > 1e-6
        }, "\(late.prefix(2))")

      // The next start loads what was asked: Haar (confidence 1.0) and Levi-Hassner (age groups).
      let restarted = try Robust.play(pipeline, timeout: 180) { _ in usleep(async ? 0 : 30_000) }
      XCTAssertNil(restarted.error)
      XCTAssertEqual(restarted.frames.count, 90)
      let faces = restarted.frames.flatMap { $0.faces ?? [] }
      XCTAssertFalse(faces.isEmpty, "Haar finds the astronaut")
      XCTAssertTrue(faces.allSatisfy { $0.confidence == 1 && $0.ageMin < $0.ageMax }, "\(faces.prefix(2))")

      // A model folder that does not exist, set while playing: this run is
      // unaffected, the next start is an element error naming it.
      let third = try Robust.play(pipeline, timeout: 180) { i in
        if i == 5 { set("model-dir", "/nonexistent/agegender-models") }
      }
      XCTAssertNil(third.error)
      XCTAssertEqual(third.frames.count, 90)
      set("detector", "ssd"); set("classifier", "cydral")
      let failed = try Robust.play(pipeline, timeout: 60)
      let error = try XCTUnwrap(failed.error)
      XCTAssertTrue(error.hasPrefix("ag:") && error.contains("/nonexistent/agegender-models"), error)
    }
  }

  /// Another thread changes every run-time property every millisecond while
  /// frames stream, in both modes: no error, no crash, every frame out.
  func testPropertyHammeringWhilePlaying() throws {
    let video = try Fixtures.video("face-demographics-walking.mp4")
    for async in [false, true] {
      let pipeline = try Pipeline(
        "filesrc location=\(video) ! decodebin ! videoconvert ! agegender name=ag async=\(async) ! appsink name=sink sync=false")
      let ag = Robust.Unchecked(try pipeline.child("ag"))
      let stop = Robust.ManagedFlag()
      let hammer = Thread {
        let element = ag.value
        var generator = SeededBytes(seed: async ? 2 : 1)
        let settings: [(String, [String])] = [
          ("detection-threshold", ["0", "0.3", "0.5", "0.9", "1"]), ("min-face-size", ["0", "20", "200"]),
          ("max-faces", ["1", "2", "256"]), ("draw", ["true", "false"]), ("post-messages", ["true", "false"]),
          ("detection-size", ["64", "300", "500"]), ("close-up-detection", ["true", "false"]),
          ("detection-interval", ["1", "2", "5"]), ("classification-interval", ["1", "4", "10000"]),
          ("track-max-missed", ["0", "5", "25"]), ("tracking", ["true", "false"]), ("max-lag", ["0", "1", "8", "1000"]),
        ]
        while !stop.value {
          let (name, values) = settings[Int(generator.next() % UInt64(settings.count))]
          try? Pipeline.setProperty(element, name, values[Int(generator.next() % UInt64(values.count))])
          usleep(1000)
        }
        stop.finished = true
      }
      hammer.start()
      let outcome = try Robust.play(pipeline, timeout: 180)
      stop.value = true
      while !stop.finished { usleep(1000) }
      XCTAssertNil(outcome.error, "async=\(async)")
      XCTAssertTrue(outcome.eos)
      XCTAssertGreaterThan(outcome.frames.count, 20)
    }
  }
}
