import AgeGenderMeta
import CGStreamer
import Foundation
import GstPipeline
import XCTest

#if canImport(Glibc)
  import Glibc
#endif

/// The colours the element draws boxes and label backgrounds in (FaceOverlay).
enum OverlayColour {
  static let female: (UInt8, UInt8, UInt8) = (255, 64, 160)
  static let male: (UInt8, UInt8, UInt8) = (40, 140, 255)
}

/// Pixels of packed RGB within `tolerance` of `colour` on every channel.
func countColour(_ rgb: [UInt8], width: Int, height: Int, stride: Int, _ colour: (UInt8, UInt8, UInt8),
  tolerance: Int) -> Int {
  let (r, g, b) = (Int(colour.0), Int(colour.1), Int(colour.2))
  var n = 0
  rgb.withUnsafeBufferPointer { p in
    for y in 0..<height {
      var o = y * stride
      for _ in 0..<width {
        if abs(Int(p[o]) - r) <= tolerance && abs(Int(p[o + 1]) - g) <= tolerance && abs(Int(p[o + 2]) - b) <= tolerance {
          n += 1
        }
        o += 3
      }
    }
  }
  return n
}

/// Overlay pixels in a decoded RGB frame.
func overlayPixels(_ frame: FrameResult, _ colour: (UInt8, UInt8, UInt8), tolerance: Int = 24) -> Int {
  guard let pixels = frame.pixels else { return 0 }
  let w = Int(frame.width), h = Int(frame.height)
  return countColour(pixels, width: w, height: h, stride: (w * 3 + 3) & ~3, colour, tolerance: tolerance)
}

/// Outputs with encoders: MP4 file, HLS playlist and segments, and a live SRT
/// stream over 127.0.0.1. Each is decoded back and must show the overlay.
final class RecordingTests: XCTestCase {
  static let clipName = "head-pose-face-detection-female-and-male.mp4"
  static let clipFrames = 56
  /// Overlay pixels (each colour) a decoded frame must hold to count as annotated.
  static let minimumOverlay = 150

  private var scratch: URL!

