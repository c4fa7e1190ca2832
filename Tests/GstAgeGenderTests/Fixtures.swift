import AgeGenderMeta
import CGStreamer
import Foundation
import GstPipeline
import XCTest

/// Paths, GStreamer set-up and pipeline helpers shared by the element tests.
/// The element is loaded from build/plugins (staged by `make build`) in every
/// test process; it is never registered statically as well (that would
/// register its GType twice).
enum Fixtures {
  static let repoRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
  }()
  /// Where the staged plugin is (`make build` puts it in build/plugins); a
  /// second checkout build (`swift build --scratch-path .build-x`) can point
  /// the tests at its own with AGEGENDER_PLUGIN_DIR and AGEGENDER_BIN_DIR.
  static let pluginDirectory = ProcessInfo.processInfo.environment["AGEGENDER_PLUGIN_DIR"] ?? repoRoot + "/build/plugins"
  /// Folder of the built executables (agegender-eval, ...).
  static let binDirectory = ProcessInfo.processInfo.environment["AGEGENDER_BIN_DIR"] ?? repoRoot + "/.build/release"
  static let modelDirectory = repoRoot + "/Models"
  static let sharedTestData = repoRoot + "/../shared/testdata"

  private static let initialized: Void = { Pipeline.initialize(pluginPath: pluginDirectory) }()

  /// Initialises GStreamer with the staged plugin; fails the test naming what is missing.
  static func setUp(file: StaticString = #filePath, line: UInt = #line) throws {
    try require(pluginDirectory + "/libgstagegender.so", hint: "run make build", file: file, line: line)
    for weights in [
      "res10_300x300_ssd_iter_140000.caffemodel", "cydral-age-v1.onnx", "cydral-gender-v1.onnx",
      "shape_predictor_5_face_landmarks.dat",
    ] {
      try require(modelDirectory + "/weights/" + weights, hint: "run make models", file: file, line: line)
    }
    _ = initialized
  }

  /// A file the test needs; a missing one fails the test and says which.
  @discardableResult
  static func require(_ path: String, hint: String = "", file: StaticString = #filePath, line: UInt = #line) throws -> String {
    if !FileManager.default.fileExists(atPath: path) {
      let message = "required file is missing: \(path)" + (hint.isEmpty ? "" : " (\(hint))")
      XCTFail(message, file: file, line: line)
      throw Pipeline.Failure(message)
    }
    return path
  }

  static func video(_ name: String) throws -> String {
    try require(sharedTestData + "/video/" + name)
  }

  static func still(_ name: String) throws -> String {
    try require(sharedTestData + "/stills/" + name)
  }
}

/// One region-of-interest meta as read back from a buffer.
struct RegionOfInterest {
  var type: String
  var id: Int32
  var x, y, width, height: UInt32
  var params: [String: String]
}

/// What came out of the pipeline for one buffer.
struct FrameResult {
  var width: Int32
  var height: Int32
  /// Our GstAgeGenderMeta (nil when absent).
  var faces: [FaceRecord]?
  var regions: [RegionOfInterest]
  /// Bytes of the frame, when asked for.
  var pixels: [UInt8]?
}

enum PipelineRun {
  /// Plays `description` (which must end in `appsink name=sink`) to EOS and
  /// returns every buffer's metadata, plus the element messages posted.
  static func collect(_ description: String, keepPixels: Bool = false, timeoutSeconds: Double = 120,
    configure: ((Pipeline) throws -> Void)? = nil) throws -> (frames: [FrameResult], messages: [String]) {
    let pipeline = try Pipeline(description)
    try configure?(pipeline)
    let sink = agb_app_sink_cast(try pipeline.child("sink"))
    gst_app_sink_set_max_buffers(sink, 4)
    try pipeline.setState(GST_STATE_PLAYING)
    let bus = gst_element_get_bus(pipeline.element)!
    defer { agb_object_unref(bus) }
    var frames: [FrameResult] = []
    var messages: [String] = []
    let deadline = monotonicSeconds() + timeoutSeconds
    func drainBus() throws {
      while let message = gst_bus_pop(bus) {
        defer { agb_message_unref(message) }
        switch agb_message_type(message) {
        case GST_MESSAGE_ERROR:
          var error: UnsafeMutablePointer<GError>?
          gst_message_parse_error(message, &error, nil)
          defer { if let error { g_error_free(error) } }
          throw Pipeline.Failure(error.map { String(cString: $0.pointee.message) } ?? "pipeline error")
        case GST_MESSAGE_ELEMENT:
          if let s = gst_message_get_structure(message), let text = gst_structure_to_string(s) {
            messages.append(String(cString: text))
            g_free(text)
          }
        default: break
        }
      }
    }
    while true {
      try drainBus()
      if monotonicSeconds() > deadline { throw Pipeline.Failure("pipeline did not finish in \(timeoutSeconds) s") }
      if let sample = gst_app_sink_try_pull_sample(sink, 100_000_000) {
        defer { agb_sample_unref(sample) }
        frames.append(read(sample, keepPixels: keepPixels))
      } else if gst_app_sink_is_eos(sink) != 0 {
        break
      }
    }
    try drainBus()
    gst_element_set_state(pipeline.element, GST_STATE_NULL)
    return (frames, messages)
  }

