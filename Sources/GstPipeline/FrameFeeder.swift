import CGStreamer

/// Pushes still images through `appsrc name=src ! ... ! appsink name=sink` one
/// at a time and hands back the processed buffer, so one pipeline (one model
/// load) serves a whole folder of images of different sizes.
public final class FrameFeeder {
  public let pipeline: Pipeline
  private let source: UnsafeMutablePointer<GstAppSrc>
  private let sink: UnsafeMutablePointer<GstAppSink>
  private var frameIndex: GstClockTime = 0

  /// `middle` goes between the appsrc and the appsink, e.g. "videoconvert ! agegender name=ag".
  /// `configure` runs before the pipeline starts (properties that take effect at start).
  public init(middle: String, configure: (Pipeline) throws -> Void = { _ in }) throws {
    pipeline = try Pipeline(
      "appsrc name=src format=time is-live=false block=true ! \(middle) ! appsink name=sink sync=false max-buffers=2")
    source = agb_app_src_cast(try pipeline.child("src"))
    sink = agb_app_sink_cast(try pipeline.child("sink"))
    try configure(pipeline)
    try pipeline.setState(GST_STATE_PLAYING)
  }

  /// Sends one packed BGR image (rows `stride` bytes apart) and returns what
  /// comes out, passed to `body` while the buffer is alive.
  public func process<R>(bgr pixels: UnsafeRawPointer, width: Int, height: Int, stride: Int, timeoutSeconds: UInt64 = 60,
    _ body: (UnsafeMutablePointer<GstBuffer>) throws -> R) throws -> R {
    // GStreamer's packed BGR rows are padded to 4 bytes.
    let rowBytes = width * 3
    let gstStride = (rowBytes + 3) & ~3
    let buffer = gst_buffer_new_allocate(nil, gsize(gstStride * height), nil)!
    var map = GstMapInfo()
    guard gst_buffer_map(buffer, &map, GST_MAP_WRITE) != 0 else {
      agb_buffer_unref(buffer)
      throw Pipeline.Failure("cannot map a buffer")
    }
    for row in 0..<height {
      (map.data + row * gstStride).update(
        from: pixels.advanced(by: row * stride).assumingMemoryBound(to: UInt8.self), count: rowBytes)
    }
    gst_buffer_unmap(buffer, &map)
    buffer.pointee.pts = frameIndex * 40_000_000
    buffer.pointee.duration = 40_000_000
    frameIndex += 1

    let caps = gst_caps_from_string("video/x-raw,format=BGR,width=\(width),height=\(height),framerate=25/1")!
    gst_app_src_set_caps(source, caps)
    agb_caps_unref(caps)
    guard gst_app_src_push_buffer(source, buffer) == GST_FLOW_OK else {  // takes the buffer
      throw Pipeline.Failure(pipeline.pendingError() ?? "appsrc refused the frame")
    }
    let deadline = monotonicSeconds() + Double(timeoutSeconds)
    while monotonicSeconds() < deadline {
      if let sample = gst_app_sink_try_pull_sample(sink, 200_000_000) {
        defer { agb_sample_unref(sample) }
        guard let out = gst_sample_get_buffer(sample) else { throw Pipeline.Failure("sample without a buffer") }
        return try body(out)
      }
      if let error = pipeline.pendingError() { throw Pipeline.Failure(error) }
    }
    throw Pipeline.Failure("no frame came out within \(timeoutSeconds) s")
  }

  public func finish() {
    gst_app_src_end_of_stream(source)
  }
}
