import AgeGenderMeta
import CGStreamer
import Foundation
import GstPipeline
import XCTest

#if canImport(Glibc)
  import Glibc
#endif

/// Inputs: HTTP (souphttpsrc, uridecodebin), agegender-annotate on a file, an
/// http URL and a page resolved by yt-dlp, the YouTube example script, and the
/// display example under Xvfb. Every server is local (127.0.0.1), started and
/// stopped here, and outlives no test (each child runs under timeout(1)).
final class InputOutputTests: XCTestCase {
  static let clipName = "head-pose-face-detection-female-and-male.mp4"
  static let clipFrames = 56

  private var server: LocalHTTPServer?
  private var scratch: URL!

  override func setUpWithError() throws {
    try Fixtures.setUp()
    scratch = FileManager.default.temporaryDirectory.appendingPathComponent("inout-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
  }

  override func tearDown() {
    server?.stop()
    server = nil
    if let scratch { try? FileManager.default.removeItem(at: scratch) }
  }

  // MARK: HTTP sources

  func testSouphttpsrcAndUridecodebinFindTheSameFacesAsTheFile() throws {
    try requireElements(["souphttpsrc": "gstreamer1.0-plugins-good", "uridecodebin": "gstreamer1.0-plugins-base"])
    let server = try startServer()
    let url = server.url(Self.clipName)
    let reference = try Self.referenceFaces()
    let expected = try Self.streamedFrameCount()
    for (label, head) in [
      ("souphttpsrc", "souphttpsrc location=\(url) ! decodebin"), ("uridecodebin", "uridecodebin uri=\(url)"),
    ] {
      let started = monotonicSeconds()
      let frames = try facesByTimestamp("\(head) ! videoconvert ! agegender async=false")
      XCTAssertEqual(frames.count, expected, "\(label): frames")
      assertSameFaces(frames, reference, label)
      print("\(label): \(frames.count) frames in \(String(format: "%.1f", monotonicSeconds() - started)) s")
    }
    XCTAssertTrue(
      server.requestLog().contains("GET /\(Self.clipName)"), "the server saw no request: \(server.requestLog())")
  }

  // MARK: agegender-annotate

  func testAnnotateFileWritesADecodableMP4AndOneJSONLinePerFrame() throws {
    let tool = try annotateTool()
    let video = try Fixtures.video(Self.clipName)
    // A folder that does not exist yet: the tool creates it.
    let out = scratch.appendingPathComponent("new/folder/annotated.mp4").path
    let json = scratch.appendingPathComponent("other/annotated.jsonl").path
    let result = try runProcess(tool, [video, "-o", out, "--json", json], timeoutSeconds: 300)
    XCTAssertEqual(result.status, 0, result.stderr)
    // Not a terminal: no progress, just the summary at the end.
    XCTAssertEqual(result.stderr, "")
    let summary = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    XCTAssertEqual(summary.split(separator: "\n").count, 1, summary)
    XCTAssertTrue(summary.contains("\(Self.clipFrames) frames"), summary)
    XCTAssertTrue(summary.contains(out) && summary.contains(json) && summary.contains("fps"), summary)

    let lines = try jsonLines(json)
    XCTAssertEqual(lines.count, Self.clipFrames)
    XCTAssertEqual(try decodedFrameCount(out), Self.clipFrames, "the MP4 does not decode to every frame")
    for (index, line) in lines.enumerated() {
      XCTAssertEqual(line["frame"] as? Int, index)
      XCTAssertEqual(line["width"] as? Int, 480)
      XCTAssertEqual(line["height"] as? Int, 270)
      XCTAssertNotNil(line["pts"] as? Int)
    }
    let pts = lines.compactMap { $0["pts"] as? Int }
    XCTAssertEqual(pts, pts.sorted(), "pts must increase")
    let face = try XCTUnwrap((lines.first?["faces"] as? [[String: Any]])?.first)
    for key in ["x", "y", "width", "height", "confidence", "age", "age_min", "age_max", "gender", "gender_confidence",
      "track_id"] {
      XCTAssertNotNil(face[key], "a face lacks \(key): \(face)")
    }
    XCTAssertTrue(["female", "male"].contains(face["gender"] as? String ?? ""))
    let points = try XCTUnwrap(face["landmarks"] as? [[Double]], "no landmarks from the default detector: \(face)")
    XCTAssertEqual(points.map(\.count), [2, 2, 2, 2, 2])
    let summaryFaces = lines.reduce(0) { $0 + (($1["faces"] as? [Any])?.count ?? 0) }
    XCTAssertTrue(summary.contains("\(summaryFaces) faces"), "summary \(summary) vs \(summaryFaces) faces in JSON")
    let reference = try Self.referenceFaces()
    XCTAssertEqual(lines.count, reference.count)
    assertSameFaces(try timestamped(lines), reference, "agegender-annotate on the file")
  }

  /// On a terminal (script(1) gives it one) the tool redraws one progress line.
  func testAnnotateShowsProgressOnATerminal() throws {
    let tool = try annotateTool()
    let script = try Fixtures.require("/usr/bin/script", hint: "apt-get install bsdutils")
    let video = try Fixtures.video("face-demographics-walking.mp4")
    let out = scratch.appendingPathComponent("tty.mp4").path
    let command = [tool, video, "-o", out].map { "'" + $0 + "'" }.joined(separator: " ")
    let result = try runProcess(script, ["-qec", command, "/dev/null"], timeoutSeconds: 300)
    XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
    // Everything the terminal showed comes back on script's standard output.
    let updates = result.stdout.components(separatedBy: "\r\u{1B}[K").filter { $0.contains("fps") }
    XCTAssertGreaterThanOrEqual(updates.count, 2, "no progress line: \(result.stdout.debugDescription)")
    XCTAssertTrue(updates.contains { $0.contains("%") && $0.contains("frames") && $0.contains("faces") }, updates.description)
    XCTAssertTrue(result.stdout.contains("agegender-annotate: "), "no summary: \(result.stdout)")
  }

  func testAnnotateHTTPMediaURLMatchesTheFileWithoutYtDlp() throws {
    let tool = try annotateTool()
    let server = try startServer()
    let out = scratch.appendingPathComponent("http.mp4").path, json = scratch.appendingPathComponent("http.jsonl").path
    // A URL ending in .mp4 is played as it is: a yt-dlp that cannot run proves it is not used.
    let result = try runProcess(
      tool, [server.url(Self.clipName), "-o", out, "--json", json], environment: ["AGEGENDER_YTDLP": "/nonexistent/yt-dlp"],
      timeoutSeconds: 300)
    XCTAssertEqual(result.status, 0, result.stderr)
    let lines = try jsonLines(json)
    XCTAssertEqual(lines.count, try Self.streamedFrameCount())
    XCTAssertEqual(try decodedFrameCount(out), lines.count)
    assertSameFaces(try timestamped(lines), try Self.referenceFaces(), "agegender-annotate on the HTTP URL")
  }

  // MARK: yt-dlp

  func testYtDlpGenericExtractorResolvesLocalURLs() throws {
    let ytdlp = try ytDlpPath()
    let server = try startServer()
    let direct = try runProcess(ytdlp, ["-g", "-f", "best[ext=mp4]/best", server.url(Self.clipName)], timeoutSeconds: 120)
    XCTAssertEqual(direct.status, 0, direct.stderr)
    XCTAssertEqual(direct.stdout.trimmingCharacters(in: .whitespacesAndNewlines), server.url(Self.clipName))
    // A page with <video src=...>: the generic extractor finds the media URL in it.
    let page = try runProcess(ytdlp, ["-g", "-f", "best[ext=mp4]/best", server.url("page.html")], timeoutSeconds: 120)
    XCTAssertEqual(page.status, 0, page.stderr)
    XCTAssertEqual(page.stdout.trimmingCharacters(in: .whitespacesAndNewlines), server.url(Self.clipName))
  }

  func testAnnotateResolvesAPageURLThroughYtDlp() throws {
    let tool = try annotateTool()
    let ytdlp = try ytDlpPath()
    let server = try startServer()
    let out = scratch.appendingPathComponent("page.mp4").path, json = scratch.appendingPathComponent("page.jsonl").path
    let result = try runProcess(
      tool, [server.url("page.html"), "-o", out, "--json", json, "detection-threshold=0.5"],
      environment: ["AGEGENDER_YTDLP": ytdlp], timeoutSeconds: 300)
    XCTAssertEqual(result.status, 0, result.stderr)
    let lines = try jsonLines(json)
    XCTAssertEqual(lines.count, try Self.streamedFrameCount())
    XCTAssertEqual(try decodedFrameCount(out), lines.count)
    assertSameFaces(try timestamped(lines), try Self.referenceFaces(), "agegender-annotate on page.html")
    let log = server.requestLog()
    XCTAssertTrue(log.contains("GET /page.html") && log.contains("GET /\(Self.clipName)"), log)
  }

  func testYouTubeExampleScriptAnnotatesAPageItResolves() throws {
    let tool = try annotateTool()
    let ytdlp = try ytDlpPath()
    let script = try Fixtures.require(Fixtures.repoRoot + "/examples/youtube/annotate-youtube.sh")
    let server = try startServer()
    let out = scratch.appendingPathComponent("yt.mp4").path, json = scratch.appendingPathComponent("yt.jsonl").path
    let result = try runProcess(
      script, [server.url("page.html"), "-o", out, "--json", json],
      environment: ["AGEGENDER_YTDLP": ytdlp, "AGEGENDER_ANNOTATE": tool], timeoutSeconds: 300)
    XCTAssertEqual(result.status, 0, result.stderr)
    XCTAssertTrue(result.stderr.contains(server.url(Self.clipName)), "the script should say what it resolved: \(result.stderr)")
    let lines = try jsonLines(json)
    XCTAssertEqual(lines.count, try Self.streamedFrameCount())
    XCTAssertEqual(try decodedFrameCount(out), lines.count)
    assertSameFaces(try timestamped(lines), try Self.referenceFaces(), "annotate-youtube.sh on page.html")

    let failed = try runProcess(
      script, [server.url("missing.html"), "-o", out], environment: ["AGEGENDER_YTDLP": ytdlp, "AGEGENDER_ANNOTATE": tool],
      timeoutSeconds: 120)
    XCTAssertNotEqual(failed.status, 0)
    XCTAssertTrue(failed.stderr.contains("could not resolve"), failed.stderr)
  }

  // MARK: Errors

  func testAnnotateFailsFastAndClearlyOnBadInput() throws {
    let tool = try annotateTool()
    let server = try startServer()
    let video = try Fixtures.video(Self.clipName)
    let out = scratch.appendingPathComponent("bad.mp4").path
    let cases: [(String, [String], [String: String], String)] = [
      ("unknown property", [video, "-o", out, "no-such-property=1"], [:], "no-such-property"),
      ("out of range", [video, "-o", out, "max-faces=0"], [:], "max-faces"),
      ("bad value", [video, "-o", out, "draw=maybe"], [:], "draw"),
      ("missing file", [scratch.appendingPathComponent("nothing.mp4").path, "-o", out], [:], "no such input file"),
      ("HTTP 404", [server.url("missing.mp4"), "-o", out], [:], "404"),
      ("connection refused", ["http://127.0.0.1:\(try freePort(SOCK_STREAM))/clip.mp4", "-o", out], [:], "cannot connect"),
      ("page without yt-dlp", [server.url("page.html"), "-o", out], ["AGEGENDER_YTDLP": "/nonexistent/yt-dlp"], "yt-dlp"),
      ("not a video", [server.url("page.html"), "--resolve", "never", "-o", out], [:], "text/html"),
    ]
    for (label, arguments, environment, expected) in cases {
      let started = monotonicSeconds()
      let result = try runProcess(tool, arguments, environment: environment, timeoutSeconds: 90)
      let seconds = monotonicSeconds() - started
      XCTAssertNotEqual(result.status, 0, "\(label): should fail")
      XCTAssertTrue(result.stderr.contains("error:") && result.stderr.contains(expected), "\(label): \(result.stderr)")
      XCTAssertLessThan(seconds, 60, "\(label) took \(seconds) s")
      XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(label): left a broken \(out)")
    }
  }

  // MARK: Screen

  /// examples/display.sh on a virtual X server: a screenshot shows the element's
  /// female pink (255,64,160) and male blue (40,140,255) boxes and labels.
  func testDisplayExampleDrawsTheOverlayOnAnXServer() throws {
    let xvfb = try Fixtures.require("/usr/bin/Xvfb", hint: "apt-get install xvfb")
    let xwd = try Fixtures.require("/usr/bin/xwd", hint: "apt-get install x11-apps")
    try requireElements(["ximagesink": "gstreamer1.0-x"])
    let script = try Fixtures.require(Fixtures.repoRoot + "/examples/display.sh")
    let video = try Fixtures.video(Self.clipName)

    let x = try BackgroundProcess(xvfb, ["-displayfd", "1", "-screen", "0", "640x480x24", "-nolisten", "tcp"])
    defer { x.stop() }
    let number = try x.waitForStdout(timeoutSeconds: 20) { text in
      text.hasSuffix("\n") ? Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) : nil
    }
    let display = ":\(number)"
    func shot() throws -> Screenshot {
      let file = scratch.appendingPathComponent("shot.xwd").path
      let result = try runProcess(xwd, ["-root", "-silent", "-display", display, "-out", file], timeoutSeconds: 20)
      guard result.status == 0 else { throw Pipeline.Failure("xwd failed: \(result.stderr)") }
      return try Screenshot(xwd: Data(contentsOf: URL(fileURLWithPath: file)))
    }
    let before = try shot()
    XCTAssertEqual(before.count(OverlayColour.female, tolerance: 8), 0, "the empty screen already has the colour")

    let player = try BackgroundProcess(
      script, [video], environment: ["DISPLAY": display, "VIDEOSINK": "ximagesink"], lifetimeSeconds: 300)
    defer { player.stop() }
    var pink = 0, blue = 0, shots = 0
    let deadline = monotonicSeconds() + 240
    while player.isRunning && monotonicSeconds() < deadline && (pink < 200 || blue < 200) {
      let screen = try shot()
      shots += 1
      pink = max(pink, screen.count(OverlayColour.female, tolerance: 8))
      blue = max(blue, screen.count(OverlayColour.male, tolerance: 8))
      usleep(150_000)
    }
    print("display: \(shots) screenshots, at most \(pink) pink and \(blue) blue pixels")
    XCTAssertGreaterThanOrEqual(pink, 200, "no female overlay on screen; player: \(player.stderrText())")
    XCTAssertGreaterThanOrEqual(blue, 200, "no male overlay on screen; player: \(player.stderrText())")
    let status = try player.wait(timeoutSeconds: 240)
    XCTAssertEqual(status, 0, "display.sh failed: \(player.stderrText())")
  }

