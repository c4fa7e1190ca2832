import AgeGenderMeta
import XCTest

/// The stability rule on the three shared clips, with default settings (the
/// same figures `agegender-stability` prints): every track of at least 10
/// frames shows no gender flip and an age standard deviation of at most 3
/// years, no person gets a second id, and each person is followed through
/// (nearly) the whole clip.
final class StabilityTests: XCTestCase {
  override func setUpWithError() throws { try Fixtures.setUp() }

  struct TrackFigures {
    var frames = 0
    var flips = 0
    var ages: [Double] = []
    var lastGender = ""
    var ageSD: Double {
      let mean = ages.reduce(0, +) / Double(max(1, ages.count))
      return (ages.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(max(1, ages.count))).squareRoot()
    }
  }

  /// The clip's tracks with defaults, after checking the rule on those of ≥ 10 frames.
  private func steadyTracks(_ clip: String) throws -> [UInt64: TrackFigures] {
    let video = try Fixtures.video(clip)
    let (frames, _) = try PipelineRun.collect(
      "filesrc location=\(video) ! decodebin ! videoconvert ! agegender draw=false ! appsink name=sink sync=false")
    var tracks: [UInt64: TrackFigures] = [:]
    for frame in frames {
      for face in frame.faces ?? [] {
        var t = tracks[face.trackID] ?? TrackFigures()
        t.frames += 1
        if !t.lastGender.isEmpty && t.lastGender != face.gender { t.flips += 1 }
        t.lastGender = face.gender
        t.ages.append(face.age)
        tracks[face.trackID] = t
      }
    }
    for (id, t) in tracks.sorted(by: { $0.key < $1.key }) {
      print(String(format: "stability %@: track %llu, %d frames, %d flips, age SD %.2f", clip, id, t.frames, t.flips, t.ageSD))
    }
    for (id, t) in tracks where t.frames >= 10 {
      XCTAssertEqual(t.flips, 0, "\(clip): track \(id) flipped its gender")
      XCTAssertLessThanOrEqual(t.ageSD, 3, "\(clip): track \(id) age SD \(t.ageSD) years")
    }
    return tracks
  }

  func testHeadPoseClip() throws {
    let tracks = try steadyTracks("head-pose-face-detection-female-and-male.mp4")
    XCTAssertEqual(tracks.count, 2, "two people, one id each")
    XCTAssertTrue(tracks.values.allSatisfy { $0.frames >= 50 }, "both followed through the 56 frames")
  }

  func testWalkingAndPauseClip() throws {
    let tracks = try steadyTracks("face-demographics-walking-and-pause.mp4")
    XCTAssertEqual(tracks.count, 3, "three people, one id each")
    XCTAssertTrue(tracks.values.allSatisfy { $0.frames >= 35 }, "all three followed through the 41 frames")
  }

  /// Faces of 13-14 px at 480x270 (res10 found one person, for 3 frames).
  func testWalkingClip() throws {
    let tracks = try steadyTracks("face-demographics-walking.mp4")
    XCTAssertEqual(tracks.count, 2, "two people, one id each")
    XCTAssertTrue(tracks.values.allSatisfy { $0.frames >= 25 }, "both followed through the 35 frames")
  }
}
