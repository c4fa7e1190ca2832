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
    let rows = try String(contentsOf: predictions, encoding: .utf8).split(separator: "\n")
    XCTAssertEqual(rows.first, "file,detected,gender,age")
    XCTAssertEqual(rows.count, 55)
    print("agegender-eval: \(last)")
  }

  func testEvalRefusesUnknownProperty() throws {
    let tool = try Fixtures.require(Fixtures.binDirectory + "/agegender-eval", hint: "run make build")
    let result = try runProcess(tool, [Fixtures.sharedTestData + "/faces", "no-such-property=1"])
    XCTAssertNotEqual(result.status, 0)
    XCTAssertTrue(result.stderr.contains("no-such-property"), result.stderr)
  }
}
