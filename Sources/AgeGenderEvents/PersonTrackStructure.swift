import CGStreamer
import FaceAnalysis

/// A person (an ended track, `PersonTrack`) as GStreamer carries it: the
/// `agegender-track` structure of the element message on the bus and of the
/// custom downstream event that `agegenderjson` turns into a JSON line.
///
///     agegender-track, track-id=(guint64)3, first-pts=(guint64)0, last-pts=(guint64)3200000000,
///       frames=(uint)41, age=(double)31.2, age-min=(double)21.2, age-max=(double)42.4,
///       gender=(string)female, gender-confidence=(double)0.98, max-face-width=(int)66,
///       dwell=(guint64)3280000000, label=(string)"Female\,\ 31"
///
/// Times in nanoseconds; a missing timestamp is GST_CLOCK_TIME_NONE.
extension PersonTrack {
  public static let structureName = "agegender-track"

  /// A new structure (the caller owns it).
  public func makeStructure() -> UnsafeMutablePointer<GstStructure> {
    let s = gst_structure_new_empty(Self.structureName)!
    agb_structure_set_uint64(s, "track-id", guint64(trackID))
    agb_structure_set_uint64(s, "first-pts", firstPTS.map { guint64($0) } ?? agb_clock_time_none())
    agb_structure_set_uint64(s, "last-pts", lastPTS.map { guint64($0) } ?? agb_clock_time_none())
    agb_structure_set_uint(s, "frames", guint(clamping: frames))
    agb_structure_set_double(s, "age", age)
    agb_structure_set_double(s, "age-min", ageMin)
    agb_structure_set_double(s, "age-max", ageMax)
    agb_structure_set_string(s, "gender", gender.rawValue)
    agb_structure_set_double(s, "gender-confidence", genderConfidence)
    agb_structure_set_int(s, "max-face-width", gint(clamping: maxFaceWidth))
    agb_structure_set_uint64(s, "dwell", guint64(dwell))
    agb_structure_set_string(s, "label", label)
    return s
  }

  /// Reads an `agegender-track` structure; nil for any other structure.
  public init?(structure s: UnsafePointer<GstStructure>) {
    guard gst_structure_has_name(s, Self.structureName) != 0 else { return nil }
    var id: guint64 = 0, first: guint64 = 0, last: guint64 = 0, dwell: guint64 = 0
    var frames: guint = 0, width: gint = 0
    var age = 0.0, ageMin = 0.0, ageMax = 0.0, confidence = 0.0
    guard gst_structure_get_uint64(s, "track-id", &id) != 0, gst_structure_get_uint(s, "frames", &frames) != 0,
      gst_structure_get_double(s, "age", &age) != 0,
      let genderText = gst_structure_get_string(s, "gender"),
      let gender = Gender(rawValue: String(cString: genderText))
    else { return nil }
    gst_structure_get_uint64(s, "first-pts", &first)
    gst_structure_get_uint64(s, "last-pts", &last)
    gst_structure_get_uint64(s, "dwell", &dwell)
    gst_structure_get_double(s, "age-min", &ageMin)
    gst_structure_get_double(s, "age-max", &ageMax)
    gst_structure_get_double(s, "gender-confidence", &confidence)
    gst_structure_get_int(s, "max-face-width", &width)
    let label = gst_structure_get_string(s, "label").map { String(cString: $0) } ?? ""
    let none = agb_clock_time_none()
    self.init(
      trackID: UInt64(id), firstPTS: first == none ? nil : UInt64(first), lastPTS: last == none ? nil : UInt64(last),
      frames: Int(frames),
      age: age, ageMin: ageMin, ageMax: ageMax, gender: gender, genderConfidence: confidence,
      maxFaceWidth: Int(width), dwell: UInt64(dwell), label: label)
  }

  /// The JSON line `agegenderjson` writes for it (without the newline):
  /// `{"event":"track","track_id":3,"first_pts":0,"last_pts":3200000000,"frames":41,"age":..,"age_min":..,
  /// "age_max":..,"gender":"female","gender_confidence":..,"max_face_width":66,"dwell":3280000000,"label":"Female, 31"}`.
  public func jsonText() -> String {
    let json = JSONWriter()
    json.object { writeMembers(json) }
    return json.text()
  }

  /// The person's members into an object being built; `"event":"track"` first when `event`.
  public func writeMembers(_ json: JSONWriter, event: Bool = true) {
    if event { json.member("event", "track") }
    json.member("track_id", trackID)
    json.member("first_pts", firstPTS)
    json.member("last_pts", lastPTS)
    json.member("frames", frames)
    json.member("age", age)
    json.member("age_min", ageMin)
    json.member("age_max", ageMax)
    json.member("gender", gender.rawValue)
    json.member("gender_confidence", genderConfidence)
    json.member("max_face_width", maxFaceWidth)
    json.member("dwell", dwell)
    json.member("label", label)
  }
}
