/// One face found in an image.
public struct Detection: Equatable, Sendable {
  public var box: Box
  /// Detector score in 0...1 (1 for detectors that give none).
  public var confidence: Double
  /// Five landmarks from detectors that give them (CenterFace: the eye centres,
  /// the nose tip and the mouth corners, left to right as seen in the image);
  /// empty otherwise.
  public var landmarks: [Point]

  public init(box: Box, confidence: Double, landmarks: [Point] = []) {
    self.box = box
    self.confidence = confidence
    self.landmarks = landmarks
  }
}

extension Detection {
  /// The landmarks moved and scaled as the box would be to become `box`.
  public func landmarks(movedTo target: Box) -> [Point] {
    let sx = target.width / max(1e-9, box.width), sy = target.height / max(1e-9, box.height)
    return landmarks.map { Point(x: target.x + ($0.x - box.x) * sx, y: target.y + ($0.y - box.y) * sy) }
  }
}

/// Finds faces. Implementations: `CenterFaceDetector` (default, with five
/// landmarks), `SSDFaceDetector` (res10), `HaarFaceDetector` (the tutorial's).
public protocol FaceDetector: AnyObject {
  /// Faces in the image with confidence >= `threshold`, best first.
  func detect(in image: ImageView, threshold: Double) throws -> [Detection]
  /// Whether `detect` takes planar YUV frames as they are (it then resizes
  /// their planes and converts only its small input); otherwise callers give
  /// it packed pixels (`BGRFrameConverter`).
  var readsPlanarFrames: Bool { get }
}

extension FaceDetector {
  public var readsPlanarFrames: Bool { false }
}
