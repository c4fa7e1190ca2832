import AgeGenderMeta
import CGStreamer
import FaceAnalysis
import FaceImageFiles
import Foundation
import GstPipeline
import XCTest

/// Helpers of the robustness tests (issue 6): bounded pipeline runs that report
/// how they ended instead of throwing, appsrc feeding from a thread, RSS and
/// thread counts, GLib warnings captured while a block runs.
enum Robust {
  /// How a pipeline run ended. A run that neither ends nor fails within its
  /// bound is a hang: the helpers throw for it.
  struct Outcome {
    /// What came out, frame by frame (empty when the run was told not to keep them).
    var frames: [FrameResult] = []
    /// Frames that came out, and those whose GstAgeGenderMeta held a face (kept or not).
    var frameCount = 0
    var framesWithFaces = 0
    var messages: [String] = []
    var eos = false
    /// The first bus error, as "element: text (debug)".
    var error: String?
    var seconds = 0.0
    /// GstVideoRegionOfInterestMeta count of each frame (all ids).
    var regionMetaCounts: [Int] = []
  }

  /// Plays `pipeline` (with an `appsink name=sink` when `sink` is true) until
  /// EOS or the first error; a hang (no EOS, no error within `timeout`) throws.
  /// `onFrame` runs on the test thread after each pulled frame (its index).
  /// `keepFrames: false` keeps only the counts (long runs: 20,000 frame
  /// records would themselves grow the heap by ~2.5 kB a frame).
  static func play(_ pipeline: Pipeline, sink: Bool = true, timeout: Double, keepPixels: Bool = false,
    keepFrames: Bool = true, file: StaticString = #filePath, line: UInt = #line, onFrame: ((Int) throws -> Void)? = nil)
    throws -> Outcome {
    var outcome = Outcome()
    let start = monotonicSeconds()
    let appsink = sink ? agb_app_sink_cast(try pipeline.child("sink")) : nil
    let bus = gst_element_get_bus(pipeline.element)!
    defer { agb_object_unref(bus) }
    if gst_element_set_state(pipeline.element, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE {
      outcome.error = pipeline.pendingError(timeoutSeconds: 1) ?? "state change to PLAYING failed"
    }
    let deadline = start + timeout
    func take(_ sample: OpaquePointer) {
      outcome.frameCount += 1
      if keepFrames {
        let frame = PipelineRun.read(sample, keepPixels: keepPixels)
        if frame.faces?.isEmpty == false { outcome.framesWithFaces += 1 }
        outcome.frames.append(frame)
        outcome.regionMetaCounts.append(
          Int(gst_buffer_get_n_meta(gst_sample_get_buffer(sample), gst_video_region_of_interest_meta_api_get_type())))
      } else if let buffer = gst_sample_get_buffer(sample), AgeGenderMeta.faces(of: buffer)?.isEmpty == false {
        outcome.framesWithFaces += 1
      }
    }
    func drainBus() {
      while outcome.error == nil, let message = gst_bus_pop(bus) {
        defer { agb_message_unref(message) }
        switch agb_message_type(message) {
        case GST_MESSAGE_ERROR: outcome.error = Pipeline.describeError(message)
        case GST_MESSAGE_EOS: outcome.eos = true
        case GST_MESSAGE_ELEMENT:
          if let s = gst_message_get_structure(message), let text = gst_structure_to_string(s) {
            outcome.messages.append(String(cString: text))
            g_free(text)
          }
        default: break
        }
      }
    }
    while outcome.error == nil && !outcome.eos {
      drainBus()
      if outcome.error != nil || outcome.eos { break }
      if monotonicSeconds() > deadline {
        try? setNull(pipeline, file: file, line: line)  // bounded too
        let message = "hang: no EOS and no error within \(timeout) s (\(outcome.frameCount) frames came out)"
        XCTFail(message, file: file, line: line)
        throw Pipeline.Failure(message)
      }
      if let appsink {
        if let sample = gst_app_sink_try_pull_sample(appsink, 50_000_000) {
          defer { agb_sample_unref(sample) }
          take(sample)
          try onFrame?(outcome.frameCount - 1)
        }
      } else if let message = gst_bus_timed_pop_filtered(
        bus, 50_000_000, GstMessageType(rawValue: GST_MESSAGE_ERROR.rawValue | GST_MESSAGE_EOS.rawValue))
      {
        defer { agb_message_unref(message) }
        if agb_message_type(message) == GST_MESSAGE_ERROR { outcome.error = Pipeline.describeError(message) } else { outcome.eos = true }
      }
    }
    // Frames still queued in the sink when EOS was posted.
    while let appsink, outcome.error == nil, let sample = gst_app_sink_try_pull_sample(appsink, 0) {
      defer { agb_sample_unref(sample) }
      take(sample)
    }
    drainBus()
    try setNull(pipeline, file: file, line: line)
    outcome.seconds = monotonicSeconds() - start
    return outcome
  }

  /// NULL must be reached synchronously (the worker thread joined): a bounded wait.
  static func setNull(_ pipeline: Pipeline, file: StaticString = #filePath, line: UInt = #line) throws {
    let done = DispatchSemaphore(value: 0)
    let element = Unchecked(pipeline.element)
    let result = Unchecked(Box(GST_STATE_CHANGE_FAILURE))
    Thread.detachNewThread {
      result.value.value = gst_element_set_state(element.value, GST_STATE_NULL)
      done.signal()
    }
    if done.wait(timeout: .now() + 30) == .timedOut {
      XCTFail("hang: setting the pipeline to NULL took over 30 s", file: file, line: line)
      throw Pipeline.Failure("NULL state change hung")
    }
    XCTAssertEqual(result.value.value, GST_STATE_CHANGE_SUCCESS, "NULL state change", file: file, line: line)
  }

  /// A frame to push: its caps (set on appsrc when they change) and bytes.
  struct Frame {
    var caps: String
    var buffer: UnsafeMutablePointer<GstBuffer>
  }

  /// Plays `appsrc name=src ! <middle> ! appsink name=sink`, pushing `count`
  /// frames made by `make` from a thread (so a frame of any size never
  /// waits on the test thread), then EOS.
  static func push(count: Int, middle: String, timeout: Double, keepPixels: Bool = false, keepFrames: Bool = true,
    configure: ((Pipeline) throws -> Void)? = nil, timestamp: ((Int) -> GstClockTime)? = nil,
    file: StaticString = #filePath, line: UInt = #line,
    onFrame: ((Pipeline, Int) throws -> Void)? = nil, make: @escaping (Int) -> Frame) throws -> Outcome {
    let pipeline = try Pipeline(
      "appsrc name=src format=time is-live=false block=true max-bytes=1 ! \(middle) ! appsink name=sink sync=false max-buffers=4")
    try configure?(pipeline)
    let source = Unchecked(agb_app_src_cast(try pipeline.child("src"))!)
    // appsrc refuses buffers until it has started (READY -> PAUSED); PAUSED
    // prerolls on the first frame, play() then goes on to PLAYING.
    gst_element_set_state(pipeline.element, GST_STATE_PAUSED)
    let stop = ManagedFlag()
    let pusher = Thread {
      let src = source.value
      var caps = ""
      for i in 0..<count where !stop.value {
        let frame = make(i)
        if frame.caps != caps {
          caps = frame.caps
          let parsed = gst_caps_from_string(caps)!
          gst_app_src_set_caps(src, parsed)
          agb_caps_unref(parsed)
        }
        frame.buffer.pointee.pts = timestamp?(i) ?? GstClockTime(i) * 40_000_000
        frame.buffer.pointee.duration = 40_000_000
        if gst_app_src_push_buffer(src, frame.buffer) != GST_FLOW_OK { break }  // takes the buffer
      }
      gst_app_src_end_of_stream(src)
      stop.finished = true
    }
    pusher.start()
    defer {
      stop.value = true
      // A blocked push returns when the pipeline goes to NULL (play does that).
      let until = monotonicSeconds() + 30
      while !stop.finished && monotonicSeconds() < until { usleep(10_000) }
    }
    return try play(pipeline, timeout: timeout, keepPixels: keepPixels, keepFrames: keepFrames, file: file, line: line) {
      try onFrame?(pipeline, $0)
    }
  }

  /// A value handed to another thread as is (pointers, boxes): the tests order the accesses.
  struct Unchecked<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
  }

  final class Box<T> {
    var value: T
    init(_ value: T) { self.value = value }
  }

  final class ManagedFlag: @unchecked Sendable {
    var value = false
    var finished = false
  }

  /// A buffer of `bytes` bytes, filled by `fill`.
  static func buffer(bytes: Int, fill: (UnsafeMutablePointer<UInt8>) -> Void) -> UnsafeMutablePointer<GstBuffer> {
    let buffer = gst_buffer_new_allocate(nil, gsize(bytes), nil)!
    var map = GstMapInfo()
    if gst_buffer_map(buffer, &map, GST_MAP_WRITE) != 0 {
      fill(map.data)
      gst_buffer_unmap(buffer, &map)
    }
    return buffer
  }

  /// Packed BGR pixels of the astronaut portrait (512x512), read once.
  static let astronaut: OwnedImage = {
    try! OwnedImage(contentsOf: Fixtures.sharedTestData + "/stills/astronaut.png")
  }()

  /// A BGR frame of the astronaut, rows `stride` bytes apart (padding bytes set to `pad`),
  /// described by a GstVideoMeta when the stride is not GStreamer's default.
  static func astronautFrame(stride: Int? = nil, pad: UInt8 = 0xAB) -> Frame {
    let image = astronaut
    let w = image.width, h = image.height
    let rowBytes = w * 3
    let defaultStride = (rowBytes + 3) & ~3
    let rowStride = stride ?? defaultStride
    let buffer = Self.buffer(bytes: rowStride * h) { out in
      out.initialize(repeating: pad, count: rowStride * h)
      for row in 0..<h {
        (out + row * rowStride).update(
          from: image.view.data.advanced(by: row * image.stride).assumingMemoryBound(to: UInt8.self), count: rowBytes)
      }
    }
    if rowStride != defaultStride {
      var offsets: (gsize, gsize, gsize, gsize) = (0, 0, 0, 0)
      var strides: (gint, gint, gint, gint) = (gint(rowStride), 0, 0, 0)
      withUnsafeMutablePointer(to: &offsets) { o in
        withUnsafeMutablePointer(to: &strides) { s in
          _ = gst_buffer_add_video_meta_full(
            buffer, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_FORMAT_BGR, guint(w), guint(h), 1,
            UnsafeMutableRawPointer(o).assumingMemoryBound(to: gsize.self),
            UnsafeMutableRawPointer(s).assumingMemoryBound(to: gint.self))
        }
      }
    }
    return Frame(caps: "video/x-raw,format=BGR,width=\(w),height=\(h),framerate=25/1", buffer: buffer)
  }

  /// Resident set size of this process, in kB.
  static func rssKB() -> Int { statusKB("VmRSS:") }

  /// Resident anonymous memory in kB (RssAnon: heap, stacks, anonymous maps):
  /// where a leak lives. Unlike VmRSS it leaves out mapped files (libraries,
  /// model files), whose resident pages the kernel drops and reloads under
  /// other tenants' memory pressure: in one CI run VmRSS dipped 5 MB for one
  /// cycle with nothing freed.
  static func anonRSSKB() -> Int { statusKB("RssAnon:") }

  private static func statusKB(_ field: String) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix(field) {
      return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
    return 0
  }

  /// Bytes in use on the malloc heap (all arenas, mmapped blocks included), in
  /// kB: grows with a leak, unlike RSS it ignores memory malloc merely keeps.
  /// From glibc's malloc_info report (its process-wide totals): arena bytes
  /// minus free chunks, plus mmapped blocks.
  static func heapInUseKB() -> Int {
    typealias MallocInfo = @convention(c) (Int32, UnsafeMutablePointer<FILE>?) -> Int32
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_info") else { return 0 }
    let mallocInfo = unsafeBitCast(symbol, to: MallocInfo.self)
    var buffer: UnsafeMutablePointer<CChar>?
    var size = 0
    guard let stream = open_memstream(&buffer, &size) else { return 0 }
    _ = mallocInfo(0, stream)
    fclose(stream)
    defer { free(buffer) }
    guard let buffer else { return 0 }
    let xml = String(cString: buffer)
    // The process-wide totals follow the last </heap>.
    guard let r = xml.range(of: "</heap>", options: .backwards) else { return 0 }
    let tail = xml[r.upperBound...]
    let current = sizeAfter(tail, "<system type=\"current\"")
    let freeChunks = sizeAfter(tail, "<total type=\"fast\"") + sizeAfter(tail, "<total type=\"rest\"")
    let mmapped = sizeAfter(tail, "<total type=\"mmap\"")
    return (current - freeChunks + mmapped) / 1024
  }

  private static func sizeAfter(_ text: Substring, _ tag: String) -> Int {
    guard let r = text.range(of: tag), let s = text[r.upperBound...].range(of: "size=\"") else { return 0 }
    return Int(text[s.upperBound...].prefix { $0.isNumber }) ?? 0
  }

  /// Threads of this process.
  /// Hands the malloc heap's free pages back to the system (glibc malloc_trim).
  static func trimHeap() {
    typealias MallocTrim = @convention(c) (Int) -> Int32
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
    _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
  }

  static func threadCount() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? 0
  }

