import COpenCVBridge

/// Draws each face's box and label onto the frame in place.
public enum FaceOverlay {
  public static func draw(_ faces: [AnalyzedFace], on image: ImageView) throws {
    var bridged = image.bridged
    var error = agb_error()
    for face in faces {
      let box = face.detection.box
      let (r, g, b): (UInt8, UInt8, UInt8) = face.estimate.gender == .female ? (255, 64, 160) : (40, 140, 255)
      let status = agb_draw_labelled_box(
        &bridged, Int32(box.x.rounded()), Int32(box.y.rounded()), Int32(box.width.rounded()),
        Int32(box.height.rounded()), face.label, r, g, b, &error)
      if status != 0 { throw FaceAnalysisError.inference(reason: "overlay: \(error.text)") }
    }
  }
}
