import AgeGenderEvents
import AgeGenderMeta
import CGStreamer
import Foundation
import GstPipeline
import Synchronization

/// Set by SIGINT: the run sends EOS so the MP4 is finished properly.
let interruptRequested = Atomic<Bool>(false)

/// What a finished run did.
struct AnnotateSummary {
  var frames = 0
  var faces = 0
  var seconds = 0.0
  /// What became of each audio stream in the MP4 ("passed through (audio/mpeg)", "encoded to AAC").
  var audio: [String] = []
  /// The run ended because the window was closed.
  var windowClosed = false
  var fps: Double { seconds > 0 ? Double(frames) / seconds : 0 }
}

/// uridecodebin ! videoconvert ! agegender ! tee ! encoder branch (MP4) and,
/// with `--display`, a window branch; the sound goes to the MP4 and/or the
/// speakers (`AudioBranch`). The faces are read by a buffer probe on
/// agegender's source pad (its GstAgeGenderMeta becomes JSON Lines), not by an
/// appsink branch of the tee: a second branch would have to preroll while
/// x264enc holds back its look-ahead frames, and the tee would block (a 1 s
/// queue fills before the MP4 branch prerolls). For the same reason the
/// filesink does not preroll (async=false) when a window is shown too.
final class Annotator {
  /// What `--display` needs: the X video sink chosen and the window's title.
  struct Display {
    var sink: String
    var title: String
  }

  static func description(recording: Bool = true, displaySink: String? = nil) -> String {
    var description = "uridecodebin name=src ! videoconvert ! agegender name=ag ! tee name=t"
    if recording {
      // Beside a window, the encoder must never hold up the tee (and so the picture): 3 s of frames may wait.
      let queue = displaySink == nil ? "queue" : "queue max-size-buffers=0 max-size-bytes=0 max-size-time=3000000000"
      description +=
        " t. ! \(queue) name=recordqueue ! videoconvert ! video/x-raw,format=I420 "
        + "! x264enc speed-preset=faster pass=qual quantizer=20 ! mp4mux name=mux faststart=true "
        + "! filesink name=out" + (displaySink == nil ? "" : " async=false")
    }
    if let displaySink {
      // A short queue keeps the element near the clock (async=true, the element's default here): it analyses a
      // frame in the stream only while it runs over 100 ms ahead (3 frames give it that slack), else on its
      // worker, so the picture never waits for the networks.
      description +=
        " t. ! queue name=displayqueue max-size-buffers=3 max-size-bytes=0 max-size-time=0 ! videoconvert "
        + "! \(displaySink) name=display"
    }
    return description
  }

  /// What the probe (streaming thread) shares with the main thread.
  struct Counters {
    var frames = 0
    var faces = 0
    var lastPTS: GstClockTime? = nil
    var writeError: String? = nil
  }

  let pipeline: Pipeline
  private let json: UnsafeMutablePointer<FILE>?
  private let stallTimeout: Double
  private let progress: Bool
  private let counters = Mutex(Counters())

  private var audio: AudioBranch?
  private let display: Display?
  private let recording: Bool
  /// Set when the MP4's filesink has its EOS (the file is finished).
  private let fileFinished = Atomic<Bool>(false)

