import FaceAnalysis
import Foundation
import XCTest

/// Box, ChipTransform, BoxChipGeometry and the detector's input sizing: pure arithmetic.
final class GeometryTests: XCTestCase {
  func testBoxBasics() {
    let box = Box(x: 10, y: 20, width: 30, height: 40)
    XCTAssertEqual(box.area, 1200)
    XCTAssertEqual(box.centerX, 25)
    XCTAssertEqual(box.centerY, 40)
    XCTAssertEqual(box.maxX, 40)
    XCTAssertEqual(box.maxY, 60)
    XCTAssertEqual(Box(x: 0, y: 0, width: -5, height: 10).area, 0, "a negative size has no area")
  }

  func testIoU() {
    let a = Box(x: 0, y: 0, width: 10, height: 10)
    XCTAssertEqual(a.iou(a), 1)
    XCTAssertEqual(a.iou(Box(x: 20, y: 20, width: 10, height: 10)), 0, "disjoint")
    XCTAssertEqual(a.iou(Box(x: 10, y: 0, width: 10, height: 10)), 0, "touching edges do not overlap")
    // Half shifted: intersection 50, union 150.
    XCTAssertEqual(a.iou(Box(x: 5, y: 0, width: 10, height: 10)), 1.0 / 3.0, accuracy: 1e-12)
    // Diagonal shift: intersection 5x5 = 25, union 175.
    XCTAssertEqual(a.iou(Box(x: 5, y: 5, width: 10, height: 10)), 25.0 / 175.0, accuracy: 1e-12)
    // Contained: 25 / 100.
    XCTAssertEqual(a.iou(Box(x: 2, y: 2, width: 5, height: 5)), 0.25, accuracy: 1e-12)
    // Symmetric.
    let b = Box(x: 3, y: -4, width: 12, height: 9)
    XCTAssertEqual(a.iou(b), b.iou(a), accuracy: 1e-12)
    // Empty boxes: 0, not NaN.
    let empty = Box(x: 0, y: 0, width: 0, height: 0)
    XCTAssertEqual(empty.iou(empty), 0)
    XCTAssertEqual(a.iou(empty), 0)
  }

  func testClipped() {
    XCTAssertEqual(
      Box(x: -10, y: -5, width: 30, height: 20).clipped(width: 15, height: 10), Box(x: 0, y: 0, width: 15, height: 10))
    XCTAssertEqual(
      Box(x: 2, y: 3, width: 4, height: 5).clipped(width: 15, height: 10), Box(x: 2, y: 3, width: 4, height: 5),
      "inside: unchanged")
    XCTAssertEqual(
      Box(x: 12, y: 8, width: 10, height: 10).clipped(width: 15, height: 10), Box(x: 12, y: 8, width: 3, height: 2))
    let outside = Box(x: 20, y: 20, width: 5, height: 5).clipped(width: 10, height: 10)
    XCTAssertEqual(outside.area, 0, "outside the frame: empty")
    XCTAssertEqual(outside.x, 10)
  }

  func testChipTransformSquare() {
    let t = ChipTransform.square(x: 10, y: 20, side: 64, chipSize: 32)
    XCTAssertEqual(t, ChipTransform(a: 2, b: 0, c: 10, d: 0, e: 2, f: 20))
    XCTAssertTrue(t.apply(0, 0) == (10, 20))
    XCTAssertTrue(t.apply(32, 32) == (74, 84), "the chip's far corner is the square's far corner")
    XCTAssertTrue(t.apply(16, 0) == (42, 20))
  }

  func testChipTransformApplyGeneralAffine() {
    // x = a*u + b*v + c, y = d*u + e*v + f: a 90° rotation plus offset.
    let t = ChipTransform(a: 0, b: -1, c: 100, d: 1, e: 0, f: 50)
    XCTAssertTrue(t.apply(0, 0) == (100, 50))
    XCTAssertTrue(t.apply(10, 0) == (100, 60))
    XCTAssertTrue(t.apply(0, 10) == (90, 50))
    XCTAssertTrue(t.apply(3, 7) == (93, 53))
  }

