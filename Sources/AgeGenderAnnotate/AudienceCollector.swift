import AgeGenderEvents
import AgeGenderMeta
import AudienceReport
import CGStreamer
import FaceAnalysis
import FaceImageFiles
import GstPipeline
import Synchronization

/// Gathers what `--report` and `--summary` need while the pipeline runs, from
/// pad probes on the `agegender` element (Annotator's pipeline is left as it
/// is): the people and the summary (the element's custom downstream events on
/// its source pad), the time span of the frames, and each person's best face.
///
/// Best face: the frame where the track's face scores highest, its width times
/// how frontal it looks (the nose between the eyes, from the landmarks) and how
/// much of the box is inside the frame. The crop comes from the frame as it
/// entered the element, before the overlay was drawn: the sink-pad probe holds
/// a reference to that buffer, so the element draws on a copy (copy-on-write).
/// A better face replaces the kept JPEG (encoded at once: a few kB a person).
/// Faces are captured only when asked (`--report`): holding the buffer makes
/// the element copy every frame.
final class AudienceCollector {
  struct Collected {
    var people: [PersonTrack] = []
    var summary: AudienceSummary?
    var start: UInt64?
    var end: UInt64?
    var frames = 0
    var best: [UInt64: (score: Double, jpeg: [UInt8])] = [:]
  }

  private let collected = Mutex(Collected())
  /// The frame last seen entering the element (streaming thread; released in deinit).
  private let entering = Mutex<UncheckedBuffer?>(nil)
  private let sinkPad: UnsafeMutablePointer<GstPad>
  private let captureFaces: Bool
  /// BGR copies of planar frames (streaming thread only).
  private let converter = BGRFrameConverter()

  /// A buffer reference handed between probe calls.
  private struct UncheckedBuffer: @unchecked Sendable {
    let buffer: UnsafeMutablePointer<GstBuffer>
  }

  init(element: UnsafeMutablePointer<GstElement>, captureFaces: Bool) throws {
    guard let sink = gst_element_get_static_pad(element, "sink"), let source = gst_element_get_static_pad(element, "src")
    else { throw Pipeline.Failure("agegender has no sink or src pad") }
    sinkPad = sink
    self.captureFaces = captureFaces
    defer { agb_object_unref(source) }
    let me = Unmanaged.passUnretained(self).toOpaque()
    // The pipeline is set to NULL (no more probe calls) before self goes away.
    if captureFaces {
      gst_pad_add_probe(
        sink, GST_PAD_PROBE_TYPE_BUFFER,
        { _, info, userData in
          guard let info, let userData, let data = info.pointee.data else { return GST_PAD_PROBE_OK }
          Unmanaged<AudienceCollector>.fromOpaque(userData).takeUnretainedValue()
            .keep(data.assumingMemoryBound(to: GstBuffer.self))
          return GST_PAD_PROBE_OK
        }, me, nil)
    }
    gst_pad_add_probe(
      source, GST_PAD_PROBE_TYPE_BUFFER,
      { _, info, userData in
        guard let info, let userData, let data = info.pointee.data else { return GST_PAD_PROBE_OK }
        Unmanaged<AudienceCollector>.fromOpaque(userData).takeUnretainedValue()
          .analysed(data.assumingMemoryBound(to: GstBuffer.self))
        return GST_PAD_PROBE_OK
      }, me, nil)
    gst_pad_add_probe(
      source, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      { _, info, userData in
        guard let info, let userData, let data = info.pointee.data else { return GST_PAD_PROBE_OK }
        Unmanaged<AudienceCollector>.fromOpaque(userData).takeUnretainedValue()
          .event(data.assumingMemoryBound(to: GstEvent.self))
        return GST_PAD_PROBE_OK
      }, me, nil)
  }

  deinit {
    if let kept = entering.withLock({ $0 }) { agb_buffer_unref(kept.buffer) }
    agb_object_unref(sinkPad)
  }

  /// What was gathered so far.
  var result: Collected { collected.withLock { $0 } }

  // MARK: Probes (streaming thread)

  private func keep(_ buffer: UnsafeMutablePointer<GstBuffer>) {
    let previous = entering.withLock { kept -> UncheckedBuffer? in
      defer { kept = UncheckedBuffer(buffer: agb_buffer_ref(buffer)) }
      return kept
    }
    if let previous { agb_buffer_unref(previous.buffer) }
  }

  private func event(_ event: UnsafeMutablePointer<GstEvent>) {
    guard agb_event_type(event) == GST_EVENT_CUSTOM_DOWNSTREAM, let structure = gst_event_get_structure(event) else {
      return
    }
    if let person = PersonTrack(structure: structure) {
      collected.withLock { $0.people.append(person) }
    } else if let summary = AudienceSummary(structure: structure) {
      collected.withLock { $0.summary = summary }
    }
  }

