import COpenCVBridge

/// OpenCV's Haar cascade face detector (`cv::CascadeClassifier`), the detector of
/// the original OpenCV age-and-gender tutorial: a grey copy of the frame,
/// `detectMultiScale(gray, scaleFactor: 1.1, minNeighbors: 5)`.
///
/// The cascade file is named explicitly (Debian's `opencv-data` installs
/// `defaultCascadePath`). It is checked at construction: a missing file throws
/// `.modelMissing`, a file that is not a cascade `.modelInvalid`, both naming it.
///
/// Confidence: a cascade has no calibrated score. By default every face is
/// reported with confidence 1.0, so `detectionThreshold` does not filter Haar
/// faces and `minNeighbors` is the knob (the tutorial's behaviour).
///
/// With `levelWeightConfidence` on, the cascade runs as `detectMultiScale3`
/// (same windows, same grouping, same boxes, no measurable extra cost) and each
/// face's level weight (its group's largest last-stage sum) minus the last
/// stage's threshold, the margin `m >= 0` by which it passed, is mapped to
/// `1 / (1 + exp(-(m - 6) / 1.5))` (`confidence(levelWeight:)`). The constants
/// were fitted for `haarcascade_frontalface_default.xml` on
/// ../shared/testdata/faces: faces the SSD also finds had margins 2.3-13.8
/// (median 10.1, confidence 0.94), the cascade's other boxes 2.9-7.3 (median 4.4,
/// confidence 0.25); at the default threshold 0.5 this keeps 29 of 32 real faces
/// and drops 8 of 9 false ones. Other cascades sum on other scales (the `alt`
/// cascades' last threshold is ~106, not ~-3): recalibrate before relying on it.
///
/// The loaded cascade comes from `ModelCache` (one per file and model instance
/// in a process); the bridge serialises detections per cascade.
public final class HaarFaceDetector: FaceDetector {
  private let cascade: SharedModel<OpaquePointer>
  private var handle: OpaquePointer { cascade.value }
  /// The cascade file this detector was loaded from.
  public let cascadePath: String
  /// Image pyramid step (> 1); smaller finds more faces, slower.
  public var scaleFactor: Double
  /// Overlapping raw hits a face needs; higher gives fewer, surer faces.
  public var minNeighbors: Int
  /// Smallest face side searched, pixels (below the cascade's 24-pixel window
  /// the window size applies). Larger is faster.
  public var minSize: Int
  /// Largest face side searched, pixels; 0: no limit.
  public var maxSize: Int
  /// `equalizeHist` on the grey image before detection (OpenCV's C++ cascade
  /// tutorial does it; the Python age/gender tutorial does not).
  public var equalizeHistogram: Bool
  /// Report the mapped level weight as confidence instead of 1.0.
  public var levelWeightConfidence: Bool
  /// At most this many faces per image (the best first).
  public let capacity: Int

  /// Debian 12 `opencv-data`'s frontal face cascade.
  public static let defaultCascadePath = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"

  public init(cascadePath: String = HaarFaceDetector.defaultCascadePath, scaleFactor: Double = 1.1,
    minNeighbors: Int = 5, minSize: Int = 24, maxSize: Int = 0, equalizeHistogram: Bool = false,
    levelWeightConfidence: Bool = false, capacity: Int = 256, modelInstance: String = "") throws {
    guard let size = FileSystem.fileSize(cascadePath) else {
      throw FaceAnalysisError.modelMissing(
        path: cascadePath,
        hint: "install Debian's opencv-data package (scripts/install-deps.sh does) or set the cascade path")
    }
    guard size > 0 else { throw FaceAnalysisError.modelInvalid(path: cascadePath, reason: "the file is empty") }
    guard let identity = ModelCache.FileIdentity(path: cascadePath) else {
      throw FaceAnalysisError.modelMissing(path: cascadePath, hint: "the file vanished while being opened")
    }
    cascade = try ModelCache.shared.model(
      ModelCache.Key(instance: modelInstance, kind: "haar", files: [identity]),
      load: {
        var error = agb_error()
        guard let loaded = agb_cascade_load(cascadePath, &error) else {
          throw FaceAnalysisError.modelInvalid(path: cascadePath, reason: error.text)
        }
        return loaded
      },
      free: { agb_cascade_free($0) })
    self.cascadePath = cascadePath
    self.scaleFactor = scaleFactor
    self.minNeighbors = minNeighbors
    self.minSize = minSize
    self.maxSize = maxSize
    self.equalizeHistogram = equalizeHistogram
    self.levelWeightConfidence = levelWeightConfidence
    self.capacity = max(1, capacity)
  }

  /// Margin (level weight minus the last stage's threshold) that maps to confidence 0.5.
  public static let levelWeightMidpoint = 6.0
  /// Margin per e-fold of the odds.
  public static let levelWeightScale = 1.5

  /// The confidence reported for a face that passed the last stage by `levelWeight` (the margin).
  public static func confidence(levelWeight: Double) -> Double {
    1 / (1 + _exp(-(levelWeight - levelWeightMidpoint) / levelWeightScale))
  }

  public func detect(in image: ImageView, threshold: Double) throws -> [Detection] {
    guard scaleFactor > 1 else { throw FaceAnalysisError.inference(reason: "Haar scale factor \(scaleFactor) must be above 1") }
    var bridged = image.bridged
    var params = agb_cascade_params(
      scale_factor: scaleFactor, min_neighbors: Int32(clamping: max(0, minNeighbors)),
      min_size: Int32(clamping: max(0, minSize)), max_size: Int32(clamping: max(0, maxSize)),
      equalize: equalizeHistogram ? 1 : 0, level_weights: levelWeightConfidence ? 1 : 0)
    var error = agb_error()
    // A buffer per call: with the bridge's lock, one detector can serve several threads.
    var results = [agb_detection](repeating: agb_detection(), count: capacity)
    let count = results.withUnsafeMutableBufferPointer { out in
      agb_cascade_detect(handle, &bridged, &params, out.baseAddress, Int32(clamping: out.count), &error)
    }
    guard count >= 0 else { throw FaceAnalysisError.inference(reason: "Haar face detector: \(error.text)") }
    return results.prefix(Int(count)).compactMap {
      let confidence = levelWeightConfidence ? Self.confidence(levelWeight: Double($0.score)) : 1.0
      guard confidence >= threshold else { return nil }
      return Detection(
        box: Box(x: Double($0.x), y: Double($0.y), width: Double($0.width), height: Double($0.height)),
        confidence: confidence)
    }
  }
}

#if canImport(Glibc)
  import Glibc
  private func _exp(_ x: Double) -> Double { Glibc.exp(x) }
#elseif canImport(Musl)
  import Musl
  private func _exp(_ x: Double) -> Double { Musl.exp(x) }
#endif
