import AgeGenderMeta
import CGStreamer
import Foundation
import GstPipeline
import XCTest

/// The element in real pipelines with real models and the shared media.
final class ElementTests: XCTestCase {
  override func setUpWithError() throws { try Fixtures.setUp() }

  func testInspectDocumentsElementCapsAndEveryProperty() throws {
    let result = try runProcess("/usr/bin/gst-inspect-1.0", ["agegender"])
    XCTAssertEqual(result.status, 0, result.stderr)
    let text = result.stdout
    XCTAssertTrue(text.contains("Age and gender estimation"))
    for format in ["BGR", "RGB", "BGRx", "BGRA", "RGBx", "RGBA"] {
      XCTAssertTrue(text.contains("(string)\(format)"), "caps lack \(format)")
    }
    let properties = [
      "model-dir", "detection-threshold", "min-face-size", "max-faces", "draw", "post-messages",
      "detection-size", "close-up-detection", "align", "landmarks", "detector",
    ]
    for name in properties {
      guard let range = text.range(of: "  \(name) ") else {
        XCTFail("gst-inspect does not list \(name)")
        continue
      }
      // Each property block shows its flags and its default on the lines after the blurb.
      let block = text[range.lowerBound...].prefix(600)
      XCTAssertTrue(block.contains("Default"), "\(name) shows no default")
    }
    XCTAssertTrue(text.contains("Double. Range:               0 -               1 Default:             0.4"))
    XCTAssertTrue(text.contains("Enum \"GstAgeGenderDetector\" Default: 2, \"centerface\""), "centerface is the default")
  }

  func testVideoGetsOneMetaPerBufferAndBothPeople() throws {
    let video = try Fixtures.video("head-pose-face-detection-female-and-male.mp4")
    let (frames, _) = try PipelineRun.collect(
      "filesrc location=\(video) ! decodebin ! videoconvert ! agegender async=false ! appsink name=sink sync=false")
    XCTAssertEqual(frames.count, 56)
    XCTAssertTrue(frames.allSatisfy { $0.faces != nil }, "a buffer came out without GstAgeGenderMeta")
    let twoFaces = frames.filter { $0.faces?.count == 2 }.count
    XCTAssertGreaterThanOrEqual(twoFaces, 50, "both people should be found in nearly every frame")
    for frame in frames {
      let faces = frame.faces ?? []
      // The ROI metas mirror our meta, ids 0..n-1, each with its age-gender params.
      XCTAssertEqual(frame.regions.count, faces.count)
      for (index, (roi, face)) in zip(frame.regions, faces).enumerated() {
        XCTAssertEqual(roi.type, "face")
        XCTAssertEqual(roi.id, Int32(index))
        XCTAssertEqual(Int32(roi.x), face.x)
        XCTAssertEqual(Int32(roi.width), face.width)
        XCTAssertEqual(roi.params["gender"], face.gender)
        XCTAssertNotNil(roi.params["age"])
        XCTAssertNotNil(roi.params["gender-confidence"])
        XCTAssertNotNil(roi.params["confidence"])
        XCTAssertTrue(face.gender == "female" || face.gender == "male")
        XCTAssertTrue((0...100).contains(face.age), "age \(face.age)")
        XCTAssertTrue((0.5...1).contains(face.genderConfidence))
        XCTAssertTrue((0.5...1).contains(face.confidence))
        XCTAssertGreaterThan(face.width, 30)
        XCTAssertLessThanOrEqual(face.x + face.width, 480)
        XCTAssertLessThanOrEqual(face.y + face.height, 270)
      }
    }
  }

  /// Every format in the caps gives the same face and the same estimate (the
  /// planar YUV ones nearly: their chroma is subsampled).
  func testEveryCapsFormatGivesTheSameResult() throws {
    let still = try Fixtures.still("astronaut.png")
    var reference: FaceRecord?
    for format in ["BGR", "RGB", "BGRx", "BGRA", "RGBx", "RGBA", "xBGR", "ABGR", "xRGB", "ARGB", "I420", "NV12"] {
      let planar = format == "I420" || format == "NV12"
      let (frames, _) = try PipelineRun.collect(
        "filesrc location=\(still) ! pngdec ! videoconvert ! video/x-raw,format=\(format) ! agegender async=false ! appsink name=sink sync=false"
      )
      XCTAssertEqual(frames.count, 1, format)
      guard let faces = frames.first?.faces, faces.count == 1 else {
        XCTFail("\(format): expected exactly one face, got \(String(describing: frames.first?.faces))")
        continue
      }
      let face = faces[0]
      XCTAssertEqual(face.gender, "female", format)
      if let reference {
        XCTAssertLessThanOrEqual(abs(face.x - reference.x), planar ? 4 : 2, format)
        XCTAssertLessThanOrEqual(abs(face.y - reference.y), planar ? 4 : 2, format)
        XCTAssertLessThanOrEqual(abs(face.width - reference.width), planar ? 4 : 2, format)
        XCTAssertEqual(face.age, reference.age, accuracy: planar ? 3.0 : 1.0, format)
        XCTAssertEqual(face.genderConfidence, reference.genderConfidence, accuracy: planar ? 0.05 : 0.02, format)
      } else {
        reference = face
        // The face in the NASA portrait: x 177..271, y 62..172 roughly.
        XCTAssertTrue((150...200).contains(face.x) && (40...90).contains(face.y), "box \(face)")
      }
    }
  }

