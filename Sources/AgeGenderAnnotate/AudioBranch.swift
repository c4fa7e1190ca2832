import CGStreamer
import GstPipeline
import Synchronization

/// The input's sound: into the MP4 (passed through when mp4mux can carry the
/// codec, else decoded and encoded to AAC) and/or to the speakers with
/// `--display`. uridecodebin is asked (autoplug-continue) to stop at a parsed
/// audio stream whose caps mp4mux's `audio_%u` template accepts (AAC, MP3, AC-3,
/// ALAC, Opus); anything else is decoded. Each audio pad uridecodebin exposes
/// gets its own bin (built from a launch description) linked to a new mux pad.
/// uridecodebin exposes all its pads before any data flows, so the mux has every
/// pad before it starts (it refuses pads after that).
final class AudioBranch {
  /// mp4mux named `mux` in the pipeline, when an MP4 is written.
  private let mux: UnsafeMutablePointer<GstElement>?
  private let play: Bool
  private let pipeline: UnsafeMutablePointer<GstElement>
  /// What the mux accepts for audio (its request template's caps).
  private let muxAudioCaps: UnsafeMutablePointer<GstCaps>?
  /// Failures in the streaming thread's pad-added, reported by the main loop.
  private let failures = Mutex<[String]>([])
  /// "passed through (audio/mpeg)" or "encoded to AAC", per audio stream, for the summary.
  private let handled = Mutex<[String]>([])
  /// Each audio bin (its ghost sink pad, a reference held) that feeds the mux.
  private let muxInputs = Mutex<[UnsafeMutablePointer<GstPad>]>([])

  /// AAC encoder for sound the MP4 cannot carry as it is.
  static let encoder = "avenc_aac"

  init(pipeline: UnsafeMutablePointer<GstElement>, source: UnsafeMutablePointer<GstElement>,
    mux: UnsafeMutablePointer<GstElement>?, play: Bool) throws {
    self.pipeline = pipeline
    self.mux = mux
    self.play = play
    if let mux {
      guard let encoderFactory = gst_element_factory_find(Self.encoder) else {
        throw Pipeline.Failure("the AAC encoder \(Self.encoder) is missing (apt-get install gstreamer1.0-libav)")
      }
      agb_object_unref(UnsafeMutableRawPointer(encoderFactory))
      let factory = gst_element_get_factory(mux)
      muxAudioCaps = Self.requestTemplateCaps(factory, "audio_%u")
    } else {
      muxAudioCaps = nil
    }
    let me = Unmanaged.passUnretained(self).toOpaque()
    if mux != nil {
      let stop: @convention(c) (
        UnsafeMutablePointer<GstElement>?, UnsafeMutablePointer<GstPad>?, UnsafeMutablePointer<GstCaps>?,
        UnsafeMutableRawPointer?
      ) -> gboolean = { _, _, caps, data in
        guard let caps, let data else { return 1 }
        return Unmanaged<AudioBranch>.fromOpaque(data).takeUnretainedValue().passesThrough(caps) ? 0 : 1
      }
      g_signal_connect_data(source, "autoplug-continue", unsafeBitCast(stop, to: GCallback.self), me, nil, GConnectFlags(0))
    }
    let added: @convention(c) (UnsafeMutablePointer<GstElement>?, UnsafeMutablePointer<GstPad>?, UnsafeMutableRawPointer?)
      -> Void = { _, pad, data in
        guard let pad, let data else { return }
        Unmanaged<AudioBranch>.fromOpaque(data).takeUnretainedValue().link(pad)
      }
    g_signal_connect_data(source, "pad-added", unsafeBitCast(added, to: GCallback.self), me, nil, GConnectFlags(0))
  }

  deinit {
    if let muxAudioCaps { agb_caps_unref(muxAudioCaps) }
    for pad in muxInputs.withLock({ $0 }) { agb_object_unref(pad) }
  }

  /// Ends the sound's way into the MP4 (the window closed and the stream stopped):
  /// an EOS into each audio bin that feeds the mux.
  func endMuxInputs() {
    for pad in muxInputs.withLock({ $0 }) { _ = gst_pad_send_event(pad, gst_event_new_eos()) }
  }

  /// A failure of linking an audio stream, if any (the main loop turns it into an error).
  func takeFailure() -> String? { failures.withLock { $0.first } }

  /// What became of each audio stream, e.g. ["passed through (audio/mpeg)"].
  var outcomes: [String] { handled.withLock { $0 } }

  private static func requestTemplateCaps(_ factory: OpaquePointer?, _ name: String)
    -> UnsafeMutablePointer<GstCaps>?
  {
    guard let factory else { return nil }
    var list = gst_element_factory_get_static_pad_templates(factory)
    while let node = list {
      if let template = node.pointee.data?.assumingMemoryBound(to: GstStaticPadTemplate.self),
        String(cString: template.pointee.name_template) == name
      {
        return gst_static_pad_template_get_caps(template)
      }
      list = UnsafePointer(node.pointee.next)
    }
    return nil
  }

  /// Stop decoding here? Compressed audio the mux accepts, once a parser has framed it.
  private func passesThrough(_ caps: UnsafeMutablePointer<GstCaps>) -> Bool {
    guard let muxAudioCaps, gst_caps_get_size(caps) > 0, let s = gst_caps_get_structure(caps, 0) else { return false }
    let name = String(cString: gst_structure_get_name(s))
    guard name.hasPrefix("audio/"), name != "audio/x-raw" else { return false }
    var flag: gboolean = 0
    let framed =
      (gst_structure_get_boolean(s, "framed", &flag) != 0 && flag != 0)
      || (gst_structure_get_boolean(s, "parsed", &flag) != 0 && flag != 0)
    return framed && gst_caps_can_intersect(caps, muxAudioCaps) != 0
  }

