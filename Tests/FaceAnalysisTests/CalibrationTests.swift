import FaceAnalysis
import XCTest

/// The calibration maps (fitted on ../shared/testdata/tuning by
/// scripts/fit_calibration.py) and how the classifier and the fusion use them.
final class CalibrationTests: XCTestCase {
  func testGenderTemperatureSoftensConfidenceAndKeepsTheLabel() {
    let c = GenderCalibration(slope: 0.5, offset: 0)
    for logit in [-8.0, -2.0, -0.1, 0.1, 2.0, 8.0] {
      let raw = 1 / (1 + exp(-logit)), calibrated = c.femaleProbability(logOdds: logit)
      XCTAssertEqual(calibrated >= 0.5, raw >= 0.5, "label kept at log-odds \(logit)")
      XCTAssertLessThan(abs(calibrated - 0.5), abs(raw - 0.5), "less sure at log-odds \(logit)")
    }
    XCTAssertEqual(GenderCalibration.identity.femaleProbability(logOdds: 2), 1 / (1 + exp(-2)), accuracy: 1e-12)
  }

  func testAgeMapGoesThroughItsKnotsWithSlopeOneBeyond() {
    let map = AgeCalibration(from: [2, 20, 60], to: [1, 18, 70])
    XCTAssertEqual(map.age(2), 1, accuracy: 1e-9)
    XCTAssertEqual(map.age(20), 18, accuracy: 1e-9)
    XCTAssertEqual(map.age(40), 44, accuracy: 1e-9)  // halfway between 18 and 70
    XCTAssertEqual(map.age(70), 80, accuracy: 1e-9)  // slope 1 beyond the last knot
    XCTAssertEqual(map.age(1.5), 0.5, accuracy: 1e-9)
    XCTAssertEqual(map.age(0), 0, "never negative")
  }

  func testIntervalIsABandInLogAgeAndRoundTrips() {
    let band = AgeIntervalCalibration(low: -0.3, high: 0.25)
    for age in [0.5, 3.0, 30.0, 75.0] {
      let interval = band.interval(around: age)
      XCTAssertLessThan(interval.lowerBound, age)
      XCTAssertGreaterThan(interval.upperBound, age)
      XCTAssertEqual(log1p(interval.upperBound) - log1p(age), 0.25, accuracy: 1e-9)
      let back = AgeIntervalCalibration(interval: interval, around: age)
      XCTAssertEqual(back.low, -0.3, accuracy: 1e-9)
      XCTAssertEqual(back.high, 0.25, accuracy: 1e-9)
    }
    // Wider in years for older faces, as the errors are.
    let young = band.interval(around: 5), old = band.interval(around: 60)
    XCTAssertGreaterThan(old.upperBound - old.lowerBound, 4 * (young.upperBound - young.lowerBound))
  }

  /// Every mode's fitted calibration is usable: a softening temperature, a
  /// monotone age map, and an 80% band that straddles the age.
  func testFittedCalibrationsAreSane() {
    for mode in ChipAugmentation.allCases {
      let c = mode.calibration
      XCTAssertGreaterThan(c.gender.slope, 0.2, "\(mode)")
      XCTAssertLessThanOrEqual(c.gender.slope, 1, "\(mode): the nets are over-confident")
      XCTAssertEqual(c.gender.offset, 0, "\(mode): calibration never changes a label")
      XCTAssertEqual(c.age.from, c.age.from.sorted(), "\(mode)")
      XCTAssertEqual(c.age.to, c.age.to.sorted(), "\(mode): monotone")
      var previous = -1.0
      for age in stride(from: 0.0, through: 90, by: 0.5) {
        let mapped = c.age.age(age)
        XCTAssertGreaterThanOrEqual(mapped, previous, "\(mode) at \(age)")
        previous = mapped
      }
      XCTAssertLessThan(c.ageInterval.low, 0, "\(mode)")
      XCTAssertGreaterThan(c.ageInterval.high, 0, "\(mode)")
    }
  }

  /// The classifier reports calibrated values: the same age map and band as
  /// the mode's calibration applied to its uncalibrated answer.
  func testClassifierAppliesTheCalibration() throws {
    try Fixtures.requireModels()
    let image = try Fixtures.image(Fixtures.astronautPath)
    let classifier = try CydralAgeGenderClassifier(store: ModelStore(directory: Fixtures.modelDirectory))
    classifier.augmentation = .mirror
    classifier.calibrated = false
    let raw = try XCTUnwrap(try classifier.classify(image.view, faces: [Fixtures.astronautFace]).first)
    XCTAssertNil(raw.ageInterval)
    XCTAssertEqual(raw.reportedAgeRange, raw.age...raw.age)
    classifier.calibrated = true
    let calibrated = try XCTUnwrap(try classifier.classify(image.view, faces: [Fixtures.astronautFace]).first)
    let c = ChipAugmentation.mirror.calibration
    XCTAssertEqual(calibrated.age, c.age.age(raw.age), accuracy: 1e-9)
    let interval = try XCTUnwrap(calibrated.ageInterval)
    XCTAssertEqual(interval, c.ageInterval.interval(around: calibrated.age))
    XCTAssertEqual(calibrated.reportedAgeRange, interval)
    let logit = log(raw.femaleProbability / (1 - raw.femaleProbability))
    XCTAssertEqual(calibrated.femaleProbability, c.gender.femaleProbability(logOdds: logit), accuracy: 1e-6)
    XCTAssertEqual(calibrated.gender, raw.gender)
  }

  /// Fusion averages the calibrated log-odds and reports the calibrated band
  /// around the fused age (its label stays a single age, not a group).
  func testFusionCarriesTheBandAroundTheFusedAge() throws {
    let band = AgeIntervalCalibration(low: -0.25, high: 0.2)
    var fusion = EstimateFusion()
    for age in [30.0, 34.0, 32.0] {
      fusion.add(AgeGenderEstimate(
        age: age, femaleProbability: 0.8, ageVariance: 40, ageInterval: band.interval(around: age)))
    }
    let fused = try XCTUnwrap(fusion.fused)
    let interval = try XCTUnwrap(fused.ageInterval)
    XCTAssertEqual(interval.lowerBound, band.interval(around: fused.age).lowerBound, accuracy: 1e-9)
    XCTAssertEqual(interval.upperBound, band.interval(around: fused.age).upperBound, accuracy: 1e-9)
    XCTAssertEqual(fused.ageRange, fused.age...fused.age, "no age group: the label shows one age")
    XCTAssertEqual(AnalyzedFace(detection: Detection(box: Box(x: 0, y: 0, width: 10, height: 10), confidence: 1),
      estimate: fused).label, "Female, \(Int(fused.age.rounded()))")
  }
}
