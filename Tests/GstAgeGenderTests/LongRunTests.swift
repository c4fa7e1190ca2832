import AgeGenderMeta
import CGStreamer
import Foundation
import GstPipeline
import XCTest

/// Long runs (issue 6): a shared clip with two faces (480x270, 56 frames) is
/// decoded once into raw BGR frames, which appsrc then pushes round and round
/// through the element; RSS is sampled as frames come out.
///
/// The suite runs 3,000 frames (RSS at frame 1,000 and 3,000 within 2 MB);
/// `make soak` runs 20,000 (AGEGENDER_SOAK_FRAMES=20000: RSS at frame 2,000 and
/// 20,000). AGEGENDER_SOAK_PROPS adds element properties (e.g. "async=false").
final class LongRunTests: XCTestCase {
  override func setUpWithError() throws { try Fixtures.setUp() }

  /// The clip's frames as packed BGR (rows padded to 4 bytes, as GStreamer lays them out).
  private static func decodedClip() throws -> (frames: [[UInt8]], width: Int, height: Int) {
    let video = try Fixtures.video("head-pose-face-detection-female-and-male.mp4")
    let pipeline = try Pipeline(
      "filesrc location=\(video) ! decodebin ! videoconvert ! video/x-raw,format=BGR ! appsink name=sink sync=false")
    var frames: [[UInt8]] = []
    var width = 0, height = 0
    try pipeline.forEachBuffer(timeoutSeconds: 120) { buffer, sample in
      var info = GstVideoInfo()
      gst_video_info_from_caps(&info, gst_sample_get_caps(sample))
      width = Int(info.width)
      height = Int(info.height)
      var map = GstMapInfo()
      guard gst_buffer_map(buffer, &map, GST_MAP_READ) != 0 else { return }
      frames.append(Array(UnsafeBufferPointer(start: map.data, count: Int(map.size))))
      gst_buffer_unmap(buffer, &map)
    }
    return (frames, width, height)
  }

  /// Runs `total` frames through `agegender <properties>` and returns RSS (kB) at
  /// `first` and `total` frames out, and the share of frames that had faces.
  private func longRun(total: Int, first: Int, properties: String, timeout: Double) throws
    -> (first: Int, last: Int, withFaces: Double, seconds: Double) {
    let clip = try Self.decodedClip()
    XCTAssertEqual(clip.frames.count, 56)
    XCTAssertEqual(clip.width, 480)
    XCTAssertEqual(clip.height, 270)
    let caps = "video/x-raw,format=BGR,width=\(clip.width),height=\(clip.height),framerate=25/1"
    var rssFirst = 0, rssLast = 0, withFaces = 0
    var mark = monotonicSeconds()
    let outcome = try Robust.push(count: total, middle: "agegender \(properties)", timeout: timeout, onFrame: { _, i in
      let n = i + 1
      if n == first || n == total {
        let rss = Robust.rssKB()
        if n == first { rssFirst = rss } else { rssLast = rss }
        print(String(format: "long run (%@): RSS after frame %d: %@ (%d kB)", properties, n, Robust.megabytes(rss), rss))
      }
      if n % 1000 == 0 {
        print(String(format: "long run: %d frames, %.1f fps", n, 1000 / (monotonicSeconds() - mark)))
        mark = monotonicSeconds()
      }
    }) { i in
      let frame = clip.frames[i % clip.frames.count]
      return Robust.Frame(caps: caps, buffer: Robust.buffer(bytes: frame.count) { $0.update(from: frame, count: frame.count) })
    }
    XCTAssertNil(outcome.error)
    XCTAssertEqual(outcome.frames.count, total)
    withFaces = outcome.frames.filter { ($0.faces?.count ?? 0) > 0 }.count
    return (rssFirst, rssLast, Double(withFaces) / Double(max(1, outcome.frames.count)), outcome.seconds)
  }

  /// 3,000 frames in the suite, 20,000 with `make soak`: RSS flat within 2 MB.
  func testLongRunKeepsRSSFlat() throws {
    let environment = ProcessInfo.processInfo.environment
    let total = Int(environment["AGEGENDER_SOAK_FRAMES"] ?? "") ?? 3000
    let first = max(1000, total / 10)
    let properties = environment["AGEGENDER_SOAK_PROPS"] ?? ""
    let result = try longRun(total: total, first: first, properties: properties, timeout: Double(total) * 0.5 + 60)
    let drift = result.last - result.first
    print(String(format: "long run (%@): %d frames in %.0f s, faces in %.0f%% of frames, RSS drift %d kB (frame %d to %d)",
      properties.isEmpty ? "defaults" : properties, total, result.seconds, result.withFaces * 100, drift, first, total))
    XCTAssertLessThanOrEqual(drift, 2048, "RSS grew by \(drift) kB from frame \(first) to \(total)")
    XCTAssertGreaterThan(result.withFaces, 0.8, "the clip's faces are found throughout")
  }
}
