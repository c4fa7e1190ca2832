import CGStreamer

/// The settings value of an element: its `init()` holds every property's default.
protocol ElementSettings {
  init()
}

/// One element property, declared once: name, blurb, range, and the field of
/// `Settings` it reads and writes (its default is that field's value in
/// `Settings()`). The table of an element installs the GParamSpecs and serves
/// get/set by property id, so a new property is one entry and one field.
struct PropertySpec<Settings: ElementSettings> {
  enum Kind {
    case boolean(default: Bool)
    case int(min: Int32, max: Int32, default: Int32)
    case double(min: Double, max: Double, default: Double)
    case string(default: String?)
    case enumeration(type: GType, default: Int32)
  }

  let name: StaticString
  let nick: StaticString
  let blurb: StaticString
  let kind: Kind
  /// Whether it may change while PLAYING (otherwise only in NULL or READY).
  let mutableWhilePlaying: Bool
  /// Copies the field into a GValue of the property's type.
  let read: (Settings, UnsafeMutablePointer<GValue>) -> Void
  /// Stores a GValue (already validated by GObject against the param spec) in the field.
  let write: (inout Settings, UnsafePointer<GValue>) -> Void

  static func boolean(
    _ name: StaticString, nick: StaticString, blurb: StaticString,
    _ key: WritableKeyPath<Settings, Bool>, mutableWhilePlaying: Bool
  ) -> Self {
    Self(
      name: name, nick: nick, blurb: blurb, kind: .boolean(default: Settings()[keyPath: key]),
      mutableWhilePlaying: mutableWhilePlaying,
      read: { s, value in g_value_set_boolean(value, s[keyPath: key] ? 1 : 0) },
      write: { s, value in s[keyPath: key] = g_value_get_boolean(value) != 0 })
  }

  static func int(
    _ name: StaticString, nick: StaticString, blurb: StaticString,
    _ key: WritableKeyPath<Settings, Int32>, range: ClosedRange<Int32>, mutableWhilePlaying: Bool
  ) -> Self {
    Self(
      name: name, nick: nick, blurb: blurb,
      kind: .int(min: range.lowerBound, max: range.upperBound, default: Settings()[keyPath: key]),
      mutableWhilePlaying: mutableWhilePlaying,
      read: { s, value in g_value_set_int(value, s[keyPath: key]) },
      write: { s, value in s[keyPath: key] = g_value_get_int(value) })
  }

  static func double(
    _ name: StaticString, nick: StaticString, blurb: StaticString,
    _ key: WritableKeyPath<Settings, Double>, range: ClosedRange<Double>, mutableWhilePlaying: Bool
  ) -> Self {
    Self(
      name: name, nick: nick, blurb: blurb,
      kind: .double(min: range.lowerBound, max: range.upperBound, default: Settings()[keyPath: key]),
      mutableWhilePlaying: mutableWhilePlaying,
      read: { s, value in g_value_set_double(value, s[keyPath: key]) },
      write: { s, value in s[keyPath: key] = g_value_get_double(value) })
  }

  /// A string that may be unset (NULL).
  static func string(
    _ name: StaticString, nick: StaticString, blurb: StaticString,
    _ key: WritableKeyPath<Settings, String?>, mutableWhilePlaying: Bool
  ) -> Self {
    Self(
      name: name, nick: nick, blurb: blurb, kind: .string(default: Settings()[keyPath: key]),
      mutableWhilePlaying: mutableWhilePlaying,
      read: { s, value in g_value_set_string(value, s[keyPath: key]) },
      write: { s, value in s[keyPath: key] = g_value_get_string(value).map { String(cString: $0) } })
  }

  /// A string that always has a value: setting NULL restores the default.
  static func string(
    _ name: StaticString, nick: StaticString, blurb: StaticString,
    _ key: WritableKeyPath<Settings, String>, mutableWhilePlaying: Bool
  ) -> Self {
    let fallback = Settings()[keyPath: key]
    return Self(
      name: name, nick: nick, blurb: blurb, kind: .string(default: fallback),
      mutableWhilePlaying: mutableWhilePlaying,
      read: { s, value in g_value_set_string(value, s[keyPath: key]) },
      write: { s, value in s[keyPath: key] = g_value_get_string(value).map { String(cString: $0) } ?? fallback })
  }

  /// An enumeration registered with `registerEnum`; its Swift type's raw values are the GEnum values.
  static func enumeration<Value: RawRepresentable>(
    _ name: StaticString, nick: StaticString, blurb: StaticString,
    _ key: WritableKeyPath<Settings, Value>, type: GType, mutableWhilePlaying: Bool
  ) -> Self where Value.RawValue == Int32 {
    let fallback = Settings()[keyPath: key]
    return Self(
      name: name, nick: nick, blurb: blurb, kind: .enumeration(type: type, default: fallback.rawValue),
      mutableWhilePlaying: mutableWhilePlaying,
      read: { s, value in g_value_set_enum(value, s[keyPath: key].rawValue) },
      write: { s, value in s[keyPath: key] = Value(rawValue: g_value_get_enum(value)) ?? fallback })
  }

  private func cString(_ s: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
  }

  /// GParamSpec with static strings (StaticString storage lives forever; a
  /// string default is copied by g_param_spec_string).
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
      guard let value else { return g_param_spec_string(n, k, b, nil, flags) }
      return value.withCString { g_param_spec_string(n, k, b, $0, flags) }
    case .enumeration(let type, let value):
      return g_param_spec_enum(n, k, b, type, value, flags)
    }
  }
}

/// An element's properties in declaration order; property ids are positions + 1
/// (GObject reserves 0).
struct PropertyTable<Settings: ElementSettings> {
  let specs: [PropertySpec<Settings>]

  init(_ specs: [PropertySpec<Settings>]) { self.specs = specs }

  func install(on objectClass: UnsafeMutablePointer<GObjectClass>) {
    for (index, spec) in specs.enumerated() {
      g_object_class_install_property(objectClass, UInt32(index + 1), spec.makeParamSpec())
    }
  }

  private func spec(_ id: UInt32) -> PropertySpec<Settings>? {
    id >= 1 && Int(id) <= specs.count ? specs[Int(id) - 1] : nil
  }

  func set(_ id: UInt32, _ value: UnsafePointer<GValue>, in settings: inout Settings) {
    spec(id)?.write(&settings, value)
  }

  func get(_ id: UInt32, _ value: UnsafeMutablePointer<GValue>, from settings: Settings) {
    spec(id)?.read(settings, value)
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
