/// Where a face's unpadded template square lies in the image: the image point of
/// the template's (0, 0) corner and the image vectors of its unit x and y axes.
/// The Cydral nets were trained on dlib chips: that square (the mean face from
/// brows to chin, jaw to jaw) plus `padding` of context on every side.
public struct FacePlacement: Equatable, Sendable {
  public var originX, originY: Double
  public var xAxisX, xAxisY: Double
  public var yAxisX, yAxisY: Double

  public init(originX: Double, originY: Double, xAxisX: Double, xAxisY: Double, yAxisX: Double, yAxisY: Double) {
    self.originX = originX
    self.originY = originY
    self.xAxisX = xAxisX
    self.xAxisY = xAxisY
    self.yAxisX = yAxisX
    self.yAxisY = yAxisY
  }

  /// An axis-aligned square of `side` pixels at (x, y).
  public static func square(x: Double, y: Double, side: Double) -> FacePlacement {
    FacePlacement(originX: x, originY: y, xAxisX: side, xAxisY: 0, yAxisX: 0, yAxisY: side)
  }

  /// Image point of template coordinates (tx, ty).
  public func point(_ tx: Double, _ ty: Double) -> (x: Double, y: Double) {
    (originX + tx * xAxisX + ty * yAxisX, originY + tx * xAxisY + ty * yAxisY)
  }

  /// Chip pixels → image pixels for a `size` chip with `padding` context, as
  /// dlib's get_face_chip_details lays it out: template t = (u / size)(1 + 2p) - p.
  public func chipTransform(size: Int, padding: Double) -> ChipTransform {
    let k = (1 + 2 * padding) / Double(size)
    return ChipTransform(
      a: xAxisX * k, b: yAxisX * k, c: originX - padding * (xAxisX + yAxisX),
      d: xAxisY * k, e: yAxisY * k, f: originY - padding * (xAxisY + yAxisY))
  }
}

/// Places the classifier's chip for each face. `BoxChipGeometry` squares up
/// the detector's box; `LandmarkChipGeometry` aligns on five landmarks.
public protocol FaceChipGeometry: AnyObject {
  /// `landmarks[i]`: face i's detector landmarks, or empty (see AgeGenderClassifier).
  func placements(for faces: [Box], landmarks: [[Point]], in image: ImageView) throws -> [FacePlacement]
}

extension FaceChipGeometry {
  public func placements(for faces: [Box], in image: ImageView) throws -> [FacePlacement] {
    try placements(for: faces, landmarks: [], in: image)
  }
}

/// An unaligned chip: a square centred on the detector's box.
///
/// The res10 box's width tracks the jaw width; its height varies with how much
/// forehead it takes, so the width sets the size: `faceScale` maps it to the
/// template square, `verticalShift` (in box heights) moves the centre down from
/// the forehead. Defaults chosen on ../shared/testdata/faces (width beat
/// max(width, height); horizontal-flip averaging did not help and doubled the cost).
public final class BoxChipGeometry: FaceChipGeometry {
  public var faceScale: Double
  public var verticalShift: Double

  public init(faceScale: Double = 0.85, verticalShift: Double = 0.03) {
    self.faceScale = faceScale
    self.verticalShift = verticalShift
  }

  public func placement(for face: Box) -> FacePlacement {
    let side = face.width * faceScale
    return .square(x: face.centerX - side / 2, y: face.centerY + verticalShift * face.height - side / 2, side: side)
  }

  public func placements(for faces: [Box], landmarks: [[Point]], in image: ImageView) throws -> [FacePlacement] {
    faces.map(placement(for:))
  }
}
