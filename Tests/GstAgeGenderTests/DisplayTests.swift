import CX11
import Foundation
import GstPipeline
import XCTest

/// `agegender-annotate --display` (issue 17) on a virtual X server (Xvfb, its
/// number picked by -displayfd): a real ximagesink window, keys sent with
/// xdotool, screenshots with xwd. The tool prints a line for each key it acts
/// on ("paused at 1.20 s", "seek from 1.32 s to 6.32 s", "position 6.32 s"),
/// which is how these tests follow the position; the JSON lines and the
/// screenshots check it independently.
final class DisplayTests: XCTestCase {
  private var scratch: URL!
  private var xvfb: BackgroundProcess?
  private var server: LocalHTTPServer?
  private var display = ""
  private var xdotool = ""
  private var xwd = ""

  override func setUpWithError() throws {
    try Fixtures.setUp()
    let xvfbPath = try Fixtures.require("/usr/bin/Xvfb", hint: "apt-get install xvfb")
    xdotool = try Fixtures.require("/usr/bin/xdotool", hint: "apt-get install xdotool")
    xwd = try Fixtures.require("/usr/bin/xwd", hint: "apt-get install x11-apps")
    try requireElements(["ximagesink": "gstreamer1.0-x", "autoaudiosink": "gstreamer1.0-plugins-good"])
    scratch = FileManager.default.temporaryDirectory.appendingPathComponent("display-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    // -noreset: the server would otherwise reset (refusing connections) whenever its last client leaves.
    let x = try BackgroundProcess(
      xvfbPath, ["-displayfd", "1", "-noreset", "-screen", "0", "640x480x24", "-nolisten", "tcp"], lifetimeSeconds: 600)
    xvfb = x
    let number = try x.waitForStdout(timeoutSeconds: 20) { text in
      text.hasSuffix("\n") ? Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) : nil
    }
    display = ":\(number)"
  }

  override func tearDown() {
    server?.stop()
    xvfb?.stop()
    if let scratch { try? FileManager.default.removeItem(at: scratch) }
  }

  // MARK: Tests

  /// The labelled clip in a window titled with its file name; space pauses
  /// (the screen stands still, the overlay in the faces' boxes), a seek is
  /// refused while an MP4 is written, and q ends the run with a playable MP4
  /// with sound.
  func testWindowShowsTheLabelledClipPausesAndQuitsWithAPlayableMP4WithSound() throws {
    let clip = try SoundClips.aacInMP4()
    let out = scratch.appendingPathComponent("shown.mp4").path, json = scratch.appendingPathComponent("shown.jsonl").path
    let tool = try startTool([clip, "--display", "-o", out, "--json", json])
    let window = try waitForWindow(named: "tone-aac.mp4", tool)
    usleep(1_000_000)
    try key(window, "space")
    let paused = try seconds(after: "paused at ", tool)
    usleep(300_000)  // the last queued frames reach the window
    let first = try shot(), second = try { usleep(1_000_000); return try shot() }()
    XCTAssertEqual(first.rgb, second.rgb, "the picture moved while paused")

    // The overlay's colours inside the faces' boxes (and their labels just above) of the frames around the
    // pause (the JSON lines are flushed one by one while a window is shown).
    let lines = try jsonLines(json)
    let near = lines.filter { abs(Double($0["pts"] as? Int ?? 0) / 1e9 - paused) < 0.6 }
    XCTAssertFalse(near.isEmpty, "no JSON line near \(paused) s")
    let origin = try position(of: window)
    for (gender, colour) in [("female", OverlayColour.female), ("male", OverlayColour.male)] {
      let boxes = near.flatMap { ($0["faces"] as? [[String: Any]] ?? []).filter { $0["gender"] as? String == gender } }
      XCTAssertFalse(boxes.isEmpty, "no \(gender) face near \(paused) s")
      let region = boxes.reduce(into: (x0: Int.max, y0: Int.max, x1: 0, y1: 0)) { r, f in
        let x = f["x"] as? Int ?? 0, y = f["y"] as? Int ?? 0, w = f["width"] as? Int ?? 0, h = f["height"] as? Int ?? 0
        r = (min(r.x0, x), min(r.y0, y), max(r.x1, x + w), max(r.y1, y + h))
      }
      let (inside, all) = first.count(
        colour, tolerance: 8, x0: origin.x + region.x0 - 4, y0: origin.y + region.y0 - 24, x1: origin.x + region.x1 + 4,
        y1: origin.y + region.y1 + 4)
      print("display: \(gender) colour: \(inside) of \(all) pixels inside the box region \(region)")
      XCTAssertGreaterThanOrEqual(inside, 150, "\(gender): too little of the overlay colour in the box region")
      XCTAssertGreaterThanOrEqual(Double(inside), 0.9 * Double(all), "\(gender): the colour is elsewhere on screen")
    }

    try key(window, "Right")
    try waitForLine("seek ignored: an MP4 is being written", tool)
    try key(window, "q")
    XCTAssertEqual(try tool.wait(timeoutSeconds: 120), 0, tool.stderrText())
    XCTAssertTrue(tool.stdoutText().contains("quit at"), tool.stdoutText())
    XCTAssertGreaterThan(try decodedFrameCount(out), 0, "the MP4 does not play")
    let sound = try SoundClips.decodedSound(out)
    XCTAssertGreaterThan(sound.seconds, paused - 0.5, "the MP4's sound is too short")
    XCTAssertEqual(sound.hertz, SoundClips.toneHz, accuracy: 5, "the MP4's sound is not the tone")
  }

