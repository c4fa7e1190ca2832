import AgeGenderMeta
import CGStreamer
import Foundation
import GstPipeline
import XCTest

/// agegender's privacy mode (`anonymize`): on the shared clip and some face
/// images, in BGR, I420 and NV12, blurred or pixelated faces are no longer found
/// by a second agegender (same detector and threshold, detecting on every
/// frame), pixels outside the enlarged boxes are those of a run without
/// anonymize (draw=false both), and the JSON is the same.
final class AnonymizeTests: XCTestCase {
  override func setUpWithError() throws { try Fixtures.setUp() }

  /// The margin agegender documents: 20% of the box on every side.
  static let margin = 0.2
  /// Slack in plane pixels around each enlarged box, for the boxes' rounding to
  /// whole pixels in the metadata and the chroma planes' outward rounding.
  static let slack = 2

  private func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("agegender-anonymize-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
  }

  struct Box { var x, y, width, height: Double }

  /// One plane of a frame as laid out in the buffer.
  struct Plane {
    var offset: Int
    var stride: Int
    var width: Int  // samples
    var height: Int
    var bytesPerSample: Int
    var subsampling: Int  // 1 for Y and packed, 2 for 4:2:0 chroma
  }

  static func planes(_ format: String, width: Int, height: Int) -> [Plane] {
    let videoFormat = gst_video_format_from_string(format)
    var info = GstVideoInfo()
    _ = gst_video_info_set_format(&info, videoFormat, guint(width), guint(height))
    let strides = [Int(info.stride.0), Int(info.stride.1), Int(info.stride.2)]
    let offsets = [Int(info.offset.0), Int(info.offset.1), Int(info.offset.2)]
    let cw = (width + 1) / 2, ch = (height + 1) / 2
    switch format {
    case "I420":
      return [
        Plane(offset: offsets[0], stride: strides[0], width: width, height: height, bytesPerSample: 1, subsampling: 1),
        Plane(offset: offsets[1], stride: strides[1], width: cw, height: ch, bytesPerSample: 1, subsampling: 2),
        Plane(offset: offsets[2], stride: strides[2], width: cw, height: ch, bytesPerSample: 1, subsampling: 2),
      ]
    case "NV12":
      return [
        Plane(offset: offsets[0], stride: strides[0], width: width, height: height, bytesPerSample: 1, subsampling: 1),
        Plane(offset: offsets[1], stride: strides[1], width: cw, height: ch, bytesPerSample: 2, subsampling: 2),
      ]
    default:  // packed: BGR, RGB (3 bytes) or a 4-byte format
      return [
        Plane(offset: offsets[0], stride: strides[0], width: width, height: height, bytesPerSample: format.count == 3 ? 3 : 4,
          subsampling: 1)
      ]
    }
  }

  /// The boxes of each JSON line.
  private func boxes(_ lines: [String]) throws -> [[Box]] {
    try lines.map { line in
      let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
      let faces = try XCTUnwrap(object["faces"] as? [[String: Any]])
      return faces.map { f in
        let n = { (k: String) in (f[k] as? NSNumber)?.doubleValue ?? .nan }
        return Box(x: n("x"), y: n("y"), width: n("width"), height: n("height"))
      }
    }
  }

  struct Pass {
    var frames: [FrameResult]
    var lines: [String]
  }

