/// A track that ended after lasting long enough to count as a person: when it
/// was in view, for how many frames, and its fused age and gender at the end.
///
/// Times are the stream's timestamps in nanoseconds (buffer PTS), nil when
/// the stream gives none.
public struct PersonTrack: Equatable, Sendable {
  public var trackID: UInt64
  public var firstPTS: UInt64?
  public var lastPTS: UInt64?
  /// Frames it was shown in (with a box), from its first to its last.
  public var frames: Int
  /// The track's fused estimate as last shown.
  public var age: Double
  /// The age range its frames' metadata carried (by default the calibrated
  /// ~80% interval; an age group's bounds with age-group classifiers).
  public var ageMin: Double
  public var ageMax: Double
  public var gender: Gender
  public var genderConfidence: Double
  /// Widest box of the track, in pixels of the analysed frame.
  public var maxFaceWidth: Int
  /// From its first frame's start to its last frame's end, in nanoseconds
  /// (0 without timestamps).
  public var dwell: UInt64
  /// The overlay's label as last shown ("Female, 34"; "Male, 25-32" for an age group).
  public var label: String

  public init(trackID: UInt64, firstPTS: UInt64?, lastPTS: UInt64?, frames: Int, age: Double, ageMin: Double,
    ageMax: Double, gender: Gender, genderConfidence: Double, maxFaceWidth: Int, dwell: UInt64, label: String) {
    self.trackID = trackID
    self.firstPTS = firstPTS
    self.lastPTS = lastPTS
    self.frames = frames
    self.age = age
    self.ageMin = ageMin
    self.ageMax = ageMax
    self.gender = gender
    self.genderConfidence = genderConfidence
    self.maxFaceWidth = maxFaceWidth
    self.dwell = dwell
    self.label = label
  }

  public var ageBracket: AgeBracket { AgeBracket(age: age) }
}

/// The age brackets of the audience summary: 0-12, 13-19, then decades to 60+.
public enum AgeBracket: Int, CaseIterable, Sendable {
  case upTo12 = 0, teens, twenties, thirties, forties, fifties, sixtyPlus

  /// The bracket of an age as the overlay shows it (rounded to whole years).
  public init(age: Double) {
    let years = age.isFinite ? Int(max(0, age).rounded()) : 0
    switch years {
    case ..<13: self = .upTo12
    case ..<20: self = .teens
    case ..<30: self = .twenties
    case ..<40: self = .thirties
    case ..<50: self = .forties
    case ..<60: self = .fifties
    default: self = .sixtyPlus
    }
  }

  /// "0-12", "13-19", ..., "60+": the keys of the summary.
  public var name: String {
    switch self {
    case .upTo12: "0-12"
    case .teens: "13-19"
    case .twenties: "20-29"
    case .thirties: "30-39"
    case .forties: "40-49"
    case .fifties: "50-59"
    case .sixtyPlus: "60+"
    }
  }

  public init?(name: String) {
    guard let found = Self.allCases.first(where: { $0.name == name }) else { return nil }
    self = found
  }
}
