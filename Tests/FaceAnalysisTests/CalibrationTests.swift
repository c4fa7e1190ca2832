import FaceAnalysis
import XCTest

/// The calibration maps (fitted on ../shared/testdata/tuning by
/// scripts/fit_calibration.py) and how the classifier and the fusion use them.
final class CalibrationTests: XCTestCase {
  func testGenderTemperatureSoftensConfidenceAndKeepsTheLabel() {
    let c = GenderCalibration(slope: 0.5, offset: 0)
    for logit in [-8.0, -2.0, -0.1, 0.1, 2.0, 8.0] {
      let raw = 1 / (1 + exp(-logit)), calibrated = c.femaleProbability(logOdds: logit, netAge: 30)
      XCTAssertEqual(calibrated >= 0.5, raw >= 0.5, "label kept at log-odds \(logit)")
      XCTAssertLessThan(abs(calibrated - 0.5), abs(raw - 0.5), "less sure at log-odds \(logit)")
    }
    XCTAssertEqual(
      GenderCalibration.identity.femaleProbability(logOdds: 2, netAge: 7), 1 / (1 + exp(-2)), accuracy: 1e-12)
  }

  /// The fitted gender calibration trusts the gender net less on children,
  /// where it leans female: a face the net calls weakly female is male at 4,
  /// female at 60; a face it is sure of keeps its label at every age.
  func testGenderCalibrationTrustsTheNetLessOnChildren() {
    for mode in ChipAugmentation.allCases {
      let c = mode.calibration.gender
      XCTAssertLessThan(c.femaleProbability(logOdds: 1.5, netAge: 4), 0.5, "\(mode)")
      XCTAssertGreaterThan(c.femaleProbability(logOdds: 1.5, netAge: 60), 0.5, "\(mode)")
      for age in stride(from: 0.0, through: 80, by: 5) {
        XCTAssertGreaterThan(c.femaleProbability(logOdds: 8, netAge: age), 0.75, "\(mode) at \(age)")
        XCTAssertLessThan(c.femaleProbability(logOdds: -8, netAge: age), 0.25, "\(mode) at \(age)")
        // Less sure the younger the face.
        XCTAssertLessThanOrEqual(
          c.femaleProbability(logOdds: 8, netAge: age), c.femaleProbability(logOdds: 8, netAge: age + 5), "\(mode)")
      }
      // The net's classes end at 80: older estimates are treated as 80.
      XCTAssertEqual(c.femaleProbability(logOdds: 2, netAge: 95), c.femaleProbability(logOdds: 2, netAge: 80))
    }
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
      for age in stride(from: 0.0, through: 80, by: 1) {
        let slope = c.gender.slope + c.gender.slopePerYear * age, offset = c.gender.offset + c.gender.offsetPerYear * age
        XCTAssertGreaterThan(slope, 0.2, "\(mode) at \(age)")
        XCTAssertLessThanOrEqual(slope, 1, "\(mode) at \(age): the nets are over-confident")
        // The threshold moves towards male for children, and never more than a
        // little towards female (balanced at 80: log-odds 0.14, 3.4 points).
        XCTAssertLessThanOrEqual(offset / slope, 0.16, "\(mode) at \(age)")
        if age <= 10 { XCTAssertLessThan(offset, 0, "\(mode) at \(age)") }
        // An old face the net gives 65% female or more keeps its label.
        if age >= 60 { XCTAssertLessThan(abs(offset / slope), log(0.65 / 0.35), "\(mode) at \(age)") }
      }
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
  /// the default mode's calibration applied to its uncalibrated answer (the
  /// gender map weighed by the age net's expected age over the mode's own
  /// age chips).
  func testClassifierAppliesTheCalibration() throws {
    try Fixtures.requireModels()
    let image = try Fixtures.image(Fixtures.astronautPath)
    let classifier = try CydralAgeGenderClassifier(store: ModelStore(directory: Fixtures.modelDirectory))
    classifier.augmentation = .defaultValue
    classifier.calibrated = false
    let raw = try XCTUnwrap(try classifier.classify(image.view, faces: [Fixtures.astronautFace]).first)
    XCTAssertNil(raw.ageInterval)
    XCTAssertEqual(raw.reportedAgeRange, raw.age...raw.age)
    classifier.calibrated = true
    let calibrated = try XCTUnwrap(try classifier.classify(image.view, faces: [Fixtures.astronautFace]).first)
    let c = ChipAugmentation.defaultValue.calibration
    XCTAssertEqual(calibrated.age, c.age.age(raw.age), accuracy: 1e-9)
    let interval = try XCTUnwrap(calibrated.ageInterval)
    XCTAssertEqual(interval, c.ageInterval.interval(around: calibrated.age))
    XCTAssertEqual(calibrated.reportedAgeRange, interval)
    let logit = log(raw.femaleProbability / (1 - raw.femaleProbability))
    XCTAssertEqual(
      calibrated.femaleProbability, c.gender.femaleProbability(logOdds: logit, netAge: raw.age), accuracy: 1e-6)
    XCTAssertEqual(calibrated.gender, raw.gender, "an adult the net is sure of keeps the label")
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