  init(uri: String, output: String?, jsonPath: String?, properties: ElementProperties, stallTimeout: Double,
    progress: Bool, display: Display? = nil) throws {
    recording = output != nil
    self.display = display
    pipeline = try Pipeline(Self.description(recording: output != nil, displaySink: display?.sink))
    let source = try pipeline.child("src")
    try Self.setString(source, "uri", uri)
    if let output { try Self.setString(try pipeline.child("out"), "location", output) }
    let element = try pipeline.child("ag")
    try properties.apply(to: element)
    if let jsonPath {
      guard let file = fopen(jsonPath, "w") else {
        throw Pipeline.Failure("cannot write \(jsonPath): \(String(cString: strerror(errno)))")
      }
      json = file
    } else {
      json = nil
    }
    self.stallTimeout = stallTimeout
    self.progress = progress
    audio = try AudioBranch(
      pipeline: pipeline.element, source: source, mux: output != nil ? try pipeline.child("mux") : nil,
      play: display != nil)
    if let display {
      guard let pad = gst_element_get_static_pad(try pipeline.child("displayqueue"), "src") else {
        throw Pipeline.Failure("the display queue has no src pad")
      }
      DisplaySink.setTitle(display.title, on: pad)
      agb_object_unref(pad)
    }
    if output != nil, let pad = gst_element_get_static_pad(try pipeline.child("out"), "sink") {
      defer { agb_object_unref(pad) }
      gst_pad_add_probe(
        pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
        { _, info, userData in
          if let info, let userData, let event = info.pointee.data,
            agb_event_type(event.assumingMemoryBound(to: GstEvent.self)) == GST_EVENT_EOS
          {
            Unmanaged<Annotator>.fromOpaque(userData).takeUnretainedValue().fileFinished.store(true, ordering: .relaxed)
          }
          return GST_PAD_PROBE_OK
        }, Unmanaged.passUnretained(self).toOpaque(), nil)
    }
    guard let pad = gst_element_get_static_pad(element, "src") else { throw Pipeline.Failure("agegender has no src pad") }
    defer { agb_object_unref(pad) }
    // The pipeline is set to NULL (no more probe calls) before self goes away.
    gst_pad_add_probe(
      pad, GST_PAD_PROBE_TYPE_BUFFER,
      { pad, info, userData in
        guard let pad, let info, let userData, let data = info.pointee.data else { return GST_PAD_PROBE_OK }
        let annotator = Unmanaged<Annotator>.fromOpaque(userData).takeUnretainedValue()
        annotator.record(data.assumingMemoryBound(to: GstBuffer.self), on: pad)
        return GST_PAD_PROBE_OK
      }, Unmanaged.passUnretained(self).toOpaque(), nil)
  }

  deinit {
    if let json { fclose(json) }
  }

  private static func setString(_ element: UnsafeMutablePointer<GstElement>, _ name: String, _ value: String) throws {
    guard agb_object_find_property(element, name) != nil else { throw Pipeline.Failure("no property \(name)") }
    var v = GValue()
    g_value_init(&v, agb_gtype_string())
    g_value_set_string(&v, value)
    g_object_set_property(UnsafeMutableRawPointer(element).assumingMemoryBound(to: GObject.self), name, &v)
    g_value_unset(&v)
  }

  /// On the streaming thread: one JSON line per buffer.
  private func record(_ buffer: UnsafeMutablePointer<GstBuffer>, on pad: UnsafeMutablePointer<GstPad>) {
    var info = GstVideoInfo()
    if let caps = gst_pad_get_current_caps(pad) {
      gst_video_info_from_caps(&info, caps)
      agb_caps_unref(caps)
    }
    let faces = AgeGenderMeta.faces(of: buffer) ?? []
    let pts = agb_buffer_pts(buffer)
    counters.withLock { c in
      if let json, c.writeError == nil {
        let line = Self.jsonLine(frame: c.frames, pts: pts, width: info.width, height: info.height, faces: faces)
        // Beside a window each line is flushed at once: the lines can be followed live (tail -f).
        if fputs(line, json) < 0 || (display != nil && fflush(json) != 0) {
          c.writeError = "cannot write the JSON lines: \(String(cString: strerror(errno)))"
        }
      }
      c.frames += 1
      c.faces += faces.count
      if pts != agb_clock_time_none() { c.lastPTS = pts }
    }
  }

