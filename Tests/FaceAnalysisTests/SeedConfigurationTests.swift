import FaceAnalysis
import FaceImageFiles
import Foundation
import XCTest

/// The seed configuration of issue 3: OpenCV's Haar cascade detector and the
/// Levi & Hassner (2015) Adience age and gender nets, each also combined with
/// the default SSD detector / Cydral classifier. Real models (`make
/// models-levi-hassner`, Debian's opencv-data) and real images.
final class SeedConfigurationTests: XCTestCase {
  // MARK: fixtures

  static let leviHassnerWeights = ["age_net.caffemodel", "deploy_age.prototxt", "gender_net.caffemodel", "deploy_gender.prototxt"]

  /// Fails (naming the file and the make target) unless the Levi-Hassner manifests and weights are there.
  private func requireLeviHassner(file: StaticString = #filePath, line: UInt = #line) throws {
    var paths = ["levi-hassner-age.model", "levi-hassner-gender.model"].map { Fixtures.modelDirectory + "/" + $0 }
    paths += Self.leviHassnerWeights.map { Fixtures.modelDirectory + "/weights/" + $0 }
    for path in paths {
      let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
      if size == 0 {
        let message = "missing Levi-Hassner model file \(path): run make models-levi-hassner"
        XCTFail(message, file: file, line: line)
        throw Fixtures.MissingFixture(message: message)
      }
    }
  }

  private func requireCascade(file: StaticString = #filePath, line: UInt = #line) throws {
    try Fixtures.require(HaarFaceDetector.defaultCascadePath, "Haar cascade (Debian package opencv-data)", file: file, line: line)
  }

  // Loading costs ~0.5 s (two 45 MB Caffe nets); XCTest runs tests serially.
  nonisolated(unsafe) private static var cachedHaar: HaarFaceDetector?
  nonisolated(unsafe) private static var cachedLeviHassner: LeviHassnerClassifier?

  private func haar() throws -> HaarFaceDetector {
    try requireCascade()
    if let cached = Self.cachedHaar { return cached }
    let made = try HaarFaceDetector(cascadePath: HaarFaceDetector.defaultCascadePath)
    Self.cachedHaar = made
    return made
  }

  private func leviHassner() throws -> LeviHassnerClassifier {
    try requireLeviHassner()
    if let cached = Self.cachedLeviHassner { return cached }
    let made = try LeviHassnerClassifier(store: ModelStore(directory: Fixtures.modelDirectory))
    Self.cachedLeviHassner = made
    return made
  }

  private static let adienceGroups: [ClosedRange<Double>] = [0...2, 4...6, 8...12, 15...20, 25...32, 38...43, 48...53, 60...100]

  // MARK: Haar detector

  func testHaarDefaultsAreTheTutorials() throws {
    let detector = try haar()
    XCTAssertEqual(detector.scaleFactor, 1.1)
    XCTAssertEqual(detector.minNeighbors, 5)
    XCTAssertEqual(detector.minSize, 24)
    XCTAssertFalse(detector.equalizeHistogram)
    XCTAssertFalse(detector.levelWeightConfidence)
    XCTAssertEqual(detector.cascadePath, "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml")
  }

  func testHaarFindsTheAstronaut() throws {
    let image = try Fixtures.image(Fixtures.astronautPath)
    let faces = try haar().detect(in: image.view, threshold: 0.5)
    // Measured: one face, (177, 66) 95 x 95, IoU 0.86 with the known region.
    XCTAssertEqual(faces.count, 1, "\(faces)")
    guard let face = faces.max(by: { $0.box.iou(Fixtures.astronautFace) < $1.box.iou(Fixtures.astronautFace) }) else {
      return XCTFail("no face on astronaut.png")
    }
    XCTAssertGreaterThan(face.box.iou(Fixtures.astronautFace), 0.4, "\(face.box)")
    XCTAssertEqual(face.confidence, 1.0, "a cascade reports confidence 1")
    XCTAssertEqual(face.box.clipped(width: 512, height: 512), face.box)
  }

