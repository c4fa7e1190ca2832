import FaceAnalysis
import XCTest

/// People from the faces shown frame after frame: a track ends by loss (unseen
/// for more than maxMissed frames), at a new scene or at end of stream; short
/// tracks are not people; the summary counts genders, brackets and dwell.
/// (Counting logic on given faces; the real pipelines are in AudienceTests.)
final class AudienceCounterTests: XCTestCase {
  static let frameNs: UInt64 = 40_000_000

  private func face(_ id: UInt64, width: Double = 60, age: Double = 30, female: Double = 0.9) -> AnalyzedFace {
    AnalyzedFace(
      detection: Detection(box: Box(x: 10, y: 10, width: width, height: width), confidence: 0.9),
      estimate: AgeGenderEstimate(age: age, femaleProbability: female), trackID: id)
  }

  private func observe(_ counter: inout AudienceCounter, _ frame: Int, _ faces: [AnalyzedFace]) -> [PersonTrack] {
    counter.observe(faces, pts: UInt64(frame) * Self.frameNs, duration: Self.frameNs)
  }

  func testATrackEndsWhenUnseenForMoreThanMaxMissedFrames() {
    var counter = AudienceCounter(minTrackFrames: 3, maxMissed: 4)
    var ended: [PersonTrack] = []
    for frame in 0..<10 { ended += observe(&counter, frame, [face(7, width: 40 + Double(frame), age: 20 + Double(frame))]) }
    XCTAssertTrue(ended.isEmpty)
    // Unseen on frames 10...13 (4 = maxMissed): still open; the 5th frame unseen ends it.
    for frame in 10..<14 { XCTAssertTrue(observe(&counter, frame, []).isEmpty, "ended early at frame \(frame)") }
    XCTAssertEqual(counter.openTracks, 1)
    ended = observe(&counter, 14, [])
    XCTAssertEqual(ended.count, 1)
    let person = ended[0]
    XCTAssertEqual(person.trackID, 7)
    XCTAssertEqual(person.frames, 10)
    XCTAssertEqual(person.firstPTS, 0)
    XCTAssertEqual(person.lastPTS, 9 * Self.frameNs)
    XCTAssertEqual(person.dwell, 10 * Self.frameNs, "first frame's start to last frame's end")
    XCTAssertEqual(person.maxFaceWidth, 49)
    XCTAssertEqual(person.age, 29, "the estimate last shown (the fused one)")
    XCTAssertEqual(person.gender, .female)
    XCTAssertEqual(person.genderConfidence, 0.9, accuracy: 1e-9)
    XCTAssertEqual(counter.openTracks, 0)
    XCTAssertEqual(counter.summary.people, 1)
  }

  /// age-min..age-max of a person are what the frames' metadata report: the
  /// calibrated interval when the estimate has one, else the classifier's range.
  func testAPersonsAgeRangeIsTheIntervalTheMetadataReports() {
    var counter = AudienceCounter(minTrackFrames: 1, maxMissed: 4)
    let calibrated = AnalyzedFace(
      detection: Detection(box: Box(x: 10, y: 10, width: 50, height: 50), confidence: 0.9),
      estimate: AgeGenderEstimate(age: 31, femaleProbability: 0.2, ageInterval: 24...39), trackID: 1)
    let grouped = AnalyzedFace(
      detection: Detection(box: Box(x: 90, y: 10, width: 50, height: 50), confidence: 0.9),
      estimate: AgeGenderEstimate(age: 28.5, ageRange: 25...32, femaleProbability: 0.8), trackID: 2)
    _ = observe(&counter, 0, [calibrated, grouped])
    let people = counter.endAll()
    XCTAssertEqual(people.map(\.trackID), [1, 2])
    XCTAssertEqual(people[0].ageMin, 24)
    XCTAssertEqual(people[0].ageMax, 39)
    XCTAssertEqual(people[1].ageMin, 25)
    XCTAssertEqual(people[1].ageMax, 32)
    // The label stays the overlay's: the point age, or the age group.
    XCTAssertEqual(people.map(\.label), ["Male, 31", "Female, 25-32"])
  }

  func testAFaceBackWithinMaxMissedKeepsItsTrack() {
    var counter = AudienceCounter(minTrackFrames: 1, maxMissed: 4)
    var ended: [PersonTrack] = []
    for frame in 0..<5 { ended += observe(&counter, frame, [face(1)]) }
    for frame in 5..<9 { ended += observe(&counter, frame, []) }  // 4 frames unseen
    for frame in 9..<12 { ended += observe(&counter, frame, [face(1)]) }
    XCTAssertTrue(ended.isEmpty)
    ended = counter.endAll()
    XCTAssertEqual(ended.map(\.frames), [8], "frames counts the frames it was shown in")
    XCTAssertEqual(ended.first?.dwell, 12 * Self.frameNs)
  }

