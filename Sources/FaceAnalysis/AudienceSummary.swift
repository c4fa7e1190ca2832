/// The audience of a stream so far: people counted (tracks that became
/// `PersonTrack`s), by gender and by age bracket, and how long they stayed.
/// Added to one person at a time, so a long stream keeps no list.
public struct AudienceSummary: Equatable, Sendable {
  /// People in one age bracket, and by gender.
  public struct BracketCount: Equatable, Sendable {
    public var bracket: AgeBracket
    public var female = 0
    public var male = 0
    public var people: Int { female + male }

    public init(bracket: AgeBracket, female: Int = 0, male: Int = 0) {
      self.bracket = bracket
      self.female = female
      self.male = male
    }
  }

  public private(set) var people = 0
  public private(set) var female = 0
  public private(set) var male = 0
  /// One entry per `AgeBracket`, in order.
  public private(set) var brackets = AgeBracket.allCases.map { BracketCount(bracket: $0) }
  /// Mean and longest dwell time of the people, in nanoseconds (0 with nobody).
  public private(set) var meanDwell: UInt64 = 0
  public private(set) var maxDwell: UInt64 = 0
  private var totalDwell = 0.0

  public init() {}

  /// A summary as read back (from a message or a JSON line).
  public init(female: Int, male: Int, brackets: [BracketCount], meanDwell: UInt64, maxDwell: UInt64) {
    self.people = female + male
    self.female = female
    self.male = male
    for entry in brackets { self.brackets[entry.bracket.rawValue] = entry }
    self.meanDwell = meanDwell
    self.maxDwell = maxDwell
    totalDwell = Double(meanDwell) * Double(people)
  }

  public mutating func add(_ person: PersonTrack) {
    people += 1
    let bracket = person.ageBracket.rawValue
    switch person.gender {
    case .female:
      female += 1
      brackets[bracket].female += 1
    case .male:
      male += 1
      brackets[bracket].male += 1
    }
    totalDwell += Double(person.dwell)
    meanDwell = UInt64((totalDwell / Double(people)).rounded())
    maxDwell = max(maxDwell, person.dwell)
  }

  /// Equal counts and dwell times (the running total behind the mean is not compared).
  public static func == (a: Self, b: Self) -> Bool {
    a.people == b.people && a.female == b.female && a.male == b.male && a.brackets == b.brackets
      && a.meanDwell == b.meanDwell && a.maxDwell == b.maxDwell
  }
}
