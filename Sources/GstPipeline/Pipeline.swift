import CGStreamer

#if canImport(Glibc)
  import Glibc
#endif

/// A GStreamer pipeline driven from Swift: what the command-line tools and the
/// tests share (parse-launch, properties by name, bus errors, appsrc/appsink).
public final class Pipeline {
  public struct Failure: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
    public init(_ message: String) { self.message = message }
  }

  public let element: UnsafeMutablePointer<GstElement>

  /// Initialises GStreamer once. When GST_PLUGIN_PATH is unset, points it at the
  /// checkout's staged plugin (build/plugins) found from the executable's path.
  public static func initialize(pluginPath: String? = nil) {
    if let pluginPath {
      setenv("GST_PLUGIN_PATH", pluginPath, 1)
    } else if getenv("GST_PLUGIN_PATH") == nil, let staged = stagedPluginDirectory() {
      setenv("GST_PLUGIN_PATH", staged, 1)
    }
    gst_init(nil, nil)
  }

  /// build/plugins of the checkout this executable was built in (.build/<config>/tool).
  public static func stagedPluginDirectory() -> String? {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard n > 0 else { return nil }
    var path = String(cString: buffer)
    // Walk up until a folder holding build/plugins/libgstagegender.so appears.
    while let slash = path.lastIndex(of: "/"), slash != path.startIndex {
      path = String(path[..<slash])
      let candidate = path + "/build/plugins"
      if access(candidate + "/libgstagegender.so", R_OK) == 0 { return candidate }
    }
    return nil
  }

  public init(_ description: String) throws {
    var error: UnsafeMutablePointer<GError>?
    let parsed = gst_parse_launch(description, &error)
    if let error {
      let message = String(cString: error.pointee.message)
      g_error_free(error)
      if let parsed { agb_object_unref(parsed) }
      throw Failure("cannot build pipeline '\(description)': \(message)")
    }
    guard let parsed else { throw Failure("cannot build pipeline '\(description)'") }
    element = parsed
  }

  deinit {
    gst_element_set_state(element, GST_STATE_NULL)
    agb_object_unref(element)
  }

  public func child(_ name: String) throws -> UnsafeMutablePointer<GstElement> {
    let bin = UnsafeMutableRawPointer(element).assumingMemoryBound(to: GstBin.self)
    guard let found = gst_bin_get_by_name(bin, name) else { throw Failure("no element named '\(name)' in the pipeline") }
    agb_object_unref(found)  // the pipeline keeps it alive
    return found
  }

  /// Sets a property from its string form, as gst-launch does; refuses unknown names.
  public static func setProperty(_ target: UnsafeMutablePointer<GstElement>, _ name: String, _ value: String) throws {
    guard agb_object_find_property(target, name) != nil else {
      let elementName = gst_object_get_name(UnsafeMutableRawPointer(target).assumingMemoryBound(to: GstObject.self))
      defer { g_free(elementName) }
      throw Failure("element '\(elementName.map { String(cString: $0) } ?? "?")' has no property '\(name)'")
    }
    gst_util_set_object_arg(UnsafeMutableRawPointer(target).assumingMemoryBound(to: GObject.self), name, value)
  }

  /// Applies `name=value` words to an element.
  public static func applyAssignments(_ words: [String], to target: UnsafeMutablePointer<GstElement>) throws {
    for word in words {
      guard let eq = word.firstIndex(of: "="), eq != word.startIndex else {
        throw Failure("'\(word)' is not name=value")
      }
      try setProperty(target, String(word[..<eq]), String(word[word.index(after: eq)...]))
    }
  }

  /// Moves to a state; on failure returns the bus error.
  public func setState(_ state: GstState) throws {
    if gst_element_set_state(element, state) == GST_STATE_CHANGE_FAILURE {
      throw Failure(pendingError() ?? "state change to \(state.rawValue) failed")
    }
  }

  /// The first error message waiting on the bus, as "element: text (debug)".
  public func pendingError(timeoutSeconds: UInt64 = 0) -> String? {
    let bus = gst_element_get_bus(element)!
    defer { agb_object_unref(bus) }
    guard let message = gst_bus_timed_pop_filtered(bus, agb_seconds(guint64(timeoutSeconds)), GST_MESSAGE_ERROR) else {
      return nil
    }
    defer { agb_message_unref(message) }
    return Self.describeError(message)
  }

  /// "element: message (debug)" for an error message. `dropSourceLine` leaves
  /// out the debug string's first line (the C source location and element
  /// path), for people rather than logs.
  public static func describeError(_ message: UnsafeMutablePointer<GstMessage>, dropSourceLine: Bool = false) -> String {
    var error: UnsafeMutablePointer<GError>?
    var debug: UnsafeMutablePointer<gchar>?
    gst_message_parse_error(message, &error, &debug)
    defer {
      if let error { g_error_free(error) }
      g_free(debug)
    }
    let source = agb_message_src(message).flatMap { gst_object_get_name($0) }
    defer { g_free(source) }
    let text = error.map { String(cString: $0.pointee.message) } ?? "unknown error"
    let name = source.map { String(cString: $0) } ?? "pipeline"
    guard var detail = debug.map({ String(cString: $0) }) else { return "\(name): \(text)" }
    if dropSourceLine { detail = detail.split(separator: "\n").dropFirst().joined(separator: " ") }
    return detail.isEmpty ? "\(name): \(text)" : "\(name): \(text) (\(detail))"
  }

  /// Plays to EOS; throws the first error, or a time-out after `timeoutSeconds`.
  /// `onMessage` sees every other bus message (element messages, say).
  public func run(timeoutSeconds: UInt64 = 120, onMessage: ((UnsafeMutablePointer<GstMessage>) -> Void)? = nil) throws {
    try setState(GST_STATE_PLAYING)
    let bus = gst_element_get_bus(element)!
    defer {
      agb_object_unref(bus)
      gst_element_set_state(element, GST_STATE_NULL)
    }
    let deadline = monotonicSeconds() + Double(timeoutSeconds)
    while true {
      let left = deadline - monotonicSeconds()
      if left <= 0 { throw Failure("pipeline did not finish within \(timeoutSeconds) s") }
      guard let message = gst_bus_timed_pop(bus, GstClockTime(min(left, 0.5) * 1e9)) else { continue }
      defer { agb_message_unref(message) }
      switch agb_message_type(message) {
      case GST_MESSAGE_EOS: return
      case GST_MESSAGE_ERROR: throw Failure(Self.describeError(message))
      default: onMessage?(message)
      }
    }
  }
}

public func monotonicSeconds() -> Double {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