  /// On the streaming thread: an audio pad of uridecodebin gets its branch.
  private func link(_ pad: UnsafeMutablePointer<GstPad>) {
    let caps = gst_pad_get_current_caps(pad) ?? gst_pad_query_caps(pad, nil)
    guard let caps else { return }
    defer { agb_caps_unref(caps) }
    guard gst_caps_get_size(caps) > 0, let s = gst_caps_get_structure(caps, 0) else { return }
    let media = String(cString: gst_structure_get_name(s))
    guard media.hasPrefix("audio/") else { return }
    let raw = media == "audio/x-raw"
    guard let description = Self.description(raw: raw, toMux: mux != nil, play: play) else { return }
    do {
      try attach(description, to: pad)
      if mux != nil { handled.withLock { $0.append(raw ? "encoded to AAC" : "passed through (\(media))") } }
    } catch {
      failures.withLock { $0.append("cannot add the sound (\(media)): \(error)") }
    }
  }

  /// The launch description of one audio stream's bin: its first element is
  /// named `in`, and (when `toMux`) the queue towards the mux `tomux`; the bin's
  /// ghost pads are made on those two (parse's own ghosting would pick
  /// audioconvert's sink pad, unlinked until decodebin exposes a pad). The
  /// queue towards the mux is unbounded: the mux waits for x264enc's look-ahead
  /// frames, and a full audio queue there would hold up the demuxer and so the
  /// video (a deadlock); audio is small.
  static func description(raw: Bool, toMux: Bool, play: Bool) -> String? {
    let speakers = "queue ! audioconvert ! audioresample ! autoaudiosink name=speakers"
    let muxQueue = "queue name=tomux max-size-buffers=0 max-size-bytes=0 max-size-time=0"
    switch (raw, toMux, play) {
    case (_, false, false): return nil
    case (true, false, true): return "queue name=in ! audioconvert ! audioresample ! autoaudiosink name=speakers"
    case (true, true, false): return "audioconvert name=in ! audioresample ! \(encoder) ! \(muxQueue)"
    case (true, true, true):
      return "audioconvert name=in ! audioresample ! tee name=at ! queue ! \(encoder) ! \(muxQueue) at. ! \(speakers)"
    case (false, true, false): return "identity name=in silent=true ! \(muxQueue)"
    case (false, true, true): return "tee name=in ! \(muxQueue) in. ! queue ! decodebin ! \(speakers)"
    case (false, false, true): return nil  // not asked to stop undecoded without a mux
    }
  }

  private func ghost(_ bin: UnsafeMutablePointer<GstElement>, _ child: String, _ padName: String, as name: String) throws {
    let asBin = UnsafeMutableRawPointer(bin).assumingMemoryBound(to: GstBin.self)
    guard let element = gst_bin_get_by_name(asBin, child) else { throw Pipeline.Failure("no \(child) in the audio branch") }
    defer { agb_object_unref(element) }
    guard let target = gst_element_get_static_pad(element, padName) else { throw Pipeline.Failure("\(child) has no \(padName) pad") }
    defer { agb_object_unref(target) }
    guard let pad = gst_ghost_pad_new(name, target), gst_element_add_pad(bin, pad) != 0 else {
      throw Pipeline.Failure("cannot expose the audio branch's \(name) pad")
    }
  }

  private func attach(_ description: String, to pad: UnsafeMutablePointer<GstPad>) throws {
    var error: UnsafeMutablePointer<GError>?
    let made = gst_parse_bin_from_description(description, 0, &error)
    if let error {
      defer { g_error_free(error) }
      throw Pipeline.Failure(String(cString: error.pointee.message))
    }
    guard let made else { throw Pipeline.Failure("cannot build '\(description)'") }
    let bin = UnsafeMutableRawPointer(made).assumingMemoryBound(to: GstElement.self)
    try ghost(bin, "in", "sink", as: "sink")
    if mux != nil { try ghost(bin, "tomux", "src", as: "src") }
    guard gst_bin_add(UnsafeMutableRawPointer(pipeline).assumingMemoryBound(to: GstBin.self), bin) != 0 else {
      throw Pipeline.Failure("cannot add the audio branch")
    }
    if let mux {
      guard let muxPad = gst_element_request_pad_simple(mux, "audio_%u") else {
        throw Pipeline.Failure("mp4mux gave no audio pad")
      }
      defer { agb_object_unref(muxPad) }
      guard let out = gst_element_get_static_pad(bin, "src") else { throw Pipeline.Failure("the audio branch has no output") }
      defer { agb_object_unref(out) }
      let result = gst_pad_link(out, muxPad)
      guard result == GST_PAD_LINK_OK else { throw Pipeline.Failure("linking to mp4mux failed (\(result.rawValue))") }
    }
    guard let input = gst_element_get_static_pad(bin, "sink") else { throw Pipeline.Failure("the audio branch has no input") }
    defer { agb_object_unref(input) }
    gst_element_sync_state_with_parent(bin)
    let result = gst_pad_link(pad, input)
    guard result == GST_PAD_LINK_OK else { throw Pipeline.Failure("linking the decoder's audio failed (\(result.rawValue))") }
    if mux != nil {
      let kept = UnsafeMutableRawPointer(gst_object_ref(input)).assumingMemoryBound(to: GstPad.self)
      muxInputs.withLock { $0.append(kept) }
    }
  }
}
