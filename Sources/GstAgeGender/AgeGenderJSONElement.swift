import AgeGenderEvents
import AgeGenderMeta
import CGStreamer
import FaceAnalysis
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// The `agegenderjson` element: a pass-through GstBaseTransform (any caps, data
/// never touched) that writes one JSON object per buffer (JSON Lines) built from
/// the GstAgeGenderMeta on it, to the file in `location` (stdout when unset).
///
/// Because it reads our meta, it can sit anywhere after `agegender`: after
/// videoconvert, videoscale (the boxes are those of the scaled frame), queue, tee.
/// Each frame line (`source_id` only when the `source-id` property is set):
///
///     {"source_id":"cam1","pts":40000000,"running_time":40000000,"width":960,"height":540,
///      "faces":[{"x":..,"y":..,"width":..,"height":..,"confidence":..,"age":..,
///                "age_min":..,"age_max":..,"gender":"female","gender_confidence":..,"track_id":0,
///                "landmarks":[[x,y],[x,y],[x,y],[x,y],[x,y]]}]}
///
/// `pts` and `running_time` are nanoseconds or null; `width`/`height` come from
/// the meta, else from the caps, else null; `faces` is empty when the buffer
/// carries no meta; `landmarks` (left eye, right eye, nose tip, mouth corners,
/// in the scaled frame's pixels) only where the detector gives them. Every line is written with one write(2) as soon as it is
/// complete (no buffering), so readers can follow the file while it grows.
///
/// Between the frame lines, each person `agegender` counted (a track that
/// ended) becomes a line `{"event":"track",...}` and the end of the stream a
/// line `{"event":"summary",...}` (`PersonTrack.jsonText`,
/// `AudienceSummary.jsonText`), from the custom downstream events it sends
/// with the frames. The JSON text is json-glib's (`JSONWriter`).
///
/// With `mqtt-host` set, each line (without its newline) is also published as
/// one MQTT message (MQTTPublisher: libmosquitto's own thread does the network
/// work, so the stream never waits for the broker); with no `location` the
/// lines then go to the broker only, not to stdout.
final class AgeGenderJSONElement: @unchecked Sendable {
  // MARK: Properties

  static let properties = PropertyTable<Settings>([
    .string(
      "location", nick: "File location",
      blurb: "File to write the JSON Lines to (one object per buffer; created or truncated at start); unset: standard output, unless mqtt-host is set",
      \.location, mutableWhilePlaying: false),
    .string(
      "mqtt-host", nick: "MQTT broker host",
      blurb: "Host name or address of an MQTT broker to publish every line to, as one message each (unset: no MQTT); unreachable at start: an element error",
      \.mqttHost, mutableWhilePlaying: false),
    .int(
      "mqtt-port", nick: "MQTT broker port",
      blurb: "TCP port of the MQTT broker (1883 plain, 8883 by convention with TLS)",
      \.mqttPort, range: 1...65535, mutableWhilePlaying: false),
    .string(
      "mqtt-topic", nick: "MQTT topic",
      blurb: "Topic the lines are published to (no wildcards)",
      \.mqttTopic, mutableWhilePlaying: false),
    .string(
      "mqtt-client-id", nick: "MQTT client id",
      blurb: "Client identifier sent to the broker (unset: a random one); two clients with one id disconnect each other",
      \.mqttClientID, mutableWhilePlaying: false),
    .int(
      "mqtt-qos", nick: "MQTT QoS",
      blurb: "MQTT quality of service of each message: 0 at most once, 1 at least once, 2 exactly once",
      \.mqttQoS, range: 0...2, mutableWhilePlaying: false),
    .string(
      "mqtt-username", nick: "MQTT user name",
      blurb: "User name for the broker (unset: anonymous); a refused name or password is an element error at start",
      \.mqttUsername, mutableWhilePlaying: false),
    .string(
      "mqtt-password", nick: "MQTT password",
      blurb: "Password for mqtt-username (sent in clear unless mqtt-tls-ca-file turns TLS on)",
      \.mqttPassword, mutableWhilePlaying: false),
    .string(
      "mqtt-tls-ca-file", nick: "MQTT TLS CA file",
      blurb: "PEM file of the CA that signed the broker's certificate; set: connect with TLS, checking the certificate and that it names mqtt-host",
      \.mqttTLSCAFile, mutableWhilePlaying: false),
    .int(
      "mqtt-max-queue", nick: "MQTT maximum queue",
      blurb: "Messages kept while the broker is unreachable (sent on reconnection); beyond it the oldest are dropped and a warning gives the count",
      \.mqttMaxQueue, range: 0...10_000_000, mutableWhilePlaying: false),
    .string(
      "source-id", nick: "Source id",
      blurb: "Names the stream (e.g. a camera) in every line (frames and events), as \"source_id\", for several streams written to one broker or folder; unset: no such field",
      \.sourceID, mutableWhilePlaying: false),
  ])

