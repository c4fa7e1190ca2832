import CGStreamer

/// The element's debug category ("agegender"): GST_DEBUG=agegender:5 shows its logs.
enum Debug {
  nonisolated(unsafe) private static var category: UnsafeMutablePointer<GstDebugCategory>?

  static func register() {
    if category == nil {
      category = _gst_debug_category_new("agegender", 0, "Face detection with age and gender estimation")
    }
  }

  /// Whether messages of `level` would be logged now.
  static func isEnabled(_ level: GstDebugLevel) -> Bool {
    guard let category else { return false }
    return level.rawValue <= gst_debug_category_get_threshold(category).rawValue
  }

  static func log(_ level: GstDebugLevel, _ object: UnsafeMutableRawPointer?, _ message: @autoclosure () -> String,
    file: StaticString = #fileID, function: StaticString = #function, line: Int = #line) {
    guard let category, level.rawValue <= gst_debug_category_get_threshold(category).rawValue else { return }
    let text = message()
    file.withUTF8Buffer { f in
      function.withUTF8Buffer { fn in
        // StaticStrings are NUL-terminated.
        agb_debug_log(
          category, level, UnsafeRawPointer(f.baseAddress!).assumingMemoryBound(to: CChar.self),
          UnsafeRawPointer(fn.baseAddress!).assumingMemoryBound(to: CChar.self), Int32(line),
          object?.assumingMemoryBound(to: GObject.self), text)
      }
    }
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
