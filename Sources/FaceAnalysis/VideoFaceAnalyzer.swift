/// Options of the video analysis, changeable between frames.
public struct VideoAnalysisOptions: Equatable, Sendable {
  public var analysis: AnalysisOptions
  /// Run the detector every this many frames; track (predict) in between.
  public var detectionInterval: Int
  /// Re-classify a track at most every this many frames (on a detection frame),
  /// or sooner when its box has grown by `regrowFactor` since it was classified.
  public var classificationInterval: Int
  public var regrowFactor: Double
  /// A new track is classified on each of its first this many analysed frames
  /// (between detections with its tracked box), then every
  /// `classificationInterval`: its shown age otherwise rests on one frame for a
  /// whole interval, and first frames are often outliers (a face entering,
  /// blurred, turned). Measured with the element's defaults on the shared
  /// clips: the largest age SD of a track's shown age went from 3.3 years (one
  /// frame) to 1.1-2.3 (three, depending on the boxes) and 1.5-2.2 (five).
  public var warmupClassifications: Int
  /// Between detections, look for each face near its predicted box by its
  /// appearance (`FaceAppearanceTracker`); off: the prediction alone.
  public var followAppearance: Bool
  /// Off: every frame is analysed on its own (no ids, no fusion, no intervals),
  /// for unrelated images sent one after another.
  public var tracking: Bool

  public init(analysis: AnalysisOptions = AnalysisOptions(), detectionInterval: Int = 1, classificationInterval: Int = 1,
    regrowFactor: Double = 1.3, warmupClassifications: Int = 5, followAppearance: Bool = true, tracking: Bool = true) {
    self.analysis = analysis
    self.tracking = tracking
    self.detectionInterval = max(1, detectionInterval)
    self.classificationInterval = max(1, classificationInterval)
    self.regrowFactor = regrowFactor
    self.warmupClassifications = max(1, warmupClassifications)
    self.followAppearance = followAppearance
  }
}

/// Video-grade analysis: faces tracked across frames with stable ids, their
/// estimates fused per track, the detector and the classifier run only as
/// often as the intervals ask.
public final class VideoFaceAnalyzer {
  public let detector: any FaceDetector
  public let classifier: any AgeGenderClassifier
  public let tracker: FaceTracker
  public let appearance = FaceAppearanceTracker()
  /// The networks' BGR copy of planar YUV frames (made only on frames that detect or classify).
  public let converter = BGRFrameConverter()

  private struct TrackEstimate {
    var fusion = EstimateFusion()
    var framesSinceClassified = 0
    var classifiedWidth = 0.0
  }

  private var estimates: [UInt64: TrackEstimate] = [:]
  /// Stream frames since the detector last ran (nil: never).
  private var framesSinceDetection: Int?

  public init(detector: any FaceDetector, classifier: any AgeGenderClassifier, tracker: FaceTracker = FaceTracker()) {
    self.detector = detector
    self.classifier = classifier
    self.tracker = tracker
  }

  /// Classifies `faces` (track id, box, landmarks) and fuses the results into their tracks.
  private func classify(_ faces: [(UInt64, Box, [Point])], in image: ImageView, raw: inout [UInt64: AgeGenderEstimate])
    throws
  {
    if faces.isEmpty { return }
    let results = try classifier.classify(image, faces: faces.map(\.1), landmarks: faces.map(\.2))
    for ((id, box, _), estimate) in zip(faces, results) {
      var state = estimates[id] ?? TrackEstimate()
      state.fusion.add(estimate, weight: EstimateFusion.reliability(faceWidth: box.width))
      state.framesSinceClassified = 0
      state.classifiedWidth = box.width
      estimates[id] = state
      raw[id] = estimate
    }
  }

  /// Forget all tracks (a new stream, a seek).
  public func reset() {
    tracker.reset()
    appearance.reset()
    estimates.removeAll()
    framesSinceDetection = nil
  }

  /// Analyses the next frame. `elapsedFrames` is how many stream frames have
  /// passed since the previous call (more than 1 when frames were skipped, as
  /// the asynchronous worker does), so motion and intervals count stream frames.
  public func process(_ image: ImageView, options: VideoAnalysisOptions, elapsedFrames: Int = 1) throws
    -> [AnalyzedFace]
  {
    if !options.tracking {
      if !tracker.tracks.isEmpty { reset() }
      return try FaceAnalyzer(detector: detector, classifier: classifier).analyze(
        try converter.packed(image), options: options.analysis)
    }
    let step = max(1, elapsedFrames)
    for _ in 1..<step { tracker.predict() }
    // Count the frames first, so an interval means the same whether frames come
    // one by one or (from the asynchronous worker) several at once.
    for id in estimates.keys { estimates[id]!.framesSinceClassified += step }
    let since = framesSinceDetection.map { $0 + step }
    let detecting = since == nil || since! >= options.detectionInterval
    framesSinceDetection = detecting ? 0 : since
    var raw: [UInt64: AgeGenderEstimate] = [:]
    if detecting {
      // A detector that reads planar frames itself needs no BGR copy; the
      // classifier converts only when a face is due.
      let colour = detector.readsPlanarFrames ? nil : try converter.packed(image)
      var detections = try detector.detect(in: colour ?? image, threshold: options.analysis.detectionThreshold)
        .filter { min($0.box.width, $0.box.height) >= Double(options.analysis.minFaceSize) }
      detections.sort { $0.confidence > $1.confidence }
      let limit = max(0, options.analysis.maxFaces)
      if detections.count > limit { detections.removeLast(detections.count - limit) }
      let ids = tracker.update(with: detections)
      if options.followAppearance {
        for (id, detection) in zip(ids, detections) { try appearance.remember(id, box: detection.box, in: image) }
      }
      // Classify the tracks that are new, due, or have grown markedly.
      var due: [(UInt64, Box, [Point])] = []
      for (id, detection) in zip(ids, detections) {
        let state = estimates[id]
        if state == nil || state!.framesSinceClassified >= options.classificationInterval
          || detection.box.width > state!.classifiedWidth * options.regrowFactor {
          due.append((id, detection.box, detection.landmarks))
        }
      }
      if !due.isEmpty { try classify(due, in: try colour ?? converter.packed(image), raw: &raw) }
    } else {
      tracker.predict()
      if options.followAppearance {
        for track in tracker.tracks where track.visible {
          if let seen = try appearance.locate(track.id, near: track.box, in: image) { tracker.correct(track.id, box: seen) }
        }
      }
      // New tracks still warming up are classified on their tracked box.
      let warming = tracker.tracks.filter { track in
        track.visible && estimates[track.id].map { $0.fusion.count < options.warmupClassifications } == true
      }
      if !warming.isEmpty {
        try classify(warming.map { ($0.id, $0.box, $0.landmarks) }, in: try converter.packed(image), raw: &raw)
      }
    }
    let live = Set(tracker.tracks.map(\.id))
    estimates = estimates.filter { live.contains($0.key) }
    appearance.keep(only: live)

    return tracker.tracks.compactMap { track in
      guard track.visible, let state = estimates[track.id], let fused = state.fusion.fused else { return nil }
      return AnalyzedFace(
        detection: Detection(box: track.box, confidence: track.confidence, landmarks: track.landmarks), estimate: fused,
        trackID: track.id,
        raw: raw[track.id] ?? state.fusion.latest)
    }
  }
}
