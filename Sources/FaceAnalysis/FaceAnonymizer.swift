import COpenCVBridge

/// Makes faces unrecognisable in place (agegender's `anonymize`): each box,
/// enlarged by `margin` of its size on every side so hair, ears and the chin
/// go too, is blurred or pixelated by the OpenCV bridge, in every plane of
/// planar frames.
public enum FaceAnonymizer {
  public enum Mode: Int32, Sendable {
    case none = 0, blur, pixelate
  }

  /// 20% of the box's width on the left and right and of its height above and
  /// below: detector boxes hug the face from brows to chin, and without the
  /// margin the hairline, ears and jaw stayed recognisable.
  public static let defaultMargin = 0.2

  public static func apply(_ boxes: [Box], mode: Mode, margin: Double = defaultMargin, on image: ImageView) throws {
    guard mode != .none, !boxes.isEmpty else { return }
    var flat: [Float] = []
    flat.reserveCapacity(boxes.count * 4)
    for box in boxes { flat += [Float(box.x), Float(box.y), Float(box.width), Float(box.height)] }
    var bridged = image.bridged
    var error = agb_error()
    let status = agb_anonymize_boxes(&bridged, flat, Int32(boxes.count), mode.rawValue, Float(margin), &error)
    if status != 0 { throw FaceAnalysisError.inference(reason: "anonymize: \(error.text)") }
  }
}