  func testWebcamExampleNamesAMissingCamera() throws {
    let script = try Fixtures.require(Fixtures.repoRoot + "/examples/webcam.sh")
    let result = try runProcess(script, ["/dev/video-none"], timeoutSeconds: 30)
    XCTAssertEqual(result.status, 1)
    XCTAssertTrue(result.stderr.contains("no camera at /dev/video-none"), result.stderr)
  }

  // MARK: Helpers

  private func startServer() throws -> LocalHTTPServer {
    let video = try Fixtures.video(Self.clipName)
    let root = scratch.appendingPathComponent("www")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    // A link, not a copy, of the shared clip, and a page that embeds it.
    try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent(Self.clipName).path, withDestinationPath: video)
    try """
    <!DOCTYPE html>
    <html><head><title>Two people</title></head>
    <body><h1>Two people</h1><video controls src="\(Self.clipName)"></video></body></html>
    """.write(to: root.appendingPathComponent("page.html"), atomically: true, encoding: .utf8)
    let started = try LocalHTTPServer(directory: root.path)
    server = started
    return started
  }

  private func annotateTool() throws -> String {
    try Fixtures.require(Fixtures.binDirectory + "/agegender-annotate", hint: "run make build")
  }

  /// The faces the element finds in the clip read from the file, by timestamp (computed once per process).
  nonisolated(unsafe) private static var reference: [UInt64: [Box]]?
  static func referenceFaces() throws -> [UInt64: [Box]] {
    if let reference { return reference }
    let video = try Fixtures.video(clipName)
    let found = try facesByTimestamp("filesrc location=\(video) ! decodebin ! videoconvert ! agegender async=false")
    XCTAssertEqual(found.count, clipFrames)
    XCTAssertGreaterThanOrEqual(found.values.filter { $0.count == 2 }.count, 50, "both people in nearly every frame")
    reference = found
    return found
  }

  /// Frames of the clip when streamed (qtdemux in push mode, as over HTTP): it
  /// stops at the end of the file's edit list, 51 of the 56 frames pull mode gives.
  /// pushfilesrc, not `filesrc ! queue`: in GStreamer 1.22.0 filesrc's allocation
  /// query through a queue sometimes never returns once decodebin exposes its pad
  /// (the stream stops 3 frames before the end; 3 runs in 1,500 in one process,
  /// a CI failure), while pushfilesrc passed 3,000 runs.
  static func streamedFrameCount() throws -> Int {
    let video = try Fixtures.video(clipName)
    let count = try PipelineRun.collect(
      "pushfilesrc location=\(video) ! decodebin ! appsink name=sink sync=false", timeoutSeconds: 60
    ).frames.count
    XCTAssertGreaterThanOrEqual(count, 50)
    return count
  }

  /// JSON lines keyed by their pts.
  private func timestamped(_ lines: [[String: Any]]) throws -> [UInt64: [Box]] {
    var result: [UInt64: [Box]] = [:]
    for line in lines {
      let pts = try XCTUnwrap(line["pts"] as? Int, "a line without pts")
      result[UInt64(pts)] = boxes(line)
    }
    XCTAssertEqual(result.count, lines.count, "two lines with one pts")
    return result
  }
}

