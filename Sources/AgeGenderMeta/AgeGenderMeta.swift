import CGStreamer

/// One face as carried in the buffer metadata. Coordinates are pixels of the
/// frame the buffer holds (they follow videoscale).
public struct FaceRecord: Equatable, Sendable {
  public var x: Int32
  public var y: Int32
  public var width: Int32
  public var height: Int32
  /// Detection score, 0...1.
  public var confidence: Double
  /// Age in years.
  public var age: Double
  public var ageMin: Double
  public var ageMax: Double
  /// "female" or "male".
  public var gender: String
  /// Probability of `gender`, 0.5...1.
  public var genderConfidence: Double
  /// 0 when the face is not tracked.
  public var trackID: UInt64
  /// The latest single-frame estimate behind the fused `age`/`gender` of a track.
  public var rawAge: Double
  public var rawGender: String
  public var rawGenderConfidence: Double
  /// Landmarks x1, y1, ... x5, y5 in pixels (left eye, right eye, nose tip,
  /// left and right mouth corners, as seen); empty when the detector gives none.
  public var landmarks: [Double]

  public init(x: Int32, y: Int32, width: Int32, height: Int32, confidence: Double, age: Double,
    ageMin: Double? = nil, ageMax: Double? = nil, gender: String, genderConfidence: Double, trackID: UInt64 = 0,
    rawAge: Double? = nil, rawGender: String? = nil, rawGenderConfidence: Double? = nil, landmarks: [Double] = []) {
    self.x = x
    self.y = y
    self.width = width
    self.height = height
    self.confidence = confidence
    self.age = age
    self.ageMin = ageMin ?? age
    self.ageMax = ageMax ?? age
    self.gender = gender
    self.genderConfidence = genderConfidence
    self.trackID = trackID
    self.rawAge = rawAge ?? age
    self.rawGender = rawGender ?? gender
    self.rawGenderConfidence = rawGenderConfidence ?? genderConfidence
    self.landmarks = landmarks
  }

  /// The `face` structure used in the meta and in bus messages.
  public func makeStructure() -> UnsafeMutablePointer<GstStructure> {
    let s = gst_structure_new_empty("face")!
    agb_structure_set_int(s, "x", x)
    agb_structure_set_int(s, "y", y)
    agb_structure_set_int(s, "width", width)
    agb_structure_set_int(s, "height", height)
    agb_structure_set_double(s, "confidence", confidence)
    agb_structure_set_double(s, "age", age)
    agb_structure_set_double(s, "age-min", ageMin)
    agb_structure_set_double(s, "age-max", ageMax)
    agb_structure_set_string(s, "gender", gender)
    agb_structure_set_double(s, "gender-confidence", genderConfidence)
    agb_structure_set_uint64(s, "track-id", guint64(trackID))
    agb_structure_set_double(s, "raw-age", rawAge)
    agb_structure_set_string(s, "raw-gender", rawGender)
    agb_structure_set_double(s, "raw-gender-confidence", rawGenderConfidence)
    if !landmarks.isEmpty {
      var array = GValue()
      g_value_init(&array, agb_gtype_array())
      for value in landmarks {
        var entry = GValue()
        g_value_init(&entry, agb_gtype_double())
        g_value_set_double(&entry, value)
        gst_value_array_append_and_take_value(&array, &entry)
      }
      gst_structure_take_value(s, "landmarks", &array)
    }
    return s
  }

  public init?(structure s: UnsafePointer<GstStructure>) {
    var x: Int32 = 0, y: Int32 = 0, w: Int32 = 0, h: Int32 = 0
    guard gst_structure_get_int(s, "x", &x) != 0, gst_structure_get_int(s, "y", &y) != 0,
      gst_structure_get_int(s, "width", &w) != 0, gst_structure_get_int(s, "height", &h) != 0
    else { return nil }
    var confidence = 0.0, age = 0.0, genderConfidence = 0.0
    gst_structure_get_double(s, "confidence", &confidence)
    gst_structure_get_double(s, "age", &age)
    var ageMin = age, ageMax = age
    gst_structure_get_double(s, "age-min", &ageMin)
    gst_structure_get_double(s, "age-max", &ageMax)
    gst_structure_get_double(s, "gender-confidence", &genderConfidence)
    var track: guint64 = 0
    gst_structure_get_uint64(s, "track-id", &track)
    let gender = gst_structure_get_string(s, "gender").map { String(cString: $0) } ?? ""
    var rawAge = age, rawConfidence = genderConfidence
    gst_structure_get_double(s, "raw-age", &rawAge)
    gst_structure_get_double(s, "raw-gender-confidence", &rawConfidence)
    let rawGender = gst_structure_get_string(s, "raw-gender").map { String(cString: $0) } ?? gender
    var landmarks: [Double] = []
    if let points = gst_structure_get_value(s, "landmarks"), points.pointee.g_type == agb_gtype_array() {
      for i in 0..<gst_value_array_get_size(points) {
        guard let v = gst_value_array_get_value(points, i), v.pointee.g_type == agb_gtype_double() else { break }
        landmarks.append(g_value_get_double(v))
      }
    }
    self.init(
      x: x, y: y, width: w, height: h, confidence: confidence, age: age, ageMin: ageMin, ageMax: ageMax,
      gender: gender, genderConfidence: genderConfidence, trackID: UInt64(track), rawAge: rawAge,
      rawGender: rawGender, rawGenderConfidence: rawConfidence, landmarks: landmarks)
  }
}

