/// Where a classifier's input chip comes from: a transform from chip pixels to
/// image pixels for one face. `BoxChipGeometry` squares up the detector's box;
/// landmark alignment slots in behind the same protocol.
public protocol FaceChipGeometry {
  /// `padding` is the context the classifier was trained with, as a fraction of the face per side.
  func chipTransform(for face: Box, in image: ImageView, chipSize: Int, padding: Double) -> ChipTransform
}

/// An unaligned chip: a square centred on the detector's box.
///
/// The res10 box spans roughly brow to chin; `faceScale` maps its larger side to
/// the face extent the nets' aligned chips show before padding, and
/// `verticalShift` (in box heights) moves the square's centre down.
public struct BoxChipGeometry: FaceChipGeometry, Sendable {
  public var faceScale: Double
  public var verticalShift: Double

  public init(faceScale: Double = 1.0, verticalShift: Double = 0.0) {
    self.faceScale = faceScale
    self.verticalShift = verticalShift
  }

  public func chipTransform(for face: Box, in image: ImageView, chipSize: Int, padding: Double) -> ChipTransform {
    let side = max(face.width, face.height) * faceScale * (1 + 2 * padding)
    let cx = face.centerX
    let cy = face.centerY + verticalShift * face.height
    return .square(x: cx - side / 2, y: cy - side / 2, side: side, chipSize: chipSize)
  }
}