  /// Right moves the position by about 5 s (the tool's position query after the
  /// seek, and the JSON lines' timestamps), '.' steps one frame while paused, Left goes back.
  func testArrowsSeekFiveSecondsAndPeriodStepsWhilePaused() throws {
    let clip = try SoundClips.long()
    let json = scratch.appendingPathComponent("keys.jsonl").path
    let tool = try startTool([clip, "--display", "--json", json])
    let window = try waitForWindow(named: "long-tone.mp4", tool)
    usleep(1_500_000)
    try key(window, "Right")
    let (from, to) = try seek(tool)
    let landed = try seconds(after: "position ", tool, occurrence: 0)
    print("display: Right seeked from \(from) s to \(landed) s (asked \(to) s)")
    XCTAssertEqual(landed - from, 5, accuracy: 0.5)

    try key(window, "space")
    let paused = try seconds(after: "paused at ", tool)
    usleep(300_000)
    let first = try shot()
    usleep(1_000_000)
    XCTAssertEqual(first.rgb, try shot().rgb, "the picture moved while paused")
    try key(window, "period")
    try waitForLine("step", tool)
    let stepped = try seconds(after: "position ", tool, occurrence: 1)
    XCTAssertGreaterThan(stepped, paused - 0.2)
    XCTAssertLessThan(stepped, paused + 0.3, "a step went further than a frame or two")
    XCTAssertNotEqual(try shot().rgb, first.rgb, "the step showed no new frame")

    try key(window, "space")
    try waitForLine("playing from", tool)
    try key(window, "Left")
    let back = try seek(tool, occurrence: 1)
    let landedBack = try seconds(after: "position ", tool, occurrence: 2)
    XCTAssertEqual(landedBack - back.from, -5, accuracy: 0.5)
    try key(window, "Escape")
    XCTAssertEqual(try tool.wait(timeoutSeconds: 120), 0, tool.stderrText())

    // The frames analysed jump forward by about 5 s once and back once.
    let pts = try jsonLines(json).compactMap { $0["pts"] as? Int }.map { Double($0) / 1e9 }
    let jumps = zip(pts, pts.dropFirst()).map { $1 - $0 }
    XCTAssertTrue(jumps.contains { $0 > 4 && $0 < 6 }, "no forward jump of about 5 s in the JSON lines")
    XCTAssertTrue(jumps.contains { $0 < -3 }, "no jump back in the JSON lines")
  }

