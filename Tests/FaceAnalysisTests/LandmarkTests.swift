import FaceAnalysis
import FaceImageFiles
import Foundation
import XCTest

/// FaceLandmarker (dlib's 5-point model, ShapePredictor) and LandmarkChipGeometry with the real model.
final class LandmarkTests: XCTestCase {
  private func astronaut() throws -> (OwnedImage, Box) {
    let image = try Fixtures.image(Fixtures.astronautPath)
    guard let face = try Fixtures.detector().detect(in: image.view, threshold: 0.5).first else {
      throw Fixtures.MissingFixture(message: "no face found on astronaut.png")
    }
    return (image, face.box)
  }

  func testFivePointsWhereAFaceHasThem() throws {
    let (image, box) = try astronaut()
    let all = try Fixtures.landmarker().landmarks(for: [box], in: image.view)
    XCTAssertEqual(all.count, 1)
    guard let points = all.first else { return }
    XCTAssertEqual(points.count, 5)
    guard points.count == 5 else { return }
    for p in points {
      XCTAssertTrue(p.x >= box.x && p.x <= box.maxX && p.y >= box.y && p.y <= box.maxY, "\(p) outside \(box)")
    }
    // Parts: right eye outer, right eye inner, left eye outer, left eye inner, nose base.
    // The subject's right eye is on the image's left: the template has it at x 0.86 though,
    // so dlib's "right" is the image's right-hand side.
    let eyes = points[0...3], nose = points[4]
    for eye in eyes { XCTAssertLessThan(eye.y, nose.y, "eyes above the nose") }
    XCTAssertGreaterThan(points[0].x, points[1].x)
    XCTAssertGreaterThan(points[1].x, nose.x)
    XCTAssertLessThan(points[2].x, points[3].x)
    XCTAssertLessThan(points[3].x, nose.x)
    XCTAssertEqual(try Fixtures.landmarker().landmarks(for: [], in: image.view).count, 0)
  }

  func testAlignedPlacementIsNearTheBoxPlacement() throws {
    let (image, box) = try astronaut()
    let aligned = try LandmarkChipGeometry(landmarker: Fixtures.landmarker()).placements(for: [box], in: image.view)
    XCTAssertEqual(aligned.count, 1)
    guard let p = aligned.first else { return }
    let plain = BoxChipGeometry().placement(for: box)
    // A nearly upright face: small rotation, similar size and centre.
    let side = hypot(p.xAxisX, p.xAxisY)
    XCTAssertLessThan(abs(atan2(p.xAxisY, p.xAxisX)), 0.2, "rotation")
    XCTAssertEqual(side, plain.xAxisX, accuracy: plain.xAxisX * 0.3)
    XCTAssertEqual(p.point(0.5, 0.5).x, plain.point(0.5, 0.5).x, accuracy: box.width * 0.15)
    XCTAssertEqual(p.point(0.5, 0.5).y, plain.point(0.5, 0.5).y, accuracy: box.height * 0.15)
  }

  func testAlignedClassifierOnAstronaut() throws {
    let (image, box) = try astronaut()
    let classifier = try Fixtures.classifier()
    let saved = classifier.geometry
    defer { classifier.geometry = saved }
    classifier.geometry = LandmarkChipGeometry(landmarker: try Fixtures.landmarker())
    let estimates = try classifier.classify(image.view, faces: [box])
    XCTAssertEqual(estimates.count, 1)
    guard let estimate = estimates.first else { return }
    XCTAssertEqual(estimate.gender, .female)
    // Calibrated (the net's own 0.99 was over-confident on the tuning set).
    XCTAssertGreaterThan(estimate.genderConfidence, 0.75)
    XCTAssertTrue((20...50).contains(estimate.age), "age \(estimate.age)")
  }

  func testLandmarksAreTheSameInEveryPixelFormat() throws {
    // ShapePredictor reads every packed layout itself: check its channel offsets.
    let (image, box) = try astronaut()
    let landmarker = try Fixtures.landmarker()
    guard let reference = try landmarker.landmarks(for: [box], in: image.view).first else { return XCTFail("no points") }
    for format in PixelFormat.allCases where format != .gray8 {
      for extra in [0, 64] {
        let buffer = PixelBuffer.convert(image, to: format, stride: image.width * format.bytesPerPixel + extra)
        let points = try buffer.withView { try landmarker.landmarks(for: [box], in: $0) }.first ?? []
        XCTAssertEqual(points.count, reference.count, "\(format)")
        for (p, q) in zip(points, reference) {
          XCTAssertEqual(p.x, q.x, accuracy: 0.5, "\(format) stride +\(extra)")
          XCTAssertEqual(p.y, q.y, accuracy: 0.5, "\(format) stride +\(extra)")
        }
      }
    }
  }

  func testBadLandmarkFiles() throws {
    try Fixtures.requireLandmarks()
    let manifest = try String(contentsOfFile: Fixtures.modelDirectory + "/dlib-landmarks5.model", encoding: .utf8)
    let real = Fixtures.modelDirectory + "/weights/" + Fixtures.landmarkWeights
    let head: Data = try {
      let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: real))
      defer { try? handle.close() }
      return try handle.read(upToCount: 65_536) ?? Data()
    }()
    var junk = [UInt8](repeating: 0, count: 50_000)
    var state: UInt64 = 5
    for i in junk.indices {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      junk[i] = UInt8(truncatingIfNeeded: state >> 33)
    }
    for (what, data) in [("empty", Data()), ("junk", Data(junk)), ("truncated", head)] {
      let dir = try Fixtures.temporaryDirectory(for: self)
      try FileManager.default.createDirectory(at: dir.appendingPathComponent("weights"), withIntermediateDirectories: true)
      try manifest.write(to: dir.appendingPathComponent("dlib-landmarks5.model"), atomically: true, encoding: .utf8)
      let path = dir.appendingPathComponent("weights/\(Fixtures.landmarkWeights)").path
      try data.write(to: URL(fileURLWithPath: path))
      let error = assertFaceError(try FaceLandmarker(store: ModelStore(directory: dir.path)), what)
      guard case .modelInvalid(let named, let reason)? = error else {
        XCTFail("\(what): expected modelInvalid, got \(String(describing: error))")
        continue
      }
      XCTAssertEqual(named, path, what)
      XCTAssertFalse(reason.isEmpty, what)
      XCTAssertTrue(error!.description.contains(path), what)
    }
    // Not a landmark model.
    let wrong = assertFaceError(try FaceLandmarker(store: ModelStore(directory: Fixtures.modelDirectory), model: "cydral-age"))
    guard case .modelInvalid(_, let reason)? = wrong else { return XCTFail("expected modelInvalid") }
    XCTAssertTrue(reason.contains("not a landmark model"), reason)
  }
}