  struct Settings: ElementSettings {
    var location: String? = nil
    var mqttHost: String? = nil
    var mqttPort: Int32 = 1883
    var mqttTopic = "agegender"
    var mqttClientID: String? = nil
    var mqttQoS: Int32 = 0
    var mqttUsername: String? = nil
    var mqttPassword: String? = nil
    var mqttTLSCAFile: String? = nil
    var mqttMaxQueue: Int32 = 1000
    var sourceID: String? = nil

    /// The broker settings, or nil when MQTT is off (no host).
    var mqttOptions: MQTTPublisher.Options? {
      guard let host = mqttHost, !host.isEmpty else { return nil }
      return MQTTPublisher.Options(
        host: host, port: mqttPort, topic: mqttTopic, clientID: mqttClientID.flatMap { $0.isEmpty ? nil : $0 },
        qos: mqttQoS, username: mqttUsername.flatMap { $0.isEmpty ? nil : $0 }, password: mqttPassword,
        tlsCAFile: mqttTLSCAFile.flatMap { $0.isEmpty ? nil : $0 }, maxQueue: Int(mqttMaxQueue))
    }
  }

  /// Open output and negotiated frame size, from start() to stop().
  struct State {
    /// File descriptor written to (-1: none, MQTT only); `ownsDescriptor` is false for stdout.
    var descriptor: Int32
    var ownsDescriptor: Bool
    var path: String
    var capsWidth: Int32?
    var capsHeight: Int32?
    var lines: UInt64 = 0
    /// Set when mqtt-host is: every line is also one MQTT message.
    var mqtt: MQTTPublisher? = nil
    /// The source-id property, written in every frame line (nil or empty: not written).
    var sourceID: String? = nil
  }

  let settings = Mutex(Settings())
  let state = Mutex<State?>(nil)

  // MARK: Property access

  func setProperty(_ id: UInt32, _ value: UnsafePointer<GValue>) {
    settings.withLock { Self.properties.set(id, value, in: &$0) }
  }

  func getProperty(_ id: UInt32, _ value: UnsafeMutablePointer<GValue>) {
    Self.properties.get(id, value, from: settings.withLock { $0 })
  }

  // MARK: Lifecycle

