import CGStreamer
import CJSONGlib

/// One JSON object written with json-glib's JsonBuilder and JsonGenerator (the
/// GLib-family library GStreamer's own plugins use): escaping of strings and
/// locale-independent numbers are json-glib's. Doubles come out with 17
/// significant digits (g_ascii_dtostr), so they read back exactly (0.93 is
/// written 0.93000000000000005); NaN and infinities, which JSON cannot express,
/// are written as null.
///
///     let json = JSONWriter()
///     json.object {
///       json.member("pts", UInt64(40_000_000))
///       json.member("faces") { json.array { ... } }
///     }
///     let line = json.text()
public final class JSONWriter {
  private let builder: UnsafeMutablePointer<JsonBuilder>

  public init() {
    builder = json_builder_new()
  }

  deinit {
    g_object_unref(builder)
  }

  /// `{ ... }` around what `body` adds (members).
  public func object(_ body: () -> Void) {
    json_builder_begin_object(builder)
    body()
    json_builder_end_object(builder)
  }

  /// `[ ... ]` around what `body` adds (values).
  public func array(_ body: () -> Void) {
    json_builder_begin_array(builder)
    body()
    json_builder_end_array(builder)
  }

  // MARK: Values (in an array, or after `name`)

  public func value(_ number: Int64) { json_builder_add_int_value(builder, gint64(number)) }

  public func value(_ number: Double) {
    if number.isFinite { json_builder_add_double_value(builder, number) } else { json_builder_add_null_value(builder) }
  }

  public func value(_ text: String) { json_builder_add_string_value(builder, text) }

  public func null() { json_builder_add_null_value(builder) }

  public func name(_ name: String) { json_builder_set_member_name(builder, name) }

  // MARK: Members (in an object)

  public func member(_ name: String, _ number: Int64?) {
    self.name(name)
    if let number { value(number) } else { null() }
  }

  public func member(_ name: String, _ number: UInt64?) {
    member(name, number.map { Int64(clamping: $0) })
  }

  public func member(_ name: String, _ number: Int) { member(name, Int64(number)) }

  public func member(_ name: String, _ number: Int32?) { member(name, number.map(Int64.init)) }

  public func member(_ name: String, _ number: Double) {
    self.name(name)
    value(number)
  }

  public func member(_ name: String, _ text: String) {
    self.name(name)
    value(text)
  }

  /// A member whose value `body` adds (an object or an array).
  public func member(_ name: String, _ body: () -> Void) {
    self.name(name)
    body()
  }

  /// The JSON text of what was built (one line, no newline).
  public func text() -> String {
    let generator = json_generator_new()!
    defer { g_object_unref(generator) }
    guard let root = json_builder_get_root(builder) else { return "null" }
    defer { json_node_unref(root) }
    json_generator_set_root(generator, root)
    guard let data = json_generator_to_data(generator, nil) else { return "null" }
    defer { g_free(data) }
    return String(cString: data)
  }
}