  func testHaarGivesTheSameFacesForEveryPixelFormat() throws {
    let image = try Fixtures.image(Fixtures.astronautPath)
    let detector = try haar()
    let reference = try detector.detect(in: image.view, threshold: 0)
    XCTAssertFalse(reference.isEmpty)
    for format in PixelFormat.allCases where format != .gray8 && format != .bgr {
      // Padded rows too: the stride is not width * bytes per pixel.
      let buffer = PixelBuffer.convert(image, to: format, stride: image.width * format.bytesPerPixel + 12)
      let faces = try buffer.withView { try detector.detect(in: $0, threshold: 0) }
      XCTAssertEqual(faces, reference, "\(format)")
    }
  }

  func testHaarLevelWeightConfidence() throws {
    let image = try Fixtures.image(Fixtures.astronautPath)
    let weighted = try HaarFaceDetector(levelWeightConfidence: true)
    let plain = try haar()
    // detectMultiScale3 finds the same boxes (ordered by confidence); only the confidence differs.
    let key: (Detection) -> [Double] = { [$0.box.x, $0.box.y, $0.box.width] }
    let a = try weighted.detect(in: image.view, threshold: 0)
    let b = try plain.detect(in: image.view, threshold: 0)
    XCTAssertEqual(a.map(\.box).sorted { key(Detection(box: $0, confidence: 0)).lexicographicallyPrecedes(key(Detection(box: $1, confidence: 0))) },
      b.map(\.box).sorted { key(Detection(box: $0, confidence: 0)).lexicographicallyPrecedes(key(Detection(box: $1, confidence: 0))) })
    // Measured: the astronaut's face passes the last stage by a margin of 8.8: confidence 0.87.
    XCTAssertEqual(a.count, 1)
    for face in a { XCTAssertTrue(face.confidence > 0.5 && face.confidence <= 1, "\(face)") }
    for (earlier, later) in zip(a, a.dropFirst()) { XCTAssertGreaterThanOrEqual(earlier.confidence, later.confidence) }
    XCTAssertEqual(HaarFaceDetector.confidence(levelWeight: HaarFaceDetector.levelWeightMidpoint), 0.5)
    XCTAssertLessThan(HaarFaceDetector.confidence(levelWeight: 0), 0.05)
    XCTAssertGreaterThan(HaarFaceDetector.confidence(levelWeight: 12), 0.95)
    XCTAssertLessThan(HaarFaceDetector.confidence(levelWeight: 1), HaarFaceDetector.confidence(levelWeight: 2))
    // The threshold filters mapped confidences (and nothing else).
    XCTAssertEqual(try weighted.detect(in: image.view, threshold: 1), [])
  }

  func testHaarSettingsChangeTheResult() throws {
    let image = try Fixtures.image(Fixtures.astronautPath)
    let detector = try HaarFaceDetector()
    detector.minSize = 200
    XCTAssertEqual(try detector.detect(in: image.view, threshold: 0), [], "the face is ~104 px")
    detector.minSize = 24
    detector.maxSize = 60
    XCTAssertTrue(try detector.detect(in: image.view, threshold: 0).allSatisfy { $0.box.width <= 60 })
    detector.maxSize = 0
    detector.scaleFactor = 1
    XCTAssertNotNil(assertFaceError(try detector.detect(in: image.view, threshold: 0)))
  }