  /// Odd sizes and padded strides: I420 → videoconvert → BGR at 641x479 has a 4-byte-padded stride.
  func testOddFrameSizesAndPaddedStrides() throws {
    for format in ["BGR", "I420", "NV12"] {
      for (w, h) in [(641, 479), (1, 1), (2, 2), (33, 17)] {
        let (frames, _) = try PipelineRun.collect(
          "videotestsrc num-buffers=3 pattern=ball ! video/x-raw,width=\(w),height=\(h) ! videoconvert ! video/x-raw,format=\(format) "
            + "! agegender async=false ! appsink name=sink sync=false")
        XCTAssertEqual(frames.count, 3, "\(format) \(w)x\(h)")
        XCTAssertTrue(frames.allSatisfy { $0.faces == [] }, "\(format) \(w)x\(h): a test pattern has no face")
      }
      let still = try Fixtures.still("astronaut.png")
      let (frames, _) = try PipelineRun.collect(
        "filesrc location=\(still) ! pngdec ! videoscale ! video/x-raw,width=641,height=641 ! videoconvert "
          + "! video/x-raw,format=\(format) ! agegender async=false ! appsink name=sink sync=false")
      XCTAssertEqual(frames.first?.faces?.count, 1, "\(format): the face at 641x641 (padded strides) is found")
    }
  }

  func testDrawingChangesPixelsOnlyWhenAsked() throws {
    let still = try Fixtures.still("astronaut.png")
    func frame(draw: Bool) throws -> FrameResult {
      let (frames, _) = try PipelineRun.collect(
        "filesrc location=\(still) ! pngdec ! videoconvert ! video/x-raw,format=RGB ! agegender async=false draw=\(draw) ! appsink name=sink sync=false",
        keepPixels: true)
      return try XCTUnwrap(frames.first)
    }
    let drawn = try frame(draw: true), plain = try frame(draw: false)
    let a = try XCTUnwrap(drawn.pixels), b = try XCTUnwrap(plain.pixels)
    XCTAssertEqual(a.count, b.count)
    let face = try XCTUnwrap(plain.faces?.first)
    let stride = 512 * 3
    // The box's left edge is drawn...
    let edge = (Int(face.y + face.height / 2) * stride) + Int(face.x) * 3
    XCTAssertNotEqual(Array(a[edge..<edge + 3]), Array(b[edge..<edge + 3]), "no box edge drawn")
    // ...the far corner is untouched, and the metadata is the same either way.
    let corner = (500 * stride) + 500 * 3
    XCTAssertEqual(Array(a[corner..<corner + 3]), Array(b[corner..<corner + 3]))
    XCTAssertEqual(drawn.faces, plain.faces)
    // Roughly: a box and a label, not the whole frame.
    let changed = zip(a, b).filter { $0 != $1 }.count
    XCTAssertGreaterThan(changed, 300)
    XCTAssertLessThan(changed, a.count / 10)
  }

  func testMetaSurvivesConvertScaleQueueAndTeeWithScaledBoxes() throws {
    let video = try Fixtures.video("head-pose-face-detection-female-and-male.mp4")
    let head = "filesrc location=\(video) ! decodebin ! videoconvert ! agegender async=false draw=false"
    let (original, _) = try PipelineRun.collect("\(head) ! appsink name=sink sync=false")
    let (scaled, _) = try PipelineRun.collect(
      "\(head) ! videoconvert ! video/x-raw,format=I420 ! videoscale ! video/x-raw,width=960,height=540 ! queue "
        + "! tee name=t ! queue ! appsink name=sink sync=false  t. ! queue ! fakesink")
    XCTAssertEqual(original.count, scaled.count)
    XCTAssertEqual(scaled.first?.width, 960)
    var compared = 0
    for (a, b) in zip(original, scaled) {
      let fa = try XCTUnwrap(a.faces), fb = try XCTUnwrap(b.faces, "meta lost after videoscale")
      XCTAssertEqual(fa.count, fb.count)
      for (x, y) in zip(fa, fb) {
        XCTAssertLessThanOrEqual(abs(y.x - 2 * x.x), 2)
        XCTAssertLessThanOrEqual(abs(y.y - 2 * x.y), 2)
        XCTAssertLessThanOrEqual(abs(y.width - 2 * x.width), 2)
        XCTAssertLessThanOrEqual(abs(y.height - 2 * x.height), 2)
        XCTAssertEqual(y.gender, x.gender)
        XCTAssertEqual(y.age, x.age)
        // CenterFace's five landmarks, scaled with the boxes.
        XCTAssertEqual(x.landmarks.count, 10, "the default detector gives five landmarks")
        XCTAssertEqual(y.landmarks.count, 10, "landmarks lost after videoscale")
        for (p, q) in zip(x.landmarks, y.landmarks) { XCTAssertEqual(q, 2 * p, accuracy: 0.01) }
        compared += 1
      }
    }
    XCTAssertGreaterThan(compared, 100)
  }

