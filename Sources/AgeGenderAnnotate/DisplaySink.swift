import CGStreamer
import CX11
import GstPipeline
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Set by the X error handler when the window under the video sink was
/// destroyed (a window closed without WM_DELETE_WINDOW, e.g. `xdotool
/// windowclose`): the run then ends like `q`.
let displayWindowLost = Atomic<Bool>(false)

/// The window of `--display`: an X video sink (xvimagesink where the X server
/// has XVideo, else ximagesink), which draws the frames, posts the window's key
/// presses as navigation messages on the bus and an error "Output window was
/// closed" when the window manager closes it. Its title comes from a tag event
/// (x(v)imagesink have no title property): a probe in front of it gives every
/// tag event our title and sends one with the first frame.
enum DisplaySink {
  /// The sink to use, checked before anything starts: a clear error when there
  /// is no display or the X server cannot be opened.
  static func choose() throws -> String {
    let display = getenv("DISPLAY").map { String(cString: $0) } ?? ""
    if display.isEmpty {
      let wayland = getenv("WAYLAND_DISPLAY").map { String(cString: $0) } ?? ""
      throw Pipeline.Failure(
        wayland.isEmpty
          ? "--display needs a screen, but no display is available (neither DISPLAY nor WAYLAND_DISPLAY is set); "
            + "write a file with -o instead, or run under Xvfb"
          : "--display draws through X11 and DISPLAY is not set (WAYLAND_DISPLAY=\(wayland): start XWayland, "
            + "which sets DISPLAY)")
    }
    var why: [String] = []
    for factory in ["xvimagesink", "ximagesink"] {
      // An X server whose last client has just left (the xvimagesink probe,
      // on a bare Xvfb) resets and refuses connections for a moment: try again.
      var failure = opens(factory)
      for _ in 0..<3 where failure != nil && factory == "ximagesink" {
        usleep(300_000)
        failure = opens(factory)
      }
      guard let failure else { return factory }
      why.append("\(factory): \(failure)")
    }
    throw Pipeline.Failure("--display cannot open a window on DISPLAY=\(display) (" + why.joined(separator: "; ") + ")")
  }

  /// nil when `factory` reaches READY (it opened the display), else why not.
  private static func opens(_ factory: String) -> String? {
    guard let sink = gst_element_factory_make(factory, nil) else {
      return "not installed (apt-get install gstreamer1.0-x)"
    }
    let pipeline = gst_pipeline_new(nil)!
    gst_bin_add(UnsafeMutableRawPointer(pipeline).assumingMemoryBound(to: GstBin.self), sink)
    defer {
      gst_element_set_state(pipeline, GST_STATE_NULL)
      agb_object_unref(pipeline)
    }
    if gst_element_set_state(pipeline, GST_STATE_READY) != GST_STATE_CHANGE_FAILURE { return nil }
    let bus = gst_element_get_bus(pipeline)!
    defer { agb_object_unref(bus) }
    guard let message = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR) else { return "cannot start" }
    defer { agb_message_unref(message) }
    var error: UnsafeMutablePointer<GError>?
    gst_message_parse_error(message, &error, nil)
    defer { if let error { g_error_free(error) } }
    return error.map { String(cString: $0.pointee.message) } ?? "cannot start"
  }

  /// Window title: the page's title from yt-dlp, else the file's or URL's last part.
  static func title(input: String, pageTitle: String?) -> String {
    if let pageTitle, !pageTitle.isEmpty { return pageTitle }
    var name = input
    if let cut = name.firstIndex(where: { $0 == "?" || $0 == "#" }), InputResolver.scheme(of: name) != nil {
      name = String(name[..<cut])
    }
    let last = name.split(separator: "/").last.map(String.init) ?? name
    return last.isEmpty ? input : last
  }

  /// Gives the window `title`: a probe on `pad` (the display branch, in front
  /// of the sink) sets the title of every tag event that passes (a file's own
  /// title would replace ours) and sends a tag event with it before the first frame.
  static func setTitle(_ title: String, on pad: UnsafeMutablePointer<GstPad>) {
    let context = Unmanaged.passRetained(TitleProbe(title)).toOpaque()
    gst_pad_add_probe(
      pad, GstPadProbeType(GST_PAD_PROBE_TYPE_BUFFER.rawValue | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM.rawValue),
      { pad, info, data in
        guard let pad, let info, let data, let object = info.pointee.data else { return GST_PAD_PROBE_OK }
        let probe = Unmanaged<TitleProbe>.fromOpaque(data).takeUnretainedValue()
        if info.pointee.type.rawValue & GST_PAD_PROBE_TYPE_BUFFER.rawValue != 0 {
          if !probe.sent.exchange(true, ordering: .relaxed) {
            // Pushed from the streaming thread ahead of this buffer.
            gst_pad_push_event(pad, gst_event_new_tag(probe.tags()))
          }
          return GST_PAD_PROBE_OK
        }
        let event = object.assumingMemoryBound(to: GstEvent.self)
        guard agb_event_type(event) == GST_EVENT_TAG else { return GST_PAD_PROBE_OK }
        var list: UnsafeMutablePointer<GstTagList>?
        gst_event_parse_tag(event, &list)
        let merged = list.flatMap { gst_tag_list_copy($0) } ?? gst_tag_list_new_empty()!
        probe.addTitle(to: merged)
        let replacement = gst_event_new_tag(merged)!
        gst_event_unref(event)
        info.pointee.data = UnsafeMutableRawPointer(replacement)
        probe.sent.store(true, ordering: .relaxed)
        return GST_PAD_PROBE_OK
      }, context,
      { data in
        if let data { Unmanaged<TitleProbe>.fromOpaque(data).release() }
      })
  }

  private final class TitleProbe: Sendable {
    let title: String
    let sent = Atomic<Bool>(false)
    init(_ title: String) { self.title = title }

    func tags() -> UnsafeMutablePointer<GstTagList> {
      let list = gst_tag_list_new_empty()!
      addTitle(to: list)
      return list
    }

    func addTitle(to list: UnsafeMutablePointer<GstTagList>) {
      var value = GValue()
      g_value_init(&value, agb_gtype_string())
      g_value_set_string(&value, title)
      gst_tag_list_add_value(list, GST_TAG_MERGE_REPLACE, "title", &value)
      g_value_unset(&value)
    }
  }

  /// Xlib's default error handler exits the process. A window destroyed under
  /// the sink makes its next XPutImage fail with BadWindow/BadDrawable: those
  /// errors end the run cleanly instead (the MP4 is finished); any other error
  /// goes to the previous handler.
  static func handleLostWindow() {
    XInitThreads()  // the sink's threads and this process share Xlib
    _ = displayWindowLost.load(ordering: .relaxed)
    previousHandler = XSetErrorHandler { display, event in
      guard let event else { return 0 }
      let code = Int32(event.pointee.error_code)
      if code == BadWindow || code == BadDrawable {
        displayWindowLost.store(true, ordering: .relaxed)
        return 0
      }
      return DisplaySink.previousHandler?(display, event) ?? 0
    }
  }

  nonisolated(unsafe) private static var previousHandler: XErrorHandler?
}
