import CGStreamer
import Foundation
import GstPipeline

#if canImport(Glibc)
  import Glibc
#endif

/// The keys of the `--display` window: `q`/Esc quit (EOS, so files being written
/// are finished), space pauses and resumes, Left/Right seek 5 s, `.` steps one
/// frame while paused (and pauses while playing). The video sink posts each key
/// press as a navigation message on the bus. Every action prints one line on
/// standard output (with the position), which is how the tests follow it.
final class KeyControls {
  enum Action: Equatable {
    case quit, togglePause, seek(seconds: Double), step
  }

  static let seekSeconds = 5.0

  /// X key names as x(v)imagesink report them.
  static func action(forKey key: String) -> Action? {
    switch key {
    case "q", "Q", "Escape": return .quit
    case "space": return .togglePause
    case "Left": return .seek(seconds: -seekSeconds)
    case "Right": return .seek(seconds: seekSeconds)
    case "period": return .step
    default: return nil
    }
  }

  /// The key of a navigation key-press message, else nil.
  static func pressedKey(_ message: UnsafeMutablePointer<GstMessage>) -> String? {
    guard gst_navigation_message_get_type(message) == GST_NAVIGATION_MESSAGE_EVENT else { return nil }
    var event: UnsafeMutablePointer<GstEvent>?
    guard gst_navigation_message_parse_event(message, &event) != 0, let event else { return nil }
    defer { gst_event_unref(event) }
    guard gst_navigation_event_get_type(event) == GST_NAVIGATION_EVENT_KEY_PRESS else { return nil }
    var key: UnsafePointer<gchar>?
    guard gst_navigation_event_parse_key_event(event, &key) != 0, let key else { return nil }
    return String(cString: key)
  }

  private let pipeline: UnsafeMutablePointer<GstElement>
  private let videoSink: UnsafeMutablePointer<GstElement>
  /// Why seeks are refused besides a live source (an MP4 being recorded), else nil.
  private let seekRefusal: String?
  private(set) var paused = false
  /// A flushing seek is under way: its position is printed at ASYNC_DONE.
  private var seeking = false

  init(pipeline: UnsafeMutablePointer<GstElement>, videoSink: UnsafeMutablePointer<GstElement>, seekRefusal: String?) {
    self.pipeline = pipeline
    self.videoSink = videoSink
    self.seekRefusal = seekRefusal
  }

  /// Carries out `action`; returns true when the run should end (send EOS).
  func perform(_ action: Action) -> Bool {
    switch action {
    case .quit:
      say("quit at \(Self.format(position()))")
      // EOS cannot pass a sink waiting in preroll: play on while it drains.
      if paused { gst_element_set_state(pipeline, GST_STATE_PLAYING) }
      return true
    case .togglePause:
      paused.toggle()
      gst_element_set_state(pipeline, paused ? GST_STATE_PAUSED : GST_STATE_PLAYING)
      say((paused ? "paused at " : "playing from ") + Self.format(position()))
    case .seek(let seconds):
      if isLive() {
        say("seek ignored: the input is live")
        return false
      }
      if let seekRefusal {
        say("seek ignored: \(seekRefusal)")
        return false
      }
      guard let from = position() else {
        say("seek ignored: the position is not known yet")
        return false
      }
      var target = max(0, from + seconds)
      if let length = duration() { target = min(target, length) }
      let flags = GstSeekFlags(GST_SEEK_FLAG_FLUSH.rawValue | GST_SEEK_FLAG_ACCURATE.rawValue)
      if gst_element_seek_simple(pipeline, GST_FORMAT_TIME, flags, gint64(target * 1e9)) != 0 {
        seeking = true
        say("seek from \(Self.format(from)) to \(Self.format(target))")
      } else {
        say("seek ignored: the input cannot seek")
      }
    case .step:
      if !paused { return perform(.togglePause) }
      _ = gst_element_send_event(videoSink, gst_event_new_step(GST_FORMAT_BUFFERS, 1, 1.0, 1, 0))
      seeking = true  // the step completes with ASYNC_DONE too
      say("step")
    }
    return false
  }

  /// At ASYNC_DONE: where a seek or step landed.
  func asyncDone() {
    guard seeking else { return }
    seeking = false
    say("position \(Self.format(position()))")
  }

  /// A live source (camera, RTSP, UDP) answers the latency query with live=true; it cannot seek. Asked
  /// upstream of the window's sink: the pipeline's own answer is the sinks', live whenever they sync.
  private func isLive() -> Bool {
    guard let query = gst_query_new_latency() else { return false }
    defer { agb_query_unref(query) }
    guard let pad = gst_element_get_static_pad(videoSink, "sink") else { return false }
    defer { agb_object_unref(pad) }
    var live: gboolean = 0
    guard gst_pad_peer_query(pad, query) != 0 else { return false }
    gst_query_parse_latency(query, &live, nil, nil)
    return live != 0
  }

  func position() -> Double? {
    var position: gint64 = -1
    guard gst_element_query_position(pipeline, GST_FORMAT_TIME, &position) != 0, position >= 0 else { return nil }
    return Double(position) / 1e9
  }

  private func duration() -> Double? {
    var duration: gint64 = -1
    guard gst_element_query_duration(pipeline, GST_FORMAT_TIME, &duration) != 0, duration > 0 else { return nil }
    return Double(duration) / 1e9
  }

  static func format(_ seconds: Double?) -> String {
    guard let seconds else { return "? s" }
    return String(format: "%.2f s", seconds)
  }

  private func say(_ line: String) {
    // Line-buffered on a pipe too: the tests read it while the window is open.
    print("agegender-annotate: " + line)
    fflush(stdout)
  }
}
