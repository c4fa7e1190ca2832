import FaceAnalysis
import Foundation
import XCTest

/// The tracker on synthetic boxes: identities through motion, crossing,
/// occlusion, re-entry and expiry.
final class FaceTrackerTests: XCTestCase {
  private func face(_ x: Double, _ y: Double, _ side: Double = 60, confidence: Double = 0.9) -> Detection {
    Detection(box: Box(x: x, y: y, width: side, height: side), confidence: confidence)
  }

  func testSteadyMotionKeepsOneIdAndLearnsVelocity() {
    let tracker = FaceTracker()
    var ids: Set<UInt64> = []
    for frame in 0..<20 { ids.formUnion(tracker.update(with: [face(100 + 8 * Double(frame), 50)])) }
    XCTAssertEqual(ids, [1])
    let track = tracker.tracks[0]
    XCTAssertEqual(track.hits, 20)
    XCTAssertEqual(track.velocity.0, 8, accuracy: 0.5, "x velocity")
    // Between detections the box moves on with that velocity.
    tracker.predict()
    XCTAssertEqual(tracker.tracks[0].box.x, 100 + 8 * 20, accuracy: 1)
  }

  func testCrossingFacesKeepTheirIds() {
    let tracker = FaceTracker()
    var first: [UInt64] = []
    // A moves right, B moves left at the same height; they pass through each other.
    for frame in 0..<30 {
      let a = face(50 + 10 * Double(frame), 100), b = face(350 - 10 * Double(frame), 104)
      let ids = tracker.update(with: [a, b])
      if frame == 0 { first = ids } else { XCTAssertEqual(ids, first, "frame \(frame)") }
    }
    XCTAssertEqual(Set(first).count, 2)
    XCTAssertEqual(tracker.tracks.count, 2)
  }

  func testShortOcclusionKeepsTheIdAndLongAbsenceEndsTheTrack() {
    let tracker = FaceTracker(iouThreshold: 0.3, maxMissed: 10)
    for frame in 0..<10 { tracker.update(with: [face(100 + 4 * Double(frame), 80)]) }
    // Hidden for 6 frames (detector sees nothing), then back where its motion predicts.
    for _ in 0..<6 { tracker.update(with: []) }
    XCTAssertFalse(tracker.tracks[0].visible)
    let back = tracker.update(with: [face(100 + 4 * 16, 80)])
    XCTAssertEqual(back, [1], "same face after a short occlusion keeps its id")
    XCTAssertTrue(tracker.tracks[0].visible)
    // Gone for longer than maxMissed: the track ends and a later face is new.
    for _ in 0..<11 { tracker.update(with: []) }
    XCTAssertTrue(tracker.tracks.isEmpty)
    XCTAssertEqual(tracker.update(with: [face(100 + 4 * 28, 80)]), [2], "re-entry after expiry is a new track")
  }

  func testReentryElsewhereIsANewTrackAndIdsAreNeverReused() {
    let tracker = FaceTracker()
    tracker.update(with: [face(10, 10)])
    XCTAssertEqual(tracker.update(with: [face(400, 300)]), [2], "a face far away is someone else")
    tracker.reset()
    XCTAssertEqual(tracker.update(with: [face(10, 10)]), [3], "ids keep increasing across a reset (a new scene)")
  }

  func testSparseUpdatesFollowAFaceByItsCentreWhenBoxesNoLongerOverlap() {
    let tracker = FaceTracker()
    tracker.update(with: [face(100, 100)])
    // Seen again 40 px away (IoU 0.2 < 0.3), as when frames in between were skipped.
    XCTAssertEqual(tracker.update(with: [face(140, 100)]), [1])
    // Twice the size is someone else (or a different scene), not a continuation.
    XCTAssertEqual(tracker.update(with: [face(150, 100, 130)]), [2])
  }

  func testEachDetectionGetsAtMostOneTrack() {
    let tracker = FaceTracker()
    tracker.update(with: [face(100, 100), face(110, 100)])
    let ids = tracker.update(with: [face(105, 100)])
    XCTAssertEqual(ids.count, 1)
    XCTAssertEqual(tracker.tracks.filter(\.visible).count, 1)
  }
}

/// Fusion maths: label hysteresis, evidence-weighted confidence, precision-weighted age.
final class EstimateFusionTests: XCTestCase {
  private func logit(_ p: Double) -> Double { log(p / (1 - p)) }
  private func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