// MARK: - Shared helpers (also used by RecordingTests)

struct Box: Equatable, CustomStringConvertible {
  var x, y, width, height: Int
  var description: String { "(\(x),\(y) \(width)x\(height))" }
}

func boxes(_ faces: [FaceRecord]) -> [Box] {
  faces.map { Box(x: Int($0.x), y: Int($0.y), width: Int($0.width), height: Int($0.height)) }
}

/// Boxes of one JSON line of agegender-annotate.
func boxes(_ line: [String: Any]) -> [Box] {
  ((line["faces"] as? [[String: Any]]) ?? []).map {
    Box(
      x: $0["x"] as? Int ?? -1, y: $0["y"] as? Int ?? -1, width: $0["width"] as? Int ?? -1,
      height: $0["height"] as? Int ?? -1)
  }
}

/// Every frame of `got` is a frame of `expected` (same timestamp) with as many
/// faces and boxes (in order) within `tolerance` pixels.
func assertSameFaces(_ got: [UInt64: [Box]], _ expected: [UInt64: [Box]], _ label: String, tolerance: Int = 2,
  file: StaticString = #filePath, line: UInt = #line) {
  XCTAssertFalse(got.isEmpty, "\(label): no frames", file: file, line: line)
  for (index, a) in got.sorted(by: { $0.key < $1.key }) {
    guard let b = expected[index] else {
      XCTFail("\(label): frame at \(index) ns is not a frame of the file", file: file, line: line)
      continue
    }
    guard a.count == b.count else {
      XCTFail("\(label): frame \(index) has \(a.count) faces, the file gives \(b.count)", file: file, line: line)
      continue
    }
    for (p, q) in zip(a, b) {
      let close = abs(p.x - q.x) <= tolerance && abs(p.y - q.y) <= tolerance && abs(p.width - q.width) <= tolerance
        && abs(p.height - q.height) <= tolerance
      XCTAssertTrue(close, "\(label): frame \(index) box \(p) vs \(q)", file: file, line: line)
    }
  }
}

