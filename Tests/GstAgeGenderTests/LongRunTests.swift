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

  struct Figures {
    /// RSS (kB) right after frame `first` and after the last frame.
    var first = 0, last = 0
    /// Least RSS over the 100 frames up to `first` and over the last 100 (sampled every 10).
    var firstFloor = Int.max, lastFloor = Int.max
    /// Heap bytes in use (kB) after frame `first` and after the last frame.
    var heapFirst = 0, heapLast = 0
    var withFaces = 0.0, seconds = 0.0
  }

  /// Runs `total` frames through `agegender <properties>` and returns the memory
  /// figures around frame `first` and the end, and the share of frames with faces.
  private func longRun(total: Int, first: Int, properties: String, timeout: Double) throws -> Figures {
    let clip = try Self.decodedClip()
    XCTAssertEqual(clip.frames.count, 56)
    XCTAssertEqual(clip.width, 480)
    XCTAssertEqual(clip.height, 270)
    let caps = "video/x-raw,format=BGR,width=\(clip.width),height=\(clip.height),framerate=25/1"
    var figures = Figures()
    var mark = monotonicSeconds()
    let outcome = try Robust.push(
      count: total, middle: "agegender \(properties)", timeout: timeout, keepFrames: false, onFrame: { _, i in
      let n = i + 1
      if n % 10 == 0 && (n > first - 100 && n <= first || n > total - 100) {
        let rss = Robust.rssKB()
        if n <= first { figures.firstFloor = min(figures.firstFloor, rss) } else { figures.lastFloor = min(figures.lastFloor, rss) }
      }
      if n == first || n == total {
        let rss = Robust.rssKB(), heap = Robust.heapInUseKB()
        if n == first { (figures.first, figures.heapFirst) = (rss, heap) } else { (figures.last, figures.heapLast) = (rss, heap) }
        print(String(format: "long run: RSS after frame %d: %@ (%d kB), heap in use %d kB", n, Robust.megabytes(rss), rss, heap))
      }
      if n % 1000 == 0 {
        print(String(format: "long run: %d frames, %.1f fps, RSS %d kB, heap in use %d kB", n, 1000 / (monotonicSeconds() - mark), Robust.rssKB(), Robust.heapInUseKB()))
        mark = monotonicSeconds()
      }
    }) { i in
      let frame = clip.frames[i % clip.frames.count]
      return Robust.Frame(caps: caps, buffer: Robust.buffer(bytes: frame.count) { $0.update(from: frame, count: frame.count) })
    }
    XCTAssertNil(outcome.error)
    XCTAssertEqual(outcome.frameCount, total)
    figures.withFaces = Double(outcome.framesWithFaces) / Double(max(1, outcome.frameCount))
    figures.seconds = outcome.seconds
    return figures
  }

  /// 3,000 frames in the suite, 20,000 with `make soak`: memory flat within 2 MB
  /// between frame 1,000 (2,000) and the end. RSS is compared by its floor over
  /// the 100 frames up to each point (single samples move by a few MB as glibc
  /// keeps or returns freed blocks); the heap bytes in use are compared too.
  func testLongRunKeepsRSSFlat() throws {
    let environment = ProcessInfo.processInfo.environment
    let total = max(1100, Int(environment["AGEGENDER_SOAK_FRAMES"] ?? "") ?? 3000)
    let first = max(1000, total / 10)
    let properties = environment["AGEGENDER_SOAK_PROPS"] ?? ""
    let r = try longRun(total: total, first: first, properties: properties, timeout: Double(total) * 0.5 + 60)
    let drift = r.lastFloor - r.firstFloor, heapDrift = r.heapLast - r.heapFirst
    print(String(format: "long run (%@): %d frames in %.0f s (%.1f fps), faces in %.0f%% of frames; RSS after frame %d %d kB, "
      + "after frame %d %d kB (%+d kB); RSS floor drift %+d kB; heap in use drift %+d kB",
      properties.isEmpty ? "defaults" : properties, total, r.seconds, Double(total) / r.seconds, r.withFaces * 100,
      first, r.first, total, r.last, r.last - r.first, drift, heapDrift))
    XCTAssertLessThanOrEqual(drift, 2048, "RSS floor grew by \(drift) kB from frame \(first) to \(total)")
    XCTAssertLessThanOrEqual(heapDrift, 2048, "heap in use grew by \(heapDrift) kB from frame \(first) to \(total)")
    XCTAssertGreaterThan(r.withFaces, 0.8, "the clip's faces are found throughout")
  }
}