  func testConfidenceGrowsWithEvidenceUpToTheCap() throws {
    var fusion = EstimateFusion()
    fusion.add(AgeGenderEstimate(age: 30, femaleProbability: 0.7))
    XCTAssertEqual(try XCTUnwrap(fusion.fused).femaleProbability, 0.7, accuracy: 1e-9)
    for _ in 1..<4 { fusion.add(AgeGenderEstimate(age: 30, femaleProbability: 0.7)) }
    // n = 4: sigmoid(logit(0.7) * 2).
    XCTAssertEqual(try XCTUnwrap(fusion.fused).femaleProbability, sigmoid(2 * logit(0.7)), accuracy: 1e-9)
    for _ in 4..<100 { fusion.add(AgeGenderEstimate(age: 30, femaleProbability: 0.7)) }
    XCTAssertEqual(try XCTUnwrap(fusion.fused).femaleProbability, sigmoid(4 * logit(0.7)), accuracy: 1e-9, "capped at 16")
  }

  func testUncertainFramesDoNotFlipTheLabel() throws {
    var fusion = EstimateFusion()
    var shown: [Gender] = []
    for i in 0..<40 {
      fusion.add(AgeGenderEstimate(age: 30, femaleProbability: i % 3 == 0 ? 0.42 : 0.56))
      shown.append(try XCTUnwrap(fusion.fused).gender)
    }
    XCTAssertEqual(Set(shown).count, 1, "hysteresis holds the label: \(shown)")
  }

  func testAClearChangeSwitchesOnce() throws {
    var fusion = EstimateFusion()
    var shown: [Gender] = []
    for i in 0..<60 {
      fusion.add(AgeGenderEstimate(age: 30, femaleProbability: i < 10 ? 0.9 : 0.05))
      shown.append(try XCTUnwrap(fusion.fused).gender)
    }
    let flips = zip(shown, shown.dropFirst()).filter { $0 != $1 }.count
    XCTAssertEqual(flips, 1)
    XCTAssertEqual(shown.first, .female)
    XCTAssertEqual(shown.last, .male)
  }

  func testShownLabelAndItsProbabilityAgree() throws {
    var fusion = EstimateFusion()
    fusion.add(AgeGenderEstimate(age: 30, femaleProbability: 0.46))  // male
    fusion.add(AgeGenderEstimate(age: 30, femaleProbability: 0.57))  // mean just female, within the margin
    let fused = try XCTUnwrap(fusion.fused)
    XCTAssertEqual(fused.gender, .male)
    XCTAssertLessThan(fused.femaleProbability, 0.5)
  }

  func testAgeIsPrecisionWeightedWithAWeakPrior() throws {
    var fusion = EstimateFusion()
    fusion.add(AgeGenderEstimate(age: 20, femaleProbability: 0.5, ageVariance: 40))
    fusion.add(AgeGenderEstimate(age: 40, femaleProbability: 0.5, ageVariance: 400))
    let prior = 1 / (fusion.priorSD * fusion.priorSD)
    let expected = (20.0 / 40 + 40.0 / 400 + fusion.priorAge * prior) / (1.0 / 40 + 1.0 / 400 + prior)
    XCTAssertEqual(try XCTUnwrap(fusion.fused).age, expected, accuracy: 1e-9)
    XCTAssertLessThan(expected, 24, "the sure estimate dominates")
    XCTAssertEqual(fusion.latest?.age, 40)
  }

  func testOneOverConfidentFrameCannotOutweighTheRest() throws {
    var fusion = EstimateFusion()
    for _ in 0..<4 { fusion.add(AgeGenderEstimate(age: 30, femaleProbability: 0.5, ageVariance: 36)) }
    fusion.add(AgeGenderEstimate(age: 60, femaleProbability: 0.5, ageVariance: 0.5))
    // The 0.5 years² claim counts as the floor (36): one frame among five.
    let prior = 1 / (fusion.priorSD * fusion.priorSD)
    let expected = (4 * 30.0 / 36 + 60.0 / 36 + fusion.priorAge * prior) / (5.0 / 36 + prior)
    XCTAssertEqual(try XCTUnwrap(fusion.fused).age, expected, accuracy: 1e-9)
    XCTAssertLessThan(expected, 37)
  }

