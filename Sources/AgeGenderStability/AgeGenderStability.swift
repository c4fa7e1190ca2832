import AgeGenderMeta
import ArgumentParser
import CGStreamer
import GstPipeline

#if canImport(Glibc)
  import Glibc
#endif

/// How steady the element's labels are on a video: per track, the frames it
/// lasted, how often its shown gender flipped, how much its shown age moved.
@main
struct AgeGenderStability: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "agegender-stability",
    abstract: "Report per-track label stability of the agegender element on a video.",
    discussion: """
      Prints one line per track (id, first frame, frames, gender flips, age standard deviation, shown
      gender and age at the end), then one JSON object: tracks, tracks_10 (tracks of >= 10 frames),
      max_flips and max_age_sd over those, and id_switches when --people is given (tracks of >= 10
      frames beyond the number of people, a lower bound on identity switches).
      """)

  @Argument(help: "Video file.")
  var video: String

  @Argument(help: "Element properties as name=value.")
  var properties: [String] = []

  @Option(help: "Number of people visible in the clip, to count id switches.")
  var people: Int?

  @Option(help: "Folder holding libgstagegender.so (default: GST_PLUGIN_PATH, else the checkout's build/plugins).")
  var pluginPath: String?

  struct TrackStats {
    var first = 0
    var frames = 0
    var flips = 0
    var lastGender = ""
    var ages: [Double] = []
  }

  func run() throws {
    Pipeline.initialize(pluginPath: pluginPath)
    guard access(video, R_OK) == 0 else { throw ValidationError("cannot read \(video)") }
    let pipeline = try Pipeline(
      "filesrc name=src ! decodebin ! videoconvert ! agegender name=ag draw=false ! appsink name=sink sync=false")
    try Pipeline.setProperty(try pipeline.child("src"), "location", video)
    try Pipeline.applyAssignments(properties, to: try pipeline.child("ag"))
    var tracks: [UInt64: TrackStats] = [:]
    var frame = 0
    try pipeline.forEachBuffer { buffer, _ in
      frame += 1
      for face in AgeGenderMeta.faces(of: buffer) ?? [] where face.trackID != 0 {
        var t = tracks[face.trackID] ?? TrackStats(first: frame)
        t.frames += 1
        if !t.lastGender.isEmpty && t.lastGender != face.gender { t.flips += 1 }
        t.lastGender = face.gender
        t.ages.append(face.age)
        tracks[face.trackID] = t
      }
    }
    var long = 0, maxFlips = 0
    var maxSD = 0.0
    for (id, t) in tracks.sorted(by: { $0.key < $1.key }) {
      let mean = t.ages.reduce(0, +) / Double(max(1, t.ages.count))
      let sd = (t.ages.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(max(1, t.ages.count))).squareRoot()
      print("track \(id): first frame \(t.first), \(t.frames) frames, \(t.flips) gender flips, age sd \(fmt(sd)), shown \(t.lastGender) \(fmt(t.ages.last ?? 0))")
      if t.frames >= 10 {
        long += 1
        maxFlips = max(maxFlips, t.flips)
        maxSD = max(maxSD, sd)
      }
    }
    let switches = people.map { ", \"id_switches\": \(max(0, long - $0))" } ?? ""
    print("{\"frames\": \(frame), \"tracks\": \(tracks.count), \"tracks_10\": \(long), \"max_flips\": \(maxFlips), \"max_age_sd\": \(fmt(maxSD))\(switches)}")
  }
}

func fmt(_ value: Double) -> String {
  var buffer = [CChar](repeating: 0, count: 32)
  _ = withVaList([value]) { vsnprintf(&buffer, 32, "%.2f", $0) }
  return String(cString: buffer)
}