  /// Plays to the end. Every wait is bounded: no new frame and no bus message for
  /// `stallTimeout` seconds is an error (that also bounds the EOS after Ctrl-C),
  /// except while paused in the window.
  func run() throws -> AnnotateSummary {
    let bus = gst_element_get_bus(pipeline.element)!
    defer {
      agb_object_unref(bus)
      gst_element_set_state(pipeline.element, GST_STATE_NULL)
    }
    let start = monotonicSeconds()
    let change = gst_element_set_state(pipeline.element, GST_STATE_PLAYING)
    if change == GST_STATE_CHANGE_FAILURE {
      var why = "the pipeline did not start"
      while let message = gst_bus_pop(bus) {
        defer { agb_message_unref(message) }
        if agb_message_type(message) == GST_MESSAGE_ELEMENT { noteHTTPStatus(message) }
        if agb_message_type(message) == GST_MESSAGE_ERROR {
          why = Pipeline.describeError(message, dropSourceLine: true)
          break
        }
      }
      throw Pipeline.Failure(why + httpHint())
    }
    let displaySink = display != nil ? try pipeline.child("display") : nil
    let controls = displaySink.map { sink in
      KeyControls(
        pipeline: pipeline.element, videoSink: sink,
        seekRefusal: recording ? "an MP4 is being written (its timeline follows the stream)" : nil)
    }
    var lastActivity = monotonicSeconds()
    var lastDraw = 0.0
    var lastFrames = 0
    var duration: gint64 = -1
    var eosSent = false
    var windowClosed = false
    var speakersChecked = false
    defer { if progress { fputs("\r\u{1B}[K", stderr) } }

    func summary() throws -> AnnotateSummary {
      let c = counters.withLock { $0 }
      if let error = c.writeError { throw Pipeline.Failure(error) }
      if let json, fflush(json) != 0 { throw Pipeline.Failure("cannot write the JSON lines: \(String(cString: strerror(errno)))") }
      return AnnotateSummary(
        frames: c.frames, faces: c.faces, seconds: monotonicSeconds() - start, audio: audio?.outcomes ?? [],
        windowClosed: windowClosed)
    }

    while true {
      if let message = gst_bus_timed_pop(bus, 100_000_000) {
        defer { agb_message_unref(message) }
        lastActivity = monotonicSeconds()
        switch agb_message_type(message) {
        case GST_MESSAGE_ERROR:
          if let displaySink, Self.isWindowClosed(message, sink: displaySink) {
            windowClosed = true
          } else if !windowClosed {
            throw Pipeline.Failure(Pipeline.describeError(message, dropSourceLine: true) + httpHint())
          }
        case GST_MESSAGE_ELEMENT:
          noteHTTPStatus(message)
          if let controls, !eosSent, !windowClosed, let key = KeyControls.pressedKey(message),
            let action = KeyControls.action(forKey: key), controls.perform(action)
          {
            eosSent = true
            _ = gst_element_send_event(pipeline.element, gst_event_new_eos())
          }
        case GST_MESSAGE_ASYNC_DONE:
          controls?.asyncDone()
        case GST_MESSAGE_EOS:
          return try summary()
        default: break
        }
      }
      if let failure = audio?.takeFailure() { throw Pipeline.Failure(failure) }
      if displaySink != nil && !windowClosed && displayWindowLost.load(ordering: .relaxed) { windowClosed = true }
      if windowClosed {
        // Paused sinks would hold the streaming threads (and so the EOS sent into the branches): play on.
        if controls?.paused == true { gst_element_set_state(pipeline.element, GST_STATE_PLAYING) }
        return try finishAfterWindowClosed(summary)
      }
      if interruptRequested.load(ordering: .relaxed) && !eosSent {
        // Ends the stream at the source: the encoder and muxer flush and the MP4 is playable.
        eosSent = true
        lastActivity = monotonicSeconds()
        if controls?.paused == true { gst_element_set_state(pipeline.element, GST_STATE_PLAYING) }
        _ = gst_element_send_event(pipeline.element, gst_event_new_eos())
      }
      let c = counters.withLock { $0 }
      if let error = c.writeError { throw Pipeline.Failure(error) }
      let now = monotonicSeconds()
      if c.frames != lastFrames {
        lastFrames = c.frames
        lastActivity = now
      }
      if controls?.paused == true { lastActivity = now }
      if display != nil && !speakersChecked && c.frames > 0 {
        speakersChecked = true
        // autoaudiosink falls back to a fakesink (which keeps time) when no audio device opens.
        if let fake = gst_bin_get_by_name(UnsafeMutableRawPointer(pipeline.element).assumingMemoryBound(to: GstBin.self), "fake-audio-sink") {
          agb_object_unref(fake)
          fputs("agegender-annotate: no audio output device could be opened: the sound is not played\n", stderr)
        }
      }
      if now - lastActivity > stallTimeout {
        throw Pipeline.Failure(
          c.frames == 0
            ? "no frame came out within \(Int(stallTimeout)) s (is the input a video?)"
            : "the pipeline stalled: nothing happened for \(Int(stallTimeout)) s after \(c.frames) frames")
      }
      if progress && now - lastDraw >= 0.25 {
        lastDraw = now
        if duration <= 0 {
          var d: gint64 = -1
          if gst_element_query_duration(pipeline.element, GST_FORMAT_TIME, &d) != 0 { duration = d }
        }
        drawProgress(c, elapsed: now - start, duration: duration)
      }
    }
  }

