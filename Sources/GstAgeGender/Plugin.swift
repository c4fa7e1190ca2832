import AgeGenderMeta
import CGStreamer
import FaceAnalysis

// GStreamer loads libgstagegender.so and calls gst_plugin_agegender_get_desc
// (the name is derived from the file name). Everything registers eagerly in
// pluginInit: a lazily registered meta first touched on a streaming thread
// has been seen to come back NULL.

private let pluginInit: GstPluginInitFunc = { plugin in
  guard let plugin else { return 0 }
  if let filename = gst_plugin_get_filename(plugin) {
    PluginLocation.shared.set(String(cString: filename))
  }
  Debug.register()
  // Loads, shares and frees of the process-wide model cache (GST_DEBUG=agegender:4).
  ModelCache.shared.setObserver(isListening: { Debug.isEnabled(GST_LEVEL_INFO) }) { event, key in
    Debug.info(nil, "models: \(event.rawValue) \(key)")
  }
  guard AgeGenderMeta.register() else { return 0 }
  // Enum types before any class_init can ask for them.
  _ = AgeGenderElement.detectorType
  _ = AgeGenderElement.classifierType
  _ = AgeGenderElement.anonymizeType
  guard gst_element_register(plugin, "agegenderjson", UInt32(GST_RANK_NONE.rawValue), AgeGenderJSONElement.gType) != 0 else { return 0 }
  return gst_element_register(plugin, "agegender", UInt32(GST_RANK_NONE.rawValue), AgeGenderElement.gType)
}

private func staticCString(_ s: StaticString) -> UnsafePointer<CChar> {
  UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}

private let descriptor: UnsafeMutablePointer<GstPluginDesc> = {
  let desc = UnsafeMutablePointer<GstPluginDesc>.allocate(capacity: 1)
  desc.initialize(
    to: GstPluginDesc(
      major_version: 1, minor_version: 22,
      name: staticCString("agegender"),
      description: staticCString("Face detection with age and gender estimation (OpenCV dnn)"),
      plugin_init: pluginInit,
      version: staticCString("0.1.0"),
      license: staticCString("MIT/X11"),
      source: staticCString("gst-agegender"),
      package: staticCString("gst-agegender"),
      origin: staticCString("https://github.com/gst-agegender/gst-agegender"),
      release_datetime: nil,
      _gst_reserved: (nil, nil, nil, nil)))
  return desc
}()

@_cdecl("gst_plugin_agegender_get_desc")
public func gst_plugin_agegender_get_desc() -> UnsafePointer<GstPluginDesc> {
  UnsafePointer(descriptor)
}
