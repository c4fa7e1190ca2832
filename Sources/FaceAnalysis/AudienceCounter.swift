/// Turns the faces shown frame after frame into people.
///
/// It watches the analyser's output, not the tracker's insides, so it counts
/// what the overlay and the metadata show, with the worker thread too. A track
/// starts at its first shown frame and ends when it has not been shown for
/// more than `maxMissed` frames (when the tracker forgets it too: a face back
/// sooner keeps its id), at a new scene, or at the end of the stream. A track
/// shown in fewer than `minTrackFrames` frames is not a person (a false
/// detection, a face crossing the edge) and is dropped silently; the others
/// come back as `PersonTrack`s and are added to `summary`.
public struct AudienceCounter: Sendable {
  public var minTrackFrames: Int
  public var maxMissed: Int
  public private(set) var summary = AudienceSummary()

  private struct OpenTrack: Sendable {
    var firstPTS: UInt64?
    var lastPTS: UInt64?
    var lastEnd: UInt64?
    var frames = 0
    var estimate: AgeGenderEstimate
    var maxFaceWidth = 0
    var missed = 0
  }

  private var open: [UInt64: OpenTrack] = [:]

  public init(minTrackFrames: Int, maxMissed: Int) {
    self.minTrackFrames = minTrackFrames
    self.maxMissed = maxMissed
  }

  /// Tracks being followed (not yet ended).
  public var openTracks: Int { open.count }

  /// One frame's shown faces, `elapsedFrames` after the previous one (more
  /// than 1 over a gap). Faces without a track (id 0: tracking off) are not
  /// counted. Returns the people whose tracks ended with this frame, by id.
  public mutating func observe(_ faces: [AnalyzedFace], pts: UInt64?, duration: UInt64?, elapsedFrames: Int = 1)
    -> [PersonTrack]
  {
    var seen = Set<UInt64>()
    for face in faces where face.trackID != 0 {
      seen.insert(face.trackID)
      var track = open[face.trackID] ?? OpenTrack(firstPTS: pts, estimate: face.estimate)
      if track.firstPTS == nil { track.firstPTS = pts }
      if let pts {
        track.lastPTS = pts
        track.lastEnd = pts + (duration ?? 0)
      }
      track.frames += 1
      track.estimate = face.estimate
      track.maxFaceWidth = max(track.maxFaceWidth, Int(face.detection.box.width.rounded()))
      track.missed = 0
      open[face.trackID] = track
    }
    var ended: [UInt64] = []
    for id in open.keys where !seen.contains(id) {
      open[id]!.missed += max(1, elapsedFrames)
      if open[id]!.missed > maxMissed { ended.append(id) }
    }
    return finish(ended)
  }

  /// Ends every open track (end of stream, a new scene).
  public mutating func endAll() -> [PersonTrack] {
    finish(Array(open.keys))
  }

  private mutating func finish(_ ids: [UInt64]) -> [PersonTrack] {
    var people: [PersonTrack] = []
    for id in ids.sorted() {
      guard let track = open.removeValue(forKey: id), track.frames >= minTrackFrames else { continue }
      var dwell: UInt64 = 0
      if let first = track.firstPTS, let end = track.lastEnd, end > first { dwell = end - first }
      let e = track.estimate
      // The range the frames' metadata report too: the calibrated ~80% interval when there is one.
      let range = e.reportedAgeRange
      let person = PersonTrack(
        trackID: id, firstPTS: track.firstPTS, lastPTS: track.lastPTS, frames: track.frames, age: e.age,
        ageMin: range.lowerBound, ageMax: range.upperBound, gender: e.gender,
        genderConfidence: e.genderConfidence, maxFaceWidth: track.maxFaceWidth, dwell: dwell, label: e.label)
      summary.add(person)
      people.append(person)
    }
    return people
  }
}