  func testGapsCountTheFramesThatPassed() {
    var counter = AudienceCounter(minTrackFrames: 1, maxMissed: 4)
    _ = observe(&counter, 0, [face(1)])
    // One call covering 5 stream frames (a gap): more than maxMissed unseen.
    XCTAssertEqual(counter.observe([], pts: 5 * Self.frameNs, duration: Self.frameNs, elapsedFrames: 5).count, 1)
  }

  func testTracksShorterThanMinTrackFramesAreNotPeople() {
    var counter = AudienceCounter(minTrackFrames: 5, maxMissed: 0)
    var ended: [PersonTrack] = []
    for frame in 0..<4 { ended += observe(&counter, frame, [face(1), face(2)] + (frame < 3 ? [] : [face(3)])) }
    ended += observe(&counter, 4, [face(2)])  // 1 and 3 end: 4 and 1 frames
    XCTAssertTrue(ended.isEmpty, "short tracks reported: \(ended)")
    ended += counter.endAll()
    XCTAssertEqual(ended.map(\.trackID), [2])
    XCTAssertEqual(counter.summary.people, 1, "short tracks are not in the summary either")
  }

  func testEndAllReportsEveryOpenTrackByIdAndUntrackedFacesAreIgnored() {
    var counter = AudienceCounter(minTrackFrames: 1, maxMissed: 100)
    for frame in 0..<3 { _ = observe(&counter, frame, [face(9), face(4), face(0)]) }
    XCTAssertEqual(counter.openTracks, 2, "id 0 (tracking off) is not a track")
    XCTAssertEqual(counter.endAll().map(\.trackID), [4, 9])
    XCTAssertTrue(counter.endAll().isEmpty)
  }

  func testSummaryByGenderBracketAndDwell() {
    var counter = AudienceCounter(minTrackFrames: 1, maxMissed: 100)
    // id: (age, female probability, frames)
    let people: [(UInt64, Double, Double, Int)] = [
      (1, 8, 0.8, 2), (2, 12.4, 0.2, 4), (3, 12.6, 0.7, 6), (4, 29.4, 0.1, 8), (5, 61, 0.95, 10),
    ]
    for (id, age, female, frames) in people {
      for frame in 0..<frames { _ = observe(&counter, frame, [face(id, age: age, female: female)]) }
    }
    let ended = counter.endAll()
    XCTAssertEqual(ended.count, 5)
    let s = counter.summary
    XCTAssertEqual(s.people, 5)
    XCTAssertEqual(s.female, 3)
    XCTAssertEqual(s.male, 2)
    let byName = Dictionary(uniqueKeysWithValues: s.brackets.map { ($0.bracket.name, ($0.female, $0.male)) })
    XCTAssertEqual(s.brackets.map(\.bracket.name), ["0-12", "13-19", "20-29", "30-39", "40-49", "50-59", "60+"])
    XCTAssertEqual(byName["0-12"]?.0, 1)
    XCTAssertEqual(byName["0-12"]?.1, 1, "12.4 rounds to 12")
    XCTAssertEqual(byName["13-19"]?.0, 1, "12.6 rounds to 13")
    XCTAssertEqual(byName["20-29"]?.1, 1)
    XCTAssertEqual(byName["60+"]?.0, 1)
    XCTAssertEqual(s.brackets.map(\.people).reduce(0, +), 5)
    XCTAssertEqual(s.maxDwell, 10 * Self.frameNs)
    XCTAssertEqual(s.meanDwell, 6 * Self.frameNs, "(2 + 4 + 6 + 8 + 10) / 5 frames")
  }

  func testAgeBracketsAtTheirEdges() {
    let cases: [(Double, String)] = [
      (0, "0-12"), (12.49, "0-12"), (12.5, "13-19"), (19.4, "13-19"), (19.5, "20-29"), (39.6, "40-49"),
      (59.49, "50-59"), (59.5, "60+"), (95, "60+"), (-3, "0-12"), (.nan, "0-12"),
    ]
    for (age, name) in cases { XCTAssertEqual(AgeBracket(age: age).name, name, "age \(age)") }
    for bracket in AgeBracket.allCases { XCTAssertEqual(AgeBracket(name: bracket.name), bracket) }
    XCTAssertNil(AgeBracket(name: "70+"))
  }
}