  static func read(_ sample: OpaquePointer, keepPixels: Bool) -> FrameResult {
    let buffer = gst_sample_get_buffer(sample)!
    var info = GstVideoInfo()
    gst_video_info_from_caps(&info, gst_sample_get_caps(sample))
    var regions: [RegionOfInterest] = []
    var id: Int32 = 0
    let roiAPI = gst_video_region_of_interest_meta_api_get_type()
    let count = gst_buffer_get_n_meta(buffer, roiAPI)
    while regions.count < count && id < 1024 {
      if let roi = gst_buffer_get_video_region_of_interest_meta_id(buffer, id) {
        var params: [String: String] = [:]
        if let s = gst_video_region_of_interest_meta_get_param(roi, "age-gender") {
          let n = gst_structure_n_fields(s)
          for i in 0..<n {
            let name = String(cString: gst_structure_nth_field_name(s, guint(i)))
            if let value = gst_structure_get_value(s, name), let text = gst_value_serialize(value) {
              params[name] = String(cString: text)
              g_free(text)
            }
          }
        }
        regions.append(
          RegionOfInterest(
            type: String(cString: g_quark_to_string(roi.pointee.roi_type)), id: roi.pointee.id, x: roi.pointee.x,
            y: roi.pointee.y, width: roi.pointee.w, height: roi.pointee.h, params: params))
      }
      id += 1
    }
    var pixels: [UInt8]?
    if keepPixels {
      var map = GstMapInfo()
      if gst_buffer_map(buffer, &map, GST_MAP_READ) != 0 {
        pixels = Array(UnsafeBufferPointer(start: map.data, count: Int(map.size)))
        gst_buffer_unmap(buffer, &map)
      }
    }
    return FrameResult(
      width: info.width, height: info.height, faces: AgeGenderMeta.faces(of: buffer), regions: regions, pixels: pixels)
  }
}

/// Runs a program to completion and returns its exit status and output.
func runProcess(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
  timeoutSeconds: Double = 300) throws -> (status: Int32, stdout: String, stderr: String) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: executable)
  process.arguments = arguments
  var env = ProcessInfo.processInfo.environment
  env["GST_PLUGIN_PATH"] = Fixtures.pluginDirectory
  for (k, v) in environment { env[k] = v }
  process.environment = env
  // Output goes to files, so a chatty child can never stall on a full pipe.
  let base = FileManager.default.temporaryDirectory.appendingPathComponent("proc-\(UUID().uuidString)")
  let outURL = base.appendingPathExtension("out"), errURL = base.appendingPathExtension("err")
  FileManager.default.createFile(atPath: outURL.path, contents: nil)
  FileManager.default.createFile(atPath: errURL.path, contents: nil)
  defer {
    try? FileManager.default.removeItem(at: outURL)
    try? FileManager.default.removeItem(at: errURL)
  }
  process.standardOutput = try FileHandle(forWritingTo: outURL)
  process.standardError = try FileHandle(forWritingTo: errURL)
  process.standardInput = FileHandle.nullDevice
  try process.run()
  let deadline = Date().addingTimeInterval(timeoutSeconds)
  while process.isRunning && Date() < deadline { usleep(50_000) }
  if process.isRunning {
    process.terminate()
    process.waitUntilExit()
    throw Pipeline.Failure("\(executable) did not finish within \(timeoutSeconds) s")
  }
  process.waitUntilExit()
  let outData = (try? Data(contentsOf: outURL)) ?? Data(), errData = (try? Data(contentsOf: errURL)) ?? Data()
  return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}