func jsonLines(_ path: String) throws -> [[String: Any]] {
  let text = try String(contentsOfFile: path, encoding: .utf8)
  return try text.split(separator: "\n").map { line in
    guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
      throw Pipeline.Failure("not a JSON object: \(line.prefix(200))")
    }
    return object
  }
}

/// Runs `head ! appsink` to the end and returns each buffer's GstAgeGenderMeta boxes by pts.
func facesByTimestamp(_ head: String, timeoutSeconds: Double = 300) throws -> [UInt64: [Box]] {
  let pipeline = try Pipeline("\(head) ! appsink name=sink sync=false max-buffers=4")
  let sink = agb_app_sink_cast(try pipeline.child("sink"))
  try pipeline.setState(GST_STATE_PLAYING)
  defer { gst_element_set_state(pipeline.element, GST_STATE_NULL) }
  var result: [UInt64: [Box]] = [:]
  let deadline = monotonicSeconds() + timeoutSeconds
  while gst_app_sink_is_eos(sink) == 0 {
    if let error = pipeline.pendingError() { throw Pipeline.Failure(error) }
    if monotonicSeconds() > deadline { throw Pipeline.Failure("'\(head)' did not finish in \(timeoutSeconds) s") }
    guard let sample = gst_app_sink_try_pull_sample(sink, 100_000_000) else { continue }
    defer { agb_sample_unref(sample) }
    let buffer = gst_sample_get_buffer(sample)!
    guard let faces = AgeGenderMeta.faces(of: buffer) else { throw Pipeline.Failure("a buffer without GstAgeGenderMeta") }
    result[UInt64(agb_buffer_pts(buffer))] = boxes(faces)
  }
  return result
}

