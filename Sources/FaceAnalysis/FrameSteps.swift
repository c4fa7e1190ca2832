/// How many stream frames passed between two frames the element saw, from
/// their timestamps: motion between them is predicted over elapsed time, not
/// over the count of frames that arrived (a live source that dropped a few
/// frames, a decoder that skipped some).
public enum FrameSteps {
  /// Frames from `previous` to `current` (nanoseconds) at `frameDuration`:
  /// 1 for neighbouring frames in either direction (reverse playback runs
  /// backwards one frame at a time), more across a gap, at most `maximum`
  /// (larger jumps start a new scene instead); 1 when a timestamp is unknown.
  public static func elapsed(from previous: UInt64?, to current: UInt64?, frameDuration: Int64, maximum: Int) -> Int {
    guard let previous, let current, frameDuration > 0 else { return 1 }
    let step = current >= previous ? current - previous : previous - current
    let frames = Int((Double(step) / Double(frameDuration)).rounded())
    return min(max(1, frames), max(1, maximum))
  }
}