  func testBoxChipGeometryCentresASquareOnTheBox() throws {
    let image = OwnedImage(width: 8, height: 8, format: .bgr)
    let box = Box(x: 100, y: 50, width: 80, height: 100)
    // Documented defaults: faceScale 0.85, verticalShift 0.03.
    let geometry = BoxChipGeometry()
    XCTAssertEqual(geometry.faceScale, 0.85)
    XCTAssertEqual(geometry.verticalShift, 0.03)
    // The template square: side = width * faceScale = 68, centred on
    // (box centre x, box centre y + 0.03 * height) = (140, 103).
    let p = geometry.placement(for: box)
    let side = 80 * 0.85
    XCTAssertEqual(p.xAxisX, side, accuracy: 1e-9)
    XCTAssertEqual(p.yAxisY, side, accuracy: 1e-9)
    XCTAssertEqual(p.xAxisY, 0)
    XCTAssertEqual(p.yAxisX, 0)
    XCTAssertEqual(p.point(0.5, 0.5).x, 140, accuracy: 1e-9)
    XCTAssertEqual(p.point(0.5, 0.5).y, 103, accuracy: 1e-9)
    XCTAssertEqual(p.originX, 140 - side / 2, accuracy: 1e-9)
    XCTAssertEqual(p.originY, 103 - side / 2, accuracy: 1e-9)

    // The padded chip: 20 % of context per side, so the chip spans side * 1.4, same centre.
    let t = p.chipTransform(size: 64, padding: 0.2)
    XCTAssertEqual(t.a, side * 1.4 / 64, accuracy: 1e-12)
    XCTAssertEqual(t.e, side * 1.4 / 64, accuracy: 1e-12)
    XCTAssertEqual(t.b, 0)
    XCTAssertEqual(t.d, 0)
    XCTAssertEqual(t.apply(32, 32).x, 140, accuracy: 1e-9)
    XCTAssertEqual(t.apply(32, 32).y, 103, accuracy: 1e-9)
    XCTAssertEqual(t.apply(0, 0).x, 140 - side * 0.7, accuracy: 1e-9)
    XCTAssertEqual(t.apply(64, 64).y, 103 + side * 0.7, accuracy: 1e-9)

    // The width sets the size; the height only moves the centre.
    let taller = geometry.placement(for: Box(x: 100, y: 50, width: 80, height: 200))
    XCTAssertEqual(taller.xAxisX, p.xAxisX, accuracy: 1e-12)
    XCTAssertEqual(taller.point(0.5, 0.5).y, 50 + 100 + 0.03 * 200, accuracy: 1e-9)

    // Neutral settings: exactly the box's width, centred on the box.
    let plain = BoxChipGeometry(faceScale: 1, verticalShift: 0).placement(for: Box(x: 10, y: 20, width: 40, height: 40))
    XCTAssertEqual(plain, .square(x: 10, y: 20, side: 40))
    XCTAssertEqual(plain.chipTransform(size: 32, padding: 0), .square(x: 10, y: 20, side: 40, chipSize: 32))

    // The batch form places each face the same way.
    let boxes = [box, Box(x: 5, y: 6, width: 30, height: 40)]
    XCTAssertEqual(try geometry.placements(for: boxes, in: image.view), boxes.map(geometry.placement(for:)))
  }

  func testFacePlacementChipTransformFollowsDlibLayout() {
    // A rotated, scaled placement: template x axis points down the image, y axis to the left.
    let p = FacePlacement(originX: 200, originY: 100, xAxisX: 0, xAxisY: 50, yAxisX: -50, yAxisY: 0)
    XCTAssertTrue(p.point(0, 0) == (200, 100))
    XCTAssertTrue(p.point(1, 0) == (200, 150))
    XCTAssertTrue(p.point(0, 1) == (150, 100))
    // dlib's get_face_chip_details: chip pixel u maps to template (u / size)(1 + 2p) - p.
    for padding in [0.0, 0.2, 0.5] {
      let size = 32
      let t = p.chipTransform(size: size, padding: padding)
      for (u, v) in [(0.0, 0.0), (32.0, 0.0), (0.0, 32.0), (16.0, 16.0), (5.0, 27.0)] {
        let tx = u / Double(size) * (1 + 2 * padding) - padding
        let ty = v / Double(size) * (1 + 2 * padding) - padding
        let expected = p.point(tx, ty), got = t.apply(u, v)
        XCTAssertEqual(got.x, expected.x, accuracy: 1e-9, "padding \(padding), (\(u), \(v))")
        XCTAssertEqual(got.y, expected.y, accuracy: 1e-9, "padding \(padding), (\(u), \(v))")
      }
    }
  }