  func testSmallFacesWeighLess() throws {
    XCTAssertEqual(EstimateFusion.reliability(faceWidth: 200), 1)
    XCTAssertEqual(EstimateFusion.reliability(faceWidth: 64), 1)
    XCTAssertEqual(EstimateFusion.reliability(faceWidth: 48), 0.25, accuracy: 1e-12)
    XCTAssertEqual(EstimateFusion.reliability(faceWidth: 20), EstimateFusion.minimumWeight)
    // A far face reads 10, then the same person close reads 35: the shown age
    // follows the close face, not the mean of the two.
    var fusion = EstimateFusion()
    fusion.add(AgeGenderEstimate(age: 10, femaleProbability: 0.9, ageVariance: 36),
      weight: EstimateFusion.reliability(faceWidth: 34))
    fusion.add(AgeGenderEstimate(age: 35, femaleProbability: 0.9, ageVariance: 36),
      weight: EstimateFusion.reliability(faceWidth: 70))
    let prior = 1 / (fusion.priorSD * fusion.priorSD), far = EstimateFusion.minimumWeight / 36
    let expected = (10 * far + 35.0 / 36 + fusion.priorAge * prior) / (far + 1.0 / 36 + prior)
    XCTAssertEqual(try XCTUnwrap(fusion.fused).age, expected, accuracy: 1e-9)
    XCTAssertGreaterThan(expected, 33, "unweighted, the far face would pull it to ~23")
    // Weights scale the gender evidence too: log-odds are a weighted mean, and
    // the evidence (sum of weights) sets the confidence.
    var gender = EstimateFusion()
    gender.add(AgeGenderEstimate(age: 30, femaleProbability: 0.9), weight: 1)
    gender.add(AgeGenderEstimate(age: 30, femaleProbability: 0.2), weight: 0.25)
    let mean = (logit(0.9) + 0.25 * logit(0.2)) / 1.25
    XCTAssertEqual(try XCTUnwrap(gender.fused).femaleProbability, sigmoid(mean * 1.25.squareRoot()), accuracy: 1e-9)
  }

  func testAgeGroupsAreVoted() throws {
    var fusion = EstimateFusion()
    for range in [25.0...32.0, 38.0...43.0, 25.0...32.0] {
      fusion.add(AgeGenderEstimate(age: (range.lowerBound + range.upperBound) / 2, ageRange: range, femaleProbability: 0.2))
    }
    XCTAssertEqual(try XCTUnwrap(fusion.fused).ageRange, 25.0...32.0)
  }
}

/// dlib's get_face_chip_details geometry, reproduced: landmarks → chip transform.
final class AlignmentGeometryTests: XCTestCase {
  func testSimilarityFitRecoversAKnownTransform() {
    // Landmarks = template under scale 120, rotation 10°, translation (50, 30).
    let angle = 10.0 * Double.pi / 180, scale = 120.0
    let (c, s) = (cos(angle) * scale, sin(angle) * scale)
    let points = LandmarkChipGeometry.template.map { (x: c * $0.x - s * $0.y + 50, y: s * $0.x + c * $0.y + 30) }
    let placement = LandmarkChipGeometry.placement(fitting: points)
    XCTAssertEqual(placement.originX, 50, accuracy: 1e-9)
    XCTAssertEqual(placement.originY, 30, accuracy: 1e-9)
    XCTAssertEqual(placement.xAxisX, c, accuracy: 1e-9)
    XCTAssertEqual(placement.xAxisY, s, accuracy: 1e-9)
    XCTAssertEqual(placement.yAxisX, -s, accuracy: 1e-9)
    XCTAssertEqual(placement.yAxisY, c, accuracy: 1e-9)
  }

  func testChipPixelsLandWhereDlibPutsTheTemplatePoints() {
    // dlib: template point p sits at chip pixel (p + padding) / (1 + 2 padding) * size.
    let points = LandmarkChipGeometry.template.map { (x: 200 + 90 * $0.x, y: 40 + 90 * $0.y) }
    let placement = LandmarkChipGeometry.placement(fitting: points)
    for (size, padding) in [(64, 0.2), (32, 0.2), (150, 0.25)] {
      let t = placement.chipTransform(size: size, padding: padding)
      for (p, image) in zip(LandmarkChipGeometry.template, points) {
        let u = (p.x + padding) / (1 + 2 * padding) * Double(size)
        let v = (p.y + padding) / (1 + 2 * padding) * Double(size)
        let mapped = t.apply(u, v)
        XCTAssertEqual(mapped.x, image.x, accuracy: 1e-9)
        XCTAssertEqual(mapped.y, image.y, accuracy: 1e-9)
      }
      // The whole chip spans the template square plus padding on each side.
      let corner = t.apply(Double(size), Double(size))
      XCTAssertEqual(corner.x, 200 + 90 * (1 + padding), accuracy: 1e-9)
      XCTAssertEqual(corner.y, 40 + 90 * (1 + padding), accuracy: 1e-9)
    }
  }