  /// source ! agegender (anonymize) ! agegenderjson ! agegender tracking=false ! appsink:
  /// the JSON holds the first element's faces, the appsink's meta the second's.
  private func pass(_ source: String, anonymize: String, dir: URL) throws -> Pass {
    let json = dir.appendingPathComponent("\(UUID().uuidString).jsonl").path
    let (frames, _) = try PipelineRun.collect(
      "\(source) ! agegender async=false draw=false anonymize=\(anonymize) ! agegenderjson location=\(json) "
        + "! agegender async=false draw=false tracking=false ! appsink name=sink sync=false",
      keepPixels: true, timeoutSeconds: 180)
    let text = try String(contentsOfFile: json, encoding: .utf8)
    // Frame lines only (the person and summary lines at the end are not per frame).
    return Pass(frames: frames, lines: text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("{\"event\"") })
  }

  private static func overlaps(_ found: FaceRecord, _ face: Box) -> Bool {
    let cx = Double(found.x) + Double(found.width) / 2, cy = Double(found.y) + Double(found.height) / 2
    return cx >= face.x - margin * face.width && cx <= face.x + face.width * (1 + margin)
      && cy >= face.y - margin * face.height && cy <= face.y + face.height * (1 + margin)
  }

  /// Runs the reference (anonymize=none) and both modes on `source` in `format`
  /// and checks everything; returns the number of faces anonymised per mode.
  private func check(_ source: String, format: String, name: String, minimumFaces: Int, dir: URL) throws {
    let reference = try pass(source, anonymize: "none", dir: dir)
    let referenceBoxes = try boxes(reference.lines)
    XCTAssertEqual(reference.frames.count, referenceBoxes.count, "\(name) \(format): one JSON line per frame")
    let faceCount = referenceBoxes.reduce(0) { $0 + $1.count }
    XCTAssertGreaterThanOrEqual(faceCount, minimumFaces, "\(name) \(format): too few faces to test on")
    // Control: without anonymize, the second element finds the faces again.
    var refound = 0
    for (frame, faces) in zip(reference.frames, referenceBoxes) {
      refound += faces.filter { face in (frame.faces ?? []).contains { Self.overlaps($0, face) } }.count
    }
    XCTAssertGreaterThanOrEqual(Double(refound), 0.8 * Double(faceCount), "\(name) \(format): the control run lost the faces")

    for mode in ["blur", "pixelate"] {
      let label = "\(name) \(format) \(mode)"
      let anonymized = try pass(source, anonymize: mode, dir: dir)
      XCTAssertEqual(anonymized.lines, reference.lines, "\(label): the JSON changed")
      XCTAssertEqual(anonymized.frames.count, reference.frames.count, label)
      var stillFound = 0, changedFaces = 0
      for (index, (frame, original)) in zip(anonymized.frames, reference.frames).enumerated() {
        let faces = referenceBoxes[index]
        stillFound += faces.filter { face in (frame.faces ?? []).contains { Self.overlaps($0, face) } }.count
        let before = try XCTUnwrap(original.pixels, label), after = try XCTUnwrap(frame.pixels, label)
        XCTAssertEqual(before.count, after.count, label)
        guard before.count == after.count else { continue }
        var changedInside = Array(repeating: false, count: faces.count)
        var changedOutside = 0
        for plane in Self.planes(format, width: Int(frame.width), height: Int(frame.height)) {
          let s = Double(plane.subsampling)
          let regions = faces.map { f -> (Int, Int, Int, Int) in
            (Int((f.x - Self.margin * f.width) / s) - Self.slack, Int((f.y - Self.margin * f.height) / s) - Self.slack,
              Int(((f.x + f.width * (1 + Self.margin)) / s).rounded(.up)) + Self.slack,
              Int(((f.y + f.height * (1 + Self.margin)) / s).rounded(.up)) + Self.slack)
          }
          for y in 0..<plane.height {
            let row = plane.offset + y * plane.stride
            for x in 0..<plane.width {
              let at = row + x * plane.bytesPerSample
              var differs = false
              for b in 0..<plane.bytesPerSample where before[at + b] != after[at + b] { differs = true }
              guard differs else { continue }
              var inside = false
              for (i, r) in regions.enumerated() where x >= r.0 && x < r.2 && y >= r.1 && y < r.3 {
                inside = true
                changedInside[i] = true
              }
              if !inside { changedOutside += 1 }
            }
          }
        }
        XCTAssertEqual(changedOutside, 0, "\(label) frame \(index): \(changedOutside) samples changed outside the enlarged boxes")
        changedFaces += changedInside.filter { $0 }.count
      }
      XCTAssertEqual(stillFound, 0, "\(label): the detector still finds \(stillFound) of \(faceCount) faces")
      XCTAssertEqual(changedFaces, faceCount, "\(label): not every face's pixels changed")
    }
  }

  private static let faceImages = ["face_001.jpg", "face_004.jpg", "face_017.jpg", "face_033.jpg"]

  private func checkFormat(_ format: String) throws {
    let dir = try temporaryDirectory()
    let video = try Fixtures.video("head-pose-face-detection-female-and-male.mp4")
    try check(
      "filesrc location=\(video) ! decodebin ! videoconvert ! video/x-raw,format=\(format)", format: format,
      name: "clip", minimumFaces: 100, dir: dir)
    for image in Self.faceImages {
      let path = try Fixtures.require(Fixtures.sharedTestData + "/faces/" + image)
      try check(
        "filesrc location=\(path) ! decodebin ! videoconvert ! video/x-raw,format=\(format) ! imagefreeze num-buffers=2",
        format: format, name: image, minimumFaces: 2, dir: dir)
    }
  }

  func testBGR() throws { try checkFormat("BGR") }
  func testI420() throws { try checkFormat("I420") }
  func testNV12() throws { try checkFormat("NV12") }

  /// Four-byte packed formats (alpha or padding first or last) on two face images.
  func testFourBytePackedFormats() throws {
    let dir = try temporaryDirectory()
    for format in ["RGBA", "xBGR"] {
      for image in Self.faceImages.prefix(2) {
        let path = try Fixtures.require(Fixtures.sharedTestData + "/faces/" + image)
        try check(
          "filesrc location=\(path) ! decodebin ! videoconvert ! video/x-raw,format=\(format) ! imagefreeze num-buffers=2",
          format: format, name: image, minimumFaces: 2, dir: dir)
      }
    }
  }

  func testInspectListsTheModes() throws {
    let result = try runProcess("/usr/bin/gst-inspect-1.0", ["agegender"])
    XCTAssertEqual(result.status, 0, result.stderr)
    let property = try XCTUnwrap(result.stdout.range(of: "  anonymize "), "gst-inspect does not list anonymize")
    let block = result.stdout[property.lowerBound...].prefix(800)
    for text in ["Default: 0, \"none\"", "(1): blur", "(2): pixelate", "20%"] {
      XCTAssertTrue(block.contains(text), "\(text) missing from: \(block)")
    }
  }
}