  static func megabytes(_ kB: Int) -> String { String(format: "%.1f MB", Double(kB) / 1024) }

  /// Runs gst-launch-1.0 with `words` (one argv entry each), bounded.
  static func launch(_ words: [String], timeout: Double = 60, environment: [String: String] = [:]) throws
    -> (status: Int32, output: String) {
    let result = try runProcess(
      "/usr/bin/gst-launch-1.0", words, environment: environment.merging(["GST_DEBUG": "0"]) { a, _ in a },
      timeoutSeconds: timeout)
    return (result.status, result.stdout + result.stderr)
  }

  /// GLib warnings (domain GLib-GObject) logged while `body` runs.
  static func glibWarnings(_ body: () throws -> Void) rethrows -> [String] {
    let box = WarningBox()
    let context = Unmanaged.passRetained(box).toOpaque()
    defer { Unmanaged<WarningBox>.fromOpaque(context).release() }
    let handler = g_log_set_handler(
      "GLib-GObject", GLogLevelFlags(rawValue: G_LOG_LEVEL_WARNING.rawValue | G_LOG_LEVEL_CRITICAL.rawValue),
      { _, _, message, data in
        let box = Unmanaged<WarningBox>.fromOpaque(data!).takeUnretainedValue()
        box.lock.lock()
        box.messages.append(message.map { String(cString: $0) } ?? "")
        box.lock.unlock()
      }, context)
    defer { g_log_remove_handler("GLib-GObject", handler) }
    try body()
    box.lock.lock()
    defer { box.lock.unlock() }
    return box.messages
  }