/// The GstCustomMeta "GstAgeGenderMeta": every face of a frame, on its buffer.
/// Layout in `Sources/CGStreamer/gstagegendermeta.h` (the C reader).
public enum AgeGenderMeta {
  public static let name = GST_AGE_GENDER_META_NAME

  /// Registers the meta; the plugin does this in plugin_init, before any
  /// streaming thread can ask for it. Tagged video + size: videoconvert keeps
  /// it, videoscale hands it to `transform` with the new size.
  @discardableResult
  public static func register() -> Bool {
    if gst_meta_get_info(name) != nil { return true }
    let tags: [StaticString] = ["video", "size"]
    var pointers: [UnsafePointer<CChar>?] = tags.map { UnsafeRawPointer($0.utf8Start).assumingMemoryBound(to: CChar.self) }
    pointers.append(nil)
    let info = pointers.withUnsafeMutableBufferPointer { tagArray in
      gst_meta_register_custom(name, tagArray.baseAddress, transform, nil, nil)
    }
    return info != nil
  }

  /// Attaches (or replaces) the faces of a frame of `frameWidth` x `frameHeight`.
  public static func attach(_ faces: [FaceRecord], frameWidth: Int32, frameHeight: Int32,
    to buffer: UnsafeMutablePointer<GstBuffer>) {
    let meta = gst_buffer_get_custom_meta(buffer, name) ?? gst_buffer_add_custom_meta(buffer, name)
    guard let meta, let s = gst_custom_meta_get_structure(meta) else { return }
    fill(s, faces: faces, width: frameWidth, height: frameHeight)
  }

  /// The faces on a buffer, or nil when it carries no meta.
  public static func faces(of buffer: UnsafeMutablePointer<GstBuffer>) -> [FaceRecord]? {
    guard let meta = gst_buffer_get_custom_meta(buffer, name) else { return nil }
    return faces(in: meta)
  }

  static func faces(in meta: UnsafeMutablePointer<GstCustomMeta>) -> [FaceRecord] {
    guard let s = gst_custom_meta_get_structure(meta), let array = gst_structure_get_value(s, "faces"),
      array.pointee.g_type == agb_gtype_array()
    else { return [] }
    var faces: [FaceRecord] = []
    for i in 0..<gst_value_array_get_size(array) {
      guard let entry = gst_value_array_get_value(array, i), entry.pointee.g_type == agb_gtype_structure(),
        let f = gst_value_get_structure(entry), let face = FaceRecord(structure: f)
      else { continue }
      faces.append(face)
    }
    return faces
  }

  static func frameSize(of meta: UnsafeMutablePointer<GstCustomMeta>) -> (Int32, Int32) {
    var w: Int32 = 0, h: Int32 = 0
    if let s = gst_custom_meta_get_structure(meta) {
      gst_structure_get_int(s, "width", &w)
      gst_structure_get_int(s, "height", &h)
    }
    return (w, h)
  }

  /// A GValue (GstValueArray) of `face` structures; the caller unsets it.
  public static func facesValue(_ faces: [FaceRecord]) -> GValue {
    var array = GValue()
    g_value_init(&array, agb_gtype_array())
    for face in faces {
      var entry = GValue()
      g_value_init(&entry, agb_gtype_structure())
      let structure = face.makeStructure()
      gst_value_set_structure(&entry, structure)
      gst_structure_free(structure)
      gst_value_array_append_and_take_value(&array, &entry)
    }
    return array
  }

  private static func fill(_ s: UnsafeMutablePointer<GstStructure>, faces: [FaceRecord], width: Int32, height: Int32) {
    agb_structure_set_int(s, "width", width)
    agb_structure_set_int(s, "height", height)
    var array = facesValue(faces)
    gst_structure_take_value(s, "faces", &array)
  }

  /// Copies the meta onto a new buffer; rescales the boxes when videoscale asks.
  private static let transform: GstCustomMetaTransformFunction = { transbuf, meta, _, type, data, _ in
    guard let transbuf, let meta else { return 0 }
    if agb_meta_transform_is_scale(type) != 0, let data {
      let video = data.assumingMemoryBound(to: GstVideoMetaTransform.self).pointee
      guard let inInfo = video.in_info, let outInfo = video.out_info, inInfo.pointee.width > 0,
        inInfo.pointee.height > 0
      else { return 0 }
      let sx = Double(outInfo.pointee.width) / Double(inInfo.pointee.width)
      let sy = Double(outInfo.pointee.height) / Double(inInfo.pointee.height)
      let scaled = faces(in: meta).map { face -> FaceRecord in
        var f = face
        f.x = Int32((Double(face.x) * sx).rounded())
        f.y = Int32((Double(face.y) * sy).rounded())
        f.width = Int32((Double(face.width) * sx).rounded())
        f.height = Int32((Double(face.height) * sy).rounded())
        f.landmarks = face.landmarks.enumerated().map { $0.offset % 2 == 0 ? $0.element * sx : $0.element * sy }
        return f
      }
      attach(scaled, frameWidth: outInfo.pointee.width, frameHeight: outInfo.pointee.height, to: transbuf)
      return 1
    }
    if agb_meta_transform_is_copy(type) != 0 {
      // A scale transform may already have put the rescaled meta here: keep it.
      if gst_buffer_get_custom_meta(transbuf, name) != nil { return 1 }
      let (w, h) = frameSize(of: meta)
      attach(faces(in: meta), frameWidth: w, frameHeight: h, to: transbuf)
      return 1
    }
    return 0
  }
}
