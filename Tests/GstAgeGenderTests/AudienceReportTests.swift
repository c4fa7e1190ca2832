import AgeGenderMeta
import FaceAnalysis
import FaceImageFiles
import Foundation
import GstPipeline
import XCTest

/// agegender-annotate --report / --summary (issue 12) on the shared clips, the
/// report opened in a real headless browser (Debian's chromium): it renders
/// (the screenshot is not blank and shows both genders' colours), and its DOM
/// has one timeline bar and one gallery face per person.
final class AudienceReportTests: XCTestCase {
  override func setUpWithError() throws { try Fixtures.setUp() }

  private func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("agegender-report-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
  }

  private func number(_ value: Any?) -> Double? { (value as? NSNumber)?.doubleValue }

  /// Runs agegender-annotate INPUT --report --summary; returns the report's path and the parsed summary.
  private func annotate(_ input: String, in dir: URL, report: Bool = true) throws -> (report: String, summary: [String: Any]) {
    let tool = try Fixtures.require(Fixtures.binDirectory + "/agegender-annotate", hint: "run make build")
    let reportPath = dir.appendingPathComponent("out/report.html").path
    let summaryPath = dir.appendingPathComponent("out/summary.json").path
    let result = try runProcess(
      tool,
      [input, "-o", dir.appendingPathComponent("out/annotated.mp4").path, "--summary", summaryPath]
        + (report ? ["--report", reportPath] : []), timeoutSeconds: 300)
    XCTAssertEqual(result.status, 0, "agegender-annotate failed: \(result.stderr)")
    XCTAssertTrue(result.stdout.contains(summaryPath), "the last line does not name the summary: \(result.stdout)")
    let data = try Data(contentsOf: URL(fileURLWithPath: try Fixtures.require(summaryPath)))
    let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any], "summary is not an object")
    if report { try Fixtures.require(reportPath) }
    return (reportPath, summary)
  }

  /// Headless chromium on a local file, with its own profile folder.
  private func chromium(_ arguments: [String], page: String, dir: URL) throws -> String {
    let browser = try Fixtures.require("/usr/bin/chromium", hint: "Debian's chromium: scripts/install-deps.sh installs it")
    let result = try runProcess(
      browser,
      ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(dir.path)/chromium-profile"]
        + arguments + ["file://\(page)"], timeoutSeconds: 90)
    XCTAssertEqual(result.status, 0, "chromium failed: \(result.stderr.suffix(2000))")
    return result.stdout
  }

  private func count(_ pattern: String, in text: String) throws -> Int {
    let regex = try NSRegularExpression(pattern: pattern)
    return regex.numberOfMatches(in: text, range: NSRange(text.startIndex..., in: text))
  }

  /// Nothing in the page is fetched: no script, stylesheet link, remote image or CSS url().
  private func assertSelfContained(_ html: String, file: StaticString = #filePath, line: UInt = #line) {
    for needle in ["<script", "<link", "src=\"http", "src='http", "href=", "url(", "@import"] {
      XCTAssertFalse(html.contains(needle), "the report refers to something outside it: \(needle)", file: file, line: line)
    }
  }

  /// The issue's first check: walking-and-pause is 3 people, 2 female and 1 male;
  /// the report renders with one bar and one captured face per person.
  func testWalkingAndPauseReportOpensInABrowserWithOneBarAndOneFacePerPerson() throws {
    let dir = try temporaryDirectory()
    let (report, summary) = try annotate(try Fixtures.video("face-demographics-walking-and-pause.mp4"), in: dir)
    XCTAssertEqual(summary["event"] as? String, "summary")
    XCTAssertEqual(number(summary["people"]), 3)
    XCTAssertEqual(number(summary["female"]), 2)
    XCTAssertEqual(number(summary["male"]), 1)
    XCTAssertEqual(number(summary["frames"]), 41)
    let tracks = try XCTUnwrap(summary["tracks"] as? [[String: Any]])
    XCTAssertEqual(tracks.map { number($0["frames"]) }, [41, 41, 41])
    XCTAssertGreaterThan(number(summary["dwell_max"]) ?? 0, 3e9, "the people stay 3.3 s")

    let html = try String(contentsOfFile: report, encoding: .utf8)
    assertSelfContained(html)
    let dom = try chromium(["--dump-dom"], page: report, dir: dir)
    XCTAssertTrue(dom.contains("id=\"timeline\""), "no timeline in the DOM: \(dom.prefix(500))")
    XCTAssertEqual(try count(#"<rect class="bar (female|male)""#, in: dom), 3, "one timeline bar per person")
    XCTAssertEqual(try count(#"<rect class="bar female""#, in: dom), 2)
    XCTAssertEqual(try count(#"<img class="face" src="data:image/jpeg;base64,[A-Za-z0-9+/=]{400,}""#, in: dom), 3,
      "one captured face (a JPEG data URI) per person in the gallery")
    XCTAssertEqual(try count(#"<img "#, in: dom), 3)
    // Each person labelled as the overlay showed them: "Female, 19" (the point age).
    for track in tracks {
      let label = try XCTUnwrap(track["label"] as? String, "no label: \(track)")
      let gender = track["gender"] as? String == "female" ? "Female" : "Male"
      XCTAssertEqual(label, "\(gender), \(Int((number(track["age"]) ?? -1).rounded()))")
      XCTAssertTrue(dom.contains(label), "no '\(label)' in the report")
    }

    let shot = dir.appendingPathComponent("report.png").path
    _ = try chromium(["--screenshot=\(shot)", "--window-size=960,1300", "--hide-scrollbars"], page: report, dir: dir)
    let image = try OwnedImage(contentsOf: try Fixtures.require(shot, hint: "chromium wrote no screenshot"))
    XCTAssertEqual(image.width, 960)
    // Not blank: many colours, and the genders' colours (bars, histogram, frames) in quantity.
    var colours = Set<UInt32>()
    var female = 0, male = 0
    let view = image.view
    for y in 0..<image.height {
      let row = view.data.advanced(by: y * view.stride).assumingMemoryBound(to: UInt8.self)
      for x in 0..<image.width {
        let (b, g, r) = (row[3 * x], row[3 * x + 1], row[3 * x + 2])
        colours.insert(UInt32(b) << 16 | UInt32(g) << 8 | UInt32(r))
        if abs(Int(r) - 0xC2) < 12 && abs(Int(g) - 0x25) < 12 && abs(Int(b) - 0x5C) < 12 { female += 1 }
        if abs(Int(r) - 0x18) < 12 && abs(Int(g) - 0x64) < 12 && abs(Int(b) - 0xAB) < 12 { male += 1 }
      }
    }
    XCTAssertGreaterThan(colours.count, 500, "the screenshot looks blank: \(colours.count) colours")
    XCTAssertGreaterThan(female, 5000, "too little of the female colour on screen: \(female) px")
    XCTAssertGreaterThan(male, 2500, "too little of the male colour on screen: \(male) px")
  }

  /// The issue's other figures: head-pose is 2 people (1 female, 1 male); the
  /// walking clip 2 people (the detector finds both; the man is read as female
  /// at 13-40 px wide: 2 female, measured, see the README).
  func testHeadPoseAndWalkingCounts() throws {
    let headPose = try annotate(
      try Fixtures.video("head-pose-face-detection-female-and-male.mp4"), in: try temporaryDirectory(), report: false)
    XCTAssertEqual(number(headPose.summary["people"]), 2)
    XCTAssertEqual(number(headPose.summary["female"]), 1)
    XCTAssertEqual(number(headPose.summary["male"]), 1)
    let walking = try annotate(
      try Fixtures.video("face-demographics-walking.mp4"), in: try temporaryDirectory(), report: false)
    XCTAssertEqual(number(walking.summary["people"]), 2)
    XCTAssertEqual((walking.summary["tracks"] as? [[String: Any]])?.map { number($0["frames"]) }, [35, 35])
  }

  /// A report path that is a folder is refused before anything runs, naming it.
  func testReportPathThatIsAFolderIsRefusedNamingIt() throws {
    let tool = try Fixtures.require(Fixtures.binDirectory + "/agegender-annotate", hint: "run make build")
    let dir = try temporaryDirectory()
    let result = try runProcess(
      tool,
      [try Fixtures.video("face-demographics-walking.mp4"), "-o", dir.appendingPathComponent("a.mp4").path,
        "--report", dir.path], timeoutSeconds: 60)
    XCTAssertNotEqual(result.status, 0)
    XCTAssertTrue(result.stderr.contains("cannot write \(dir.path): it is a folder"), result.stderr)
    XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("a.mp4").path))
  }

  /// A video without faces: a summary of nobody, and a report that says so, with no bar and no face.
  func testVideoWithoutFacesGivesAnEmptyReport() throws {
    let dir = try temporaryDirectory()
    let clip = dir.appendingPathComponent("no-faces.mp4").path
    let made = try runProcess(
      "/usr/bin/gst-launch-1.0",
      ["-q", "videotestsrc", "num-buffers=25", "!", "video/x-raw,width=320,height=240,framerate=25/1", "!", "x264enc",
        "speed-preset=ultrafast", "!", "mp4mux", "!", "filesink", "location=\(clip)"], timeoutSeconds: 60)
    XCTAssertEqual(made.status, 0, made.stderr)
    let (report, summary) = try annotate(try Fixtures.require(clip), in: dir)
    XCTAssertEqual(number(summary["people"]), 0)
    XCTAssertEqual((summary["tracks"] as? [Any])?.count, 0)
    XCTAssertEqual(number(summary["frames"]), 25)
    let dom = try chromium(["--dump-dom"], page: report, dir: dir)
    XCTAssertEqual(try count(#"<rect class="bar "#, in: dom), 0)
    XCTAssertEqual(try count(#"<img "#, in: dom), 0)
    XCTAssertTrue(dom.contains("No person was counted"), "the report does not say nobody was counted")
  }
}
