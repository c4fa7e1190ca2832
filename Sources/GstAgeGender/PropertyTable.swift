import CGStreamer

/// One element property, declared once: name, blurb, range and default.
/// `install` turns it into a GParamSpec; `Settings` reads and writes values by id.
struct PropertySpec {
  enum Kind {
    case boolean(default: Bool)
    case int(min: Int32, max: Int32, default: Int32)
    case double(min: Double, max: Double, default: Double)
    case string(default: StaticString?)
    case enumeration(type: GType, default: Int32)
  }

  let id: UInt32
  let name: StaticString
  let nick: StaticString
  let blurb: StaticString
  let kind: Kind
  /// Whether it may change while PLAYING (otherwise only in NULL or READY).
  let mutableWhilePlaying: Bool

  private func cString(_ s: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
  }

  /// GParamSpec with static strings (StaticString storage lives forever).
  func makeParamSpec() -> UnsafeMutablePointer<GParamSpec> {
    let flags = agb_param_flags(mutableWhilePlaying ? 1 : 0)
    let n = cString(name), k = cString(nick), b = cString(blurb)
    switch kind {
    case .boolean(let value):
      return g_param_spec_boolean(n, k, b, value ? 1 : 0, flags)
    case .int(let min, let max, let value):
      return g_param_spec_int(n, k, b, min, max, value, flags)
    case .double(let min, let max, let value):
      return g_param_spec_double(n, k, b, min, max, value, flags)
    case .string(let value):
      return g_param_spec_string(n, k, b, value.map(cString), flags)
    case .enumeration(let type, let value):
      return g_param_spec_enum(n, k, b, type, value, flags)
    }
  }
}

/// A GEnum type for an enumerated property; registered once, never freed
/// (GLib keeps pointers to the value table and its strings).
func registerEnum(_ name: StaticString, _ values: [(Int32, nick: StaticString, name: StaticString)]) -> GType {
  let table = UnsafeMutablePointer<GEnumValue>.allocate(capacity: values.count + 1)
  func c(_ s: StaticString) -> UnsafePointer<CChar> { UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self) }
  for (i, v) in values.enumerated() {
    table[i] = GEnumValue(value: v.0, value_name: c(v.name), value_nick: c(v.nick))
  }
  table[values.count] = GEnumValue(value: 0, value_name: nil, value_nick: nil)
  return g_enum_register_static(c(name), table)
}
