// read-faces: run the agegender element on a video file and print every face it
// reports, read from the buffers' GstAgeGenderMeta with the AgeGenderMeta library.
//
//   cd examples/swift && swift build -c release
//   GST_PLUGIN_PATH=../../build/plugins .build/release/read-faces VIDEO
//
// Pipeline: filesrc ! decodebin ! videoconvert ! agegender ! fakesink, with a
// buffer probe on the sink's pad. Output, one line per face, then a summary:
//
//   frame=1 x=72 y=64 width=62 height=83 age=39.0 gender=female gender_confidence=0.999 confidence=1.000 track_id=1
//   summary frames=56 frames_with_faces=56 faces=112 female=56 male=56 mean_age=35.2
import AgeGenderMeta
import CGStreamer  // the GStreamer C API; comes with the AgeGenderMeta product

#if canImport(Glibc)
  import Glibc
#endif

/// Counts, updated on the streaming thread by the probe, read after EOS.
final class Stats {
  var frames = 0, framesWithFaces = 0, faces = 0, female = 0, male = 0
  var ageSum = 0.0
}

/// "%.Nf" without Foundation or locale: the value rounded to `digits` decimals.
func fixed(_ value: Double, _ digits: Int) -> String {
  guard value.isFinite else { return "\(value)" }
  var scale = 1.0
  for _ in 0..<digits { scale *= 10 }
  let scaled = (abs(value) * scale).rounded()
  let whole = Int(scaled / scale), fraction = Int(scaled) - whole * Int(scale)
  let text = String(fraction)
  let padded = String(repeating: "0", count: max(0, digits - text.count)) + text
  return (value < 0 && scaled != 0 ? "-" : "") + "\(whole)" + (digits > 0 ? "." + padded : "")
}

func fail(_ message: String) -> Never {
  fputs(message + "\n", stderr)
  exit(1)
}

let arguments = CommandLine.arguments
guard arguments.count == 2 else {
  fputs("usage: \(arguments[0]) VIDEO\n", stderr)
  exit(2)
}
gst_init(nil, nil)

var parseError: UnsafeMutablePointer<GError>?
let description = "filesrc name=source ! decodebin ! videoconvert ! agegender ! fakesink name=sink"
guard let pipeline = gst_parse_launch(description, &parseError), parseError == nil else {
  fail("cannot build the pipeline: \(parseError.map { String(cString: $0.pointee.message) } ?? "unknown error")"
    + " (is GST_PLUGIN_PATH set to the plugin's folder?)")
}
let bin = UnsafeMutableRawPointer(pipeline).assumingMemoryBound(to: GstBin.self)

// The location as a property: any file name works, spaces included.
guard let source = gst_bin_get_by_name(bin, "source") else { fail("no filesrc") }
gst_util_set_object_arg(UnsafeMutableRawPointer(source).assumingMemoryBound(to: GObject.self), "location", arguments[1])
agb_object_unref(source)

let stats = Stats()
guard let sink = gst_bin_get_by_name(bin, "sink"), let pad = gst_element_get_static_pad(sink, "sink") else {
  fail("no fakesink")
}
gst_pad_add_probe(
  pad, GST_PAD_PROBE_TYPE_BUFFER,
  { _, info, userData in
    // GST_PAD_PROBE_INFO_BUFFER(info): the probe is for buffers only.
    guard let info, let data = info.pointee.data, let userData else { return GST_PAD_PROBE_OK }
    let stats = Unmanaged<Stats>.fromOpaque(userData).takeUnretainedValue()
    let buffer = data.assumingMemoryBound(to: GstBuffer.self)
    stats.frames += 1
    let faces = AgeGenderMeta.faces(of: buffer) ?? []
    if !faces.isEmpty { stats.framesWithFaces += 1 }
    for face in faces {
      stats.faces += 1
      stats.ageSum += face.age
      if face.gender == "female" { stats.female += 1 } else if face.gender == "male" { stats.male += 1 }
      print(
        "frame=\(stats.frames) x=\(face.x) y=\(face.y) width=\(face.width) height=\(face.height)"
          + " age=\(fixed(face.age, 1)) gender=\(face.gender) gender_confidence=\(fixed(face.genderConfidence, 3))"
          + " confidence=\(fixed(face.confidence, 3)) track_id=\(face.trackID)")
    }
    return GST_PAD_PROBE_OK
  }, Unmanaged.passUnretained(stats).toOpaque(), nil)
agb_object_unref(pad)
agb_object_unref(sink)

var status: Int32 = 0
gst_element_set_state(pipeline, GST_STATE_PLAYING)
let bus = gst_element_get_bus(pipeline)!
let wanted = GstMessageType(rawValue: GST_MESSAGE_EOS.rawValue | GST_MESSAGE_ERROR.rawValue)
if let message = gst_bus_timed_pop_filtered(bus, agb_clock_time_none(), wanted) {
  if agb_message_type(message) == GST_MESSAGE_ERROR {
    var error: UnsafeMutablePointer<GError>?
    var debug: UnsafeMutablePointer<gchar>?
    gst_message_parse_error(message, &error, &debug)
    let from = agb_message_src(message).flatMap { gst_object_get_name($0) }
    fputs(
      "error from \(from.map { String(cString: $0) } ?? "pipeline"): "
        + "\(error.map { String(cString: $0.pointee.message) } ?? "unknown")\n\(debug.map { String(cString: $0) } ?? "")\n",
      stderr)
    g_free(from)
    if let error { g_error_free(error) }
    g_free(debug)
    status = 1
  }
  agb_message_unref(message)
}
agb_object_unref(bus)
gst_element_set_state(pipeline, GST_STATE_NULL)
agb_object_unref(pipeline)

let meanAge = stats.faces > 0 ? stats.ageSum / Double(stats.faces) : 0
print(
  "summary frames=\(stats.frames) frames_with_faces=\(stats.framesWithFaces) faces=\(stats.faces)"
    + " female=\(stats.female) male=\(stats.male) mean_age=\(fixed(meanAge, 1))")
exit(status)