  func testNoisyLandmarksGiveTheLeastSquaresFit() {
    // Moving the outer eye corners apart symmetrically: no rotation, a slightly larger scale.
    var points = LandmarkChipGeometry.template.map { (x: 100 * $0.x, y: 100 * $0.y) }
    points[0].x += 2
    points[2].x -= 2
    let placement = LandmarkChipGeometry.placement(fitting: points)
    XCTAssertEqual(placement.xAxisY, 0, accuracy: 0.05)
    XCTAssertGreaterThan(placement.xAxisX, 100)
    XCTAssertLessThan(placement.xAxisX, 106)
  }
}

/// Detection and classification intervals with the real models, counted by
/// wrappers that forward to them.
final class IntervalTests: XCTestCase {
  final class CountingDetector: FaceDetector {
    let inner: any FaceDetector
    var calls = 0
    init(_ inner: any FaceDetector) { self.inner = inner }
    func detect(in image: ImageView, threshold: Double) throws -> [Detection] {
      calls += 1
      return try inner.detect(in: image, threshold: threshold)
    }
  }

  final class CountingClassifier: AgeGenderClassifier {
    let inner: any AgeGenderClassifier
    var faces = 0
    init(_ inner: any AgeGenderClassifier) { self.inner = inner }
    func classify(_ image: ImageView, faces boxes: [Box], landmarks: [[Point]]) throws -> [AgeGenderEstimate] {
      faces += boxes.count
      return try inner.classify(image, faces: boxes, landmarks: landmarks)
    }
  }

  func testDetectorAndClassifierRunOnlyAsOftenAsAsked() throws {
    try Fixtures.requireModels()
    let image = try Fixtures.image(Fixtures.astronautPath)
    let detector = CountingDetector(try Fixtures.detector())
    let classifier = CountingClassifier(try Fixtures.classifier())
    let analyzer = VideoFaceAnalyzer(detector: detector, classifier: classifier)
    let options = VideoAnalysisOptions(detectionInterval: 5, classificationInterval: 10)
    var ids: Set<UInt64> = []
    for _ in 0..<20 {
      let faces = try analyzer.process(image.view, options: options)
      XCTAssertEqual(faces.count, 1, "the face is reported on every frame, detected or tracked")
      ids.formUnion(faces.map(\.trackID))
    }
    XCTAssertEqual(detector.calls, 4, "frames 0, 5, 10, 15")
    XCTAssertEqual(classifier.faces, 6, "frames 0-4 (the new track's warm-up) and 15 (due on a detection frame)")
    XCTAssertEqual(ids, [1])

    // Every-frame mode does all the work every frame.
    let everyDetector = CountingDetector(try Fixtures.detector())
    let everyClassifier = CountingClassifier(try Fixtures.classifier())
    let every = VideoFaceAnalyzer(detector: everyDetector, classifier: everyClassifier)
    for _ in 0..<6 { _ = try every.process(image.view, options: VideoAnalysisOptions()) }
    XCTAssertEqual(everyDetector.calls, 6)
    XCTAssertEqual(everyClassifier.faces, 6)
  }

  /// A new track is classified on each of its first five frames, detection
  /// frames or not (its tracked box), and shows their fused estimate; then it is
  /// re-classified only on detection frames, every classification interval.
  func testANewTrackWarmsUpOnItsFirstFramesThenFollowsTheInterval() throws {
    try Fixtures.requireModels()
    let image = try Fixtures.image(Fixtures.astronautPath)
    let detector = CountingDetector(try Fixtures.detector())
    let classifier = CountingClassifier(try Fixtures.classifier())
    let analyzer = VideoFaceAnalyzer(detector: detector, classifier: classifier)
    let options = VideoAnalysisOptions(detectionInterval: 8, classificationInterval: 24)
    var classifiedAt: [Int] = []
    for frame in 0..<34 {
      let before = classifier.faces
      let faces = try analyzer.process(image.view, options: options)
      XCTAssertEqual(faces.count, 1, "frame \(frame)")
      if classifier.faces > before { classifiedAt.append(frame) }
    }
    XCTAssertEqual(classifiedAt, [0, 1, 2, 3, 4, 32], "warm-up on frames 0-4, then the first detection frame ≥ 24 frames on")
    XCTAssertEqual(detector.calls, 5, "frames 0, 8, 16, 24, 32: the warm-up does not detect")

    // One frame of warm-up is the old behaviour: classified on frame 0, then 24.
    let once = CountingClassifier(try Fixtures.classifier())
    let plain = VideoFaceAnalyzer(detector: try Fixtures.detector(), classifier: once)
    var onceAt: [Int] = []
    for frame in 0..<34 {
      let before = once.faces
      _ = try plain.process(image.view, options: VideoAnalysisOptions(detectionInterval: 8, classificationInterval: 24,
        warmupClassifications: 1))
      if once.faces > before { onceAt.append(frame) }
    }
    XCTAssertEqual(onceAt, [0, 24])
  }

