/// Where a classifier's input chip comes from: a transform from chip pixels to
/// image pixels for one face. `BoxChipGeometry` squares up the detector's box;
/// landmark alignment slots in behind the same protocol.
public protocol FaceChipGeometry {
  /// `padding` is the context the classifier was trained with, as a fraction of the face per side.
  func chipTransform(for face: Box, in image: ImageView, chipSize: Int, padding: Double) -> ChipTransform
}

/// An unaligned chip: a square centred on the detector's box.
///
/// The nets were trained on dlib chips whose unpadded square spans the 68-point
/// landmark box (jaw to jaw, brows to chin). The res10 box's width tracks the
/// jaw width; its height varies with how much forehead it takes, so the width
/// sets the size: `faceScale` maps it to the landmark box, `verticalShift` (in
/// box heights) moves the centre down from forehead towards the landmarks.
/// Defaults chosen on ../shared/testdata/faces (width beat max(width, height);
/// horizontal-flip averaging did not help and doubled the cost).
public struct BoxChipGeometry: FaceChipGeometry, Sendable {
  public var faceScale: Double
  public var verticalShift: Double

  public init(faceScale: Double = 0.85, verticalShift: Double = 0.03) {
    self.faceScale = faceScale
    self.verticalShift = verticalShift
  }

  public func chipTransform(for face: Box, in image: ImageView, chipSize: Int, padding: Double) -> ChipTransform {
    let side = face.width * faceScale * (1 + 2 * padding)
    let cx = face.centerX
    let cy = face.centerY + verticalShift * face.height
    return .square(x: cx - side / 2, y: cy - side / 2, side: side, chipSize: chipSize)
  }
}