  /// "Output window was closed": what x(v)imagesink post when the window manager closes the window.
  private static func isWindowClosed(_ message: UnsafeMutablePointer<GstMessage>, sink: UnsafeMutablePointer<GstElement>)
    -> Bool
  {
    guard let source = agb_message_src(message), OpaquePointer(source) == OpaquePointer(sink) else {
      return false
    }
    var error: UnsafeMutablePointer<GError>?
    gst_message_parse_error(message, &error, nil)
    defer { if let error { g_error_free(error) } }
    guard let error else { return false }
    return error.pointee.domain == gst_resource_error_quark()
      && error.pointee.code == Int32(GST_RESOURCE_ERROR_NOT_FOUND.rawValue)
  }

  /// The window is gone, and with it the sink that paced the stream (it may
  /// fail every frame now): the MP4 is finished by an EOS sent into its own
  /// branches (video before the encoder, each audio stream), and the run ends
  /// when the file has it. Without an MP4 there is nothing to finish.
  private func finishAfterWindowClosed(_ summary: () throws -> AnnotateSummary) throws -> AnnotateSummary {
    if recording {
      // Sending a serialized event waits for the branch's streaming thread: done on
      // another thread, so the wait below stays bounded (NULL state unblocks it).
      nonisolated(unsafe) let recordQueue = try pipeline.child("recordqueue")
      let audio = self.audio
      let ending = Thread {
        if let pad = gst_element_get_static_pad(recordQueue, "sink") {
          _ = gst_pad_send_event(pad, gst_event_new_eos())
          agb_object_unref(pad)
        }
        audio?.endMuxInputs()
      }
      ending.start()
      let deadline = monotonicSeconds() + stallTimeout
      while !fileFinished.load(ordering: .relaxed) {
        if monotonicSeconds() > deadline {
          throw Pipeline.Failure("the MP4 was not finished within \(Int(stallTimeout)) s after the window was closed")
        }
        usleep(20_000)
      }
      // The muxer's last bytes reach the file before filesink sees the EOS; stop now.
    }
    return try summary()
  }

  /// souphttpsrc's last `http-headers` message: (uri, status); status 0 means no response.
  private var httpStatus: (uri: String, code: UInt32)?

  private func noteHTTPStatus(_ message: UnsafeMutablePointer<GstMessage>) {
    guard let s = gst_message_get_structure(message), gst_structure_has_name(s, "http-headers") != 0 else { return }
    var code: guint = 0
    gst_structure_get_uint(s, "http-status-code", &code)
    let uri = gst_structure_get_string(s, "uri").map { String(cString: $0) } ?? "?"
    httpStatus = (uri, code)
  }

  /// Says what souphttpsrc's bare "Internal data stream error" meant.
  private func httpHint() -> String {
    guard let httpStatus else { return "" }
    if httpStatus.code == 0 { return "; no HTTP response from \(httpStatus.uri) (cannot connect)" }
    if httpStatus.code >= 400 { return "; HTTP status \(httpStatus.code) from \(httpStatus.uri)" }
    return ""
  }

  private func drawProgress(_ c: Counters, elapsed: Double, duration: gint64) {
    var parts: [String] = []
    if duration > 0, let position = c.lastPTS {
      parts.append(String(format: "%3.0f%%", min(100, 100 * Double(position) / Double(duration))))
    }
    parts.append("\(c.frames) frames")
    parts.append(String(format: "%.1f fps", elapsed > 0 ? Double(c.frames) / elapsed : 0))
    parts.append("\(c.faces) faces")
    fputs("\r\u{1B}[K" + parts.joined(separator: "  "), stderr)
    fflush(stderr)
  }

  /// One frame's JSON line (with its newline), written by json-glib as agegenderjson's lines are:
  /// `{"frame":N,"pts":..,"width":..,"height":..,"faces":[...]}`.
  static func jsonLine(frame: Int, pts: GstClockTime, width: Int32, height: Int32, faces: [FaceRecord]) -> String {
    let json = JSONWriter()
    json.object {
      json.member("frame", frame)
      json.member("pts", pts == agb_clock_time_none() ? nil : UInt64(pts))
      json.member("width", width)
      json.member("height", height)
      json.member("faces") {
        json.array {
          for face in faces { json.object { face.writeMembers(json) } }
        }
      }
    }
    return json.text() + "\n"
  }
}