  final class WarningBox: @unchecked Sendable {
    let lock = NSLock()
    var messages: [String] = []
  }

  /// Properties read back as their string form.
  static func property(_ element: UnsafeMutablePointer<GstElement>, _ name: String) -> String {
    guard let spec = agb_object_find_property(element, name) else { return "<none>" }
    var value = GValue()
    g_value_init(&value, spec.pointee.value_type)
    defer { g_value_unset(&value) }
    g_object_get_property(UnsafeMutableRawPointer(element).assumingMemoryBound(to: GObject.self), name, &value)
    guard let text = gst_value_serialize(&value) else { return "NULL" }
    defer { g_free(text) }
    return String(cString: text)
  }

  /// g_object_set_property with a GValue of the given type (the C API's path, no string parsing).
  static func setDouble(_ element: UnsafeMutablePointer<GstElement>, _ name: String, _ v: Double) {
    var value = GValue()
    g_value_init(&value, agb_gtype_double())
    g_value_set_double(&value, v)
    g_object_set_property(UnsafeMutableRawPointer(element).assumingMemoryBound(to: GObject.self), name, &value)
    g_value_unset(&value)
  }

  static func setInt(_ element: UnsafeMutablePointer<GstElement>, _ name: String, _ v: Int32) {
    var value = GValue()
    g_value_init(&value, agb_gtype_int())
    g_value_set_int(&value, v)
    g_object_set_property(UnsafeMutableRawPointer(element).assumingMemoryBound(to: GObject.self), name, &value)
    g_value_unset(&value)
  }

  static func setString(_ element: UnsafeMutablePointer<GstElement>, _ name: String, _ v: String?) {
    var value = GValue()
    g_value_init(&value, agb_gtype_string())
    g_value_set_string(&value, v)
    g_object_set_property(UnsafeMutableRawPointer(element).assumingMemoryBound(to: GObject.self), name, &value)
    g_value_unset(&value)
  }
}
