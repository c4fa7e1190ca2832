import AgeGenderMeta
import CGStreamer
import FaceAnalysis

/// Puts a frame's faces where GStreamer users look for them: the standard ROI
/// metas (roi_type "face" with an "age-gender" parameter structure), our own
/// GstAgeGenderMeta that survives videoconvert/videoscale, and optionally a
/// bus message in the manner of facedetect's.
enum FrameMetadata {
  static func records(_ faces: [AnalyzedFace]) -> [FaceRecord] {
    faces.map { face in
      let box = face.detection.box
      let e = face.estimate
      return FaceRecord(
        x: Int32(box.x.rounded()), y: Int32(box.y.rounded()), width: Int32(box.width.rounded()),
        height: Int32(box.height.rounded()), confidence: face.detection.confidence, age: e.age,
        ageMin: e.reportedAgeRange.lowerBound, ageMax: e.reportedAgeRange.upperBound, gender: e.gender.rawValue,
        genderConfidence: e.genderConfidence, trackID: face.trackID, rawAge: face.raw?.age,
        rawGender: face.raw?.gender.rawValue, rawGenderConfidence: face.raw?.genderConfidence,
        landmarks: face.detection.landmarks.flatMap { [$0.x, $0.y] })
    }
  }

  static func attach(_ faces: [AnalyzedFace], width: Int32, height: Int32, to buffer: UnsafeMutablePointer<GstBuffer>) {
    let records = records(faces)
    for (index, face) in records.enumerated() {
      guard
        let roi = gst_buffer_add_video_region_of_interest_meta(
          buffer, "face", guint(max(0, face.x)), guint(max(0, face.y)), guint(max(0, face.width)),
          guint(max(0, face.height)))
      else { continue }
      roi.pointee.id = Int32(index)
      roi.pointee.parent_id = -1
      let params = gst_structure_new_empty("age-gender")!
      agb_structure_set_double(params, "age", face.age)
      agb_structure_set_double(params, "age-min", face.ageMin)
      agb_structure_set_double(params, "age-max", face.ageMax)
      agb_structure_set_string(params, "gender", face.gender)
      agb_structure_set_double(params, "gender-confidence", face.genderConfidence)
      agb_structure_set_double(params, "confidence", face.confidence)
      agb_structure_set_uint64(params, "track-id", guint64(face.trackID))
      gst_video_region_of_interest_meta_add_param(roi, params)  // takes ownership
    }
    AgeGenderMeta.attach(records, frameWidth: width, frameHeight: height, to: buffer)
  }

  /// Element message "agegender": timestamp, stream-time, running-time, duration
  /// and a `faces` list of `face` structures.
  static func postMessage(_ faces: [AnalyzedFace], element: UnsafeMutablePointer<GstElement>,
    buffer: UnsafeMutablePointer<GstBuffer>) {
    let s = gst_structure_new_empty("agegender")!
    let pts = agb_buffer_pts(buffer)
    let base = UnsafeMutableRawPointer(element).assumingMemoryBound(to: GstBaseTransform.self)
    agb_structure_set_uint64(s, "timestamp", pts)
    agb_structure_set_uint64(
      s, "stream-time", gst_segment_to_stream_time(&base.pointee.segment, GST_FORMAT_TIME, pts))
    agb_structure_set_uint64(
      s, "running-time", gst_segment_to_running_time(&base.pointee.segment, GST_FORMAT_TIME, pts))
    agb_structure_set_uint64(s, "duration", buffer.pointee.duration)
    var list = GValue()
    g_value_init(&list, agb_gtype_list())
    for face in records(faces) {
      var entry = GValue()
      g_value_init(&entry, agb_gtype_structure())
      let structure = face.makeStructure()
      gst_value_set_structure(&entry, structure)
      gst_structure_free(structure)
      gst_value_list_append_and_take_value(&list, &entry)
    }
    gst_structure_take_value(s, "faces", &list)
    let object = UnsafeMutableRawPointer(element).assumingMemoryBound(to: GstObject.self)
    if let message = gst_message_new_element(object, s) {
      gst_element_post_message(element, message)
    }
  }
}