/// Frames a video file decodes to (a real decode pipeline).
func decodedFrameCount(_ path: String) throws -> Int {
  try PipelineRun.collect("filesrc location=\(path) ! decodebin ! videoconvert ! appsink name=sink sync=false",
    timeoutSeconds: 120).frames.count
}

/// Fails the test naming the element and the Debian package that ships it.
func requireElements(_ elements: [String: String], file: StaticString = #filePath, line: UInt = #line) throws {
  for (name, package) in elements.sorted(by: { $0.key < $1.key }) {
    guard let factory = gst_element_factory_find(name) else {
      let message = "GStreamer element \(name) is missing (apt-get install \(package))"
      XCTFail(message, file: file, line: line)
      throw Pipeline.Failure(message)
    }
    agb_object_unref(UnsafeMutableRawPointer(factory))
  }
}

/// yt-dlp: $AGEGENDER_YTDLP, the checkout's .build-venv (make build), or Debian's.
func ytDlpPath(file: StaticString = #filePath, line: UInt = #line) throws -> String {
  let candidates = [
    ProcessInfo.processInfo.environment["AGEGENDER_YTDLP"], Fixtures.repoRoot + "/.build-venv/bin/yt-dlp", "/usr/bin/yt-dlp",
  ].compactMap { $0 }
  if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) { return found }
  let message = "yt-dlp is missing (looked in \(candidates.joined(separator: ", ")); run make build)"
  XCTFail(message, file: file, line: line)
  throw Pipeline.Failure(message)
}