  /// Opens (creates or truncates) the output file; an unset or empty location
  /// means stdout, or no file at all when the lines go to an MQTT broker. With
  /// mqtt-host set, connects to the broker (bounded wait): an unreachable
  /// broker, a refused password or a failed TLS handshake fail the start.
  func start(_ element: UnsafeMutablePointer<GstElement>) -> Bool {
    let s = settings.withLock { $0 }
    let mqttOptions = s.mqttOptions
    var opened: State
    if let path = s.location, !path.isEmpty {
      let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o666)
      if fd < 0 {
        let reason = String(cString: strerror(errno))
        let text = "Could not open file \"\(path)\" for writing: \(reason)"
        JSONDebug.error(element, text)
        postError(
          element, resource: true, code: Int32(GST_RESOURCE_ERROR_OPEN_WRITE.rawValue), text: text,
          debug: "open(\"\(path)\", O_WRONLY|O_CREAT|O_TRUNC): \(reason)")
        return false
      }
      opened = State(descriptor: fd, ownsDescriptor: true, path: path)
      JSONDebug.info(element, "writing JSON lines to \(path)")
    } else if mqttOptions != nil {
      opened = State(descriptor: -1, ownsDescriptor: false, path: "")
    } else {
      opened = State(descriptor: STDOUT_FILENO, ownsDescriptor: false, path: "stdout")
      JSONDebug.info(element, "writing JSON lines to stdout")
    }
    if let mqttOptions {
      // The callbacks may run on libmosquitto's thread; the element outlives the
      // publisher (stop() joins that thread), so the raw pointer stays valid.
      let target = UncheckedElement(element)
      let publisher = MQTTPublisher(
        options: mqttOptions,
        warn: { text in
          JSONDebug.warning(target.element, text)
          agb_element_warning(target.element, text, nil, "AgeGenderJSONElement.swift", "mqtt", 0)
        },
        log: { text in JSONDebug.debug(target.element, "libmosquitto: \(text)") })
      do {
        try publisher.connect()
      } catch let failure as MQTTPublisher.Failure {
        if opened.ownsDescriptor { _ = close(opened.descriptor) }
        let code: GstResourceError
        switch failure.kind {
        case .notAuthorized: code = GST_RESOURCE_ERROR_NOT_AUTHORIZED
        case .settings: code = GST_RESOURCE_ERROR_SETTINGS
        case .unreachable, .refused, .tls: code = GST_RESOURCE_ERROR_OPEN_WRITE
        }
        JSONDebug.error(element, failure.text)
        postError(element, resource: true, code: Int32(code.rawValue), text: failure.text, debug: nil)
        return false
      } catch {
        return false
      }
      opened.mqtt = publisher
      JSONDebug.info(element, "publishing JSON lines to MQTT \(publisher.endpoint) topic \(mqttOptions.topic)")
    }
    opened.sourceID = s.sourceID.flatMap { $0.isEmpty ? nil : $0 }
    let ready = opened
    state.withLock { $0 = ready }
    return true
  }

  /// At end of stream, lines dropped while the broker is still away are reported
  /// (the warning on reconnection never comes).
  func endOfStream(_ element: UnsafeMutablePointer<GstElement>) {
    guard let publisher = state.withLock({ $0?.mqtt }), let report = publisher.takeDropReport() else { return }
    JSONDebug.warning(element, report)
    agb_element_warning(element, report, nil, "AgeGenderJSONElement.swift", "endOfStream", 0)
  }

  func stop(_ element: UnsafeMutablePointer<GstElement>) -> Bool {
    let closed = state.withLock { state -> State? in
      defer { state = nil }
      return state
    }
    // Lines already handed over go out (bounded wait); the network thread ends.
    closed?.mqtt?.close()
    guard let closed, closed.ownsDescriptor else { return true }
    if close(closed.descriptor) != 0 {
      let text = "Could not close file \"\(closed.path)\": \(String(cString: strerror(errno)))"
      postError(element, resource: true, code: Int32(GST_RESOURCE_ERROR_CLOSE.rawValue), text: text, debug: nil)
      return false
    }
    JSONDebug.info(element, "wrote \(closed.lines) lines to \(closed.path)")
    return true
  }

  /// Remembers the frame size of video caps (for buffers that carry no meta).
  func setCaps(_ element: UnsafeMutablePointer<GstElement>, _ caps: UnsafeMutablePointer<GstCaps>) -> Bool {
    var width: Int32 = 0, height: Int32 = 0
    var haveSize = false
    if gst_caps_get_size(caps) > 0, let s = gst_caps_get_structure(caps, 0) {
      haveSize = gst_structure_get_int(s, "width", &width) != 0 && gst_structure_get_int(s, "height", &height) != 0
    }
    state.withLock { state in
      state?.capsWidth = haveSize ? width : nil
      state?.capsHeight = haveSize ? height : nil
    }
    JSONDebug.debug(element, haveSize ? "caps frame size \(width)x\(height)" : "caps without a frame size")
    return true
  }

  // MARK: Buffers

  func transform(_ element: UnsafeMutablePointer<GstElement>, _ buffer: UnsafeMutablePointer<GstBuffer>) -> GstFlowReturn {
    let base = UnsafeMutableRawPointer(element).assumingMemoryBound(to: GstBaseTransform.self)
    let pts = agb_buffer_pts(buffer)
    var runningTime: UInt64? = nil
    if agb_clock_time_is_valid(pts) != 0, base.pointee.segment.format == GST_FORMAT_TIME {
      let rt = gst_segment_to_running_time(&base.pointee.segment, GST_FORMAT_TIME, pts)
      if agb_clock_time_is_valid(rt) != 0 { runningTime = UInt64(rt) }
    }
    var metaWidth: Int32?, metaHeight: Int32?
    if let meta = gst_buffer_get_custom_meta(buffer, AgeGenderMeta.name), let s = gst_custom_meta_get_structure(meta) {
      var w: Int32 = 0, h: Int32 = 0
      if gst_structure_get_int(s, "width", &w) != 0, gst_structure_get_int(s, "height", &h) != 0 {
        metaWidth = w
        metaHeight = h
      }
    }
    let faces = AgeGenderMeta.faces(of: buffer) ?? []

    return state.withLock { state -> GstFlowReturn in
      guard state != nil else {
        postError(element, resource: false, code: Int32(GST_STREAM_ERROR_FAILED.rawValue),
          text: "agegenderjson received a buffer before it was started", debug: nil)
        return GST_FLOW_ERROR
      }
      let line = Self.jsonText(
        sourceID: state!.sourceID, pts: agb_clock_time_is_valid(pts) != 0 ? UInt64(pts) : nil, runningTime: runningTime,
        width: metaWidth ?? state!.capsWidth, height: metaHeight ?? state!.capsHeight, faces: faces)
      return emit(element, line, into: &state!) ? GST_FLOW_OK : GST_FLOW_ERROR
    }
  }

  /// A custom downstream event from `agegender`: a person (`agegender-track`)
  /// or the summary (`agegender-summary`) becomes a line. Returns false when
  /// the line could not be written (an element error was posted).
  func audienceEvent(_ element: UnsafeMutablePointer<GstElement>, _ event: UnsafeMutablePointer<GstEvent>) -> Bool {
    guard let structure = gst_event_get_structure(event) else { return true }
    let members: (JSONWriter) -> Void
    if let person = PersonTrack(structure: structure) {
      members = { person.writeMembers($0) }
    } else if let summary = AudienceSummary(structure: structure) {
      members = { summary.writeMembers($0) }
    } else {
      return true
    }
    return state.withLock { state in
      guard state != nil else { return true }
      // Event lines name their stream too (source-id), first as in the frame lines.
      let json = JSONWriter()
      json.object {
        if let sourceID = state!.sourceID { json.member("source_id", sourceID) }
        members(json)
      }
      return emit(element, json.text(), into: &state!)
    }
  }

  /// Publishes one line (MQTT) and writes it with its newline (file or stdout).
  private func emit(_ element: UnsafeMutablePointer<GstElement>, _ line: String, into state: inout State) -> Bool {
    state.mqtt?.publish(line)  // one message per line, without its newline
    if state.descriptor >= 0, let failure = Self.writeAll(state.descriptor, line + "\n") {
      let text = "Could not write to file \"\(state.path)\": \(failure)"
      postError(element, resource: true, code: Int32(GST_RESOURCE_ERROR_WRITE.rawValue), text: text, debug: nil)
      return false
    }
    state.lines += 1
    return true
  }

  /// Writes every byte, retrying on EINTR and short writes; returns the error text on failure.
  static func writeAll(_ fd: Int32, _ text: String) -> String? {
    var text = text
    return text.withUTF8 { bytes -> String? in
      var offset = 0
      while offset < bytes.count {
        let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if n < 0 {
          if errno == EINTR { continue }
          return String(cString: strerror(errno))
        }
        offset += n
      }
      return nil
    }
  }

  // MARK: JSON

  /// One frame's JSON object (without the newline), in json-glib's text.
  static func jsonText(sourceID: String? = nil, pts: UInt64?, runningTime: UInt64?, width: Int32?, height: Int32?,
    faces: [FaceRecord]) -> String {
    let json = JSONWriter()
    json.object {
      if let sourceID { json.member("source_id", sourceID) }
      json.member("pts", pts)
      json.member("running_time", runningTime)
      json.member("width", width)
      json.member("height", height)
      json.member("faces") {
        json.array {
          for face in faces { json.object { face.writeMembers(json) } }
        }
      }
    }
    return json.text()
  }

  func postError(_ element: UnsafeMutablePointer<GstElement>, resource: Bool, code: Int32, text: String,
    debug: String?, file: StaticString = #fileID, function: StaticString = #function, line: Int = #line) {
    agb_element_error(
      element, resource ? 1 : 0, code, text, debug,
      UnsafeRawPointer(file.utf8Start).assumingMemoryBound(to: CChar.self),
      UnsafeRawPointer(function.utf8Start).assumingMemoryBound(to: CChar.self), Int32(line))
  }
}

