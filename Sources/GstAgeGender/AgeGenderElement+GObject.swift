import CGStreamer

/// GObject glue for `AgeGenderElement`: registers the GstVideoFilter subclass
/// and forwards its virtual methods to the Swift object in the instance's `impl`.
extension AgeGenderElement {
  nonisolated(unsafe) static var parentClass: UnsafeMutablePointer<GstVideoFilterClass>?

  static let gType: GType = {
    var info = GTypeInfo(
      class_size: guint16(MemoryLayout<AgbElementClass>.size),
      base_init: nil, base_finalize: nil,
      class_init: { klass, _ in AgeGenderElement.classInit(klass!) },
      class_finalize: nil, class_data: nil,
      instance_size: guint16(MemoryLayout<AgbElement>.size), n_preallocs: 0,
      instance_init: { instance, _ in
        let object = instance!.withMemoryRebound(to: AgbElement.self, capacity: 1) { $0 }
        object.pointee.impl = Unmanaged.passRetained(AgeGenderElement()).toOpaque()
      },
      value_table: nil)
    return g_type_register_static(gst_video_filter_get_type(), "GstAgeGender", &info, GTypeFlags(rawValue: 0))
  }()

  /// The Swift object behind a GObject instance pointer.
  static func from(_ instance: UnsafeMutableRawPointer) -> AgeGenderElement {
    let impl = instance.assumingMemoryBound(to: AgbElement.self).pointee.impl!
    return Unmanaged<AgeGenderElement>.fromOpaque(impl).takeUnretainedValue()
  }

  private static func classInit(_ klass: UnsafeMutableRawPointer) {
    parentClass = g_type_class_peek_parent(klass)?.assumingMemoryBound(to: GstVideoFilterClass.self)

    let objectClass = klass.assumingMemoryBound(to: GObjectClass.self)
    objectClass.pointee.set_property = { object, id, value, _ in
      AgeGenderElement.from(UnsafeMutableRawPointer(object!)).setProperty(id, value!)
    }
    objectClass.pointee.get_property = { object, id, value, _ in
      AgeGenderElement.from(UnsafeMutableRawPointer(object!)).getProperty(id, value!)
    }
    objectClass.pointee.finalize = { object in
      let instance = UnsafeMutableRawPointer(object!).assumingMemoryBound(to: AgbElement.self)
      if let impl = instance.pointee.impl {
        Unmanaged<AgeGenderElement>.fromOpaque(impl).release()
        instance.pointee.impl = nil
      }
      AgeGenderElement.parentClass?.withMemoryRebound(to: GObjectClass.self, capacity: 1) {
        $0.pointee.finalize?(object)
      }
    }
    properties.install(on: objectClass)

    let elementClass = klass.assumingMemoryBound(to: GstElementClass.self)
    gst_element_class_set_static_metadata(
      elementClass, "Age and gender estimation", "Filter/Analyzer/Video",
      "Finds faces, estimates each face's age and gender with CNNs (OpenCV dnn), attaches them as metadata and draws them",
      "gst-agegender developers")
    let caps = gst_caps_from_string(capsString)
    gst_element_class_add_pad_template(elementClass, gst_pad_template_new("sink", GST_PAD_SINK, GST_PAD_ALWAYS, caps))
    gst_element_class_add_pad_template(elementClass, gst_pad_template_new("src", GST_PAD_SRC, GST_PAD_ALWAYS, caps))
    agb_caps_unref(caps)

    let baseClass = klass.assumingMemoryBound(to: GstBaseTransformClass.self)
    baseClass.pointee.transform_ip_on_passthrough = 0
    baseClass.pointee.start = { base in
      let raw = UnsafeMutableRawPointer(base!)
      return AgeGenderElement.from(raw).start(raw.assumingMemoryBound(to: GstElement.self)) ? 1 : 0
    }
    baseClass.pointee.stop = { base in
      AgeGenderElement.from(UnsafeMutableRawPointer(base!)).stop() ? 1 : 0
    }
    // Flushes and new streams start a new scene; then the parent class handles the event.
    baseClass.pointee.sink_event = { base, event in
      let raw = UnsafeMutableRawPointer(base!)
      if let event { AgeGenderElement.from(raw).sinkEvent(raw.assumingMemoryBound(to: GstElement.self), event) }
      return AgeGenderElement.parentClass?.withMemoryRebound(to: GstBaseTransformClass.self, capacity: 1) {
        $0.pointee.sink_event?(base, event)
      } ?? 0
    }

    // A synchronising sink with qos=true (display sinks' default) sends QoS
    // events while playing: that tells a paced stream from a file running
    // ahead of the clock (see `pacedBySink`).
    baseClass.pointee.src_event = { base, event in
      if let event, agb_event_type(event) == GST_EVENT_QOS {
        let raw = UnsafeMutableRawPointer(base!)
        AgeGenderElement.from(raw).notePacedBySink(raw.assumingMemoryBound(to: GstElement.self))
      }
      return AgeGenderElement.parentClass?.withMemoryRebound(to: GstBaseTransformClass.self, capacity: 1) {
        $0.pointee.src_event?(base, event)
      } ?? 0
    }

    let filterClass = klass.assumingMemoryBound(to: GstVideoFilterClass.self)
    filterClass.pointee.set_info = { filter, _, inInfo, _, _ in
      let raw = UnsafeMutableRawPointer(filter!)
      return AgeGenderElement.from(raw).setInfo(raw.assumingMemoryBound(to: GstElement.self), inInfo!) ? 1 : 0
    }
    filterClass.pointee.transform_frame_ip = { filter, frame in
      let raw = UnsafeMutableRawPointer(filter!)
      return AgeGenderElement.from(raw).transform(raw.assumingMemoryBound(to: GstElement.self), frame!)
    }
  }
}
