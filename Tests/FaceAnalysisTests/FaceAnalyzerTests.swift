import FaceAnalysis
import XCTest

/// FaceAnalyzer's options, with the real detector and classifier.
final class FaceAnalyzerTests: XCTestCase {
  private func analyzer() throws -> FaceAnalyzer {
    FaceAnalyzer(detector: try Fixtures.detector(), classifier: try Fixtures.classifier())
  }

  func testDefaultOptions() {
    let options = AnalysisOptions()
    XCTAssertEqual(options.detectionThreshold, 0.5)
    XCTAssertEqual(options.minFaceSize, 20)
    XCTAssertEqual(options.maxFaces, 32)
  }

  func testAstronautWithDefaults() throws {
    let image = try Fixtures.image(Fixtures.astronautPath)
    let faces = try analyzer().analyze(image.view, options: AnalysisOptions())
    XCTAssertEqual(faces.count, 1)
    guard let face = faces.first else { return }
    XCTAssertGreaterThan(face.detection.box.iou(Fixtures.astronautFace), 0.75)
    XCTAssertEqual(face.estimate.gender, .female)
    XCTAssertEqual(face.trackID, 0)
    XCTAssertEqual(face.label, "Female, \(Int(face.estimate.age.rounded()))")
    // The analyzer classifies exactly what the detector found.
    let direct = try Fixtures.classifier().classify(image.view, faces: [face.detection.box])[0]
    XCTAssertEqual(face.estimate.age, direct.age, accuracy: 1e-9)
  }

  func testMaxFacesKeepsTheMostConfident() throws {
    let image = try Fixtures.image(Fixtures.astronautPath)
    // At threshold 0.1 the detector returns the face and several weak candidates.
    let all = try Fixtures.detector().detect(in: image.view, threshold: 0.1)
      .sorted { $0.confidence > $1.confidence }
    XCTAssertGreaterThan(all.count, 3, "need several candidates: \(all.count)")
    let analyzer = try analyzer()
    let unlimited = try analyzer.analyze(image.view, options: AnalysisOptions(detectionThreshold: 0.1, minFaceSize: 0, maxFaces: 256))
    XCTAssertEqual(unlimited.map(\.detection), all)
    let two = try analyzer.analyze(image.view, options: AnalysisOptions(detectionThreshold: 0.1, minFaceSize: 0, maxFaces: 2))
    XCTAssertEqual(two.map(\.detection), Array(all.prefix(2)))
    XCTAssertGreaterThan(two.first?.detection.box.iou(Fixtures.astronautFace) ?? 0, 0.75, "the real face is first")
    let one = try analyzer.analyze(image.view, options: AnalysisOptions(detectionThreshold: 0.1, minFaceSize: 0, maxFaces: 1))
    XCTAssertEqual(one.map(\.detection), Array(all.prefix(1)))
    // Each truncated face is classified as on its own.
    XCTAssertEqual(two[1].estimate.age, unlimited[1].estimate.age, accuracy: 1e-4)
    let none = try analyzer.analyze(image.view, options: AnalysisOptions(detectionThreshold: 0.1, minFaceSize: 0, maxFaces: 0))
    XCTAssertEqual(none, [])
  }

  func testMinFaceSizeFilters() throws {
    let image = try Fixtures.image(Fixtures.astronautPath)
    let analyzer = try analyzer()
    guard let face = try analyzer.analyze(image.view, options: AnalysisOptions()).first else {
      return XCTFail("no face on astronaut.png")
    }
    // The smaller side of the box (measured: its width, 92.2 px) decides.
    let side = min(face.detection.box.width, face.detection.box.height)
    let kept = try analyzer.analyze(image.view, options: AnalysisOptions(minFaceSize: Int(side.rounded(.down))))
    XCTAssertEqual(kept.count, 1)
    let dropped = try analyzer.analyze(image.view, options: AnalysisOptions(minFaceSize: Int(side.rounded(.up))))
    XCTAssertEqual(dropped, [])

    // With weak candidates, the filter drops exactly the small ones.
    let options = AnalysisOptions(detectionThreshold: 0.1, minFaceSize: 50, maxFaces: 256)
    let big = try analyzer.analyze(image.view, options: options)
    let expected = try Fixtures.detector().detect(in: image.view, threshold: 0.1)
      .filter { min($0.box.width, $0.box.height) >= 50 }.sorted { $0.confidence > $1.confidence }
    XCTAssertEqual(big.map(\.detection), expected)
    XCTAssertTrue(big.allSatisfy { min($0.detection.box.width, $0.detection.box.height) >= 50 })
    XCTAssertLessThan(big.count, try analyzer.analyze(image.view, options: AnalysisOptions(detectionThreshold: 0.1, minFaceSize: 0, maxFaces: 256)).count)
  }

