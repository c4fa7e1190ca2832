/// Options of one analysis pass, changeable between frames.
public struct AnalysisOptions: Equatable, Sendable {
  public var detectionThreshold: Double
  /// Faces whose smaller side is below this many pixels are ignored.
  public var minFaceSize: Int
  /// At most this many faces (the most confident) are classified and reported.
  public var maxFaces: Int

  public init(detectionThreshold: Double = 0.5, minFaceSize: Int = 20, maxFaces: Int = 32) {
    self.detectionThreshold = detectionThreshold
    self.minFaceSize = minFaceSize
    self.maxFaces = maxFaces
  }
}

/// A face with its age and gender.
public struct AnalyzedFace: Equatable, Sendable {
  public var detection: Detection
  public var estimate: AgeGenderEstimate
  /// 0 until a tracker assigns one.
  public var trackID: UInt64
  /// The latest single-frame estimate when `estimate` is fused over a track.
  public var raw: AgeGenderEstimate?

  public init(detection: Detection, estimate: AgeGenderEstimate, trackID: UInt64 = 0, raw: AgeGenderEstimate? = nil) {
    self.detection = detection
    self.estimate = estimate
    self.trackID = trackID
    self.raw = raw
  }

  /// The overlay's label, e.g. "Female, 34" (or "Male, 25-32" for age groups).
  public var label: String { estimate.label }
}

/// Detect, filter, classify: one frame's analysis.
public final class FaceAnalyzer {
  public let detector: any FaceDetector
  public let classifier: any AgeGenderClassifier

  public init(detector: any FaceDetector, classifier: any AgeGenderClassifier) {
    self.detector = detector
    self.classifier = classifier
  }

  public func analyze(_ image: ImageView, options: AnalysisOptions) throws -> [AnalyzedFace] {
    var detections = try detector.detect(in: image, threshold: options.detectionThreshold)
      .filter { min($0.box.width, $0.box.height) >= Double(options.minFaceSize) }
    detections.sort { $0.confidence > $1.confidence }
    let limit = max(0, options.maxFaces)
    if detections.count > limit { detections.removeLast(detections.count - limit) }
    let estimates = try classifier.classify(image, faces: detections.map(\.box), landmarks: detections.map(\.landmarks))
    return zip(detections, estimates).map { AnalyzedFace(detection: $0, estimate: $1) }
  }
}
