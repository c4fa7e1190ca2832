import CGStreamer
import Foundation
import GstPipeline
import XCTest

/// Clips with sound, made once per test process in a temporary folder from the
/// shared footage (which has none) and a 440 Hz tone from audiotestsrc: the
/// shared videos are never copied into the project.
enum SoundClips {
  static let toneHz = 440.0
  /// 224 buffers of 20 ms at 48 kHz: 4.48 s, the head-pose clip's length.
  static let toneSeconds = 4.48

  private static let folder: URL = {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("sound-clips-\(getpid())")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }()

  private static func tone(buffers: Int, _ tail: String) -> String {
    "audiotestsrc wave=sine freq=\(toneHz) samplesperbuffer=960 num-buffers=\(buffers) "
      + "! audio/x-raw,rate=48000,channels=1 ! audioconvert ! \(tail)"
  }

  private static func make(_ name: String, _ description: (String) throws -> String) throws -> String {
    let path = folder.appendingPathComponent(name).path
    if FileManager.default.fileExists(atPath: path) { return path }
    try requireElements(["avenc_aac": "gstreamer1.0-libav", "matroskamux": "gstreamer1.0-plugins-good"])
    try Pipeline(try description(path + ".part")).run(timeoutSeconds: 120)
    try FileManager.default.moveItem(atPath: path + ".part", toPath: path)
    return path
  }

  /// The head-pose clip's H.264 (not re-encoded) with an AAC tone, in MP4: sound the MP4 can carry as it is.
  static func aacInMP4() throws -> String {
    let video = try Fixtures.video(InputOutputTests.clipName)
    return try make("tone-aac.mp4") { out in
      "filesrc location=\(video) ! qtdemux ! h264parse ! mp4mux name=m ! filesink location=\(out) "
        + tone(buffers: 224, "avenc_aac ! m.")
    }
  }

  /// The same video with the tone as raw PCM in Matroska: sound the MP4 cannot carry (encoded to AAC).
  static func pcmInMatroska() throws -> String {
    let video = try Fixtures.video(InputOutputTests.clipName)
    return try make("tone-pcm.mkv") { out in
      "filesrc location=\(video) ! qtdemux ! h264parse ! matroskamux name=m ! filesink location=\(out) "
        + tone(buffers: 224, "audio/x-raw,format=S16LE ! m.")
    }
  }

  /// 13 s to seek in: the benchmark clip (three people walking) at 480x270 with an AAC tone.
  static func long() throws -> String {
    let video = try Fixtures.video("bench-walk-720p.mp4")
    return try make("long-tone.mp4") { out in
      "filesrc location=\(video) ! decodebin ! videoscale ! video/x-raw,width=480,height=270 "
        + "! x264enc speed-preset=veryfast ! mp4mux name=m ! filesink location=\(out) "
        + tone(buffers: 656, "avenc_aac ! m.")
    }
  }

  /// A file's first audio stream decoded to 48 kHz mono: (seconds, dominant frequency by zero crossings).
  static func decodedSound(_ path: String) throws -> (seconds: Double, hertz: Double) {
    let run = try PipelineRun.collect(
      "filesrc location=\(path) ! decodebin ! audioconvert ! audioresample "
        + "! audio/x-raw,format=S16LE,channels=1,rate=48000 ! appsink name=sink sync=false",
      keepPixels: true, timeoutSeconds: 120)
    var samples: [Int16] = []
    for frame in run.frames {
      guard let bytes = frame.pixels else { continue }
      for i in stride(from: 0, to: bytes.count - 1, by: 2) {
        samples.append(Int16(bitPattern: UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8))
      }
    }
    guard !samples.isEmpty else { throw Pipeline.Failure("\(path) has no sound") }
    // Sign changes between samples clearly off zero: codec noise around silence does not count.
    var crossings = 0
    var lastSign: Bool?
    for sample in samples where abs(Int(sample)) > 1000 {
      let sign = sample < 0
      if let lastSign, lastSign != sign { crossings += 1 }
      lastSign = sign
    }
    let seconds = Double(samples.count) / 48000
    return (seconds, Double(crossings) / 2 / seconds)
  }

  /// The compressed audio buffers of an MP4 as stored (qtdemux, no decoding).
  static func storedAudio(_ path: String) throws -> [[UInt8]] {
    try PipelineRun.collect(
      "filesrc location=\(path) ! qtdemux ! audio/mpeg ! appsink name=sink sync=false", keepPixels: true,
      timeoutSeconds: 60
    ).frames.compactMap(\.pixels)
  }
}
