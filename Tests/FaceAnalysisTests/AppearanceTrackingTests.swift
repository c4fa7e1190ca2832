import FaceAnalysis
import XCTest

/// Following faces between detections by their appearance (FaceAppearanceTracker,
/// FaceTracker.correct, and VideoFaceAnalyzer using both).
final class AppearanceTrackingTests: XCTestCase {
  /// The image moved by (dx, dy) pixels (edges repeated), BGR.
  private func shifted(_ image: OwnedImage, dx: Int, dy: Int) -> PixelBuffer {
    let src = image.view
    let base = src.data.assumingMemoryBound(to: UInt8.self)
    var bytes = [UInt8](repeating: 0, count: image.width * image.height * 3)
    for y in 0..<image.height {
      for x in 0..<image.width {
        let sx = min(image.width - 1, max(0, x - dx)), sy = min(image.height - 1, max(0, y - dy))
        for c in 0..<3 { bytes[(y * image.width + x) * 3 + c] = base[sy * src.stride + sx * 3 + c] }
      }
    }
    return PixelBuffer(width: image.width, height: image.height, stride: image.width * 3, format: .bgr, bytes: bytes)
  }

  func testAFaceIsFoundWhereItMoved() throws {
    let image = try Fixtures.image(Fixtures.astronautPath)
    let face = Fixtures.astronautFace
    let tracker = FaceAppearanceTracker()
    try tracker.remember(7, box: face, in: image.view)
    for (dx, dy) in [(0, 0), (9, -6), (-20, 12), (30, 25)] {
      let moved = shifted(image, dx: dx, dy: dy)
      let found = try XCTUnwrap(try moved.withView { try tracker.locate(7, near: face, in: $0) }, "(\(dx), \(dy))")
      XCTAssertEqual(found.x, face.x + Double(dx), accuracy: 2, "(\(dx), \(dy))")
      XCTAssertEqual(found.y, face.y + Double(dy), accuracy: 2, "(\(dx), \(dy))")
      XCTAssertEqual(found.width, face.width, "the size is the prediction's")
    }
  }

  func testNoPatchOrNoLikenessGivesNothing() throws {
    let image = try Fixtures.image(Fixtures.astronautPath)
    let face = Fixtures.astronautFace
    let tracker = FaceAppearanceTracker()
    XCTAssertNil(try tracker.locate(1, near: face, in: image.view), "no patch for this track")
    try tracker.remember(1, box: face, in: image.view)
    // A flat grey frame looks like no face: the prediction stands.
    let grey = PixelBuffer(width: image.width, height: image.height, stride: image.width * 3, format: .bgr,
      bytes: [UInt8](repeating: 128, count: image.width * image.height * 3))
    XCTAssertNil(try grey.withView { try tracker.locate(1, near: face, in: $0) })
    tracker.keep(only: [])
    XCTAssertNil(try tracker.locate(1, near: face, in: image.view), "patch dropped with its track")
    // A box far outside the frame is searched on repeated edges, without failing.
    XCTAssertNoThrow(try tracker.locate(1, near: Box(x: -5000, y: 9000, width: 40, height: 40), in: image.view))
  }

  func testCorrectionsMoveTheBoxButVelocityComesFromDetections() {
    let tracker = FaceTracker()
    for frame in 0..<5 {
      tracker.update(with: [Detection(box: Box(x: 100 + 10 * Double(frame), y: 50, width: 60, height: 60), confidence: 0.9)])
    }
    let id = tracker.tracks[0].id
    XCTAssertEqual(tracker.tracks[0].velocity.0, 10, accuracy: 1)
    tracker.predict()
    tracker.correct(id, box: Box(x: 170, y: 52, width: 60, height: 60))
    XCTAssertEqual(tracker.tracks[0].box.x, 170)
    tracker.predict()
    XCTAssertEqual(tracker.tracks[0].box.x, 180, accuracy: 1, "moves on from the corrected box")
    // The next detection measures velocity from the last detection (x 140, three frames ago).
    tracker.update(with: [Detection(box: Box(x: 170, y: 50, width: 60, height: 60), confidence: 0.9)])
    XCTAssertEqual(tracker.tracks[0].matchedBox.x, 170)
    XCTAssertEqual(tracker.tracks[0].velocity.0, 10, accuracy: 1)
  }

  /// Between detections the analyser's boxes follow the face; with appearance
  /// off they stay where the (still) motion model puts them.
  func testAnalyserFollowsAMovingFaceBetweenDetections() throws {
    try Fixtures.requireModels()
    let image = try Fixtures.image(Fixtures.astronautPath)
    for follow in [true, false] {
      let analyzer = VideoFaceAnalyzer(detector: try Fixtures.detector(), classifier: try Fixtures.classifier())
      let options = VideoAnalysisOptions(detectionInterval: 100, classificationInterval: 100, followAppearance: follow)
      let first = try XCTUnwrap(try analyzer.process(image.view, options: options).first)
      let moved = shifted(image, dx: 24, dy: 10)
      let next = try XCTUnwrap(try moved.withView { try analyzer.process($0, options: options) }.first)
      XCTAssertEqual(next.trackID, first.trackID)
      let dx = next.detection.box.x - first.detection.box.x, dy = next.detection.box.y - first.detection.box.y
      if follow {
        XCTAssertEqual(dx, 24, accuracy: 2)
        XCTAssertEqual(dy, 10, accuracy: 2)
      } else {
        XCTAssertEqual(dx, 0, accuracy: 0.01)
        XCTAssertEqual(dy, 0, accuracy: 0.01)
      }
    }
  }
}