  override func setUpWithError() throws {
    try Fixtures.setUp()
    scratch = FileManager.default.temporaryDirectory.appendingPathComponent("rec-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
  }

  override func tearDown() {
    if let scratch { try? FileManager.default.removeItem(at: scratch) }
  }

  private func annotatedSource() throws -> String {
    let video = try Fixtures.video(Self.clipName)
    return "filesrc location=\(video) ! decodebin ! videoconvert ! agegender async=false ! videoconvert ! video/x-raw,format=I420"
  }

  private func decodeRGB(_ head: String) throws -> [FrameResult] {
    try PipelineRun.collect(
      "\(head) ! videoconvert ! video/x-raw,format=RGB ! appsink name=sink sync=false", keepPixels: true,
      timeoutSeconds: 120
    ).frames
  }

  /// Frames showing both the female and the male colour.
  private func annotatedFrames(_ frames: [FrameResult]) -> Int {
    frames.filter {
      overlayPixels($0, OverlayColour.female) >= Self.minimumOverlay
        && overlayPixels($0, OverlayColour.male) >= Self.minimumOverlay
    }.count
  }

  /// The clip as it is has (next to) none of the overlay colours: the check means something.
  func testTheSourceClipLacksTheOverlayColours() throws {
    let video = try Fixtures.video(Self.clipName)
    let frames = try decodeRGB("filesrc location=\(video) ! decodebin")
    XCTAssertEqual(frames.count, Self.clipFrames)
    XCTAssertEqual(annotatedFrames(frames), 0)
    let most = frames.map { max(overlayPixels($0, OverlayColour.female), overlayPixels($0, OverlayColour.male)) }.max() ?? 0
    XCTAssertLessThan(most, Self.minimumOverlay / 3, "the source already has overlay-coloured pixels")
  }

  func testMP4RoundTrip() throws {
    try requireElements(["x264enc": "gstreamer1.0-plugins-ugly", "mp4mux": "gstreamer1.0-plugins-good"])
    let file = scratch.appendingPathComponent("annotated.mp4").path
    try Pipeline("\(try annotatedSource()) ! x264enc ! mp4mux ! filesink location=\(file)").run(timeoutSeconds: 300)
    let frames = try decodeRGB("filesrc location=\(file) ! decodebin")
    XCTAssertEqual(frames.count, Self.clipFrames)
    XCTAssertEqual(frames.first?.width, 480)
    XCTAssertEqual(frames.first?.height, 270)
    let annotated = annotatedFrames(frames)
    XCTAssertGreaterThanOrEqual(annotated, 50, "frames with both overlays after the MP4 round trip")
    // The MP4 holds the annotated frames faithfully: compare with the element's output itself.
    let direct = try decodeRGB(try annotatedSource())
    XCTAssertEqual(direct.count, frames.count)
    var worst = 0.0
    for (a, b) in zip(direct, frames) {
      let p = try XCTUnwrap(a.pixels), q = try XCTUnwrap(b.pixels)
      XCTAssertEqual(p.count, q.count)
      var sum = 0
      for i in 0..<min(p.count, q.count) { sum += abs(Int(p[i]) - Int(q[i])) }
      worst = max(worst, Double(sum) / Double(max(1, p.count)))
    }
    print("MP4 round trip: \(annotated) of \(frames.count) frames show both overlays; worst mean difference \(worst)")
    XCTAssertLessThan(worst, 3, "the decoded MP4 differs from the annotated frames")
  }

  func testHLSPlaylistAndSegmentsDecodeWithTheOverlay() throws {
    try requireElements([
      "hlssink2": "gstreamer1.0-plugins-bad", "h264parse": "gstreamer1.0-plugins-bad",
      "tsdemux": "gstreamer1.0-plugins-bad", "x264enc": "gstreamer1.0-plugins-ugly",
    ])
    let folder = scratch.appendingPathComponent("hls").path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let playlist = folder + "/playlist.m3u8"
    // A key frame at most every 12 frames (~1 s at 12.5 fps) lets hlssink2 cut ~1 s segments.
    try Pipeline(
      "\(try annotatedSource()) ! x264enc key-int-max=12 ! h264parse ! hlssink2 location=\(folder)/segment%05d.ts "
        + "playlist-location=\(playlist) target-duration=1 max-files=0 playlist-length=0"
    ).run(timeoutSeconds: 300)

    let text = try String(contentsOfFile: playlist, encoding: .utf8)
    XCTAssertTrue(text.hasPrefix("#EXTM3U"), text)
    XCTAssertTrue(text.contains("#EXT-X-ENDLIST"), "playlist not finished: \(text)")
    let segments = text.split(separator: "\n").map(String.init).filter { !$0.isEmpty && !$0.hasPrefix("#") }
    XCTAssertGreaterThanOrEqual(segments.count, 3, text)
    XCTAssertEqual(text.components(separatedBy: "#EXTINF:").count - 1, segments.count)
    var total = 0
    for segment in segments {
      let path = folder + "/" + segment
      try Fixtures.require(path)
      let frames = try decodeRGB("filesrc location=\(path) ! tsdemux ! h264parse ! avdec_h264")
      XCTAssertGreaterThan(frames.count, 0, segment)
      print("HLS \(segment): \(frames.count) frames, \(annotatedFrames(frames)) with both overlays")
      XCTAssertGreaterThan(annotatedFrames(frames), 0, "\(segment): no frame shows both overlays")
      total += frames.count
    }
    XCTAssertEqual(total, Self.clipFrames, "the segments together hold every frame")
  }

  /// agegender → x264enc → mpegtsmux → srtsink (listener on 127.0.0.1) and a
  /// receiver srtsrc → tsdemux → avdec_h264 that decodes frames with the overlay.
  func testSRTLiveRoundTripCarriesTheOverlay() throws {
    try requireElements([
      "srtsink": "gstreamer1.0-plugins-bad", "srtsrc": "gstreamer1.0-plugins-bad",
      "mpegtsmux": "gstreamer1.0-plugins-bad", "tsdemux": "gstreamer1.0-plugins-bad", "x264enc": "gstreamer1.0-plugins-ugly",
    ])
    let port = try freePort(SOCK_DGRAM)
    let uri = "srt://127.0.0.1:\(port)"
    let sender = try Pipeline(
      "\(try annotatedSource()) ! x264enc tune=zerolatency key-int-max=12 ! mpegtsmux "
        + "! srtsink name=out uri=\"\(uri)?mode=listener\" wait-for-connection=true")
    let receiver = try Pipeline(
      "srtsrc uri=\"\(uri)?mode=caller\" ! tsdemux ! h264parse ! avdec_h264 ! videoconvert ! video/x-raw,format=RGB "
        + "! appsink name=sink sync=false max-buffers=8")
    defer {
      gst_element_set_state(receiver.element, GST_STATE_NULL)
      gst_element_set_state(sender.element, GST_STATE_NULL)
    }
    try sender.setState(GST_STATE_PLAYING)
    try receiver.setState(GST_STATE_PLAYING)

    let sink = agb_app_sink_cast(try receiver.child("sink"))
    let wanted = 30
    var frames: [FrameResult] = []
    let deadline = monotonicSeconds() + 240
    while frames.count < wanted && monotonicSeconds() < deadline {
      if let error = sender.pendingError() { XCTFail("sender: \(error)"); break }
      if let error = receiver.pendingError() { XCTFail("receiver: \(error)"); break }
      if let sample = gst_app_sink_try_pull_sample(sink, 200_000_000) {
        defer { agb_sample_unref(sample) }
        frames.append(PipelineRun.read(sample, keepPixels: true))
      }
    }
    print("SRT: \(frames.count) frames received, \(annotatedFrames(frames)) with both overlays")
    XCTAssertEqual(frames.count, wanted, "frames received over SRT within the time limit")
    XCTAssertEqual(frames.first?.width, 480)
    XCTAssertGreaterThanOrEqual(annotatedFrames(frames), wanted * 3 / 4, "received frames with both overlays")
  }
}
