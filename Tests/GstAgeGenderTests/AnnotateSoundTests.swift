import Foundation
import GstPipeline
import XCTest

/// agegender-annotate keeps the input's sound (issue 12, item 5): AAC in an MP4
/// is passed through byte for byte; raw PCM (which mp4mux cannot carry) is
/// encoded to AAC. Either way the output's sound lasts as long as the input's
/// and is still the 440 Hz tone.
final class AnnotateSoundTests: XCTestCase {
  private var scratch: URL!

  override func setUpWithError() throws {
    try Fixtures.setUp()
    scratch = FileManager.default.temporaryDirectory.appendingPathComponent("sound-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
  }

  override func tearDown() {
    if let scratch { try? FileManager.default.removeItem(at: scratch) }
  }

  private func annotate(_ input: String) throws -> (out: String, summary: String) {
    let tool = try Fixtures.require(Fixtures.binDirectory + "/agegender-annotate", hint: "run make build")
    let out = scratch.appendingPathComponent(URL(fileURLWithPath: input).lastPathComponent + ".annotated.mp4").path
    let result = try runProcess(tool, [input, "-o", out], timeoutSeconds: 300)
    XCTAssertEqual(result.status, 0, result.stderr)
    XCTAssertEqual(try decodedFrameCount(out), InputOutputTests.clipFrames, "the MP4's video")
    return (out, result.stdout)
  }

  private func assertSameSound(_ input: String, _ output: String, file: StaticString = #filePath, line: UInt = #line) throws {
    let before = try SoundClips.decodedSound(input), after = try SoundClips.decodedSound(output)
    print("sound: input \(before.seconds) s at \(before.hertz) Hz, output \(after.seconds) s at \(after.hertz) Hz")
    XCTAssertEqual(before.seconds, SoundClips.toneSeconds, accuracy: 0.05, "the input clip", file: file, line: line)
    // AAC stores whole 1024-sample frames: up to 21 ms more.
    XCTAssertEqual(after.seconds, before.seconds, accuracy: 0.05, "the output's sound lasts as long", file: file, line: line)
    XCTAssertEqual(after.hertz, SoundClips.toneHz, accuracy: 5, "the output's sound is the tone", file: file, line: line)
  }

  func testAACIsPassedThroughUnchanged() throws {
    let input = try SoundClips.aacInMP4()
    let (out, summary) = try annotate(input)
    XCTAssertTrue(summary.contains("sound passed through (audio/mpeg)"), summary)
    let stored = try SoundClips.storedAudio(input), written = try SoundClips.storedAudio(out)
    XCTAssertGreaterThan(stored.count, 200)
    XCTAssertEqual(written.count, stored.count, "AAC frames")
    XCTAssertTrue(written == stored, "the AAC frames were changed (re-encoded?)")
    try assertSameSound(input, out)
  }

  func testPCMIsEncodedToAAC() throws {
    let input = try SoundClips.pcmInMatroska()
    let (out, summary) = try annotate(input)
    XCTAssertTrue(summary.contains("sound encoded to AAC"), summary)
    XCTAssertGreaterThan(try SoundClips.storedAudio(out).count, 200, "no AAC stream in the MP4")
    try assertSameSound(input, out)
  }

  func testAVideoWithoutSoundGivesAnMP4WithoutSound() throws {
    let input = try Fixtures.video(InputOutputTests.clipName)
    let (out, summary) = try annotate(input)
    XCTAssertFalse(summary.contains("; sound"), summary)
    // qtdemux has no audio pad to link: the pipeline fails.
    XCTAssertThrowsError(try SoundClips.storedAudio(out), "the MP4 has an audio stream")
  }
}
