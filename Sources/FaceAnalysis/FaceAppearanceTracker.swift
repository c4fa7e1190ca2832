import COpenCVBridge

/// Follows tracked faces between detections by how they look: at each detection
/// a face's grey patch is kept, and on the frames in between it is looked for
/// (normalised cross-correlation, OpenCV's matchTemplate) near where the
/// motion model puts it. The constant-velocity prediction alone drifts off
/// walking people within a few frames (bench-walk-720p, boxes against per-frame
/// detection: mean IoU 0.73 at detection-interval=16), and a detection costs
/// ~50 ms where a search costs well under one.
///
/// The patch is only replaced at a detection, so errors do not accumulate
/// between detections; a weak match (`minimumScore`) leaves the prediction.
public final class FaceAppearanceTracker {
  /// Patch side in pixels: the face is compared at this size.
  public var patchSize = 32
  /// Search window beyond the predicted box, in box sizes on every side.
  public var searchMargin = 0.5
  /// Matches below this correlation are ignored (occlusion, a turned head).
  public var minimumScore = 0.5
  private var patches: [UInt64: [UInt8]] = [:]

  public init() {}

  public func reset() { patches.removeAll() }

  /// Keeps the look of the face in `box` (a detection) for track `id`.
  public func remember(_ id: UInt64, box: Box, in image: ImageView) throws {
    var patch = patches[id] ?? []
    if patch.count != patchSize * patchSize { patch = [UInt8](repeating: 0, count: patchSize * patchSize) }
    var bridged = image.bridged
    var error = agb_error()
    let status = patch.withUnsafeMutableBufferPointer { out in
      agb_grey_patch(&bridged, Float(box.x), Float(box.y), Float(box.width), Float(box.height), Int32(patchSize),
        out.baseAddress, &error)
    }
    guard status == 0 else { throw FaceAnalysisError.inference(reason: "face patch: \(error.text)") }
    patches[id] = patch
  }

  /// Where track `id`'s face is in `image`, searched around `box` (its
  /// predicted box; the size is kept): the box moved to the best match, or nil
  /// when the track has no patch or the match is weak.
  public func locate(_ id: UInt64, near box: Box, in image: ImageView) throws -> Box? {
    guard let patch = patches[id], patch.count == patchSize * patchSize, box.width >= 1, box.height >= 1 else {
      return nil
    }
    var bridged = image.bridged
    var error = agb_error()
    var x: Float = 0, y: Float = 0, score: Float = 0
    let status = patch.withUnsafeBufferPointer { p in
      agb_find_patch(&bridged, p.baseAddress, Int32(patchSize), Float(box.x), Float(box.y), Float(box.width),
        Float(box.height), Float(searchMargin), &x, &y, &score, &error)
    }
    guard status == 0 else { throw FaceAnalysisError.inference(reason: "face search: \(error.text)") }
    guard Double(score) >= minimumScore else { return nil }
    var moved = box
    moved.x = Double(x)
    moved.y = Double(y)
    return moved
  }

  /// Drops the patches of tracks that ended.
  public func keep(only live: Set<UInt64>) {
    patches = patches.filter { live.contains($0.key) }
  }
}
