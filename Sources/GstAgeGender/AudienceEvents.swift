import AgeGenderEvents
import CGStreamer
import FaceAnalysis

/// How `agegender` tells the application about people: each person (a track
/// that ended) and, at end of stream, the summary go out twice, as an element
/// message on the bus (`agegender-track`, `agegender-summary`: for
/// applications and `gst-launch-1.0 -m`) and as a custom downstream event with
/// the same structure, serialized with the frames (for `agegenderjson`, after
/// any videoconvert, videoscale, queue or tee: they pass such events on).
enum AudienceEvents {
  static func announce(_ people: [PersonTrack], from element: UnsafeMutablePointer<GstElement>) {
    for person in people {
      Debug.info(
        element,
        "person: track \(person.trackID), \(person.frames) frames, \(person.gender.rawValue), age \(person.age)")
      send(person.makeStructure(), person.makeStructure(), from: element)
    }
  }

  static func announce(_ summary: AudienceSummary, from element: UnsafeMutablePointer<GstElement>) {
    Debug.info(element, "summary: \(summary.people) people (\(summary.female) female, \(summary.male) male)")
    send(summary.makeStructure(), summary.makeStructure(), from: element)
  }

  /// Posts `message` and pushes `event` downstream (both structures are taken).
  private static func send(_ message: UnsafeMutablePointer<GstStructure>, _ event: UnsafeMutablePointer<GstStructure>,
    from element: UnsafeMutablePointer<GstElement>) {
    let object = UnsafeMutableRawPointer(element).assumingMemoryBound(to: GstObject.self)
    if let posted = gst_message_new_element(object, message) {
      gst_element_post_message(element, posted)
    }
    let base = UnsafeMutableRawPointer(element).assumingMemoryBound(to: GstBaseTransform.self)
    if let pad = base.pointee.srcpad, let downstream = gst_event_new_custom(GST_EVENT_CUSTOM_DOWNSTREAM, event) {
      // False when nothing is linked downstream or it is flushing: the message still went out.
      _ = gst_pad_push_event(pad, downstream)
    }
  }
}
