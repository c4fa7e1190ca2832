import CGStreamer

extension Pipeline {
  /// Plays the pipeline and hands every buffer that reaches `appsink name=<sink>`
  /// to `body`, until EOS; throws the first bus error or a time-out.
  public func forEachBuffer(sink name: String = "sink", timeoutSeconds: Double = 600,
    _ body: (UnsafeMutablePointer<GstBuffer>, OpaquePointer) throws -> Void) throws {
    let sink = agb_app_sink_cast(try child(name))
    try setState(GST_STATE_PLAYING)
    defer { gst_element_set_state(element, GST_STATE_NULL) }
    let deadline = monotonicSeconds() + timeoutSeconds
    while true {
      if let error = pendingError() { throw Failure(error) }
      if monotonicSeconds() > deadline { throw Failure("pipeline did not finish within \(Int(timeoutSeconds)) s") }
      if let sample = gst_app_sink_try_pull_sample(sink, 100_000_000) {
        defer { agb_sample_unref(sample) }
        if let buffer = gst_sample_get_buffer(sample) { try body(buffer, sample) }
      } else if gst_app_sink_is_eos(sink) != 0 {
        break
      }
    }
    if let error = pendingError() { throw Failure(error) }
  }
}