  func testLandmarksOnlyFromDetectorsThatGiveThem() throws {
    let still = try Fixtures.still("astronaut.png")
    let head = "filesrc location=\(still) ! pngdec ! imagefreeze num-buffers=2 ! videoconvert ! agegender async=false"
    let (centerFace, _) = try PipelineRun.collect("\(head) ! appsink name=sink sync=false")
    let face = try XCTUnwrap(centerFace.first?.faces?.first, "no face with the default detector")
    XCTAssertEqual(face.landmarks.count, 10)
    // Eyes left to right, inside the box.
    XCTAssertLessThan(face.landmarks[0], face.landmarks[2])
    for k in 0..<5 {
      XCTAssertTrue((Double(face.x)...Double(face.x + face.width)).contains(face.landmarks[2 * k]), "\(face)")
      XCTAssertTrue((Double(face.y)...Double(face.y + face.height)).contains(face.landmarks[2 * k + 1]), "\(face)")
    }
    let (ssd, _) = try PipelineRun.collect("\(head) detector=ssd ! appsink name=sink sync=false")
    let ssdFace = try XCTUnwrap(ssd.first?.faces?.first, "no face with detector=ssd")
    XCTAssertEqual(ssdFace.landmarks, [], "res10 gives no landmarks")
  }

  func testBusMessagesOnlyWhenAsked() throws {
    let video = try Fixtures.video("face-demographics-walking-and-pause.mp4")
    let pipeline = "filesrc location=\(video) ! decodebin ! videoconvert ! agegender async=false post-messages=%@ draw=false ! appsink name=sink sync=false"
    let (frames, messages) = try PipelineRun.collect(pipeline.replacingOccurrences(of: "%@", with: "true"))
    let ours = messages.filter { $0.hasPrefix("agegender,") }
    XCTAssertEqual(ours.count, frames.count, "one message per frame")
    let withFaces = try XCTUnwrap(ours.first { $0.contains("\"face\\,") }, "no message with a face")
    for field in ["timestamp=", "running-time=", "stream-time=", "faces=", "x\\=", "y\\=", "width\\=", "height\\=",
      "age\\=", "gender\\=", "gender-confidence\\=", "confidence\\=", "landmarks\\="] {
      XCTAssertTrue(withFaces.contains(field), "message lacks \(field): \(withFaces.prefix(300))")
    }
    let (_, quiet) = try PipelineRun.collect(pipeline.replacingOccurrences(of: "%@", with: "false"))
    XCTAssertTrue(quiet.filter { $0.hasPrefix("agegender,") }.isEmpty)
  }

  func testPropertiesRoundTripAndRejectOutOfRange() throws {
    let pipeline = try Pipeline("videotestsrc num-buffers=1 ! videoconvert ! agegender async=false name=ag ! fakesink")
    let element = try pipeline.child("ag")
    try Pipeline.setProperty(element, "detection-threshold", "0.7")
    try Pipeline.setProperty(element, "max-faces", "3")
    try Pipeline.setProperty(element, "draw", "false")
    XCTAssertEqual(try doubleProperty(element, "detection-threshold"), 0.7, accuracy: 1e-9)
    XCTAssertEqual(try intProperty(element, "max-faces"), 3)
    XCTAssertThrowsError(try Pipeline.setProperty(element, "no-such-property", "1"))
    // GLib refuses an out-of-range value (with a warning) and keeps the old one.
    try Pipeline.setProperty(element, "max-faces", "100000")
    XCTAssertEqual(try intProperty(element, "max-faces"), 3)
  }