  func testBadCascadeThrowsModelInvalidNamingIt() throws {
    let directory = try Fixtures.temporaryDirectory(for: self)
    var generator = SystemRandomNumberGenerator()
    let garbage = Data((0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) })
    let notXML = directory.appendingPathComponent("garbage.xml").path
    try garbage.write(to: URL(fileURLWithPath: notXML))
    // Well-formed OpenCV storage that is not a cascade: CascadeClassifier::load returns false.
    let notCascade = directory.appendingPathComponent("storage.xml").path
    try "<?xml version=\"1.0\"?>\n<opencv_storage>\n<answer>42</answer>\n</opencv_storage>\n"
      .write(toFile: notCascade, atomically: true, encoding: .utf8)
    let empty = directory.appendingPathComponent("empty.xml").path
    try Data().write(to: URL(fileURLWithPath: empty))
    for path in [notXML, notCascade, empty] {
      let error = assertFaceError(try HaarFaceDetector(cascadePath: path), path)
      guard case .modelInvalid(let named, _)? = error else {
        XCTFail("expected modelInvalid for \(path), got \(String(describing: error))")
        continue
      }
      XCTAssertEqual(named, path)
      XCTAssertTrue(error!.description.contains(path), error!.description)
    }
  }

  func testMissingCascadeThrowsNamingIt() throws {
    let path = try Fixtures.temporaryDirectory(for: self).appendingPathComponent("no-such-cascade.xml").path
    let error = assertFaceError(try HaarFaceDetector(cascadePath: path))
    guard case .modelMissing(let named, let hint)? = error else {
      return XCTFail("expected modelMissing, got \(String(describing: error))")
    }
    XCTAssertEqual(named, path)
    XCTAssertTrue(hint.contains("opencv-data"), hint)
    XCTAssertTrue(error!.description.contains(path), error!.description)
  }

  // MARK: Levi-Hassner classifier

  func testLeviHassnerManifests() throws {
    let store = ModelStore(directory: Fixtures.modelDirectory)
    let age = try store.manifest(named: LeviHassnerClassifier.defaultAgeModel)
    let gender = try store.manifest(named: LeviHassnerClassifier.defaultGenderModel)
    for m in [age, gender] {
      XCTAssertEqual(m.format, .caffe)
      XCTAssertEqual(m.group, "levi-hassner")
      XCTAssertEqual(m.inputWidth, 227)
      XCTAssertEqual(m.inputHeight, 227)
      XCTAssertFalse(m.rgb)
      XCTAssertEqual(m.mean, [78.4263377603, 87.7689143744, 114.895847746])
      XCTAssertEqual(m.scale, 1)
    }
    XCTAssertEqual(age.role, .age)
    XCTAssertEqual(age.ageGroups, Self.adienceGroups)
    XCTAssertEqual(gender.role, .gender)
    XCTAssertEqual(gender.labels, ["male", "female"], "the gender net answers male first")
  }

  func testMissingLeviHassnerWeightsNameTheFileAndTheMakeTarget() throws {
    // The real manifests, no weights.
    let directory = try Fixtures.temporaryDirectory(for: self)
    for name in ["levi-hassner-age.model", "levi-hassner-gender.model"] {
      try FileManager.default.copyItem(
        atPath: Fixtures.modelDirectory + "/" + name, toPath: directory.appendingPathComponent(name).path)
    }
    let error = assertFaceError(try LeviHassnerClassifier(store: ModelStore(directory: directory.path)))
    guard case .modelMissing(let path, let hint)? = error else {
      return XCTFail("expected modelMissing, got \(String(describing: error))")
    }
    XCTAssertTrue(path.hasSuffix("/weights/age_net.caffemodel"), path)
    XCTAssertTrue(hint.contains("make models-levi-hassner"), hint)
  }

  func testCropIsTheBoxPlusPaddingClipped() {
    let inside = LeviHassnerClassifier.crop(
      for: Box(x: 100, y: 50, width: 80, height: 90), padding: 20, imageWidth: 640, imageHeight: 480)
    XCTAssertEqual(inside, Box(x: 80, y: 30, width: 120, height: 130))
    let corner = LeviHassnerClassifier.crop(
      for: Box(x: 5, y: 400, width: 60, height: 70), padding: 20, imageWidth: 640, imageHeight: 480)
    XCTAssertEqual(corner, Box(x: 0, y: 380, width: 85, height: 100))
    // Stretched to 227 x 227 with pixel centres where cv::resize puts them:
    // the chip's outer edges are the crop's outer edges.
    let t = LeviHassnerClassifier.chipTransform(for: inside, width: 227, height: 227)
    let topLeft = t.apply(-0.5, -0.5), bottomRight = t.apply(226.5, 226.5)
    XCTAssertEqual(topLeft.x, 80 - 0.5, accuracy: 1e-9)
    XCTAssertEqual(topLeft.y, 30 - 0.5, accuracy: 1e-9)
    XCTAssertEqual(bottomRight.x, 200 - 0.5, accuracy: 1e-9)
    XCTAssertEqual(bottomRight.y, 160 - 0.5, accuracy: 1e-9)
    XCTAssertEqual(t.b, 0)
    XCTAssertEqual(t.d, 0)
  }

  func testLeviHassnerOnTheAstronaut() throws {
    let image = try Fixtures.image(Fixtures.astronautPath)
    guard let face = try Fixtures.detector().detect(in: image.view, threshold: 0.5).first else {
      return XCTFail("no face on astronaut.png")
    }
    let classifier = try leviHassner()
    XCTAssertEqual(classifier.padding, 20)
    let estimates = try classifier.classify(image.view, faces: [face.box])
    XCTAssertEqual(estimates.count, 1)
    guard let estimate = estimates.first else { return }
    // Measured (SSD box, 20 px padding): age group 25-32 (p 0.996), P(female) 0.0002.
    // The Adience gender net calls Eileen Collins (short hair, flight suit) male. That is
    // the net, not the pipeline: an independent C++ reproduction of the tutorial
    // (blobFromImage of the padded crop, swapRB false) gives P(female) 0.0001 here
    // (0.04 without padding, 0.07 with 40 px, 0.002 on the Haar box), while the same
    // classifier gets 38 of 54 labelled faces right (the wrong male/female order would
    // give 16). The Cydral nets say female (0.99).
    XCTAssertEqual(estimate.gender, .male)
    XCTAssertLessThan(estimate.femaleProbability, 0.01)
    XCTAssertTrue(Self.adienceGroups.contains(estimate.ageRange), "\(estimate.ageRange)")
    XCTAssertEqual(estimate.ageRange, 25...32, "an adult")
    XCTAssertEqual(estimate.age, 28.5, "the group's midpoint")
    XCTAssertTrue(estimate.ageRange.contains(estimate.age))
    let (ages, female) = try classifier.probabilities(image.view, faces: [face.box])
    XCTAssertEqual(ages[0].count, 8)
    XCTAssertEqual(ages[0].reduce(0, +), 1, accuracy: 1e-4, "softmax output")
    XCTAssertGreaterThan(ages[0][4], 0.9)
    XCTAssertEqual(female[0], estimate.femaleProbability)
    let mids = Self.adienceGroups.map { ($0.lowerBound + $0.upperBound) / 2 }
    let variance = zip(ages[0], mids).map { $0 * ($1 - 28.5) * ($1 - 28.5) }.reduce(0, +)
    XCTAssertEqual(estimate.ageVariance ?? -1, variance, accuracy: 1e-9)
    XCTAssertEqual(AnalyzedFace(detection: face, estimate: estimate).label, "Male, 25-32")
  }

  func testLeviHassnerClassifiesAllFacesInOneBatch() throws {
    let classifier = try leviHassner()
    // face_002.jpg shows two people (the SSD finds both).
    let image = try Fixtures.image(Fixtures.facesDirectory + "/face_002.jpg")
    let faces = try Fixtures.detector().detect(in: image.view, threshold: 0.5).map(\.box)
    XCTAssertEqual(faces.count, 2, "\(faces)")
    guard faces.count >= 2 else { return }
    let edge = Box(x: -30, y: 400, width: 90, height: 90)  // sticks out of the frame
    let boxes = faces + [edge]
    let together = try classifier.probabilities(image.view, faces: boxes)
    let reversed = try classifier.probabilities(image.view, faces: boxes.reversed())
    for (i, box) in boxes.enumerated() {
      let alone = try classifier.probabilities(image.view, faces: [box])
      for k in 0..<8 {
        XCTAssertEqual(together.age[i][k], alone.age[0][k], accuracy: 1e-4, "face \(i) group \(k)")
        XCTAssertEqual(reversed.age[boxes.count - 1 - i][k], alone.age[0][k], accuracy: 1e-4, "order, face \(i)")
      }
      XCTAssertEqual(together.female[i], alone.female[0], accuracy: 1e-4, "face \(i)")
      XCTAssertEqual(reversed.female[boxes.count - 1 - i], alone.female[0], accuracy: 1e-4, "order, face \(i)")
    }
    // The two people are really different inputs.
    let difference = zip(together.age[0], together.age[1]).map { abs($0 - $1) }.max() ?? 0
    XCTAssertGreaterThan(difference, 0.01)
    XCTAssertEqual(try classifier.classify(image.view, faces: []), [])
  }

  func testOneDetectorAndClassifierServeSeveralThreads() throws {
    let image = try Fixtures.image(Fixtures.astronautPath)
    let detector = try haar(), classifier = try leviHassner()
    let faces = try detector.detect(in: image.view, threshold: 0)
    let expected = try classifier.classify(image.view, faces: faces.map(\.box))
    let lock = NSLock()
    var results: [([Detection], [AgeGenderEstimate])] = []
    var failures: [String] = []
    let view = image.view
    DispatchQueue.concurrentPerform(iterations: 4) { _ in
      do {
        let found = try detector.detect(in: view, threshold: 0)
        let estimates = try classifier.classify(view, faces: found.map(\.box))
        lock.lock()
        results.append((found, estimates))
        lock.unlock()
      } catch {
        lock.lock()
        failures.append("\(error)")
        lock.unlock()
      }
    }
    XCTAssertEqual(failures, [])
    XCTAssertEqual(results.count, 4)
    for (found, estimates) in results {
      XCTAssertEqual(found, faces)
      XCTAssertEqual(estimates.count, expected.count)
      for (a, b) in zip(estimates, expected) {
        XCTAssertEqual(a.femaleProbability, b.femaleProbability, accuracy: 1e-4)
        XCTAssertEqual(a.ageRange, b.ageRange)
      }
    }
  }

  // MARK: combinations through FaceAnalyzer

  func testHaarWithCydral() throws {
    let image = try Fixtures.image(Fixtures.astronautPath)
    let analyzer = FaceAnalyzer(detector: try haar(), classifier: try Fixtures.classifier())
    let faces = try analyzer.analyze(image.view, options: AnalysisOptions())
    XCTAssertEqual(faces.count, 1)
    guard let face = faces.first else { return }
    XCTAssertGreaterThan(face.detection.box.iou(Fixtures.astronautFace), 0.4)
    // Measured on the Haar box: female 0.99996, age 35.3.
    XCTAssertEqual(face.estimate.gender, .female)
    XCTAssertTrue((20...50).contains(face.estimate.age), "\(face.estimate)")
    XCTAssertEqual(face.estimate.ageRange, face.estimate.age...face.estimate.age)
  }

  func testSSDWithLeviHassner() throws {
    let image = try Fixtures.image(Fixtures.astronautPath)
    let analyzer = FaceAnalyzer(detector: try Fixtures.detector(), classifier: try leviHassner())
    let faces = try analyzer.analyze(image.view, options: AnalysisOptions())
    XCTAssertEqual(faces.count, 1)
    guard let face = faces.first else { return }
    XCTAssertGreaterThan(face.detection.box.iou(Fixtures.astronautFace), 0.75)
    XCTAssertEqual(face.estimate.ageRange, 25...32)
    XCTAssertEqual(face.label, "Male, 25-32", "see testLeviHassnerOnTheAstronaut")
  }

  func testHaarWithLeviHassnerClassifiesEveryFaceInOneBatch() throws {
    // face_011.jpg: the cascade finds two boxes (measured), each classified as on its own.
    let image = try Fixtures.image(Fixtures.facesDirectory + "/face_011.jpg")
    let classifier = try leviHassner()
    let analyzer = FaceAnalyzer(detector: try haar(), classifier: classifier)
    let faces = try analyzer.analyze(image.view, options: AnalysisOptions())
    XCTAssertEqual(faces.count, 2, "\(faces)")
    let boxes = faces.map(\.detection.box)
    XCTAssertEqual(faces.map(\.estimate), try classifier.classify(image.view, faces: boxes))
    let together = try classifier.probabilities(image.view, faces: boxes)
    for (i, box) in boxes.enumerated() {
      let alone = try classifier.probabilities(image.view, faces: [box])
      for k in 0..<8 { XCTAssertEqual(together.age[i][k], alone.age[0][k], accuracy: 1e-4, "face \(i) group \(k)") }
      XCTAssertEqual(together.female[i], alone.female[0], accuracy: 1e-4, "face \(i)")
      XCTAssertTrue(Self.adienceGroups.contains(faces[i].estimate.ageRange))
    }
  }

  // MARK: figures on ../shared/testdata/faces

  private struct Label {
    var file: String
    var gender: Gender
    var ageMin: Double
    var ageMax: Double
  }

  private func labels() throws -> [Label] {
    let path = Fixtures.facesDirectory + "/labels.csv"
    try Fixtures.require(path, "labels")
    let lines = try String(contentsOfFile: path, encoding: .utf8).split(whereSeparator: \.isNewline)
    let header = lines[0].split(separator: ",").map(String.init)
    let file = header.firstIndex(of: "file")!, gender = header.firstIndex(of: "gender")!
    let lo = header.firstIndex(of: "age_min")!, hi = header.firstIndex(of: "age_max")!
    return lines.dropFirst().map { line in
      let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
      return Label(file: f[file], gender: f[gender] == "female" ? .female : .male, ageMin: Double(f[lo])!,
        ageMax: Double(f[hi])!)
    }
  }

  private struct Figures: CustomStringConvertible {
    var images = 0, detected = 0, genderRight = 0
    /// True age interval overlaps the predicted group (exact ages: lies inside it).
    var ageInGroup = 0
    var exact = 0, exactInGroup = 0
    var seconds = 0.0
    func rate(_ n: Int) -> String { String(format: "%.3f", Double(n) / Double(max(1, images))) }
    var description: String {
      "images \(images), detect_rate \(rate(detected)), gender_acc_all \(rate(genderRight)), "
        + "age_in_group_all \(rate(ageInGroup)) (exact ages \(exactInGroup)/\(exact)), "
        + String(format: "%.0f ms/image", 1000 * seconds / Double(max(1, images)))
    }
  }

  /// The eval tool's protocol: the face nearest the image centre answers for the image;
  /// an image without a face counts as wrong.
  private func figures(_ analyzer: FaceAnalyzer) throws -> Figures {
    var figures = Figures()
    for label in try labels() {
      let image = try Fixtures.image(Fixtures.facesDirectory + "/" + label.file)
      let start = Date()
      let faces = try analyzer.analyze(image.view, options: AnalysisOptions())
      figures.seconds += Date().timeIntervalSince(start)
      figures.images += 1
      let exact = label.ageMin == label.ageMax
      if exact { figures.exact += 1 }
      let cx = Double(image.width) / 2, cy = Double(image.height) / 2
      func d(_ f: AnalyzedFace) -> Double {
        let dx = f.detection.box.centerX - cx, dy = f.detection.box.centerY - cy
        return dx * dx + dy * dy
      }
      guard let face = faces.min(by: { d($0) < d($1) }) else { continue }
      figures.detected += 1
      if face.estimate.gender == label.gender { figures.genderRight += 1 }
      let range = face.estimate.ageRange
      if range.lowerBound <= label.ageMax && label.ageMin <= range.upperBound {
        figures.ageInGroup += 1
        if exact { figures.exactInGroup += 1 }
      }
    }
    return figures
  }

  /// Prints the seed configuration's figures (and the mixed ones) on the 54 labelled faces.
  func testSeedConfigurationFiguresOnLabelledFaces() throws {
    let seed = try figures(FaceAnalyzer(detector: try haar(), classifier: try leviHassner()))
    print("seed configuration (Haar + Levi-Hassner): \(seed)")
    let ssdLH = try figures(FaceAnalyzer(detector: try Fixtures.detector(), classifier: try leviHassner()))
    print("SSD + Levi-Hassner: \(ssdLH)")
    let haarCydral = try figures(FaceAnalyzer(detector: try haar(), classifier: try Fixtures.classifier()))
    print("Haar + Cydral: \(haarCydral)")
    XCTAssertEqual(seed.images, 54)
    // Measured: seed 36 detected, 25 genders right, 11 ages in the group; SSD + Levi-Hassner
    // 54, 38, 24; Haar + Cydral 36, 26 (its point ages rarely fall in a label's interval).
    // Floors under those: they catch a broken pipeline (channel order, the male-first gender
    // order, the crop), not small changes.
    XCTAssertGreaterThanOrEqual(seed.detected, 32)
    XCTAssertGreaterThanOrEqual(seed.genderRight, 21)
    XCTAssertGreaterThanOrEqual(seed.ageInGroup, 8)
    XCTAssertEqual(ssdLH.detected, 54)
    XCTAssertGreaterThanOrEqual(ssdLH.genderRight, 34)
    XCTAssertGreaterThanOrEqual(ssdLH.ageInGroup, 19)
    XCTAssertGreaterThanOrEqual(haarCydral.genderRight, 22)
  }
}
