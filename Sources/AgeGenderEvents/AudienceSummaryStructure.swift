import CGStreamer
import FaceAnalysis

/// The audience summary (`AudienceSummary`) as GStreamer carries it at the end
/// of the stream: the `agegender-summary` structure of the element message and
/// of the custom downstream event that `agegenderjson` writes as a JSON line.
///
///     agegender-summary, people=(uint)3, female=(uint)2, male=(uint)1,
///       dwell-mean=(guint64)3280000000, dwell-max=(guint64)3280000000,
///       age-brackets=(structure){ "age-bracket\,\ name\=\(string\)0-12\,\ people\=\(uint\)0\,...", ... }
///
/// `age-brackets` is a list with one `age-bracket` structure (`name`, `people`,
/// `female`, `male`) per bracket: 0-12, 13-19, 20-29, 30-39, 40-49, 50-59, 60+.
/// Dwell times in nanoseconds.
extension AudienceSummary {
  public static let structureName = "agegender-summary"

  /// A new structure (the caller owns it).
  public func makeStructure() -> UnsafeMutablePointer<GstStructure> {
    let s = gst_structure_new_empty(Self.structureName)!
    agb_structure_set_uint(s, "people", guint(clamping: people))
    agb_structure_set_uint(s, "female", guint(clamping: female))
    agb_structure_set_uint(s, "male", guint(clamping: male))
    agb_structure_set_uint64(s, "dwell-mean", guint64(meanDwell))
    agb_structure_set_uint64(s, "dwell-max", guint64(maxDwell))
    var list = GValue()
    g_value_init(&list, agb_gtype_list())
    for entry in brackets {
      let b = gst_structure_new_empty("age-bracket")!
      agb_structure_set_string(b, "name", entry.bracket.name)
      agb_structure_set_uint(b, "people", guint(clamping: entry.people))
      agb_structure_set_uint(b, "female", guint(clamping: entry.female))
      agb_structure_set_uint(b, "male", guint(clamping: entry.male))
      var value = GValue()
      g_value_init(&value, agb_gtype_structure())
      gst_value_set_structure(&value, b)
      gst_structure_free(b)
      gst_value_list_append_and_take_value(&list, &value)
    }
    gst_structure_take_value(s, "age-brackets", &list)
    return s
  }

  /// Reads an `agegender-summary` structure; nil for any other structure.
  public init?(structure s: UnsafePointer<GstStructure>) {
    guard gst_structure_has_name(s, Self.structureName) != 0 else { return nil }
    var female: guint = 0, male: guint = 0, mean: guint64 = 0, longest: guint64 = 0
    guard gst_structure_get_uint(s, "female", &female) != 0, gst_structure_get_uint(s, "male", &male) != 0 else {
      return nil
    }
    gst_structure_get_uint64(s, "dwell-mean", &mean)
    gst_structure_get_uint64(s, "dwell-max", &longest)
    var brackets: [BracketCount] = []
    if let list = gst_structure_get_value(s, "age-brackets"), list.pointee.g_type == agb_gtype_list() {
      for i in 0..<gst_value_list_get_size(list) {
        guard let value = gst_value_list_get_value(list, i), value.pointee.g_type == agb_gtype_structure(),
          let b = gst_value_get_structure(value), let name = gst_structure_get_string(b, "name"),
          let bracket = AgeBracket(name: String(cString: name))
        else { continue }
        var f: guint = 0, m: guint = 0
        gst_structure_get_uint(b, "female", &f)
        gst_structure_get_uint(b, "male", &m)
        brackets.append(BracketCount(bracket: bracket, female: Int(f), male: Int(m)))
      }
    }
    self.init(female: Int(female), male: Int(male), brackets: brackets, meanDwell: UInt64(mean), maxDwell: UInt64(longest))
  }

  /// The JSON line `agegenderjson` writes at the end of the stream (without the newline):
  /// `{"event":"summary","people":3,"female":2,"male":1,"age_brackets":{"0-12":{"people":0,"female":0,"male":0},
  /// ...,"60+":{...}},"dwell_mean":3280000000,"dwell_max":3280000000}`.
  public func jsonText() -> String {
    let json = JSONWriter()
    json.object { writeMembers(json) }
    return json.text()
  }

  /// The summary's members, `"event":"summary"` first, into an object being built.
  public func writeMembers(_ json: JSONWriter) {
    json.member("event", "summary")
    json.member("people", people)
    json.member("female", female)
    json.member("male", male)
    json.member("age_brackets") {
      json.object {
        for entry in brackets {
          json.member(entry.bracket.name) {
            json.object {
              json.member("people", entry.people)
              json.member("female", entry.female)
              json.member("male", entry.male)
            }
          }
        }
      }
    }
    json.member("dwell_mean", meanDwell)
    json.member("dwell_max", maxDwell)
  }
}