  func testThresholds() throws {
    let image = try Fixtures.image(Fixtures.astronautPath)
    let analyzer = try analyzer()
    // Measured confidence 0.999986: above 0.99, below 1.
    XCTAssertEqual(try analyzer.analyze(image.view, options: AnalysisOptions(detectionThreshold: 0.99)).count, 1)
    XCTAssertEqual(try analyzer.analyze(image.view, options: AnalysisOptions(detectionThreshold: 1.0)), [])
  }
}

/// FaceOverlay and the label text.
final class OverlayTests: XCTestCase {
  func testLabels() {
    func face(_ estimate: AgeGenderEstimate) -> AnalyzedFace {
      AnalyzedFace(detection: Detection(box: Box(x: 0, y: 0, width: 10, height: 10), confidence: 1), estimate: estimate)
    }
    XCTAssertEqual(face(AgeGenderEstimate(age: 34, femaleProbability: 0.9)).label, "Female, 34")
    XCTAssertEqual(face(AgeGenderEstimate(age: 34.4, femaleProbability: 0.9)).label, "Female, 34")
    XCTAssertEqual(face(AgeGenderEstimate(age: 33.6, femaleProbability: 0.9)).label, "Female, 34")
    XCTAssertEqual(face(AgeGenderEstimate(age: 41, femaleProbability: 0.2)).label, "Male, 41")
    XCTAssertEqual(face(AgeGenderEstimate(age: 28, ageRange: 25...32, femaleProbability: 0.1)).label, "Male, 25-32")
    XCTAssertEqual(face(AgeGenderEstimate(age: 5, ageRange: 4...6, femaleProbability: 0.7)).label, "Female, 4-6")
    // 0.5 counts as female.
    XCTAssertEqual(face(AgeGenderEstimate(age: 20, femaleProbability: 0.5)).label, "Female, 20")
    XCTAssertEqual(AgeGenderEstimate(age: 20, femaleProbability: 0.2).genderConfidence, 0.8, accuracy: 1e-12)
  }

  func testDrawChangesTheBoxAndLabelAndNothingFarAway() throws {
    let image = try Fixtures.image(Fixtures.astronautPath)
    let original = try Fixtures.image(Fixtures.astronautPath)
    let face = AnalyzedFace(
      detection: Detection(box: Box(x: 180, y: 58, width: 92, height: 119), confidence: 1),
      estimate: AgeGenderEstimate(age: 29, femaleProbability: 0.99))

    try FaceOverlay.draw([], on: image.view)
    XCTAssertEqual(pixels(image), pixels(original), "no faces, no drawing")

    try FaceOverlay.draw([face], on: image.view)
    let before = pixels(original), after = pixels(image)
    var changed: [(x: Int, y: Int)] = []
    for y in 0..<image.height {
      for x in 0..<image.width where (0..<3).contains(where: { before[y * image.stride + x * 3 + $0] != after[y * image.stride + x * 3 + $0] }) {
        changed.append((x, y))
      }
    }
    // Measured: ~5100 pixels change, within x 178...294, y 30...178.
    XCTAssertGreaterThan(changed.count, 1000)
    // The box outline: each edge's centre line changed.
    let box = face.detection.box
    let edges = [(Int(box.centerX), Int(box.maxY)), (Int(box.x), Int(box.centerY)), (Int(box.maxX), Int(box.centerY))]
    for (x, y) in edges {
      XCTAssertTrue(changed.contains { abs($0.x - x) <= 1 && $0.y == y }, "edge at (\(x), \(y))")
    }
    // The box's inside stays untouched (the label sits above it).
    XCTAssertFalse(changed.contains { $0.x > 190 && $0.x < 260 && $0.y > 70 && $0.y < 165 })
    // The label: a filled background just above the box.
    XCTAssertGreaterThan(changed.filter { $0.y < 58 }.count, 500)
    // Everything that changed is near the box or its label.
    for p in changed {
      XCTAssertTrue((170...300).contains(p.x) && (20...185).contains(p.y), "pixel (\(p.x), \(p.y)) changed")
      if !((170...300).contains(p.x) && (20...185).contains(p.y)) { break }
    }
    // A far corner is byte for byte the same.
    for y in 400..<512 {
      let row = y * image.stride
      XCTAssertEqual(Array(after[(row + 400 * 3)..<(row + 512 * 3)]), Array(before[(row + 400 * 3)..<(row + 512 * 3)]))
    }
  }

