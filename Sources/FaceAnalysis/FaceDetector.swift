/// One face found in an image.
public struct Detection: Equatable, Sendable {
  public var box: Box
  /// Detector score in 0...1 (1 for detectors that give none).
  public var confidence: Double

  public init(box: Box, confidence: Double) {
    self.box = box
    self.confidence = confidence
  }
}

/// Finds faces. Implementations: `SSDFaceDetector` (res10, default); a Haar
/// cascade detector slots in behind the same protocol.
public protocol FaceDetector: AnyObject {
  /// Faces in the image with confidence >= `threshold`, best first.
  func detect(in image: ImageView, threshold: Double) throws -> [Detection]
}
