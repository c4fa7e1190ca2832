#if canImport(Glibc)
  import Glibc
#endif

/// Fuses a track's per-frame age and gender estimates into one steadier estimate.
///
/// Gender: the mean of the frames' log-odds decides the label, with hysteresis
/// (the shown label changes only when the fused probability passes
/// `switchMargin` the other way), and the confidence grows with the evidence:
/// sigmoid(|mean log-odds| * sqrt(n)), n capped at `evidenceCap` so a long
/// track does not become absolutely certain. Age: a precision-weighted mean of
/// the frames' expected ages (each weighted by the inverse variance of its age
/// distribution, so a blurred or tiny face that gives a broad distribution
/// counts less), starting from a weak prior (`priorAge` ± `priorSD` years) so
/// the first, least certain frames do not swing the shown age. Age groups
/// (classifiers that answer with a range) are voted.
///
/// The frames' female probabilities are the classifier's calibrated ones
/// (`GenderCalibration`), so the mean log-odds and the confidence built on them
/// are too; the age interval is the calibrated band around the fused age.
///
/// Each frame also carries a weight in (0, 1], its reliability (small faces get
/// less: `reliability(faceWidth:)`), which scales both its log-odds and its age
/// precision. A variance floor (`minimumVariance`) keeps one over-confident
/// frame from outweighing the rest: the nets' distributions are sharpest on
/// some of their worst answers.
public struct EstimateFusion: Sendable {
  public private(set) var count = 0
  /// Sum of the frames' weights (the evidence behind the gender confidence).
  private var totalWeight = 0.0
  private var meanLogit = 0.0
  private var weightedAges = 0.0
  private var totalPrecision = 0.0
  private var groupVotes: [ClosedRange<Double>: Double] = [:]
  private var shownFemale: Bool?
  public var switchMargin = 0.1
  public var evidenceCap = 16
  public var priorAge = 33.0
  public var priorSD = 15.0
  /// Variance assumed for estimates that give none (years²).
  public var defaultVariance = 64.0
  /// Smallest variance a frame may claim (years²).
  public var minimumVariance = 36.0
  /// Face widths (pixels in the frame) between which a frame's weight rises
  /// from `minimumWeight` to 1: the age chip is 64 px, and faces under ~40 px
  /// read years younger (measured on the shared walking clips).
  public static let reliableWidths = (low: 32.0, high: 64.0)
  public static let minimumWeight = 0.05

  /// A frame's weight for a face of this width: quadratic in the width between
  /// `reliableWidths` (the pixels the net sees grow with the square).
  public static func reliability(faceWidth: Double) -> Double {
    let (low, high) = reliableWidths
    let t = min(1, max(0, (faceWidth - low) / (high - low)))
    return max(minimumWeight, t * t)
  }
  /// The latest per-frame estimate (kept for the metadata's raw values).
  public private(set) var latest: AgeGenderEstimate?

  public init() {}

  public mutating func add(_ estimate: AgeGenderEstimate, weight: Double = 1) {
    let w = min(1, max(Self.minimumWeight, weight.isFinite ? weight : 1))
    count += 1
    totalWeight += w
    latest = estimate
    let p = min(max(estimate.femaleProbability, 1e-4), 1 - 1e-4)
    let logit = log(p / (1 - p))
    meanLogit += (logit - meanLogit) * w / totalWeight
    let precision = w / max(minimumVariance, estimate.ageVariance ?? defaultVariance)
    weightedAges += estimate.age * precision
    totalPrecision += precision
    if estimate.ageRange.lowerBound < estimate.ageRange.upperBound {
      groupVotes[estimate.ageRange, default: 0] += w
    }
    let fusedFemale = 1 / (1 + exp(-meanLogit))
    if let shown = shownFemale {
      if shown && fusedFemale < 0.5 - switchMargin { shownFemale = false }
      if !shown && fusedFemale > 0.5 + switchMargin { shownFemale = true }
    } else {
      shownFemale = fusedFemale >= 0.5
    }
  }

  /// The fused estimate, or nil before any frame was added.
  public var fused: AgeGenderEstimate? {
    guard count > 0, let shownFemale else { return nil }
    let n = min(totalWeight, Double(evidenceCap))
    let confidence = 1 / (1 + exp(-abs(meanLogit) * n.squareRoot()))
    // Keep the shown label and its confidence consistent: under hysteresis the
    // mean can sit just across 0.5 while the label has not switched yet.
    let agrees = (meanLogit >= 0) == shownFemale
    // Just on the shown side of 0.5 while the mean waits across it.
    let labelProbability = agrees ? max(confidence, 0.5 + 1e-6) : 0.5 + 1e-6
    let female = shownFemale ? labelProbability : 1 - labelProbability
    let range = groupVotes.max { $0.value < $1.value }?.key
    let priorPrecision = 1 / (priorSD * priorSD)
    let age = (weightedAges + priorAge * priorPrecision) / (totalPrecision + priorPrecision)
    // The calibrated interval is a fixed band around the age in log(1 + age)
    // (AgeIntervalCalibration): the latest frame's band, around the fused age.
    let interval = latest.flatMap { e in e.ageInterval.map { AgeIntervalCalibration(interval: $0, around: e.age) } }
    return AgeGenderEstimate(
      age: age, ageRange: range ?? age...age, femaleProbability: female,
      ageInterval: interval?.interval(around: age))
  }
}