  /// A window closed by the user ends the run like q, the MP4 finished: once
  /// as a window manager does it (WM_DELETE_WINDOW; the sink posts "Output
  /// window was closed"), while paused, and once by destroying the window
  /// (xdotool windowclose) while playing.
  func testClosingTheWindowEndsTheRunAndFinishesTheMP4() throws {
    let clip = try SoundClips.long()
    for way in ["WM_DELETE_WINDOW", "windowclose"] {
      let out = scratch.appendingPathComponent("closed-\(way).mp4").path
      let tool = try startTool([clip, "--display", "-o", out])
      let window = try waitForWindow(named: "long-tone.mp4", tool)
      usleep(1_500_000)
      if way == "windowclose" {
        let result = try runProcess(xdotool, ["windowclose", window], environment: ["DISPLAY": display], timeoutSeconds: 20)
        XCTAssertEqual(result.status, 0, result.stderr)
      } else {
        try key(window, "space")
        try waitForLine("paused at", tool)
        try sendDeleteWindow(window)
      }
      let started = monotonicSeconds()
      XCTAssertEqual(try tool.wait(timeoutSeconds: 60), 0, "\(way): \(tool.stderrText())")
      print("display: \(way) ended the run in \(String(format: "%.1f", monotonicSeconds() - started)) s")
      XCTAssertTrue(tool.stdoutText().contains("(window closed)"), "\(way): \(tool.stdoutText())")
      XCTAssertGreaterThan(try decodedFrameCount(out), 10, "\(way): the MP4 does not play")
      XCTAssertGreaterThan(try SoundClips.decodedSound(out).seconds, 1, "\(way): the MP4 has no sound")
    }
  }

  /// A live input (MPEG-TS over UDP from a paced sender on 127.0.0.1) plays; a seek is refused with a message.
  func testALiveInputIgnoresSeeksWithAMessage() throws {
    try requireElements(["udpsink": "gstreamer1.0-plugins-good", "mpegtsmux": "gstreamer1.0-plugins-bad"])
    let video = try Fixtures.video("face-demographics-walking-and-pause.mp4")
    let port = try freePort(SOCK_DGRAM)
    let tool = try startTool(["udp://127.0.0.1:\(port)", "--display"])
    // Key frames every 6 frames, so the receiver can start anywhere; sent at the clip's pace. When it
    // ends, the window keeps its last frame (UDP has no end) until q.
    let launch = try Fixtures.require("/usr/bin/gst-launch-1.0", hint: "apt-get install gstreamer1.0-tools")
    let sender = try BackgroundProcess(
      launch,
      ["-q", "filesrc", "location=\(video)", "!", "decodebin", "!", "videoconvert", "!", "x264enc", "tune=zerolatency",
        "key-int-max=6", "!", "mpegtsmux", "!", "udpsink", "host=127.0.0.1", "port=\(port)", "sync=true"],
      lifetimeSeconds: 60)
    defer { sender.stop() }
    let window = try waitForWindow(named: "127.0.0.1:\(port)", tool)
    try key(window, "Right")
    try waitForLine("seek ignored: the input is live", tool)
    try key(window, "q")
    XCTAssertEqual(try tool.wait(timeoutSeconds: 60), 0, tool.stderrText())
    XCTAssertTrue(tool.stdoutText().contains("quit at"), tool.stdoutText())
  }