  func testLandmarkFitRecoversASimilarityTransform() {
    // The template itself fits to the unit square.
    let identity = LandmarkChipGeometry.placement(fitting: LandmarkChipGeometry.template)
    XCTAssertEqual(identity.originX, 0, accuracy: 1e-9)
    XCTAssertEqual(identity.originY, 0, accuracy: 1e-9)
    XCTAssertEqual(identity.xAxisX, 1, accuracy: 1e-9)
    XCTAssertEqual(identity.xAxisY, 0, accuracy: 1e-9)
    // Template points moved by a known similarity (scale 120, 30°, offset) are fitted back exactly.
    let angle = Double.pi / 6, scale = 120.0
    let truth = FacePlacement(
      originX: 300, originY: 80, xAxisX: scale * cos(angle), xAxisY: scale * sin(angle),
      yAxisX: -scale * sin(angle), yAxisY: scale * cos(angle))
    let points = LandmarkChipGeometry.template.map { truth.point($0.x, $0.y) }
    let fitted = LandmarkChipGeometry.placement(fitting: points)
    for (got, want) in zip(
      [fitted.originX, fitted.originY, fitted.xAxisX, fitted.xAxisY, fitted.yAxisX, fitted.yAxisY],
      [truth.originX, truth.originY, truth.xAxisX, truth.xAxisY, truth.yAxisX, truth.yAxisY])
    {
      XCTAssertEqual(got, want, accuracy: 1e-6)
    }
  }

  func testDetectorInputDimensionsKeepAspect() {
    func dims(_ w: Int, _ h: Int, _ p: Double = 0, _ s: Int = 300) -> [Int] {
      let (a, b) = SSDFaceDetector.inputDimensions(width: w, height: h, padding: p, shortSide: s)
      return [a, b]
    }
    XCTAssertEqual(dims(1280, 720), [533, 300])
    XCTAssertEqual(dims(720, 1280), [300, 533])
    XCTAssertEqual(dims(1920, 1080), [533, 300])
    XCTAssertEqual(dims(640, 480), [400, 300])
    XCTAssertEqual(dims(512, 512), [300, 300])
    XCTAssertEqual(dims(128, 128, 0.3, 160), [160, 160])
    // Small frames are scaled up to the short side too.
    XCTAssertEqual(dims(1, 1), [300, 300])
    XCTAssertEqual(dims(2, 1), [600, 300])
  }

  func testDetectorInputDimensionsWithPadding() {
    // Padding adds `padding` of each side on both ends (width and height times 1 + 2p):
    // the padded frame has the same aspect, so the input size does not change.
    for p in [0.0, 0.25, 0.5, 1.0] {
      let (w, h) = SSDFaceDetector.inputDimensions(width: 1280, height: 720, padding: p, shortSide: 300)
      XCTAssertEqual(w, 533, "padding \(p)")
      XCTAssertEqual(h, 300, "padding \(p)")
    }
  }

  func testDetectorInputDimensionsCapTheLongSideAtFourTimesTheShortSide() {
    let wide = SSDFaceDetector.inputDimensions(width: 4000, height: 100, padding: 0, shortSide: 300)
    XCTAssertTrue(wide == (1200, 300), "\(wide)")
    let tall = SSDFaceDetector.inputDimensions(width: 100, height: 4000, padding: 0.5, shortSide: 300)
    XCTAssertTrue(tall == (300, 1200), "\(tall)")
    // Exactly 4:1 and just under are not capped.
    XCTAssertTrue(SSDFaceDetector.inputDimensions(width: 1200, height: 300, padding: 0, shortSide: 300) == (1200, 300))
    XCTAssertTrue(SSDFaceDetector.inputDimensions(width: 3900, height: 1000, padding: 0, shortSide: 160) == (624, 160))
  }
}
