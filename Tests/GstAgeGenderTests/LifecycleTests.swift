import AgeGenderMeta
import CGStreamer
import Foundation
import GstPipeline
import XCTest

/// Lifecycle (issue 6): many start/stop cycles in one process, two elements in
/// one pipeline, four pipelines at once on threads.
final class LifecycleTests: XCTestCase {
  override func setUpWithError() throws { try Fixtures.setUp() }

  /// 200 NULL → PLAYING → (EOS) → NULL cycles of one small pipeline, each
  /// loading the models in start() and pushing two frames through them;
  /// odd cycles run with async=true (the worker thread starts and is joined on
  /// NULL), even ones with async=false. No thread is left behind, and memory
  /// after cycle 200 is within 2 MB of memory after cycle 20.
  ///
  /// The rule is on resident anonymous memory (RssAnon), where a leak lives;
  /// VmRSS also counts resident pages of mapped libraries and model files,
  /// which the kernel may drop under other tenants' memory pressure. One sample
  /// moves from cycle to cycle, so the rule compares floors, the least value
  /// over cycles 11-20 and over 191-200: a leak lifts every sample. VmRSS is
  /// printed, and the heap bytes in use (malloc_info) are compared too.
  ///
  /// The child runs with glibc's mmap threshold fixed at its documented default
  /// (MALLOC_MMAP_THRESHOLD_=131072). Left dynamic, freeing the nets' large
  /// blobs raises it to up to 32 MB, later blobs come from the streaming
  /// threads' arenas, and the free top of such an arena (~5.5 MB, which
  /// malloc_trim does not shrink for non-main arenas) stays resident or not
  /// from cycle to cycle: a CI run failed on that toggle (VmRSS floor 96.3 MB
  /// over cycles 11-20, 101.4 MB over 191-200, heap in use +88 kB). With the
  /// threshold fixed, anonymous RSS stays within ±0.3 MB over 200 cycles. The
  /// toggle is bounded, not growth, and a plugin must not change its host's
  /// malloc policy, so the element leaves it alone.
  ///
  /// The cycles run in a fresh process (this test binary, started again for
  /// this one test): the rule is about a host process running the element, and
  /// in the suite's own process, after ~180 other tests and their threads, the
  /// floor moved by up to 30 MB with the heap in use flat (glibc arenas of
  /// earlier threads), which says nothing about this element.
  func test200StateCyclesKeepMemoryAndThreadsFlat() throws {
    let name = "GstAgeGenderTests.LifecycleTests/test200StateCyclesKeepMemoryAndThreadsFlat"
    if ProcessInfo.processInfo.environment["AGEGENDER_LIFECYCLE_CHILD"] != "1" {
      let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
      let child = try runProcess(executable, [name], environment: ["AGEGENDER_LIFECYCLE_CHILD": "1", "MALLOC_MMAP_THRESHOLD_": "131072"],
        timeoutSeconds: 600)
      let lines = (child.stdout + child.stderr).split(separator: "\n")
      for line in lines where line.hasPrefix("lifecycle:") || line.contains("error:") { print(line) }
      XCTAssertEqual(child.status, 0, "the lifecycle run in its own process failed:\n" + lines.suffix(30).joined(separator: "\n"))
      XCTAssertTrue(lines.contains { $0.hasPrefix("lifecycle: RSS after cycle 20") }, "the child ran no cycles")
      return
    }
    let pipeline = try Pipeline(
      "videotestsrc num-buffers=2 pattern=ball ! video/x-raw,width=160,height=120 ! videoconvert "
        + "! agegender name=ag ! fakesink")
    let ag = try pipeline.child("ag")
    let bus = gst_element_get_bus(pipeline.element)!
    defer { agb_object_unref(bus) }
    let cycles = max(200, Int(ProcessInfo.processInfo.environment["AGEGENDER_LIFECYCLE_CYCLES"] ?? "") ?? 200)
    var rss: [Int] = [0], anon: [Int] = [0], heap: [Int] = [0], threads: [Int] = [0]
    let start = monotonicSeconds()
    for cycle in 1...cycles {
      try Pipeline.setProperty(ag, "async", cycle % 2 == 1 ? "true" : "false")
      XCTAssertNotEqual(gst_element_set_state(pipeline.element, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE, "cycle \(cycle)")
      let message = try XCTUnwrap(
        gst_bus_timed_pop_filtered(
          bus, agb_seconds(30), GstMessageType(rawValue: GST_MESSAGE_EOS.rawValue | GST_MESSAGE_ERROR.rawValue)),
        "cycle \(cycle): no EOS within 30 s")
      let type = agb_message_type(message)
      let text = type == GST_MESSAGE_ERROR ? Pipeline.describeError(message) : ""
      agb_message_unref(message)
      XCTAssertEqual(type, GST_MESSAGE_EOS, "cycle \(cycle): \(text)")
      try Robust.setNull(pipeline)
      gst_bus_set_flushing(bus, 1)  // drop the state-change messages of this cycle
      gst_bus_set_flushing(bus, 0)
      if type != GST_MESSAGE_EOS { return }
      rss.append(Robust.rssKB())
      anon.append(Robust.anonRSSKB())
      heap.append(Robust.heapInUseKB())
      threads.append(Robust.threadCount())
      if cycle == 20 || cycle % 50 == 0 {
        print(String(format: "lifecycle: after cycle %d: RSS %@ (%d kB, anonymous %d kB), heap in use %d kB, %d threads, %.1f s",
          cycle, Robust.megabytes(rss[cycle]), rss[cycle], anon[cycle], heap[cycle], threads[cycle], monotonicSeconds() - start))
      }
    }
    let early = anon[11...20].min()!, late = anon[191...200].min()!
    let rssDrift = rss[191...200].min()! - rss[11...20].min()!
    let heapDrift = heap[200] - heap[20]
    print("lifecycle: RSS after cycle 20 \(rss[20]) kB, after cycle 200 \(rss[200]) kB (floor drift \(rssDrift) kB); "
      + "anonymous RSS floor over cycles 11-20 \(early) kB, over 191-200 \(late) kB: drift \(late - early) kB; "
      + "heap in use drift \(heapDrift) kB; threads \(threads[20]) -> \(threads[200])")
    // Earlier builds' floor rose ~14 MB over 180 cycles with the heap in use flat:
    // an idle worker thread's arena, and freed model memory glibc kept mapped. The
    // worker now starts only when a frame is handed over, and stop() trims the heap.
    XCTAssertLessThanOrEqual(late - early, 2048, "anonymous RSS floor grew by \(late - early) kB over 180 cycles")
    XCTAssertLessThanOrEqual(heapDrift, 2048, "heap in use grew by \(heapDrift) kB over 180 cycles")
    XCTAssertLessThanOrEqual(threads[200] - threads[20], 1, "threads left behind: \(threads[20]) -> \(threads[200])")
  }

  /// Two agegender elements in one pipeline: both run on every frame. The
  /// second refills the first's GstAgeGenderMeta (one per buffer) and adds its
  /// own ROI metas, so each buffer carries 2n ROI metas for n faces.
  func testTwoElementsInOnePipeline() throws {
    let video = try Fixtures.video("head-pose-face-detection-female-and-male.mp4")
    for async in [false, true] {
      let pipeline = try Pipeline(
        "filesrc location=\(video) ! decodebin ! videoconvert ! agegender name=a draw=false async=\(async) "
          + "! agegender name=b async=\(async) ! appsink name=sink sync=false")
      let outcome = try Robust.play(pipeline, timeout: 120)
      XCTAssertNil(outcome.error)
      XCTAssertEqual(outcome.frames.count, 56)
      let twoFaces = outcome.frames.filter { $0.faces?.count == 2 }.count
      XCTAssertGreaterThanOrEqual(twoFaces, 45, "async=\(async): both people in nearly every frame")
      for (frame, regions) in zip(outcome.frames, outcome.regionMetaCounts) {
        XCTAssertEqual(regions, 2 * (frame.faces?.count ?? 0), "ROI metas of both elements")
      }
    }
  }

  /// Four pipelines at once on four threads, each with its own element (the
  /// elements share the loaded models, ModelCache; each forward on a shared
  /// net runs alone): every one gives the same faces as a pipeline run alone.
  func testFourPipelinesConcurrently() throws {
    let video = try Fixtures.video("head-pose-face-detection-female-and-male.mp4")
    let description =
      "filesrc location=\(video) ! decodebin ! videoconvert ! agegender async=false draw=false ! appsink name=sink sync=false"
    let before = Robust.rssKB()
    let alone = try PipelineRun.collect(description).frames
    let afterOne = Robust.rssKB()
    let results = Robust.Unchecked(Robust.Box([[FrameResult]?](repeating: nil, count: 4)))
    let errors = Robust.Unchecked(Robust.Box([String?](repeating: nil, count: 4)))
    let lock = NSLock()
    let peak = Robust.Unchecked(Robust.Box(0))
    let start = monotonicSeconds()
    DispatchQueue.concurrentPerform(iterations: 4) { i in
      do {
        let pipeline = try Pipeline(description)
        let outcome = try Robust.play(pipeline, timeout: 300) { frame in
          if frame == 30 {
            lock.lock()
            peak.value.value = max(peak.value.value, Robust.rssKB())
            lock.unlock()
          }
        }
        lock.lock()
        results.value.value[i] = outcome.frames
        errors.value.value[i] = outcome.error
        lock.unlock()
      } catch {
        lock.lock()
        errors.value.value[i] = "\(error)"
        lock.unlock()
      }
    }
    print(String(format: "concurrency: 4 pipelines in %.1f s; RSS before %@, after one run %@, peak with four %@",
      monotonicSeconds() - start, Robust.megabytes(before), Robust.megabytes(afterOne), Robust.megabytes(peak.value.value)))
    for i in 0..<4 {
      XCTAssertNil(errors.value.value[i], "pipeline \(i)")
      let frames = try XCTUnwrap(results.value.value[i], "pipeline \(i)")
      XCTAssertEqual(frames.count, alone.count, "pipeline \(i)")
      for (a, b) in zip(alone, frames) {
        let fa = a.faces ?? [], fb = b.faces ?? []
        XCTAssertEqual(fa.count, fb.count, "pipeline \(i)")
        for (x, y) in zip(fa, fb) {
          XCTAssertLessThanOrEqual(abs(x.x - y.x), 1)
          XCTAssertLessThanOrEqual(abs(x.width - y.width), 1)
          XCTAssertEqual(x.gender, y.gender)
          XCTAssertEqual(x.age, y.age, accuracy: 0.5)
        }
      }
    }
  }
}