  private func analysed(_ buffer: UnsafeMutablePointer<GstBuffer>) {
    let pts = agb_buffer_pts(buffer), duration = agb_buffer_duration(buffer)
    let faces = (AgeGenderMeta.faces(of: buffer) ?? []).filter { $0.trackID != 0 }
    let better = collected.withLock { c -> [(FaceRecord, Double)] in
      c.frames += 1
      if agb_clock_time_is_valid(pts) != 0 {
        let time = UInt64(pts)
        c.start = min(c.start ?? time, time)
        let end = time + (agb_clock_time_is_valid(duration) != 0 ? UInt64(duration) : 0)
        c.end = max(c.end ?? end, end)
      }
      guard captureFaces, let size = Self.frameSize(of: buffer) else { return [] }
      return faces.compactMap { face in
        let score = Self.score(face, frameWidth: size.width, frameHeight: size.height)
        // 5% better than the kept one: a face growing by a pixel does not re-encode every frame.
        if let kept = c.best[face.trackID], score <= kept.score * 1.05 { return nil }
        return (face, score)
      }
    }
    guard !better.isEmpty, let kept = entering.withLock({ $0 }), agb_buffer_pts(kept.buffer) == pts else { return }
    for (face, score) in better {
      guard let jpeg = crop(face, from: kept.buffer) else { continue }
      collected.withLock { $0.best[face.trackID] = (score, jpeg) }
    }
  }

  // MARK: Best face

  /// Width x frontality x the share of the box inside the frame.
  static func score(_ face: FaceRecord, frameWidth: Int, frameHeight: Int) -> Double {
    let width = Double(face.width), height = Double(face.height)
    guard width > 0, height > 0 else { return 0 }
    let insideWidth = Double(min(Int(face.x + face.width), frameWidth) - max(Int(face.x), 0))
    let insideHeight = Double(min(Int(face.y + face.height), frameHeight) - max(Int(face.y), 0))
    let inside = max(0, insideWidth) * max(0, insideHeight) / (width * height)
    var frontal = 1.0
    if face.landmarks.count == 10 {
      // Left eye, right eye, nose tip: a turned head moves the nose towards one eye.
      let (lx, ly, rx, ry, nx) = (face.landmarks[0], face.landmarks[1], face.landmarks[2], face.landmarks[3], face.landmarks[4])
      let eyes = ((rx - lx) * (rx - lx) + (ry - ly) * (ry - ly)).squareRoot()
      if eyes > 0 { frontal = max(0.1, 1 - 2 * abs(nx - (lx + rx) / 2) / eyes) }
    }
    return width * frontal * inside
  }

  /// The face with a margin of 30% of its size, as JPEG, from the frame before the overlay.
  private func crop(_ face: FaceRecord, from buffer: UnsafeMutablePointer<GstBuffer>) -> [UInt8]? {
    guard let caps = gst_pad_get_current_caps(sinkPad) else { return nil }
    defer { agb_caps_unref(caps) }
    var info = GstVideoInfo()
    guard gst_video_info_from_caps(&info, caps) != 0 else { return nil }
    var frame = GstVideoFrame()
    guard gst_video_frame_map(&frame, &info, buffer, GST_MAP_READ) != 0 else { return nil }
    defer { gst_video_frame_unmap(&frame) }
    guard let image = Self.view(of: &frame), let packed = try? converter.packed(image) else { return nil }
    let margin = 0.3
    let x = Int((Double(face.x) - margin * Double(face.width)).rounded())
    let y = Int((Double(face.y) - margin * Double(face.height)).rounded())
    let w = Int((Double(face.width) * (1 + 2 * margin)).rounded())
    let h = Int((Double(face.height) * (1 + 2 * margin)).rounded())
    guard let region = packed.region(x: x, y: y, width: w, height: h) else { return nil }
    return try? region.encoded(as: ".jpg")
  }

  /// The frame size recorded in a buffer's GstAgeGenderMeta.
  private static func frameSize(of buffer: UnsafeMutablePointer<GstBuffer>) -> (width: Int, height: Int)? {
    guard let meta = gst_buffer_get_custom_meta(buffer, AgeGenderMeta.name), let s = gst_custom_meta_get_structure(meta)
    else { return nil }
    var w: Int32 = 0, h: Int32 = 0
    guard gst_structure_get_int(s, "width", &w) != 0, gst_structure_get_int(s, "height", &h) != 0 else { return nil }
    return (Int(w), Int(h))
  }

  /// The mapped frame as the analysis core sees images (I420, NV12 and the packed RGB formats).
  private static func view(of frame: inout GstVideoFrame) -> ImageView? {
    guard let data = frame.data.0 else { return nil }
    let width = Int(frame.info.width), height = Int(frame.info.height), stride = Int(frame.info.stride.0)
    let packed: [GstVideoFormat: PixelFormat] = [
      GST_VIDEO_FORMAT_BGR: .bgr, GST_VIDEO_FORMAT_RGB: .rgb, GST_VIDEO_FORMAT_BGRx: .bgrx,
      GST_VIDEO_FORMAT_BGRA: .bgra, GST_VIDEO_FORMAT_RGBx: .rgbx, GST_VIDEO_FORMAT_RGBA: .rgba,
    ]
    let format = frame.info.finfo.pointee.format
    if let pixel = packed[format] {
      return ImageView(data: data, width: width, height: height, stride: stride, format: pixel)
    }
    guard let u = frame.data.1 else { return nil }
    let chroma: ChromaPlanes
    switch format {
    case GST_VIDEO_FORMAT_I420:
      guard let v = frame.data.2, frame.info.stride.1 == frame.info.stride.2 else { return nil }
      chroma = ChromaPlanes(layout: .i420, u: u, v: v, stride: Int(frame.info.stride.1))
    case GST_VIDEO_FORMAT_NV12:
      chroma = ChromaPlanes(layout: .nv12, u: u, v: nil, stride: Int(frame.info.stride.1))
    default:
      return nil
    }
    return ImageView(data: data, width: width, height: height, stride: stride, format: .gray8, chroma: chroma)
  }
}