  func testColoursLandInTheRightBytes() throws {
    // Female boxes are drawn in (R, G, B) = (255, 64, 160), male ones in (40, 140, 255):
    // the label background is a plain fill, so its pixels carry the exact colour.
    let cases: [(Double, (UInt8, UInt8, UInt8))] = [(0.9, (255, 64, 160)), (0.1, (40, 140, 255))]
    for format in PixelFormat.allCases where format != .gray8 {
      for (female, colour) in cases {
        let black = OwnedImage(width: 400, height: 400, format: .bgr)
        let buffer = PixelBuffer.convert(black, to: format)
        let face = AnalyzedFace(
          detection: Detection(box: Box(x: 100, y: 100, width: 100, height: 100), confidence: 1),
          estimate: AgeGenderEstimate(age: 30, femaleProbability: female))
        try buffer.withView { try FaceOverlay.draw([face], on: $0) }
        // Just above the box's left edge, inside the label's padding.
        let (r, g, b) = buffer.rgb(x: 101, y: 98)
        XCTAssertEqual([r, g, b], [colour.0, colour.1, colour.2], "\(format), female \(female)")
        let far = buffer.rgb(x: 350, y: 350)
        XCTAssertEqual([far.0, far.1, far.2], [0, 0, 0], "\(format): far away stays black")
      }
    }
  }

  /// The bridge keeps each streaming thread's recent labels rendered and
  /// copies them in: a label drawn again, elsewhere, after others, or after
  /// the cache turned over, must be the same pixels (that each pixel format
  /// gets its own entries: testColoursLandInTheRightBytes, in the same thread).
  func testLabelsDrawnAgainAreTheSamePixelsWhereverAndWhenever() throws {
    func face(x: Double, y: Double, age: Double = 34) -> AnalyzedFace {
      AnalyzedFace(
        detection: Detection(box: Box(x: x, y: y, width: 80, height: 90), confidence: 1),
        estimate: AgeGenderEstimate(age: age, femaleProbability: 0.9))
    }
    for format in [PixelFormat.bgr, .bgra, .gray8] {
      let grey = OwnedImage(width: 640, height: 360, format: format, fill: 90)
      func drawn(_ faces: [AnalyzedFace]) throws -> [UInt8] {
        let copy = OwnedImage(width: 640, height: 360, format: format, fill: 90)
        try FaceOverlay.draw(faces, on: copy.view)
        return pixels(copy)
      }
      let first = try drawn([face(x: 100, y: 100)])
      XCTAssertTrue(first != pixels(grey), "\(format): something is drawn")
      // Moved by (36, 22): every pixel of the box and label moves with it.
      let moved = try drawn([face(x: 136, y: 122)])
      let bpp = format.bytesPerPixel, stride = 640 * bpp
      var differing = 0
      for y in 40..<220 {
        for i in (60 * bpp)..<(300 * bpp) where first[y * stride + i] != moved[(y + 22) * stride + i + 36 * bpp] {
          differing += 1
        }
      }
      XCTAssertEqual(differing, 0, "\(format): the moved label differs in \(differing) bytes")
      // Seventy other labels (more than the cache holds), then the first again.
      var previous: [UInt8] = []
      for age in 0..<70 {
        let other = try drawn([face(x: 300, y: 200, age: Double(age))])
        XCTAssertTrue(other != previous, "\(format): 'Female, \(age)' drawn as the label before it")
        previous = other
      }
      XCTAssertTrue(try drawn([face(x: 100, y: 100)]) == first, "\(format): drawn again after the cache turned over")
    }
  }

  private func pixels(_ image: OwnedImage) -> [UInt8] {
    Array(UnsafeBufferPointer(start: image.view.data.assumingMemoryBound(to: UInt8.self), count: image.stride * image.height))
  }
}
