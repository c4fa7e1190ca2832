import Glibc

/// Maps the gender net's female log-odds z to a calibrated probability, given
/// the age net's expected age a of the same face (years, before the age map):
/// p = sigmoid((slope + slopePerYear * a) * z + offset + offsetPerYear * a).
/// The nets are over-confident (on the tuning set faces they gave 0.99 were
/// right 94% of the time), the gender net most of all on children, where it
/// also leans female: so its log-odds weigh less and the threshold moves
/// towards male the younger the face. Fitted by maximum likelihood on
/// ../shared/testdata/tuning (`scripts/fit_calibration.py`; figures and the
/// cross-validation in docs/accuracy.md). With the per-year terms at 0 it is
/// Platt scaling; with `offset` 0 too, temperature scaling (no label changes).
public struct GenderCalibration: Equatable, Sendable {
  public var slope: Double
  public var slopePerYear: Double
  public var offset: Double
  public var offsetPerYear: Double

  public init(slope: Double, slopePerYear: Double = 0, offset: Double, offsetPerYear: Double = 0) {
    self.slope = slope
    self.slopePerYear = slopePerYear
    self.offset = offset
    self.offsetPerYear = offsetPerYear
  }

  public static let identity = GenderCalibration(slope: 1, offset: 0)

  /// `netAge`: the age net's expected age (uncalibrated), clamped to the
  /// range the fit saw (the net's classes are 0-80).
  public func femaleProbability(logOdds: Double, netAge: Double) -> Double {
    let a = min(80, max(0, netAge))
    return 1 / (1 + exp(-((slope + slopePerYear * a) * logOdds + offset + offsetPerYear * a)))
  }
}

/// An age interval meant to hold the true age of ~80% of faces: a fixed band
/// around the estimate in log(1 + age), where the nets' errors are about the
/// same size at every age (in years they grow with it: MAE 1.4 at 0-2, 12 at
/// 70+). `low`/`high` are the 10th and 90th percentiles of
/// log(1 + true) - log(1 + estimate) on the tuning set.
public struct AgeIntervalCalibration: Equatable, Sendable {
  public var low: Double
  public var high: Double

  public init(low: Double, high: Double) {
    self.low = low
    self.high = high
  }

  /// The band that `interval` is around `age` (its inverse).
  public init(interval: ClosedRange<Double>, around age: Double) {
    low = log1p(max(0, interval.lowerBound)) - log1p(max(0, age))
    high = log1p(max(0, interval.upperBound)) - log1p(max(0, age))
  }

  public func interval(around age: Double) -> ClosedRange<Double> {
    let base = log1p(max(0, age))
    let lower = max(0, expm1(base + low)), upper = max(lower, expm1(base + high))
    return lower...upper
  }
}

/// Maps the age net's expected age to a calibrated age: a monotone
/// piecewise-linear map through (`from[k]`, `to[k]`), the medians of the
/// estimated and of the true ages in equal-count bins of the estimate on the
/// tuning set (the median minimises the absolute error); beyond the ends, slope 1.
/// The expected value over the net's 81 classes is pulled towards the middle:
/// faces over 60 read ~10 years young, young children a little old.
public struct AgeCalibration: Equatable, Sendable {
  public var from: [Double]
  public var to: [Double]

  public init(from: [Double], to: [Double]) {
    precondition(from.count == to.count && !from.isEmpty, "one target per knot")
    self.from = from
    self.to = to
  }

  public static let identity = AgeCalibration(from: [0], to: [0])

  public func age(_ estimate: Double) -> Double {
    guard let first = from.first, let last = from.last else { return estimate }
    if estimate <= first { return max(0, to[0] + (estimate - first)) }
    if estimate >= last { return to[to.count - 1] + (estimate - last) }
    var k = 1
    while from[k] < estimate { k += 1 }
    let t = (estimate - from[k - 1]) / max(1e-9, from[k] - from[k - 1])
    return to[k - 1] + t * (to[k] - to[k - 1])
  }
}

/// The calibrations of one augmentation mode (averaging over chips sharpens
/// or softens the nets' outputs, so each mode has its own fit).
public struct Calibration: Equatable, Sendable {
  public var gender: GenderCalibration
  public var age: AgeCalibration
  /// Around the calibrated age.
  public var ageInterval: AgeIntervalCalibration

  public init(gender: GenderCalibration, age: AgeCalibration, ageInterval: AgeIntervalCalibration) {
    self.gender = gender
    self.age = age
    self.ageInterval = ageInterval
  }
}
