import AgeGenderMeta
import CGStreamer
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
/// Each line:
///
///     {"pts":40000000,"running_time":40000000,"width":960,"height":540,
///      "faces":[{"x":..,"y":..,"width":..,"height":..,"confidence":..,"age":..,
///                "age_min":..,"age_max":..,"gender":"female","gender_confidence":..,"track_id":0,
///                "landmarks":[[x,y],[x,y],[x,y],[x,y],[x,y]]}]}
///
/// `pts` and `running_time` are nanoseconds or null; `width`/`height` come from
/// the meta, else from the caps, else null; `faces` is empty when the buffer
/// carries no meta; `landmarks` (left eye, right eye, nose tip, mouth corners,
/// in the scaled frame's pixels) only where the detector gives them. Every line is written with one write(2) as soon as it is
/// complete (no buffering), so readers can follow the file while it grows.
final class AgeGenderJSONElement: @unchecked Sendable {
  // MARK: Properties

  enum Property: UInt32 {
    case location = 1
  }

  static let properties: [PropertySpec] = [
    PropertySpec(
      id: Property.location.rawValue, name: "location", nick: "File location",
      blurb: "File to write the JSON Lines to (one object per buffer; created or truncated at start); unset: standard output",
      kind: .string(default: nil), mutableWhilePlaying: false)
  ]

  struct Settings {
    var location: String? = nil
  }

  /// Open output and negotiated frame size, from start() to stop().
  struct State {
    /// File descriptor written to; `ownsDescriptor` is false for stdout.
    var descriptor: Int32
    var ownsDescriptor: Bool
    var path: String
    var capsWidth: Int32?
    var capsHeight: Int32?
    var lines: UInt64 = 0
  }

  let settings = Mutex(Settings())
  let state = Mutex<State?>(nil)

  // MARK: Property access

  func setProperty(_ id: UInt32, _ value: UnsafePointer<GValue>) {
    guard let property = Property(rawValue: id) else { return }
    settings.withLock { s in
      switch property {
      case .location: s.location = g_value_get_string(value).map { String(cString: $0) }
      }
    }
  }

  func getProperty(_ id: UInt32, _ value: UnsafeMutablePointer<GValue>) {
    guard let property = Property(rawValue: id) else { return }
    let s = settings.withLock { $0 }
    switch property {
    case .location: g_value_set_string(value, s.location)
    }
  }

  // MARK: Lifecycle

  /// Opens (creates or truncates) the output file; an unset or empty location means stdout.
  func start(_ element: UnsafeMutablePointer<GstElement>) -> Bool {
    let location = settings.withLock { $0.location }
    guard let path = location, !path.isEmpty else {
      state.withLock { $0 = State(descriptor: STDOUT_FILENO, ownsDescriptor: false, path: "stdout") }
      JSONDebug.info(element, "writing JSON lines to stdout")
      return true
    }
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
    state.withLock { $0 = State(descriptor: fd, ownsDescriptor: true, path: path) }
    JSONDebug.info(element, "writing JSON lines to \(path)")
    return true
  }

  func stop(_ element: UnsafeMutablePointer<GstElement>) -> Bool {
    let closed = state.withLock { state -> State? in
      defer { state = nil }
      return state
    }
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
      let line = Self.jsonLine(
        pts: agb_clock_time_is_valid(pts) != 0 ? UInt64(pts) : nil, runningTime: runningTime,
        width: metaWidth ?? state!.capsWidth, height: metaHeight ?? state!.capsHeight, faces: faces)
      if let failure = Self.writeAll(state!.descriptor, line) {
        let text = "Could not write to file \"\(state!.path)\": \(failure)"
        postError(element, resource: true, code: Int32(GST_RESOURCE_ERROR_WRITE.rawValue), text: text, debug: nil)
        return GST_FLOW_ERROR
      }
      state!.lines += 1
      return GST_FLOW_OK
    }
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

  /// One JSON object and its newline.
  static func jsonLine(pts: UInt64?, runningTime: UInt64?, width: Int32?, height: Int32?, faces: [FaceRecord]) -> String {
    var out = "{\"pts\":"
    out += pts.map { String($0) } ?? "null"
    out += ",\"running_time\":"
    out += runningTime.map { String($0) } ?? "null"
    out += ",\"width\":"
    out += width.map { String($0) } ?? "null"
    out += ",\"height\":"
    out += height.map { String($0) } ?? "null"
    out += ",\"faces\":["
    for (index, face) in faces.enumerated() {
      if index > 0 { out += "," }
      out += "{\"x\":\(face.x),\"y\":\(face.y),\"width\":\(face.width),\"height\":\(face.height)"
      out += ",\"confidence\":" + JSONText.number(face.confidence)
      out += ",\"age\":" + JSONText.number(face.age)
      out += ",\"age_min\":" + JSONText.number(face.ageMin)
      out += ",\"age_max\":" + JSONText.number(face.ageMax)
      out += ",\"gender\":" + JSONText.string(face.gender)
      out += ",\"gender_confidence\":" + JSONText.number(face.genderConfidence)
      out += ",\"track_id\":\(face.trackID)"
      if face.landmarks.count == 10 {
        out += ",\"landmarks\":["
        for k in 0..<5 {
          if k > 0 { out += "," }
          out += "[" + JSONText.number(face.landmarks[2 * k]) + "," + JSONText.number(face.landmarks[2 * k + 1]) + "]"
        }
        out += "]"
      }
      out += "}"
    }
    out += "]}\n"
    return out
  }

  func postError(_ element: UnsafeMutablePointer<GstElement>, resource: Bool, code: Int32, text: String,
    debug: String?, file: StaticString = #fileID, function: StaticString = #function, line: Int = #line) {
    agb_element_error(
      element, resource ? 1 : 0, code, text, debug,
      UnsafeRawPointer(file.utf8Start).assumingMemoryBound(to: CChar.self),
      UnsafeRawPointer(function.utf8Start).assumingMemoryBound(to: CChar.self), Int32(line))
  }
}

/// JSON text without Foundation: RFC 8259 strings and numbers, independent of locale.
enum JSONText {
  /// A finite double in Swift's shortest round-trip form ("0.5", "34.0", "1e-05",
  /// always with '.' whatever the locale); NaN and infinities, which JSON cannot
  /// express, become null.
  static func number(_ value: Double) -> String {
    value.isFinite ? value.description : "null"
  }

  /// A quoted string: '"', '\' and control characters escaped; the rest as UTF-8.
  static func string(_ value: String) -> String {
    var out = "\""
    out.reserveCapacity(value.utf8.count + 2)
    for scalar in value.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case "\u{08}": out += "\\b"
      case "\u{0C}": out += "\\f"
      case "\u{2028}": out += "\\u2028"  // valid JSON either way; escaped for JavaScript readers
      case "\u{2029}": out += "\\u2029"
      default:
        if scalar.value < 0x20 || scalar.value == 0x7F {
          let hex = String(scalar.value, radix: 16)
          out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    out += "\""
    return out
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
}