  func testNoDisplayIsRefusedBeforeAnythingStarts() throws {
    let tool = try Fixtures.require(Fixtures.binDirectory + "/agegender-annotate", hint: "run make build")
    let out = scratch.appendingPathComponent("never/written.mp4").path
    let started = monotonicSeconds()
    let result = try runProcess(
      tool, [try Fixtures.video(InputOutputTests.clipName), "--display", "-o", out],
      environment: ["DISPLAY": "", "WAYLAND_DISPLAY": ""], timeoutSeconds: 60)
    XCTAssertNotEqual(result.status, 0)
    XCTAssertTrue(result.stderr.contains("error: --display needs a screen, but no display is available"), result.stderr)
    XCTAssertLessThan(monotonicSeconds() - started, 20)
    XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.appendingPathComponent("never").path))
  }

  /// An http URL of a media file, and a page resolved by yt-dlp (titled by its
  /// <title>), play in the window with the overlay, to the end.
  func testHTTPURLAndYtDlpPagePlayInTheWindow() throws {
    let ytdlp = try ytDlpPath()
    let clip = try SoundClips.aacInMP4()
    let root = scratch.appendingPathComponent("www")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("clip.mp4").path, withDestinationPath: clip)
    try """
    <!DOCTYPE html>
    <html><head><title>Two people talking</title></head>
    <body><video controls src="clip.mp4"></video></body></html>
    """.write(to: root.appendingPathComponent("page.html"), atomically: true, encoding: .utf8)
    let server = try LocalHTTPServer(directory: root.path)
    self.server = server
    for (url, title) in [(server.url("clip.mp4"), "clip.mp4"), (server.url("page.html"), "Two people talking")] {
      let tool = try startTool([url, "--display"], environment: ["AGEGENDER_YTDLP": ytdlp])
      _ = try waitForWindow(named: title, tool)
      var pink = 0, blue = 0
      while tool.isRunning && (pink < 200 || blue < 200) {
        let screen = try shot()
        pink = max(pink, screen.count(OverlayColour.female, tolerance: 8))
        blue = max(blue, screen.count(OverlayColour.male, tolerance: 8))
      }
      print("display: \(url): at most \(pink) pink and \(blue) blue pixels")
      XCTAssertGreaterThanOrEqual(pink, 200, "\(url): no female overlay on screen")
      XCTAssertGreaterThanOrEqual(blue, 200, "\(url): no male overlay on screen")
      XCTAssertEqual(try tool.wait(timeoutSeconds: 120), 0, "\(url): \(tool.stderrText())")
      XCTAssertTrue(tool.stdoutText().contains("wrote nothing"), tool.stdoutText())
    }
    XCTAssertTrue(server.requestLog().contains("GET /page.html"), server.requestLog())
  }

  // MARK: Helpers

  private func startTool(_ arguments: [String], environment: [String: String] = [:]) throws -> BackgroundProcess {
    let tool = try Fixtures.require(Fixtures.binDirectory + "/agegender-annotate", hint: "run make build")
    return try BackgroundProcess(
      tool, arguments, environment: environment.merging(["DISPLAY": display]) { $1 }, lifetimeSeconds: 300)
  }

  /// The id of the window whose title contains `name` (the sink appends " : agegender-annotate").
  private func waitForWindow(named name: String, _ tool: BackgroundProcess) throws -> String {
    let deadline = monotonicSeconds() + 90
    while monotonicSeconds() < deadline && tool.isRunning {
      let found = try runProcess(xdotool, ["search", "--name", name], environment: ["DISPLAY": display], timeoutSeconds: 20)
      if let id = found.stdout.split(separator: "\n").first { return String(id) }
      usleep(100_000)
    }
    throw Pipeline.Failure("no window titled '\(name)': \(tool.stdoutText()) \(tool.stderrText())")
  }

  private func key(_ window: String, _ name: String) throws {
    let result = try runProcess(xdotool, ["key", "--window", window, name], environment: ["DISPLAY": display], timeoutSeconds: 20)
    guard result.status == 0 else { throw Pipeline.Failure("xdotool key \(name): \(result.stderr)") }
  }

  private func position(of window: String) throws -> (x: Int, y: Int) {
    let result = try runProcess(
      xdotool, ["getwindowgeometry", "--shell", window], environment: ["DISPLAY": display], timeoutSeconds: 20)
    var values: [String: Int] = [:]
    for line in result.stdout.split(separator: "\n") {
      let parts = line.split(separator: "=")
      if parts.count == 2 { values[String(parts[0])] = Int(parts[1]) }
    }
    guard let x = values["X"], let y = values["Y"] else { throw Pipeline.Failure("no geometry: \(result.stdout)") }
    return (x, y)
  }

  private func shot() throws -> Screenshot {
    let file = scratch.appendingPathComponent("shot.xwd").path
    let result = try runProcess(xwd, ["-root", "-silent", "-display", display, "-out", file], timeoutSeconds: 20)
    guard result.status == 0 else { throw Pipeline.Failure("xwd failed: \(result.stderr)") }
    return try Screenshot(xwd: Data(contentsOf: URL(fileURLWithPath: file)))
  }

  /// Waits for the tool's `occurrence`-th line containing `text` (0-based) and returns it.
  @discardableResult
  private func waitForLine(_ text: String, _ tool: BackgroundProcess, occurrence: Int = 0) throws -> String {
    try tool.waitForStdout(timeoutSeconds: 60) { out in
      let lines = out.split(separator: "\n").filter { $0.contains(text) }
      return lines.count > occurrence ? String(lines[occurrence]) : nil
    }
  }

  /// The seconds after `prefix` in the tool's `occurrence`-th line with it ("paused at 1.20 s").
  private func seconds(after prefix: String, _ tool: BackgroundProcess, occurrence: Int = 0) throws -> Double {
    let line = try waitForLine(prefix, tool, occurrence: occurrence)
    let rest = line[line.range(of: prefix)!.upperBound...]
    guard let value = Double(rest.prefix { $0.isNumber || $0 == "." }) else { throw Pipeline.Failure("no seconds in '\(line)'") }
    return value
  }

  /// "seek from 1.32 s to 6.32 s".
  private func seek(_ tool: BackgroundProcess, occurrence: Int = 0) throws -> (from: Double, to: Double) {
    let line = try waitForLine("seek from ", tool, occurrence: occurrence)
    let numbers = line.split(separator: " ").compactMap { Double($0) }
    guard numbers.count == 2 else { throw Pipeline.Failure("not a seek line: \(line)") }
    return (numbers[0], numbers[1])
  }

  /// What a window manager sends when the user closes a window.
  private func sendDeleteWindow(_ window: String) throws {
    guard let id = UInt(window), let connection = XOpenDisplay(display) else {
      throw Pipeline.Failure("cannot open \(display) to close window \(window)")
    }
    defer { XCloseDisplay(connection) }
    var event = XEvent()
    event.xclient.type = ClientMessage
    event.xclient.window = Window(id)
    event.xclient.message_type = XInternAtom(connection, "WM_PROTOCOLS", 0)
    event.xclient.format = 32
    event.xclient.data.l.0 = Int(XInternAtom(connection, "WM_DELETE_WINDOW", 0))
    event.xclient.data.l.1 = Int(CurrentTime)
    guard XSendEvent(connection, Window(id), 0, NoEventMask, &event) != 0 else {
      throw Pipeline.Failure("XSendEvent failed")
    }
    XSync(connection, 0)
  }
}

extension Screenshot {
  /// Pixels of `colour` inside [x0, x1) x [y0, y1), and on the whole screen.
  func count(_ colour: (UInt8, UInt8, UInt8), tolerance: Int, x0: Int, y0: Int, x1: Int, y1: Int)
    -> (inside: Int, all: Int)
  {
    var inside = 0, all = 0
    for y in 0..<height {
      for x in 0..<width {
        let o = (y * width + x) * 3
        guard abs(Int(rgb[o]) - Int(colour.0)) <= tolerance, abs(Int(rgb[o + 1]) - Int(colour.1)) <= tolerance,
          abs(Int(rgb[o + 2]) - Int(colour.2)) <= tolerance
        else { continue }
        all += 1
        if x >= x0 && x < x1 && y >= y0 && y < y1 { inside += 1 }
      }
    }
    return (inside, all)
  }
}
