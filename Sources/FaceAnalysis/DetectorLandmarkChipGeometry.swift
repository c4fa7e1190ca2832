/// Aligned chips from the detector's own five landmarks (CenterFace: the eye
/// centres, the nose tip and the mouth corners), so no shape predictor runs.
///
/// The Cydral nets were trained on dlib chips: the square of dlib's mean-face
/// template, placed by a least-squares similarity fit of landmarks to it
/// (`LandmarkChipGeometry`). CenterFace's points are fitted the same way, to
/// where they lie in that template. Those positions were measured, not taken
/// from dlib's 68-point mean face: on the 988 faces of
/// ../shared/testdata/tuning that both found, each face's CenterFace points
/// were mapped into the template square by the fit of dlib's 5-point
/// predictor, and averaged (spread 0.02-0.05 template units): the mean face
/// puts the eye centres 0.04 higher than CenterFace's.
/// Still, dlib's predictor run on CenterFace's boxes aligns better, so it is
/// the element's default: on ../shared/testdata/faces gender 81.5% with it,
/// 74.1% with these points (75.9% on the mean face's positions); profiles
/// and tilted heads rotate the fit of these five points.
/// A face without landmarks falls back to `fallback`.
public final class DetectorLandmarkChipGeometry: FaceChipGeometry {
  /// In the template's unit square, image-left to image-right as the detector
  /// orders them: left eye, right eye, nose tip, left and right mouth corners.
  public static let template: [(x: Double, y: Double)] = [
    (0.2266, 0.2571), (0.7849, 0.2622), (0.4975, 0.5369), (0.2606, 0.7874), (0.7164, 0.7908),
  ]

  public let fallback: any FaceChipGeometry

  public init(fallback: any FaceChipGeometry = BoxChipGeometry()) {
    self.fallback = fallback
  }

  public func placements(for faces: [Box], landmarks: [[Point]], in image: ImageView) throws -> [FacePlacement] {
    func usable(_ i: Int) -> Bool {
      i < landmarks.count && landmarks[i].count == Self.template.count
        && landmarks[i].allSatisfy { $0.x.isFinite && $0.y.isFinite }
    }
    let missing = faces.indices.filter { !usable($0) }
    var fallbacks: [Int: FacePlacement] = [:]
    if !missing.isEmpty {
      let placed = try fallback.placements(for: missing.map { faces[$0] }, landmarks: [], in: image)
      for (index, placement) in zip(missing, placed) { fallbacks[index] = placement }
    }
    return faces.indices.map { i in
      fallbacks[i]
        ?? LandmarkChipGeometry.placement(fitting: landmarks[i].map { ($0.x, $0.y) }, template: Self.template)
    }
  }
}