/// The element's debug category ("agegenderjson"): GST_DEBUG=agegenderjson:5 shows its logs.
enum JSONDebug {
  nonisolated(unsafe) private static var category: UnsafeMutablePointer<GstDebugCategory>?

  /// Called while the element's GType registers (in plugin_init).
  static func register() {
    if category == nil {
      category = _gst_debug_category_new("agegenderjson", 0, "Writes agegender face metadata as JSON Lines")
    }
  }

  static func log(_ level: GstDebugLevel, _ object: UnsafeMutableRawPointer?, _ message: @autoclosure () -> String,
    file: StaticString = #fileID, function: StaticString = #function, line: Int = #line) {
    guard let category, level.rawValue <= gst_debug_category_get_threshold(category).rawValue else { return }
    let text = message()
    agb_debug_log(
      category, level, UnsafeRawPointer(file.utf8Start).assumingMemoryBound(to: CChar.self),
      UnsafeRawPointer(function.utf8Start).assumingMemoryBound(to: CChar.self), Int32(line),
      object?.assumingMemoryBound(to: GObject.self), text)
  }

  static func error(_ object: UnsafeMutableRawPointer?, _ message: @autoclosure () -> String, line: Int = #line) {
    log(GST_LEVEL_ERROR, object, message(), line: line)
  }
  static func info(_ object: UnsafeMutableRawPointer?, _ message: @autoclosure () -> String, line: Int = #line) {
    log(GST_LEVEL_INFO, object, message(), line: line)
  }
  static func debug(_ object: UnsafeMutableRawPointer?, _ message: @autoclosure () -> String, line: Int = #line) {
    log(GST_LEVEL_DEBUG, object, message(), line: line)
  }
  static func warning(_ object: UnsafeMutableRawPointer?, _ message: @autoclosure () -> String, line: Int = #line) {
    log(GST_LEVEL_WARNING, object, message(), line: line)
  }
}

/// The element pointer handed to libmosquitto's thread (GstElement messages are thread-safe).
struct UncheckedElement: @unchecked Sendable {
  let element: UnsafeMutablePointer<GstElement>
  init(_ element: UnsafeMutablePointer<GstElement>) { self.element = element }
}
