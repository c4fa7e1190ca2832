import CGStreamer

/// GObject glue for `AgeGenderJSONElement`: registers the GstBaseTransform
/// subclass "GstAgeGenderJSON" and forwards its virtual methods to the Swift
/// object in the instance's `impl`.
extension AgeGenderJSONElement {
  nonisolated(unsafe) static var parentClass: UnsafeMutablePointer<GstBaseTransformClass>?

  static let gType: GType = {
    JSONDebug.register()
    var info = GTypeInfo(
      class_size: guint16(MemoryLayout<AgbJsonElementClass>.size),
      base_init: nil, base_finalize: nil,
      class_init: { klass, _ in AgeGenderJSONElement.classInit(klass!) },
      class_finalize: nil, class_data: nil,
      instance_size: guint16(MemoryLayout<AgbJsonElement>.size), n_preallocs: 0,
      instance_init: { instance, _ in
        let object = instance!.withMemoryRebound(to: AgbJsonElement.self, capacity: 1) { $0 }
        object.pointee.impl = Unmanaged.passRetained(AgeGenderJSONElement()).toOpaque()
        // Never touches the data: buffers go through untouched (not made writable),
        // and transform_ip still sees each one. Gap buffers are written too.
        let base = UnsafeMutableRawPointer(instance!).assumingMemoryBound(to: GstBaseTransform.self)
        gst_base_transform_set_passthrough(base, 1)
        gst_base_transform_set_gap_aware(base, 1)
      },
      value_table: nil)
    return g_type_register_static(gst_base_transform_get_type(), "GstAgeGenderJSON", &info, GTypeFlags(rawValue: 0))
  }()

  /// The Swift object behind a GObject instance pointer.
  static func from(_ instance: UnsafeMutableRawPointer) -> AgeGenderJSONElement {
    let impl = instance.assumingMemoryBound(to: AgbJsonElement.self).pointee.impl!
    return Unmanaged<AgeGenderJSONElement>.fromOpaque(impl).takeUnretainedValue()
  }

  private static func classInit(_ klass: UnsafeMutableRawPointer) {
    parentClass = g_type_class_peek_parent(klass)?.assumingMemoryBound(to: GstBaseTransformClass.self)

    let objectClass = klass.assumingMemoryBound(to: GObjectClass.self)
    objectClass.pointee.set_property = { object, id, value, _ in
      AgeGenderJSONElement.from(UnsafeMutableRawPointer(object!)).setProperty(id, value!)
    }
    objectClass.pointee.get_property = { object, id, value, _ in
      AgeGenderJSONElement.from(UnsafeMutableRawPointer(object!)).getProperty(id, value!)
    }
    objectClass.pointee.finalize = { object in
      let instance = UnsafeMutableRawPointer(object!).assumingMemoryBound(to: AgbJsonElement.self)
      if let impl = instance.pointee.impl {
        Unmanaged<AgeGenderJSONElement>.fromOpaque(impl).release()
        instance.pointee.impl = nil
      }
      AgeGenderJSONElement.parentClass?.withMemoryRebound(to: GObjectClass.self, capacity: 1) {
        $0.pointee.finalize?(object)
      }
    }
    properties.install(on: objectClass)

    let elementClass = klass.assumingMemoryBound(to: GstElementClass.self)
    gst_element_class_set_static_metadata(
      elementClass, "Age and gender JSON writer", "Filter/Analyzer/Video",
      "Passes buffers through untouched and writes the faces of each one's GstAgeGenderMeta (from agegender, "
        + "after any convert/scale/queue/tee) as one JSON object per line to a file or stdout, and/or publishes "
        + "each line as one message to an MQTT broker",
      "gst-agegender developers")
    // Any caps: the element only reads metadata. Each template gets its own caps.
    for (name, direction) in [("sink", GST_PAD_SINK), ("src", GST_PAD_SRC)] {
      let caps = gst_caps_new_any()
      gst_element_class_add_pad_template(elementClass, gst_pad_template_new(name, direction, GST_PAD_ALWAYS, caps))
      agb_caps_unref(caps)
    }

    let baseClass = klass.assumingMemoryBound(to: GstBaseTransformClass.self)
    baseClass.pointee.transform_ip_on_passthrough = 1
    baseClass.pointee.start = { base in
      let raw = UnsafeMutableRawPointer(base!)
      return AgeGenderJSONElement.from(raw).start(raw.assumingMemoryBound(to: GstElement.self)) ? 1 : 0
    }
    baseClass.pointee.stop = { base in
      let raw = UnsafeMutableRawPointer(base!)
      return AgeGenderJSONElement.from(raw).stop(raw.assumingMemoryBound(to: GstElement.self)) ? 1 : 0
    }
    baseClass.pointee.set_caps = { base, incaps, _ in
      let raw = UnsafeMutableRawPointer(base!)
      return AgeGenderJSONElement.from(raw).setCaps(raw.assumingMemoryBound(to: GstElement.self), incaps!) ? 1 : 0
    }
    // EOS: report MQTT lines dropped while the broker is still away, before the EOS goes downstream.
    // agegender's person and summary events become lines; all events then go on downstream.
    baseClass.pointee.sink_event = { base, event in
      let raw = UnsafeMutableRawPointer(base!)
      let element = raw.assumingMemoryBound(to: GstElement.self)
      if let event, event.pointee.type == GST_EVENT_EOS {
        AgeGenderJSONElement.from(raw).endOfStream(element)
      }
      if let event, event.pointee.type == GST_EVENT_CUSTOM_DOWNSTREAM {
        // A line that cannot be written is an element error (posted); the event still goes on.
        _ = AgeGenderJSONElement.from(raw).audienceEvent(element, event)
      }
      return AgeGenderJSONElement.parentClass?.pointee.sink_event?(base, event) ?? 0
    }
    baseClass.pointee.transform_ip = { base, buffer in
      let raw = UnsafeMutableRawPointer(base!)
      return AgeGenderJSONElement.from(raw).transform(raw.assumingMemoryBound(to: GstElement.self), buffer!)
    }
  }
}
