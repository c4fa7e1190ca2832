/// Follows faces across frames so each keeps one id while it stays in view.
///
/// Association is greedy on IoU between detections and each track's predicted
/// box (constant velocity), which measured enough on the shared clips: faces
/// move little between frames relative to their size. A track that goes
/// unmatched for `maxMissed` frames ends; until then a face that reappears
/// near its prediction gets its old id back (short occlusions, missed detections).
public final class FaceTracker {
  public struct Track: Sendable {
    public let id: UInt64
    /// Latest box: the matched detection, or the prediction between detections.
    public internal(set) var box: Box
    public internal(set) var confidence: Double
    /// Per-frame box change (x, y, width, height), smoothed.
    public internal(set) var velocity: (Double, Double, Double, Double) = (0, 0, 0, 0)
    /// Frames with a matched detection.
    public internal(set) var hits: Int = 1
    /// Frames since the last matched detection.
    public internal(set) var missed: Int = 0
    /// Whether the last detection pass matched it (what is shown).
    public internal(set) var visible: Bool = true
    /// The box of its last matched detection (velocity is measured from it).
    public internal(set) var matchedBox: Box
    /// The landmarks of its last matched detection (in `matchedBox`).
    var matchedLandmarks: [Point]

    init(id: UInt64, box: Box, confidence: Double, landmarks: [Point] = []) {
      self.id = id
      self.box = box
      self.confidence = confidence
      matchedBox = box
      matchedLandmarks = landmarks
    }

    /// The landmarks of its last detection moved and scaled with its box to
    /// where the box is now (empty when the detector gives none).
    public var landmarks: [Point] {
      Detection(box: matchedBox, confidence: confidence, landmarks: matchedLandmarks).landmarks(movedTo: box)
    }
  }

  public var iouThreshold: Double
  /// Without overlap, a detection whose centre is within this many face sizes
  /// of a track's (and of similar size) still continues it.
  public var maxCentreDistance: Double = 0.75
  public var maxMissed: Int
  public private(set) var tracks: [Track] = []
  private var nextID: UInt64 = 1

  public init(iouThreshold: Double = 0.3, maxMissed: Int = 25) {
    self.iouThreshold = iouThreshold
    self.maxMissed = maxMissed
  }

  /// Ends every track (a new scene: a seek, a new stream, a discontinuity).
  /// Ids keep increasing: a track after a reset never shares an id with one
  /// before it, so an application can tell the scenes apart.
  public func reset() {
    tracks.removeAll()
  }

  /// Moves every track one frame along its velocity (a frame without detection).
  public func predict() {
    for i in tracks.indices {
      let v = tracks[i].velocity
      var b = tracks[i].box
      b.x += v.0
      b.y += v.1
      b.width = max(1, b.width + v.2)
      b.height = max(1, b.height + v.3)
      tracks[i].box = b
      tracks[i].missed += 1
    }
    tracks.removeAll { $0.missed > maxMissed }
  }

  /// A frame with detections. Returns, for each detection, the id of its track.
  @discardableResult
  public func update(with detections: [Detection]) -> [UInt64] {
    predict()
    // Pairs by overlap first; then, for what is left, by centre distance
    // relative to the face size (sparse updates, as in async mode, can move a
    // face past any overlap with its prediction). Scores: IoU in 0...1 ranks
    // above every distance pair (negative).
    var pairs: [(iou: Double, track: Int, detection: Int)] = []
    for (t, track) in tracks.enumerated() {
      for (d, detection) in detections.enumerated() {
        let iou = track.box.iou(detection.box)
        if iou >= iouThreshold {
          pairs.append((iou, t, d))
        } else {
          let size = max(track.box.width, track.box.height, detection.box.width, detection.box.height)
          let dx = track.box.centerX - detection.box.centerX, dy = track.box.centerY - detection.box.centerY
          let distance = (dx * dx + dy * dy).squareRoot() / max(1, size)
          // Similar size, more so for a face seen recently: one unseen for a
          // second may have come much closer (walking-and-pause: 42 px wide
          // when last seen, 66 px sixteen frames later).
          let scale = detection.box.width / max(1, track.box.width)
          let limit = 1.5 + 0.03 * Double(track.missed)
          if distance < maxCentreDistance && scale > 1 / limit && scale < limit { pairs.append((-distance, t, d)) }
        }
      }
    }
    pairs.sort { $0.iou > $1.iou }
    var trackTaken = Set<Int>(), detectionTaken = Set<Int>()
    var ids = [UInt64](repeating: 0, count: detections.count)
    for pair in pairs where !trackTaken.contains(pair.track) && !detectionTaken.contains(pair.detection) {
      trackTaken.insert(pair.track)
      detectionTaken.insert(pair.detection)
      let index = pair.track
      let old = tracks[index]
      let box = detections[pair.detection].box
      // Velocity from the last matched box over the frames in between, smoothed.
      let frames = Double(old.missed)
      if frames > 0 {
        let before = old.matchedBox
        let measured = (
          (box.x - before.x) / frames, (box.y - before.y) / frames, (box.width - before.width) / frames,
          (box.height - before.height) / frames
        )
        let a = 0.5
        tracks[index].velocity = (
          a * measured.0 + (1 - a) * old.velocity.0, a * measured.1 + (1 - a) * old.velocity.1,
          a * measured.2 + (1 - a) * old.velocity.2, a * measured.3 + (1 - a) * old.velocity.3
        )
      }
      tracks[index].box = box
      tracks[index].matchedBox = box
      tracks[index].confidence = detections[pair.detection].confidence
      tracks[index].matchedLandmarks = detections[pair.detection].landmarks
      tracks[index].hits += 1
      tracks[index].missed = 0
      tracks[index].visible = true
      ids[pair.detection] = old.id
    }
    for t in tracks.indices where !trackTaken.contains(t) { tracks[t].visible = false }
    for (d, detection) in detections.enumerated() where !detectionTaken.contains(d) {
      tracks.append(
        Track(id: nextID, box: detection.box, confidence: detection.confidence, landmarks: detection.landmarks))
      ids[d] = nextID
      nextID += 1
    }
    return ids
  }

  /// Moves a track's box to where it was seen between detections (e.g. by
  /// `FaceAppearanceTracker`); its velocity still comes from detections.
  public func correct(_ id: UInt64, box: Box) {
    guard let index = tracks.firstIndex(where: { $0.id == id }) else { return }
    tracks[index].box = box
  }

  public func track(id: UInt64) -> Track? { tracks.first { $0.id == id } }
}