/// A port nothing listens on right now (bound to 127.0.0.1, then released).
func freePort(_ type: __socket_type) throws -> UInt16 {
  let fd = socket(AF_INET, Int32(type.rawValue), 0)
  guard fd >= 0 else { throw Pipeline.Failure("socket() failed") }
  defer { close(fd) }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  address.sin_port = 0
  var length = socklen_t(MemoryLayout<sockaddr_in>.size)
  let bound = withUnsafeMutablePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
  }
  guard bound else { throw Pipeline.Failure("cannot bind a port on 127.0.0.1") }
  return UInt16(bigEndian: address.sin_port)
}

/// A child process a test starts and stops (servers, Xvfb, players). It runs
/// under timeout(1), so it cannot outlive a crashed test run by long.
final class BackgroundProcess {
  let process = Process()
  private let outURL: URL
  private let errURL: URL

  init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], lifetimeSeconds: Int = 600) throws {
    let timeout = try Fixtures.require("/usr/bin/timeout", hint: "coreutils")
    process.executableURL = URL(fileURLWithPath: timeout)
    process.arguments = [String(lifetimeSeconds), executable] + arguments
    var env = ProcessInfo.processInfo.environment
    env["GST_PLUGIN_PATH"] = Fixtures.pluginDirectory
    for (k, v) in environment { env[k] = v }
    process.environment = env
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("bg-\(UUID().uuidString)")
    outURL = base.appendingPathExtension("out")
    errURL = base.appendingPathExtension("err")
    FileManager.default.createFile(atPath: outURL.path, contents: nil)
    FileManager.default.createFile(atPath: errURL.path, contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: outURL)
    process.standardError = try FileHandle(forWritingTo: errURL)
    process.standardInput = FileHandle.nullDevice
    try process.run()
  }

  deinit {
    stop()
    try? FileManager.default.removeItem(at: outURL)
    try? FileManager.default.removeItem(at: errURL)
  }

  var isRunning: Bool { process.isRunning }

  func stdoutText() -> String { (try? String(contentsOf: outURL, encoding: .utf8)) ?? "" }
  func stderrText() -> String { (try? String(contentsOf: errURL, encoding: .utf8)) ?? "" }

  /// Polls standard output until `parse` accepts it.
  func waitForStdout<T>(timeoutSeconds: Double, _ parse: (String) -> T?) throws -> T {
    let deadline = monotonicSeconds() + timeoutSeconds
    while monotonicSeconds() < deadline {
      if let value = parse(stdoutText()) { return value }
      if !process.isRunning { break }
      usleep(50_000)
    }
    throw Pipeline.Failure(
      "\(process.arguments?.dropFirst().first ?? "process") gave no expected output within \(timeoutSeconds) s: "
        + stdoutText() + stderrText())
  }

  func wait(timeoutSeconds: Double) throws -> Int32 {
    let deadline = monotonicSeconds() + timeoutSeconds
    while process.isRunning && monotonicSeconds() < deadline { usleep(50_000) }
    if process.isRunning { throw Pipeline.Failure("process still running after \(timeoutSeconds) s") }
    return process.terminationStatus
  }

  /// SIGTERM (timeout(1) passes it on), then SIGKILL after 5 s.
  func stop() {
    guard process.isRunning else { return }
    process.terminate()
    let deadline = monotonicSeconds() + 5
    while process.isRunning && monotonicSeconds() < deadline { usleep(20_000) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
  }
}

