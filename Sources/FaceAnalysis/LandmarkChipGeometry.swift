/// dlib's 5-point shape predictor (ShapePredictor: dlib's file, run in Swift).
/// Read once per file and model instance in a process (`ModelCache`): the
/// predictor is read-only, so every stream's landmarker shares it.
public final class FaceLandmarker: Sendable {
  private let shared: SharedModel<ShapePredictor>
  public var predictor: ShapePredictor { shared.value }
  public static let defaultModel = "dlib-landmarks5"

  public init(store: ModelStore, model: String = FaceLandmarker.defaultModel) throws {
    let manifest = try store.manifest(named: model)
    guard manifest.role == .landmarks else {
      throw FaceAnalysisError.modelInvalid(path: manifest.file, reason: "model '\(model)' is not a landmark model")
    }
    let path = try store.files(of: manifest).weights
    guard let identity = ModelCache.FileIdentity(path: path) else {
      throw FaceAnalysisError.modelMissing(path: path, hint: store.fetchHint(group: manifest.group))
    }
    shared = try ModelCache.shared.model(
      ModelCache.Key(instance: store.modelInstance, kind: "shape-predictor", files: [identity]),
      load: { try ShapePredictor(contentsOf: path) })
  }

  /// Landmarks per face, (x, y) in image pixels, in the model's part order.
  public func landmarks(for faces: [Box], in image: ImageView) throws -> [[(x: Double, y: Double)]] {
    try faces.map { try predictor.shape(in: image, box: $0) }
  }
}

/// Aligned chips, as the Cydral nets were trained: five landmarks fitted to
/// dlib's mean-face template with a least-squares similarity transform
/// (dlib's get_face_chip_details, reproduced).
public final class LandmarkChipGeometry: FaceChipGeometry {
  public let landmarker: FaceLandmarker

  /// dlib's template positions of the 5-point model's parts (right eye outer,
  /// right eye inner, left eye outer, left eye inner, nose base) in the unit square.
  public static let template: [(x: Double, y: Double)] = [
    (0.8595674595992, 0.2134981538014), (0.6460604764104, 0.2289674387677),
    (0.1205750620789, 0.2137274526848), (0.3340850613712, 0.2290642403242),
    (0.4901123135679, 0.6277975316475),
  ]

  // Every face is aligned, however small: mixing aligned and box chips within
  // one track (measured with a width threshold) made its estimates jump by up
  // to 20 years where the width crossed the threshold.
  private let fallback = BoxChipGeometry()

  public init(landmarker: FaceLandmarker) {
    self.landmarker = landmarker
  }

  /// The shape predictor's points on each box (detector landmarks are not used).
  public func placements(for faces: [Box], landmarks: [[Point]], in image: ImageView) throws -> [FacePlacement] {
    try landmarker.landmarks(for: faces, in: image).enumerated().map { index, points in
      // Non-finite points only come from an absurd (yet loadable) model.
      points.count == Self.template.count && points.allSatisfy({ $0.x.isFinite && $0.y.isFinite })
        ? Self.placement(fitting: points) : fallback.placement(for: faces[index])
    }
  }

  /// The similarity transform (rotation, uniform scale, translation) that best
  /// maps the template onto `points` in the least-squares sense.
  public static func placement(fitting points: [(x: Double, y: Double)]) -> FacePlacement {
    placement(fitting: points, template: template)
  }

  /// The same fit to any template (unit-square coordinates, one per point).
  public static func placement(fitting points: [(x: Double, y: Double)], template: [(x: Double, y: Double)])
    -> FacePlacement
  {
    let n = Double(template.count)
    let sx = template.map(\.x).reduce(0, +) / n, sy = template.map(\.y).reduce(0, +) / n
    let dx = points.map(\.x).reduce(0, +) / n, dy = points.map(\.y).reduce(0, +) / n
    var dot = 0.0, cross = 0.0, norm = 0.0
    for (t, p) in zip(template, points) {
      let ax = t.x - sx, ay = t.y - sy, bx = p.x - dx, by = p.y - dy
      dot += ax * bx + ay * by
      cross += ax * by - ay * bx
      norm += ax * ax + ay * ay
    }
    // x' = a x - b y + tx, y' = b x + a y + ty
    let a = norm > 0 ? dot / norm : 1, b = norm > 0 ? cross / norm : 0
    let tx = dx - (a * sx - b * sy), ty = dy - (b * sx + a * sy)
    return FacePlacement(originX: tx, originY: ty, xAxisX: a, xAxisY: b, yAxisX: -b, yAxisY: a)
  }
}
