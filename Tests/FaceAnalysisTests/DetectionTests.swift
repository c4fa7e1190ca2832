import FaceAnalysis
import XCTest

/// SSDFaceDetector on real images with the real res10 weights.
final class DetectionTests: XCTestCase {
  func testAstronautHasExactlyOneConfidentFaceOnTheKnownRegion() throws {
    let detector = try Fixtures.detector()
    let image = try Fixtures.image(Fixtures.astronautPath)
    XCTAssertEqual(image.width, 512)
    XCTAssertEqual(image.height, 512)
    let faces = try detector.detect(in: image.view, threshold: 0.5)
    XCTAssertEqual(faces.count, 1, "\(faces)")
    guard let face = faces.first else { return }
    // Measured: confidence 0.99999, box (179.5, 58.1) 92.2 x 118.9, IoU 0.895 with the known region.
    XCTAssertGreaterThan(face.confidence, 0.9)
    XCTAssertLessThanOrEqual(face.confidence, 1)
    XCTAssertGreaterThan(face.box.iou(Fixtures.astronautFace), 0.75, "\(face.box)")
    XCTAssertEqual(face.box.centerX, Fixtures.astronautFace.centerX, accuracy: 10)
    XCTAssertEqual(face.box.centerY, Fixtures.astronautFace.centerY, accuracy: 10)
  }

  func testLowThresholdGivesMoreCandidatesBestFirstWithinTheImage() throws {
    let detector = try Fixtures.detector()
    let image = try Fixtures.image(Fixtures.astronautPath)
    let faces = try detector.detect(in: image.view, threshold: 0.1)
    XCTAssertGreaterThan(faces.count, 1, "a low threshold lets weak candidates through")
    XCTAssertEqual(faces.first?.box.iou(Fixtures.astronautFace) ?? 0, 0.895, accuracy: 0.1)
    for (earlier, later) in zip(faces, faces.dropFirst()) {
      XCTAssertGreaterThanOrEqual(earlier.confidence, later.confidence, "best first")
    }
    for face in faces {
      XCTAssertGreaterThanOrEqual(face.confidence, 0.1)
      XCTAssertEqual(face.box.clipped(width: 512, height: 512), face.box, "boxes are clipped to the image")
      XCTAssertGreaterThanOrEqual(face.box.width, 1)
      XCTAssertGreaterThanOrEqual(face.box.height, 1)
    }
  }

  func testHopperIsFoundWithAndWithoutTheCloseUpPass() throws {
    let detector = try Fixtures.detector()
    let image = try Fixtures.image(Fixtures.hopperPath)
    XCTAssertEqual(image.width, 128)
    let faces = try detector.detect(in: image.view, threshold: 0.5)
    XCTAssertEqual(faces.count, 1, "\(faces)")
    // Measured: (41.6, 24.6) 42.6 x 51.7, confidence 0.99999.
    guard let face = faces.first else { return }
    XCTAssertGreaterThan(face.confidence, 0.9)
    XCTAssertGreaterThan(face.box.iou(Box(x: 41.6, y: 24.6, width: 42.6, height: 51.7)), 0.8, "\(face.box)")

    // hopper.jpg is not tight enough to need the close-up pass: the face spans a third
    // of the frame, and the main pass alone finds the same face.
    let saved = detector.closeUpPadding
    defer { detector.closeUpPadding = saved }
    detector.closeUpPadding = 0
    let mainPassOnly = try detector.detect(in: image.view, threshold: 0.5)
    XCTAssertEqual(mainPassOnly, faces)
  }

  func testTightCropsNeedTheCloseUpPass() throws {
    // A real tight crop: cut out (in memory) just the detected face box of each still.
    // Measured: the main pass finds nothing on these; the close-up pass finds the face.
    let detector = try Fixtures.detector()
    let saved = detector.closeUpPadding
    defer { detector.closeUpPadding = saved }
    for path in [Fixtures.astronautPath, Fixtures.hopperPath] {
      let image = try Fixtures.image(path)
      detector.closeUpPadding = saved
      guard let face = try detector.detect(in: image.view, threshold: 0.5).first else {
        XCTFail("no face in \(path)")
        continue
      }
      let crop = PixelBuffer.crop(image, face.box)
      detector.closeUpPadding = 0
      let without = try crop.withView { try detector.detect(in: $0, threshold: 0.5) }
      XCTAssertEqual(without, [], "\(path): the main pass alone misses a face that fills the frame")
      detector.closeUpPadding = 0.3
      let with = try crop.withView { try detector.detect(in: $0, threshold: 0.5) }
      XCTAssertEqual(with.count, 1, "\(path): \(with)")
      guard let found = with.first else { continue }
      XCTAssertGreaterThan(found.confidence, 0.9)
      let whole = Box(x: 0, y: 0, width: Double(crop.width), height: Double(crop.height))
      XCTAssertGreaterThan(found.box.iou(whole), 0.7, "\(path): the face fills the crop: \(found.box)")
    }
  }

  func testBlankImageHasNoFaces() throws {
    let detector = try Fixtures.detector()
    for (format, fill) in [(PixelFormat.bgr, UInt8(0)), (.bgrx, 0), (.bgr, 255), (.gray8, 128)] {
      let blank = OwnedImage(width: 640, height: 480, format: format, fill: fill)
      XCTAssertEqual(try detector.detect(in: blank.view, threshold: 0.5), [], "\(format) filled with \(fill)")
    }
  }

  func testTinyImagesDoNotCrash() throws {
    let detector = try Fixtures.detector()
    let classifier = try Fixtures.classifier()
    for size in [1, 2] {
      for format in [PixelFormat.bgr, .rgba, .gray8] {
        let image = OwnedImage(width: size, height: size, format: format, fill: 128)
        // Both passes run (the main one finds nothing), on a 1- or 2-pixel frame.
        XCTAssertEqual(try detector.detect(in: image.view, threshold: 0.5), [], "\(size)x\(size) \(format)")
        let whole = Box(x: 0, y: 0, width: Double(size), height: Double(size))
        let estimates = try classifier.classify(image.view, faces: [whole])
        XCTAssertEqual(estimates.count, 1)
        XCTAssertTrue((0...1).contains(estimates[0].femaleProbability))
        XCTAssertTrue((0...80).contains(estimates[0].age))
      }
    }
  }

  func testBadImageViewsThrowInsteadOfCrashing() throws {
    let detector = try Fixtures.detector()
    let image = OwnedImage(width: 16, height: 16, format: .bgr)
    var view = image.view
    view.stride = 10  // shorter than a row of 16 BGR pixels
    guard case .inference(let reason)? = assertFaceError(try detector.detect(in: view, threshold: 0.5)) else {
      return XCTFail("expected an inference error")
    }
    XCTAssertTrue(reason.contains("stride"), reason)
    view = image.view
    view.width = 0
    guard case .inference(let empty)? = assertFaceError(try detector.detect(in: view, threshold: 0.5)) else {
      return XCTFail("expected an inference error")
    }
    XCTAssertTrue(empty.contains("empty"), empty)
  }
}