  private func doubleProperty(_ element: UnsafeMutablePointer<GstElement>, _ name: String) throws -> Double {
    var value = GValue()
    g_value_init(&value, agb_gtype_double())
    defer { g_value_unset(&value) }
    g_object_get_property(UnsafeMutableRawPointer(element).assumingMemoryBound(to: GObject.self), name, &value)
    return g_value_get_double(&value)
  }

  private func intProperty(_ element: UnsafeMutablePointer<GstElement>, _ name: String) throws -> Int32 {
    var value = GValue()
    g_value_init(&value, agb_gtype_int())
    defer { g_value_unset(&value) }
    g_object_get_property(UnsafeMutableRawPointer(element).assumingMemoryBound(to: GObject.self), name, &value)
    return g_value_get_int(&value)
  }
}

/// Track ids in every place the element reports faces.
final class TrackingElementTests: XCTestCase {
  override func setUpWithError() throws { try Fixtures.setUp() }

  func testEachPersonKeepsOneIdInMetaRoiAndMessages() throws {
    let video = try Fixtures.video("head-pose-face-detection-female-and-male.mp4")
    let (frames, messages) = try PipelineRun.collect(
      "filesrc location=\(video) ! decodebin ! videoconvert ! agegender async=false post-messages=true ! appsink name=sink sync=false")
    var ids: Set<UInt64> = []
    var genderById: [UInt64: Set<String>] = [:]
    for frame in frames {
      for (face, roi) in zip(frame.faces ?? [], frame.regions) {
        XCTAssertNotEqual(face.trackID, 0)
        XCTAssertEqual(roi.params["track-id"], String(face.trackID))
        ids.insert(face.trackID)
        genderById[face.trackID, default: []].insert(face.gender)
        XCTAssertTrue((0...100).contains(face.rawAge))
        XCTAssertTrue(face.rawGender == "female" || face.rawGender == "male")
      }
    }
    XCTAssertEqual(ids.count, 2, "two people, two ids through the clip: \(ids)")
    XCTAssertTrue(genderById.values.allSatisfy { $0.count == 1 }, "a track's shown gender never flips: \(genderById)")
    XCTAssertTrue(messages.contains { $0.contains("track-id\\=\\(guint64\\)1") }, "bus messages carry track ids")
    // With tracking off there are no ids.
    let (untracked, _) = try PipelineRun.collect(
      "filesrc location=\(video) ! decodebin ! videoconvert ! agegender async=false tracking=false ! appsink name=sink sync=false")
    XCTAssertTrue(untracked.allSatisfy { ($0.faces ?? []).allSatisfy { $0.trackID == 0 } })
  }

  func testDetectionIntervalStillReportsFacesOnEveryFrame() throws {
    let video = try Fixtures.video("face-demographics-walking-and-pause.mp4")
    let (every, _) = try PipelineRun.collect(
      "filesrc location=\(video) ! decodebin ! videoconvert ! agegender async=false ! appsink name=sink sync=false")
    let (sparse, _) = try PipelineRun.collect(
      "filesrc location=\(video) ! decodebin ! videoconvert ! agegender async=false detection-interval=4 classification-interval=8 ! appsink name=sink sync=false")
    XCTAssertEqual(every.count, sparse.count)
    let a = every.map { $0.faces?.count ?? 0 }.reduce(0, +), b = sparse.map { $0.faces?.count ?? 0 }.reduce(0, +)
    XCTAssertGreaterThan(Double(b), Double(a) * 0.8, "tracked frames between detections keep their faces (\(b) vs \(a))")
    XCTAssertEqual(Set(sparse.flatMap { ($0.faces ?? []).map(\.trackID) }).count, 3, "three people, three ids")
  }
}

/// The default asynchronous mode on a file: the stream waits only when its
/// faces would be more than max-lag frames old, so every frame is annotated.
final class AsyncElementTests: XCTestCase {
  override func setUpWithError() throws { try Fixtures.setUp() }

  func testDefaultAsyncAnnotatesAFileThroughout() throws {
    let video = try Fixtures.video("head-pose-face-detection-female-and-male.mp4")
    let (frames, _) = try PipelineRun.collect(
      "filesrc location=\(video) ! decodebin ! videoconvert ! agegender ! appsink name=sink sync=false")
    XCTAssertEqual(frames.count, 56)
    let withBoth = frames.filter { $0.faces?.count == 2 }.count
    XCTAssertGreaterThanOrEqual(withBoth, 50, "faces shown on nearly every frame")
    XCTAssertEqual(Set(frames.flatMap { ($0.faces ?? []).map(\.trackID) }).count, 2)
    for frame in frames {
      for face in frame.faces ?? [] {
        XCTAssertGreaterThanOrEqual(face.x, 0)
        XCTAssertLessThanOrEqual(face.x + face.width, 480, "extrapolated boxes stay in the frame")
      }
    }
  }
}