  /// The image zoomed by `factor` about (cx, cy), nearest neighbour (BGR).
  private func zoomed(_ image: OwnedImage, factor: Double, cx: Double, cy: Double) -> PixelBuffer {
    let src = image.view
    let base = src.data.assumingMemoryBound(to: UInt8.self)
    var bytes = [UInt8](repeating: 0, count: image.width * image.height * 3)
    for y in 0..<image.height {
      for x in 0..<image.width {
        let sx = min(image.width - 1, max(0, Int(cx + (Double(x) - cx) / factor)))
        let sy = min(image.height - 1, max(0, Int(cy + (Double(y) - cy) / factor)))
        for c in 0..<3 { bytes[(y * image.width + x) * 3 + c] = base[sy * src.stride + sx * 3 + c] }
      }
    }
    return PixelBuffer(width: image.width, height: image.height, stride: image.width * 3, format: .bgr, bytes: bytes)
  }

  func testAGrowingFaceIsReclassifiedEarly() throws {
    try Fixtures.requireModels()
    let image = try Fixtures.image(Fixtures.astronautPath)
    let face = Fixtures.astronautFace
    let closer = zoomed(image, factor: 1.45, cx: face.centerX, cy: face.centerY)
    let classifier = CountingClassifier(try Fixtures.classifier())
    let analyzer = VideoFaceAnalyzer(detector: try Fixtures.detector(), classifier: classifier)
    let options = VideoAnalysisOptions(classificationInterval: 1000, warmupClassifications: 1)
    let first = try analyzer.process(image.view, options: options)
    _ = try analyzer.process(image.view, options: options)
    XCTAssertEqual(classifier.faces, 1, "not due again")
    let grown = try closer.withView { try analyzer.process($0, options: options) }
    XCTAssertEqual(grown.map(\.trackID), first.map(\.trackID), "same track")
    XCTAssertGreaterThan(try XCTUnwrap(grown.first).detection.box.width, try XCTUnwrap(first.first).detection.box.width * 1.3)
    XCTAssertEqual(classifier.faces, 2, "the box grew by more than 30%: classified again")
  }

  func testTrackingOffAnalysesEachFrameAlone() throws {
    try Fixtures.requireModels()
    let image = try Fixtures.image(Fixtures.astronautPath)
    let analyzer = VideoFaceAnalyzer(detector: try Fixtures.detector(), classifier: try Fixtures.classifier())
    var options = VideoAnalysisOptions(detectionInterval: 5)
    options.tracking = false
    for _ in 0..<3 {
      let faces = try analyzer.process(image.view, options: options)
      XCTAssertEqual(faces.count, 1)
      XCTAssertEqual(faces.first?.trackID, 0)
      XCTAssertNil(faces.first?.raw)
    }
  }
}

/// FrameSteps: stream frames elapsed between two timestamps.
final class FrameStepsTests: XCTestCase {
  func testElapsedFramesFromTimestamps() {
    let frame: Int64 = 40_000_000
    XCTAssertEqual(FrameSteps.elapsed(from: 0, to: 40_000_000, frameDuration: frame, maximum: 4), 1)
    // Reverse playback: one frame back is one frame.
    XCTAssertEqual(FrameSteps.elapsed(from: 400_000_000, to: 360_000_000, frameDuration: frame, maximum: 4), 1)
    // Two frames dropped: three frames of motion.
    XCTAssertEqual(FrameSteps.elapsed(from: 0, to: 120_000_000, frameDuration: frame, maximum: 4), 3)
    // Timing jitter rounds to the nearest frame; never less than one.
    XCTAssertEqual(FrameSteps.elapsed(from: 0, to: 45_000_000, frameDuration: frame, maximum: 4), 1)
    XCTAssertEqual(FrameSteps.elapsed(from: 0, to: 0, frameDuration: frame, maximum: 4), 1)
    // Larger gaps are capped (the element starts a new scene beyond them); unknown timestamps count one.
    XCTAssertEqual(FrameSteps.elapsed(from: 0, to: 2_000_000_000, frameDuration: frame, maximum: 4), 4)
    XCTAssertEqual(FrameSteps.elapsed(from: nil, to: 80_000_000, frameDuration: frame, maximum: 4), 1)
    XCTAssertEqual(FrameSteps.elapsed(from: 0, to: 80_000_000, frameDuration: 0, maximum: 4), 1)
  }
}
