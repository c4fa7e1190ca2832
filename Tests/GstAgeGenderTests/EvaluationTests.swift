import Foundation
import XCTest

/// agegender-eval on the shared labelled faces meets the element's bar:
/// ≥ 95% of faces found (tight crops included), gender ≥ 75% over all images.
final class EvaluationTests: XCTestCase {
  override func setUpWithError() throws { try Fixtures.setUp() }

  func testEvalOnSharedFaces() throws {
    let tool = try Fixtures.require(Fixtures.binDirectory + "/agegender-eval", hint: "run make build")
    let faces = try Fixtures.require(Fixtures.sharedTestData + "/faces/labels.csv")
    let predictions = FileManager.default.temporaryDirectory.appendingPathComponent("pred-\(UUID().uuidString).csv")
    defer { try? FileManager.default.removeItem(at: predictions) }
    let result = try runProcess(
      tool, [(faces as NSString).deletingLastPathComponent, "--predictions", predictions.path])
    XCTAssertEqual(result.status, 0, result.stderr)
    let last = try XCTUnwrap(result.stdout.split(separator: "\n").last.map(String.init))
    let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any], last)
    XCTAssertEqual(json["images"] as? Int, 54)
    XCTAssertGreaterThanOrEqual(try XCTUnwrap(json["detect_rate"] as? Double), 0.95, last)
    XCTAssertGreaterThanOrEqual(try XCTUnwrap(json["gender_acc_all"] as? Double), 0.75, last)
    XCTAssertNotNil(json["age_mae_exact"] as? Double)
    // Calibrated outputs: an ECE, and age intervals that hold some exact ages but not all.
    // (Fitted on the tuning set, where ECE is 0.029 with the default augment=balanced;
    // on these 54 faces of other sources it measured 0.149, uncalibrated 0.131: docs/accuracy.md.)
    XCTAssertLessThan(try XCTUnwrap(json["gender_ece"] as? Double), 0.2, last)
    let coverage = try XCTUnwrap(json["age_interval_coverage"] as? Double)
    XCTAssertGreaterThan(coverage, 0.4, last)
    XCTAssertGreaterThan(try XCTUnwrap(json["age_interval_width"] as? Double), 5, last)
    let rows = try String(contentsOf: predictions, encoding: .utf8).split(separator: "\n")
    XCTAssertEqual(rows.first, "file,detected,gender,age,gender_confidence,age_min,age_max,x,y,width,height")
    XCTAssertEqual(rows.count, 55)
    // The breakdowns: one row per age bin present, per source, per gender.
    for heading in ["| age bin |", "| 70+ |", "| source |", "| FairFace |", "| UTKFace |", "| female |", "| male |",
      "| gender-confidence |"] {
      XCTAssertTrue(result.stdout.contains(heading), "no \(heading) in\n\(result.stdout)")
    }
    print("agegender-eval: \(last)")

    // --compare: a second run with another setting lists the faces that changed, and counts them.
    let second = try runProcess(
      tool, [(faces as NSString).deletingLastPathComponent, "augment=none", "calibration=false", "--compare", predictions.path])
    XCTAssertEqual(second.status, 0, second.stderr)
    let summary = try XCTUnwrap(second.stdout.split(separator: "\n").first { $0.hasPrefix("against ") }, second.stdout)
    XCTAssertTrue(summary.contains("gender now right"), String(summary))
    // calibration=false reports point ages, so every exact age moved out of (or into) no interval;
    // and the ages themselves moved (the calibrated map, the mirror): some face is listed.
    XCTAssertTrue(second.stdout.contains(".jpg ("), second.stdout)
  }

  func testEvalRefusesUnknownProperty() throws {
    let tool = try Fixtures.require(Fixtures.binDirectory + "/agegender-eval", hint: "run make build")
    let result = try runProcess(tool, [Fixtures.sharedTestData + "/faces", "no-such-property=1"])
    XCTAssertNotEqual(result.status, 0)
    XCTAssertTrue(result.stderr.contains("no-such-property"), result.stderr)
  }
}
