import CGStreamer
import GstPipeline

/// `name=value` words for the agegender element, checked against a scratch
/// instance before anything starts: unknown names, read-only properties, values
/// that do not parse and values out of range are refused with the reason.
struct ElementProperties {
  private(set) var assignments: [(name: String, value: String)] = []

  init(words: [String]) throws {
    for word in words {
      guard let eq = word.firstIndex(of: "="), eq != word.startIndex else {
        throw Pipeline.Failure("'\(word)' is not an element property setting (name=value)")
      }
      assignments.append((String(word[..<eq]), String(word[word.index(after: eq)...])))
    }
  }

  /// Checks every assignment on a fresh `agegender` element (no model is loaded).
  /// `defaults` are added first for properties the element has and the words do not set.
  mutating func validate(defaults: [(name: String, value: String)] = []) throws {
    guard let made = gst_element_factory_make("agegender", nil) else {
      throw Pipeline.Failure(
        "the agegender element is not available (GST_PLUGIN_PATH=\(getenv("GST_PLUGIN_PATH").map { String(cString: $0) } ?? "unset"); "
          + "run `make build`, or pass --plugin-path)")
    }
    let element = gst_object_ref_sink(made).assumingMemoryBound(to: GstElement.self)
    defer { agb_object_unref(element) }
    for (name, value) in defaults.reversed()
    where agb_object_find_property(element, name) != nil && !assignments.contains(where: { $0.name == name }) {
      assignments.insert((name, value), at: 0)
    }
    for (name, value) in assignments {
      guard name != "name", name != "parent", let pspec = agb_object_find_property(element, name) else {
        throw Pipeline.Failure(
          "agegender has no property '\(name)' (it has: \(Self.ownProperties(of: element).joined(separator: ", ")))")
      }
      guard pspec.pointee.flags.rawValue & G_PARAM_WRITABLE.rawValue != 0 else {
        throw Pipeline.Failure("agegender property '\(name)' is read-only")
      }
      var parsed = GValue()
      g_value_init(&parsed, pspec.pointee.value_type)
      defer { g_value_unset(&parsed) }
      let typeName = String(cString: g_type_name(pspec.pointee.value_type))
      guard gst_value_deserialize(&parsed, value) != 0 else {
        throw Pipeline.Failure("agegender property '\(name)': '\(value)' is not a valid \(typeName)")
      }
      if g_param_value_validate(pspec, &parsed) != 0 {
        throw Pipeline.Failure("agegender property '\(name)': \(value) is out of range")
      }
    }
  }

  func apply(to element: UnsafeMutablePointer<GstElement>) throws {
    for (name, value) in assignments { try Pipeline.setProperty(element, name, value) }
  }

  /// Names of the properties the element's own class installs (not GstObject's or GstBaseTransform's).
  static func ownProperties(of element: UnsafeMutablePointer<GstElement>) -> [String] {
    let instance = UnsafeMutableRawPointer(element).assumingMemoryBound(to: GTypeInstance.self)
    guard let typeClass = instance.pointee.g_class else { return [] }
    let ownType = typeClass.pointee.g_type
    var count: guint = 0
    guard
      let specs = g_object_class_list_properties(
        UnsafeMutableRawPointer(typeClass).assumingMemoryBound(to: GObjectClass.self), &count)
    else { return [] }
    defer { g_free(specs) }
    return (0..<Int(count)).compactMap { i in
      guard let spec = specs[i], spec.pointee.owner_type == ownType else { return nil }
      return String(cString: g_param_spec_get_name(spec))
    }
  }
}