/// Python's http.server on 127.0.0.1 and a port the kernel picks, serving one folder.
final class LocalHTTPServer {
  let port: Int
  private let child: BackgroundProcess

  init(directory: String) throws {
    let python = try Fixtures.require("/usr/bin/python3", hint: "apt-get install python3")
    child = try BackgroundProcess(
      python, ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", directory], lifetimeSeconds: 900)
    // "Serving HTTP on 127.0.0.1 port 43121 (http://127.0.0.1:43121/) ..."
    port = try child.waitForStdout(timeoutSeconds: 20) { text in
      guard let range = text.range(of: "port ") else { return nil }
      return Int(text[range.upperBound...].prefix { $0.isNumber })
    }
  }

  func url(_ name: String) -> String { "http://127.0.0.1:\(port)/\(name)" }

  /// The request lines the server logged (to standard error).
  func requestLog() -> String { child.stderrText() }

  func stop() { child.stop() }
}

/// An X screen dump (xwd's format) as RGB.
struct Screenshot {
  let width: Int
  let height: Int
  let rgb: [UInt8]

  init(xwd data: Data) throws {
    let bytes = [UInt8](data)
    func header(_ i: Int) -> Int {
      let o = i * 4
      return Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3])
    }
    guard bytes.count >= 100, header(1) == 7 else { throw Pipeline.Failure("not an XWD version 7 file") }
    let headerSize = header(0), w = header(4), h = header(5), byteOrder = header(7), bitsPerPixel = header(11)
    let bytesPerLine = header(12), masks = (header(14), header(15), header(16)), colours = header(19)
    guard bitsPerPixel == 32 else { throw Pipeline.Failure("XWD with \(bitsPerPixel) bits per pixel") }
    let offset = headerSize + colours * 12
    guard bytes.count >= offset + bytesPerLine * h else { throw Pipeline.Failure("XWD file is truncated") }
    func shift(_ mask: Int) -> Int { mask == 0 ? 0 : mask.trailingZeroBitCount }
    var rgb = [UInt8](repeating: 0, count: w * h * 3)
    for y in 0..<h {
      for x in 0..<w {
        let p = offset + y * bytesPerLine + x * 4
        let v =
          byteOrder == 0
          ? Int(bytes[p]) | Int(bytes[p + 1]) << 8 | Int(bytes[p + 2]) << 16 | Int(bytes[p + 3]) << 24
          : Int(bytes[p]) << 24 | Int(bytes[p + 1]) << 16 | Int(bytes[p + 2]) << 8 | Int(bytes[p + 3])
        let o = (y * w + x) * 3
        rgb[o] = UInt8(truncatingIfNeeded: (v & masks.0) >> shift(masks.0))
        rgb[o + 1] = UInt8(truncatingIfNeeded: (v & masks.1) >> shift(masks.1))
        rgb[o + 2] = UInt8(truncatingIfNeeded: (v & masks.2) >> shift(masks.2))
      }
    }
    width = w
    height = h
    self.rgb = rgb
  }

  func count(_ colour: (UInt8, UInt8, UInt8), tolerance: Int) -> Int {
    countColour(rgb, width: width, height: height, stride: width * 3, colour, tolerance: tolerance)
  }
}
