import FaceAnalysis
import Foundation
import XCTest

/// The asynchronous worker: results for offered frames, extrapolation along
/// tracks, bounded lag, clean stop.
final class AsyncAnalyzerTests: XCTestCase {
  func testSnapshotMovesFacesAlongTheirTracks() {
    let face = AnalyzedFace(
      detection: Detection(box: Box(x: 10, y: 20, width: 50, height: 60), confidence: 0.9),
      estimate: AgeGenderEstimate(age: 30, femaleProbability: 0.8), trackID: 7)
    let snapshot = AsyncFaceAnalyzer.Snapshot(frame: 10, faces: [face], velocities: [7: (2, -1, 0.5, 0.5)])
    let moved = snapshot.faces(at: 14)[0].detection.box
    XCTAssertEqual(moved, Box(x: 18, y: 16, width: 52, height: 62))
    XCTAssertEqual(snapshot.faces(at: 10)[0].detection.box, face.detection.box, "no time passed, no motion")
    XCTAssertEqual(snapshot.faces(at: 5)[0].detection.box, face.detection.box, "never moved backwards")
  }

  func testBoundedLagAnalysesTheFirstFrameAndKeepsResultsFresh() throws {
    try Fixtures.requireModels()
    let image = try Fixtures.image(Fixtures.astronautPath)
    let worker = AsyncFaceAnalyzer(
      analyzer: VideoFaceAnalyzer(detector: try Fixtures.detector(), classifier: try Fixtures.classifier()))
    defer { worker.stop() }
    XCTAssertNil(worker.snapshot)
    // Not live: with no results yet the first frame waits for its own analysis.
    worker.offer(image.view, frame: 0, options: VideoAnalysisOptions(), maxLag: 4)
    let first = try XCTUnwrap(worker.snapshot)
    XCTAssertEqual(first.frame, 0)
    XCTAssertEqual(first.faces.count, 1)
    for frame in 1...40 {
      worker.offer(image.view, frame: frame, options: VideoAnalysisOptions(), maxLag: 4)
      let latest = try XCTUnwrap(worker.snapshot)
      XCTAssertLessThanOrEqual(frame - latest.frame, 4, "frame \(frame): results from \(latest.frame)")
    }
    XCTAssertNil(worker.takeFailure())
  }

  /// The element offers one frame per detection interval (`due`); a frame that
  /// is not due is analysed only when the results would otherwise be too old.
  func testFramesThatAreNotDueAreAnalysedOnlyToBoundTheLag() throws {
    try Fixtures.requireModels()
    let image = try Fixtures.image(Fixtures.astronautPath)
    let worker = AsyncFaceAnalyzer(
      analyzer: VideoFaceAnalyzer(detector: try Fixtures.detector(), classifier: try Fixtures.classifier()))
    defer { worker.stop() }
    XCTAssertTrue(worker.offer(image.view, frame: 0, options: VideoAnalysisOptions(), maxLag: 8, due: true))
    XCTAssertEqual(worker.snapshot?.frame, 0, "no results yet: the first frame is analysed and awaited")
    for frame in 1...8 {
      XCTAssertFalse(worker.offer(image.view, frame: frame, options: VideoAnalysisOptions(), maxLag: 8, due: false),
        "frame \(frame) is not due and the results are fresh enough")
    }
    XCTAssertEqual(worker.snapshot?.frame, 0)
    XCTAssertTrue(worker.offer(image.view, frame: 9, options: VideoAnalysisOptions(), maxLag: 8, due: false),
      "9 frames behind: analysed although not due")
    XCTAssertEqual(worker.snapshot?.frame, 9)
    XCTAssertFalse(worker.offer(image.view, frame: 10, options: VideoAnalysisOptions(), due: false), "live, not due")
    XCTAssertTrue(worker.offer(image.view, frame: 11, options: VideoAnalysisOptions(), due: true), "live, due, idle")
  }

  func testLiveOffersNeverWaitAndStopIsClean() throws {
    try Fixtures.requireModels()
    let image = try Fixtures.image(Fixtures.astronautPath)
    let worker = AsyncFaceAnalyzer(
      analyzer: VideoFaceAnalyzer(detector: try Fixtures.detector(), classifier: try Fixtures.classifier()))
    XCTAssertTrue(worker.offer(image.view, frame: 0, options: VideoAnalysisOptions()))
    // While it works on frame 0 the next offers are declined, not queued.
    XCTAssertFalse(worker.offer(image.view, frame: 1, options: VideoAnalysisOptions()))
    var waited = 0
    while worker.snapshot == nil && waited < 600 {
      usleep(50_000)
      waited += 1
    }
    XCTAssertEqual(worker.snapshot?.faces.first?.trackID, 1)
    worker.stop()
    worker.stop()  // twice is harmless
    XCTAssertFalse(worker.offer(image.view, frame: 2, options: VideoAnalysisOptions()), "a stopped worker takes nothing")
  }

  /// A detector that takes its time, so a reset can come mid-analysis.
  final class SlowDetector: FaceDetector {
    let inner: any FaceDetector
    init(_ inner: any FaceDetector) { self.inner = inner }
    func detect(in image: ImageView, threshold: Double) throws -> [Detection] {
      usleep(400_000)
      return try inner.detect(in: image, threshold: threshold)
    }
  }

  /// Issue 15: a reset (a seek) while the worker analyses a frame of the old
  /// scene never waits for it, and that frame's results are discarded; the
  /// next scene's tracks get new ids.
  func testResetMidAnalysisDiscardsTheOldScenesResults() throws {
    try Fixtures.requireModels()
    let image = try Fixtures.image(Fixtures.astronautPath)
    let worker = AsyncFaceAnalyzer(
      analyzer: VideoFaceAnalyzer(detector: SlowDetector(try Fixtures.detector()), classifier: try Fixtures.classifier()))
    defer { worker.stop() }
    XCTAssertTrue(worker.offer(image.view, frame: 0, options: VideoAnalysisOptions()))
    var waited = 0
    while worker.snapshot == nil && waited < 600 {
      usleep(10_000)
      waited += 1
    }
    XCTAssertEqual(worker.snapshot?.faces.map(\.trackID), [1])
    let firstEstimate = worker.snapshot?.faces.first?.estimate
    // Frame 1 of the old scene is taken, then the scene changes while it is analysed.
    XCTAssertTrue(worker.offer(image.view, frame: 1, options: VideoAnalysisOptions()))
    usleep(100_000)
    let start = Date()
    worker.reset()
    XCTAssertLessThan(Date().timeIntervalSince(start), 0.2, "reset does not wait for the analysis")
    XCTAssertNil(worker.snapshot)
    usleep(600_000)  // the old frame's analysis has finished by now
    XCTAssertNil(worker.snapshot, "the old scene's frame is not shown after the reset")
    XCTAssertEqual(worker.scene, 1)
    worker.offer(image.view, frame: 0, options: VideoAnalysisOptions(), maxLag: 0)
    XCTAssertEqual(worker.snapshot?.frame, 0)
    XCTAssertEqual(worker.snapshot?.faces.map(\.trackID), [2], "a new track, with a new id")
    XCTAssertEqual(worker.snapshot?.faces.first?.estimate, firstEstimate, "fusion starts afresh")
  }
}
