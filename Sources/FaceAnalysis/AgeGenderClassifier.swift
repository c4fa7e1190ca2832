public enum Gender: String, Sendable {
  case female, male
}

/// One face's age and gender estimate.
public struct AgeGenderEstimate: Equatable, Sendable {
  /// Age in years (an expected value, or a group's representative age).
  public var age: Double
  /// The age range the classifier answers with (a single point for regressed ages).
  public var ageRange: ClosedRange<Double>
  /// Probability that the face is female, 0...1.
  public var femaleProbability: Double
  /// Variance (years²) of the net's age distribution around `age`, when it gives
  /// one: how sure this single estimate is (fusion weighs frames by it).
  public var ageVariance: Double?
  /// An interval around `age` that held the true age of ~80% of the tuning
  /// set's faces (`AgeIntervalCalibration`), when the classifier is calibrated.
  public var ageInterval: ClosedRange<Double>?

  public init(
    age: Double, ageRange: ClosedRange<Double>? = nil, femaleProbability: Double, ageVariance: Double? = nil,
    ageInterval: ClosedRange<Double>? = nil
  ) {
    self.age = age
    self.ageRange = ageRange ?? age...age
    self.femaleProbability = femaleProbability
    self.ageVariance = ageVariance
    self.ageInterval = ageInterval
  }

  /// What the metadata reports as age-min..age-max: the calibrated interval,
  /// else the classifier's range (an age group, or the point estimate).
  public var reportedAgeRange: ClosedRange<Double> { ageInterval ?? ageRange }

  public var gender: Gender { femaleProbability >= 0.5 ? .female : .male }

  /// The overlay's label, e.g. "Female, 34" (or "Male, 25-32" for age groups).
  public var label: String {
    let name = gender == .female ? "Female" : "Male"
    if ageRange.lowerBound < ageRange.upperBound {
      return "\(name), \(Int(ageRange.lowerBound.rounded()))-\(Int(ageRange.upperBound.rounded()))"
    }
    return "\(name), \(Int(age.rounded()))"
  }
  /// Probability of the reported gender, 0.5...1.
  public var genderConfidence: Double { max(femaleProbability, 1 - femaleProbability) }
}

/// Estimates age and gender for every face of an image, in one batch per network.
/// Implementations: `CydralAgeGenderClassifier` (default); the Levi & Hassner
/// Caffe nets slot in behind the same protocol.
public protocol AgeGenderClassifier: AnyObject {
  /// `landmarks[i]`: face i's five detector landmarks (`Detection.landmarks`),
  /// empty for a face without; `landmarks` may be empty for all faces.
  func classify(_ image: ImageView, faces: [Box], landmarks: [[Point]]) throws -> [AgeGenderEstimate]
}

extension AgeGenderClassifier {
  /// Faces known by their boxes alone.
  public func classify(_ image: ImageView, faces: [Box]) throws -> [AgeGenderEstimate] {
    try classify(image, faces: faces, landmarks: [])
  }
}
