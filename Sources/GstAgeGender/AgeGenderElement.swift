import AgeGenderEvents
import AgeGenderMeta
import CGStreamer
import FaceAnalysis
import Synchronization

/// The `agegender` element: a GstVideoFilter that finds every face, estimates
/// its age and gender, attaches the results as metadata and draws them.
///
/// Shaped like a gst-plugins-rs element: a `Settings` value behind a lock holds
/// the properties; a `State` (loaded models, negotiated format) is created in
/// `start`/`set_info` and dropped in `stop`.
final class AgeGenderElement: @unchecked Sendable {
  // MARK: Properties

  enum DetectorKind: Int32 { case ssd = 0, haar, centerface }
  enum LandmarkSource: Int32 { case detector = 0, shapePredictor }
  enum ClassifierKind: Int32 { case cydral = 0, leviHassner }

  static let detectorType = registerEnum(
    "GstAgeGenderDetector",
    [(DetectorKind.centerface.rawValue, nick: "centerface",
      name: "CenterFace (OpenCV dnn): finds small faces, with five landmarks"),
     (DetectorKind.ssd.rawValue, nick: "ssd", name: "res10 SSD face detector (OpenCV dnn)"),
     (DetectorKind.haar.rawValue, nick: "haar", name: "Haar cascade (OpenCV objdetect), as the original tutorial")])
  static let landmarkSourceType = registerEnum(
    "GstAgeGenderLandmarkSource",
    [(LandmarkSource.detector.rawValue, nick: "detector",
      name: "The detector's own five landmarks where it gives them (centerface), else dlib's shape predictor"),
     (LandmarkSource.shapePredictor.rawValue, nick: "shape-predictor",
      name: "dlib's 5-point shape predictor run on each detected box")])
  static let classifierType = registerEnum(
    "GstAgeGenderClassifier",
    [(ClassifierKind.cydral.rawValue, nick: "cydral", name: "Cydral age (81 classes) and gender nets, CC0"),
     (ClassifierKind.leviHassner.rawValue, nick: "levi-hassner",
      name: "Levi & Hassner 2015 Adience Caffe nets (8 age groups), as the original tutorial")])

  /// Privacy mode (issue 13): what happens to each face's pixels before the overlay.
  static let anonymizeType = registerEnum(
    "GstAgeGenderAnonymize",
    [(FaceAnonymizer.Mode.none.rawValue, nick: "none", name: "Faces left as they are"),
     (FaceAnonymizer.Mode.blur.rawValue, nick: "blur", name: "Strong Gaussian blur of each face box enlarged by 20% on every side"),
     (FaceAnonymizer.Mode.pixelate.rawValue, nick: "pixelate", name: "Coarse blocks (3 across) over each face box enlarged by 20% on every side")])

  /// Test-time augmentation of the Cydral nets' chips (issue 11), as a GEnum.
  enum AugmentKind: Int32 {
    case none = 0, mirror, full, balanced
    var chips: ChipAugmentation { [ChipAugmentation.none, .mirror, .full, .balanced][Int(rawValue)] }
    init(_ chips: ChipAugmentation) {
      switch chips {
      case .none: self = .none
      case .mirror: self = .mirror
      case .full: self = .full
      case .balanced: self = .balanced
      }
    }
  }
  static let augmentType = registerEnum(
    "GstAgeGenderAugment",
    [(AugmentKind.none.rawValue, nick: "none", name: "Each net reads the face's chip once"),
     (AugmentKind.mirror.rawValue, nick: "mirror", name: "Each net reads the chip and its mirror image (gender log-odds and age probabilities averaged)"),
     (AugmentKind.full.rawValue, nick: "full", name: "The chip and its mirror image, each also shifted and scaled a little (14 chips per net)"),
     (AugmentKind.balanced.rawValue, nick: "balanced", name: "Gender as mirror; age from the chip moved up 3% and the chip 5% smaller, each with its mirror image (4 age chips, 2 gender chips)")])

  static let properties = PropertyTable<Settings>([
    .string(
      "model-dir", nick: "Model directory",
      blurb: "Folder with the model manifests (*.model) and weights/ (unset: AGEGENDER_MODEL_DIR, else the checkout's or installation's models)",
      \.modelDir, mutableWhilePlaying: false),
    .double(
      "detection-threshold", nick: "Detection threshold",
      blurb: "Minimum face detector confidence for a face to be reported",
      \.detectionThreshold, range: 0...1, mutableWhilePlaying: true),
    .int(
      "min-face-size", nick: "Minimum face size",
      blurb: "Faces whose smaller side is below this many pixels are ignored",
      \.minFaceSize, range: 0...8192, mutableWhilePlaying: true),
    .int(
      "max-faces", nick: "Maximum faces",
      blurb: "At most this many faces per frame (the most confident) are classified and reported",
      \.maxFaces, range: 1...256, mutableWhilePlaying: true),
    .boolean(
      "draw", nick: "Draw",
      blurb: "Draw a box and an age/gender label on each face",
      \.draw, mutableWhilePlaying: true),
    .boolean(
      "post-messages", nick: "Post messages",
      blurb: "Post an element message named 'agegender' with the faces of each frame on the bus",
      \.postMessages, mutableWhilePlaying: true),
    .int(
      "detection-size", nick: "Detection size",
      blurb: "Shorter side in pixels of the face detector's input (aspect kept); larger finds smaller faces, at a cost that grows with its square",
      \.detectionSize, range: 64...2160, mutableWhilePlaying: true),
    .boolean(
      "close-up-detection", nick: "Close-up detection",
      blurb: "When a frame yields no face, look again with a wide border around it, which finds faces that fill the frame",
      \.closeUpDetection, mutableWhilePlaying: true),
    .boolean(
      "align", nick: "Align faces",
      blurb: "Align each face on five landmarks (see 'landmarks') before age and gender estimation, as the nets were trained; off: a square around the detector's box",
      \.align, mutableWhilePlaying: false),
    .enumeration(
      "landmarks", nick: "Landmarks for alignment",
      blurb: "Which five landmarks align the faces (with align=true)",
      \.landmarks, type: landmarkSourceType, mutableWhilePlaying: false),
    .enumeration(
      "detector", nick: "Face detector",
      blurb: "Which face detector runs",
      \.detector, type: detectorType, mutableWhilePlaying: false),
    .enumeration(
      "classifier", nick: "Age and gender classifier",
      blurb: "Which age and gender nets run (levi-hassner needs 'make models-levi-hassner')",
      \.classifier, type: classifierType, mutableWhilePlaying: false),
    .string(
      "cascade", nick: "Haar cascade",
      blurb: "Haar cascade file for detector=haar (Debian's opencv-data)",
      \.cascade, mutableWhilePlaying: false),
    .double(
      "scale-factor", nick: "Haar scale factor",
      blurb: "Image pyramid step of detector=haar (detectMultiScale's scaleFactor)",
      \.scaleFactor, range: 1.01...4, mutableWhilePlaying: true),
    .int(
      "min-neighbors", nick: "Haar minimum neighbours",
      blurb: "Overlapping hits a Haar detection needs (detectMultiScale's minNeighbors)",
      \.minNeighbors, range: 0...1000, mutableWhilePlaying: true),
    .boolean(
      "async", nick: "Asynchronous analysis",
      blurb: "Live streams, and streams a synchronising sink plays at the clock's pace: analyse on a worker thread that takes each frame arriving while it is free; the stream never waits for it (only its first frames are analysed in the stream: the one in preroll, and a lone stream's first while playing, before the sink's first QoS event), and frames that pass meanwhile show its latest faces moved along their tracks. A file played as fast as possible (no sink synchronises) is analysed in the stream, as with async=false, unless max-lag lets results lag. Off: every frame is analysed in the stream",
      \.async, mutableWhilePlaying: false),
    .int(
      "max-lag", nick: "Maximum lag",
      blurb: "With async on a file played as fast as possible (no sink synchronises): how many frames late a frame's results may be shown, the worker analysing meanwhile (0: each frame waits for its own, analysed in the stream, so files are annotated exactly as with async=false); live pipelines never wait",
      \.maxLag, range: 0...1000, mutableWhilePlaying: true),
    .boolean(
      "tracking", nick: "Tracking",
      blurb: "Follow faces across frames: stable track ids, age and gender fused over each track, detection and classification intervals; off: every frame is analysed on its own (unrelated still images)",
      \.tracking, mutableWhilePlaying: true),
    .int(
      "detection-interval", nick: "Detection interval",
      blurb: "Run the face detector every N frames; in between, each face is followed by its motion and found again by its appearance",
      \.detectionInterval, range: 1...1000, mutableWhilePlaying: true),
    .int(
      "classification-interval", nick: "Classification interval",
      blurb: "Re-estimate a tracked face's age and gender at most every N frames (sooner when its box grows by 30%; a new face on each of its first 5 frames); its estimates are fused over the track",
      \.classificationInterval, range: 1...10000, mutableWhilePlaying: true),
    .int(
      "track-max-missed", nick: "Track max missed",
      blurb: "A track ends after this many frames without a matching detection; a face seen again before that keeps its id",
      \.trackMaxMissed, range: 0...100000, mutableWhilePlaying: true),
    .enumeration(
      "anonymize", nick: "Anonymize faces",
      blurb: "Privacy: blur or pixelate every face (its box enlarged by 20% on every side) in the output frames, before the overlay; the metadata is unchanged",
      \.anonymize, type: anonymizeType, mutableWhilePlaying: true),
    .int(
      "min-track-frames", nick: "Minimum track frames",
      blurb: "A track shown in fewer frames is not a person: no agegender-track message or event when it ends, and not in the agegender-summary at end of stream",
      \.minTrackFrames, range: 1...1_000_000, mutableWhilePlaying: true),
    .enumeration(
      "augment", nick: "Test-time augmentation",
      blurb: "Which chips the Cydral age and gender nets read per face, their outputs averaged: the chip alone, with its mirror image, also shifted and scaled (costs 1, 2, 14 forwards per net), or balanced: the gender net on the chip and its mirror, the age net on two shifted or scaled looks and their mirrors (4 age and 2 gender forwards)",
      \.augment, type: augmentType, mutableWhilePlaying: false),
    .boolean(
      "calibration", nick: "Calibrated outputs",
      blurb: "Calibrate the Cydral nets' outputs as fitted on a labelled tuning set: the gender and gender-confidence (the gender net weighed by the face's age: less on children), the age, and age-min/age-max as an interval holding ~80% of true ages; off: the nets' own gender probability and expected age, age-min = age-max = age (for fitting)",
      \.calibration, mutableWhilePlaying: false),
    .string(
      "model-instance-id", nick: "Model instance id",
      blurb: "Elements of one process with the same id share each loaded model (one copy per model file and input size, freed when the last of them stops; inference on a shared net runs one frame at a time); unset: the default instance, shared by every element that leaves it unset. Give an element an id of its own for models of its own",
      \.modelInstanceID, mutableWhilePlaying: false),
  ])

  struct Settings: ElementSettings {
    var modelDir: String? = nil
    var detectionThreshold = 0.4
    var minFaceSize: Int32 = 10
    var maxFaces: Int32 = 32
    var draw = true
    var postMessages = false
    var detectionSize: Int32 = 256
    var closeUpDetection = true
    var align = true
    var detectionInterval: Int32 = 16
    var classificationInterval: Int32 = 32
    var trackMaxMissed: Int32 = 40
    var tracking = true
    var detector = DetectorKind.centerface
    var landmarks = LandmarkSource.shapePredictor
    var classifier = ClassifierKind.cydral
    var cascade = HaarFaceDetector.defaultCascadePath
    var scaleFactor = 1.1
    var minNeighbors: Int32 = 5
    var async = true
    var maxLag: Int32 = 0
    var anonymize = FaceAnonymizer.Mode.none
    var minTrackFrames: Int32 = 17
    var augment = AugmentKind(ChipAugmentation.defaultValue)
    var calibration = true
    var modelInstanceID: String? = nil

    var analysisOptions: VideoAnalysisOptions {
      VideoAnalysisOptions(
        analysis: AnalysisOptions(
          detectionThreshold: detectionThreshold, minFaceSize: Int(minFaceSize), maxFaces: Int(maxFaces)),
        detectionInterval: Int(detectionInterval), classificationInterval: Int(classificationInterval),
        tracking: tracking)
    }
  }

  struct State {
    var analyzer: VideoFaceAnalyzer
    var ssd: SSDFaceDetector?
    var centerFace: CenterFaceDetector?
    var haar: HaarFaceDetector?
    /// The worker when async=true (it then owns `analyzer`).
    var worker: AsyncFaceAnalyzer?
    var layout: FrameLayout?
    var frame = 0
    /// Whether upstream is live (asked at the first frame after caps).
    var live: Bool?
    /// Whether a sink downstream paces the stream by the clock: it sent a QoS
    /// event (a synchronising sink with qos=true sends one for each frame it
    /// renders from the second on; a sink that does not synchronise sends
    /// none). A base sink asks for the latency either way, so that query
    /// tells nothing.
    var pacedBySink = false
    /// Timestamp of the previous frame of this scene (nil: none yet, or none given).
    var lastPTS: GstClockTime?
    /// Scenes started (flushes, new streams, discontinuities, new formats).
    var scenes = 0
    /// Frames of the current scene so far.
    var framesInScene = 0
    /// People: tracks followed through the shown faces, and the summary since start.
    var audience = AudienceCounter(minTrackFrames: 1, maxMissed: 0)
    /// People whose tracks ended and who are not announced yet (a scene that
    /// ended at a flush is announced with the next frame, when events can flow).
    var endedTracks: [PersonTrack] = []

    /// A new scene (a flush, a new stream, a discontinuity, a new format):
    /// every track ends, and the worker's pending frame and results are
    /// dropped (an analysis it is running meanwhile is discarded). Track ids
    /// keep increasing, so ids after it never repeat ids before it.
    /// `frame` keeps counting across scenes (the worker's results are matched
    /// to frames within one scene only), except after new caps.
    mutating func startScene(newFormat: Bool = false) {
      if let worker { worker.reset() } else { analyzer.reset() }
      endedTracks += audience.endAll()
      if newFormat { frame = 0 }
      lastPTS = nil
      framesInScene = 0
      scenes += 1
    }

    /// Per-frame settings the detectors read (they may change while playing).
    func tune(_ s: Settings) {
      ssd?.inputSize = Int(s.detectionSize)
      ssd?.closeUpPadding = s.closeUpDetection ? 0.3 : 0
      centerFace?.inputSize = Int(s.detectionSize)
      centerFace?.closeUpPadding = s.closeUpDetection ? 0.3 : 0
      haar?.scaleFactor = s.scaleFactor
      haar?.minNeighbors = Int(s.minNeighbors)
      analyzer.tracker.maxMissed = Int(s.trackMaxMissed)
    }
  }

  let settings = Mutex(Settings())
  let state = Mutex<State?>(nil)
  /// Elements of the process between start and stop (streams that share the nets).
  static let started = Atomic<Int>(0)

  /// How a negotiated format's pixels lie in memory.
  enum FrameLayout: Equatable {
    case packed(PixelFormat)
    case planar(ChromaPlanes.Layout)
  }

  /// Decoders' planar YUV first: then `videoconvert` passes their frames through
  /// untouched (at 720p, converting to BGR cost ~1.5 ms a frame and 8 MB of
  /// buffers); only frames that are detected or classified on are converted.
  static let supportedFormats: [(GstVideoFormat, FrameLayout, String)] = [
    (GST_VIDEO_FORMAT_I420, .planar(.i420), "I420"), (GST_VIDEO_FORMAT_NV12, .planar(.nv12), "NV12"),
    (GST_VIDEO_FORMAT_BGR, .packed(.bgr), "BGR"), (GST_VIDEO_FORMAT_RGB, .packed(.rgb), "RGB"),
    (GST_VIDEO_FORMAT_BGRx, .packed(.bgrx), "BGRx"), (GST_VIDEO_FORMAT_BGRA, .packed(.bgra), "BGRA"),
    (GST_VIDEO_FORMAT_RGBx, .packed(.rgbx), "RGBx"), (GST_VIDEO_FORMAT_RGBA, .packed(.rgba), "RGBA"),
    (GST_VIDEO_FORMAT_xBGR, .packed(.xbgr), "xBGR"), (GST_VIDEO_FORMAT_ABGR, .packed(.abgr), "ABGR"),
    (GST_VIDEO_FORMAT_xRGB, .packed(.xrgb), "xRGB"), (GST_VIDEO_FORMAT_ARGB, .packed(.argb), "ARGB"),
  ]

  static var capsString: String {
    "video/x-raw, format=(string){ \(supportedFormats.map(\.2).joined(separator: ", ")) }, "
      + "width=(int)[ 1, 2147483647 ], height=(int)[ 1, 2147483647 ], framerate=(fraction)[ 0/1, 2147483647/1 ]"
  }

  // MARK: Property access

  func setProperty(_ id: UInt32, _ value: UnsafePointer<GValue>) {
    settings.withLock { Self.properties.set(id, value, in: &$0) }
  }

  func getProperty(_ id: UInt32, _ value: UnsafeMutablePointer<GValue>) {
    Self.properties.get(id, value, from: settings.withLock { $0 })
  }

  // MARK: Lifecycle

  /// Loads the models. Runs in start(), never at registration or construction:
  /// the plugin scanner and gst-inspect create elements too.
  func start(_ element: UnsafeMutablePointer<GstElement>) -> Bool {
    let s = settings.withLock { $0 }
    let directory = PluginLocation.shared.resolveModelDirectory(explicit: s.modelDir)
    // Models are shared with every element of the process with the same
    // model-instance-id (ModelCache); unset and empty are the default instance.
    let store = ModelStore(directory: directory, modelInstance: s.modelInstanceID ?? "")
    do {
      var ssd: SSDFaceDetector?, centerFace: CenterFaceDetector?, haar: HaarFaceDetector?
      let detector: any FaceDetector
      switch s.detector {
      case .centerface:
        centerFace = try CenterFaceDetector(store: store)
        detector = centerFace!
      case .ssd:
        ssd = try SSDFaceDetector(store: store)
        detector = ssd!
      case .haar:
        haar = try HaarFaceDetector(
          cascadePath: s.cascade, scaleFactor: s.scaleFactor, minNeighbors: Int(s.minNeighbors),
          modelInstance: store.modelInstance)
        detector = haar!
      }
      let classifier: any AgeGenderClassifier
      switch s.classifier {
      case .cydral:
        // The shape predictor is loaded only when it is used.
        let geometry: any FaceChipGeometry
        if !s.align {
          geometry = BoxChipGeometry()
        } else if s.landmarks == .detector && s.detector == .centerface {
          geometry = DetectorLandmarkChipGeometry()
        } else {
          geometry = LandmarkChipGeometry(landmarker: try FaceLandmarker(store: store))
        }
        let cydral = try CydralAgeGenderClassifier(store: store, geometry: geometry)
        cydral.augmentation = s.augment.chips
        cydral.calibrated = s.calibration
        classifier = cydral
      case .leviHassner:
        classifier = try LeviHassnerClassifier(store: store)
      }
      let analyzer = VideoFaceAnalyzer(detector: detector, classifier: classifier)
      var fresh = State(analyzer: analyzer, ssd: ssd, centerFace: centerFace, haar: haar, worker: nil, layout: nil)
      fresh.audience = AudienceCounter(minTrackFrames: Int(s.minTrackFrames), maxMissed: Int(s.trackMaxMissed))
      if s.async {
        let tuning = fresh
        fresh.worker = AsyncFaceAnalyzer(analyzer: analyzer) { [weak self] in
          if let self { tuning.tune(self.settings.withLock { $0 }) }
        }
      }
      let ready = fresh
      state.withLock { $0 = ready }
      Self.started.add(1, ordering: .relaxed)
      Debug.info(element, "models loaded from \(directory)")
      return true
    } catch {
      let text = "\(error)"
      Debug.error(element, text)
      let notFound = { () -> Bool in
        switch error as? FaceAnalysisError {
        case .modelMissing?, .modelDirectoryMissing?: return true
        default: return false
        }
      }()
      postError(
        element, resource: true,
        code: Int32(notFound ? GST_RESOURCE_ERROR_NOT_FOUND.rawValue : GST_RESOURCE_ERROR_OPEN_READ.rawValue),
        text: text, debug: "model directory: \(directory)")
      return false
    }
  }

  func stop() -> Bool {
    var dropped = state.withLock { current -> State? in
      let old = current
      current = nil
      return old
    }
    if dropped != nil { Self.started.subtract(1, ordering: .relaxed) }
    dropped?.worker?.stop()
    // Free the models (this was the last reference), then trim the heap.
    dropped = nil
    releaseFreedModelMemory()
    return true
  }

  func setInfo(_ element: UnsafeMutablePointer<GstElement>, _ info: UnsafeMutablePointer<GstVideoInfo>) -> Bool {
    let format = info.pointee.finfo.pointee.format
    guard let layout = Self.supportedFormats.first(where: { $0.0 == format })?.1 else {
      Debug.error(element, "unsupported video format \(format.rawValue)")
      return false
    }
    return state.withLock { state in
      guard state != nil else { return false }
      state!.layout = layout
      // CenterFace needs a net per input size: load it now rather than on the first frame.
      if let detector = state!.centerFace {
        do {
          try detector.prepare(
            width: Int(info.pointee.width), height: Int(info.pointee.height),
            inputSize: Int(settings.withLock { $0.detectionSize }))
        } catch {
          postError(element, resource: true, code: Int32(GST_RESOURCE_ERROR_OPEN_READ.rawValue), text: "\(error)", debug: nil)
          return false
        }
      }
      // A new format or size starts a new scene: boxes of the old one mean nothing.
      state!.startScene(newFormat: true)
      return true
    }
  }

  // MARK: Scenes

  /// Sink events, before the parent class handles them: a flush (FLUSH_STOP,
  /// after a flushing seek) and a new stream (STREAM_START) start a new scene.
  func sinkEvent(_ element: UnsafeMutablePointer<GstElement>, _ event: UnsafeMutablePointer<GstEvent>) {
    let type = agb_event_type(event)
    if type == GST_EVENT_EOS {
      endOfStream(element)
      return
    }
    guard type == GST_EVENT_FLUSH_STOP || type == GST_EVENT_STREAM_START else { return }
    let started = state.withLock { state -> Bool in
      guard state != nil else { return false }
      state!.startScene()
      return true
    }
    if started { Debug.info(element, "new scene: \(type == GST_EVENT_FLUSH_STOP ? "flush" : "stream start")") }
  }

  /// A sink downstream paces the stream by the clock: it sent a QoS event.
  func notePacedBySink(_ element: UnsafeMutablePointer<GstElement>) {
    let first = state.withLock { state -> Bool in
      guard state != nil, !state!.pacedBySink else { return false }
      state!.pacedBySink = true
      return true
    }
    if first { Debug.info(element, "pacing: a sink paces the stream (QoS); while playing, frames go to the worker") }
  }

  /// End of stream, before it goes downstream: every track still open ends,
  /// and the people and then the summary are announced.
  func endOfStream(_ element: UnsafeMutablePointer<GstElement>) {
    let ended = state.withLock { state -> (people: [PersonTrack], summary: AudienceSummary)? in
      guard state != nil else { return nil }
      let people = state!.endedTracks + state!.audience.endAll()
      state!.endedTracks = []
      return (people, state!.audience.summary)
    }
    guard let ended else { return }
    AudienceEvents.announce(ended.people, from: element)
    AudienceEvents.announce(ended.summary, from: element)
  }

  /// A timestamp step larger than this many frame durations, and than
  /// `jumpMinimumNs`, in the direction of playback starts a new scene (as if
  /// the buffer were flagged DISCONT); so does a step back against it by more
  /// than one frame duration.
  static let jumpFrames: Int64 = 4
  static let jumpMinimumNs: Int64 = 500_000_000

  /// Why this frame starts a new scene, if it does: a DISCONT buffer, or a
  /// timestamp jump (see `jumpFrames`). With a negative segment rate (reverse
  /// playback) timestamps decrease normally, and demuxers and decoders flag
  /// each reversed group of pictures DISCONT although it continues the
  /// previous one in time: there only a jump starts a new scene.
  func sceneBreak(_ element: UnsafeMutablePointer<GstElement>, _ buffer: UnsafeMutablePointer<GstBuffer>,
    _ current: State) -> String? {
    guard current.framesInScene > 0 else { return nil }  // nothing to forget yet (e.g. just after a flush)
    let base = UnsafeMutableRawPointer(element).assumingMemoryBound(to: GstBaseTransform.self)
    let reverse = base.pointee.segment.rate < 0
    var jump: String?
    var framesMissing = false
    let pts = agb_buffer_pts(buffer)
    if pts != agb_clock_time_none(), let last = current.lastPTS {
      let duration = agb_buffer_duration(buffer)
      let frameNs = duration == agb_clock_time_none() || duration == 0
        ? Int64(40_000_000) : Int64(bitPattern: UInt64(duration))
      let step = Int64(bitPattern: UInt64(pts)) - Int64(bitPattern: UInt64(last))
      let ahead = reverse ? -step : step
      if ahead > max(Self.jumpFrames * frameNs, Self.jumpMinimumNs) {
        jump = "timestamp jump of \(ahead / 1_000_000) ms"
      } else if ahead < -frameNs {
        jump = "timestamp jump back by \(-ahead / 1_000_000) ms"
      } else if ahead > frameNs * 3 / 2 {
        framesMissing = true
      }
    }
    // A decoder that drops late frames (QoS from a paced sink) flags the next
    // one DISCONT, its timestamp continuing after the few missing frames: the
    // same scene, its tracks predicted over the gap. Taking it for a new scene
    // made each drop restart the analysis in the stream, which made the next
    // frames late in turn (paced streams sharing the nets dropped frames all along).
    if agb_buffer_is_discont(buffer) != 0 && (!reverse || jump != nil) && (jump != nil || !framesMissing) {
      return "discontinuity"
    }
    return jump
  }

  // MARK: Frames

  func transform(_ element: UnsafeMutablePointer<GstElement>, _ frame: UnsafeMutablePointer<GstVideoFrame>) -> GstFlowReturn {
    let s = settings.withLock { $0 }
    let width = Int(frame.pointee.info.width), height = Int(frame.pointee.info.height)
    // People whose tracks ended with this frame, announced once the state is unlocked.
    var ended: [PersonTrack] = []
    defer { AudienceEvents.announce(ended, from: element) }
    return state.withLock { state -> GstFlowReturn in
      guard var current = state, let layout = current.layout, let data = frame.pointee.data.0 else {
        postError(element, resource: false, code: Int32(GST_STREAM_ERROR_NOT_IMPLEMENTED.rawValue),
          text: "agegender received a frame before its format was negotiated", debug: nil)
        return GST_FLOW_NOT_NEGOTIATED
      }
      let image: ImageView
      switch layout {
      case .packed(let format):
        image = ImageView(
          data: data, width: width, height: height, stride: Int(frame.pointee.info.stride.0), format: format)
      case .planar(let chroma):
        let strides = frame.pointee.info.stride
        guard let u = frame.pointee.data.1, chroma == .nv12 || (frame.pointee.data.2 != nil && strides.1 == strides.2)
        else {
          postError(element, resource: false, code: Int32(GST_STREAM_ERROR_FORMAT.rawValue),
            text: "agegender cannot read this frame's chroma planes (missing, or U and V strides differ)", debug: nil)
          return GST_FLOW_ERROR
        }
        image = ImageView(
          data: data, width: width, height: height, stride: Int(strides.0), format: .gray8,
          chroma: ChromaPlanes(layout: chroma, u: u, v: chroma == .i420 ? frame.pointee.data.2 : nil, stride: Int(strides.1)))
      }
      var steps = 1
      var timestamp: (pts: UInt64?, duration: UInt64?) = (nil, nil)
      if let buffer = frame.pointee.buffer {
        if let reason = sceneBreak(element, buffer, current) {
          current.startScene()
          Debug.info(element, "new scene: \(reason)")
        }
        let pts = agb_buffer_pts(buffer)
        let known = pts == agb_clock_time_none() ? nil : pts
        // Frames that passed since the previous one (a gap smaller than a scene
        // break): the tracks' motion is predicted over them.
        let duration = agb_buffer_duration(buffer)
        steps = FrameSteps.elapsed(
          from: current.lastPTS.map { UInt64($0) }, to: known.map { UInt64($0) },
          frameDuration: duration == agb_clock_time_none() ? 40_000_000 : Int64(bitPattern: UInt64(duration)),
          maximum: Int(Self.jumpFrames))
        current.frame += steps - 1
        current.lastPTS = known
        timestamp = (known.map { UInt64($0) }, duration == agb_clock_time_none() ? nil : UInt64(duration))
        current.framesInScene += 1
      }
      do {
        let faces: [AnalyzedFace]
        if let worker = current.worker {
          if let failure = worker.takeFailure() { throw failure }
          if current.live == nil { current.live = upstreamIsLive(element) }
          // Wait for the worker only when nobody is watching the clock: a live
          // source, or playback paced by a synchronising sink, must never stall.
          // There the worker takes whichever frame arrives while it is idle (it
          // detects every detection-interval stream frames and follows the faces
          // by their appearance in between, ~1 ms); frames that pass while it
          // is busy show its latest faces moved along their tracks.
          // A paced stream analyses in the stream only a scene's first frame in
          // preroll (the start, a seek while paused): it shows faces at once and
          // no clock runs yet. While playing it never waits: analysing its first
          // frames in the stream, or frames that looked ahead of the clock after
          // the decoder skipped late ones, made 8 paced streams sharing the nets
          // wait for each other and drop frames, each drop making more.
          // Other non-live streams are analysed in the stream for their first
          // detection interval, then while they run ahead of the clock (a file
          // played as fast as possible): by then such a file is told from a
          // stream paced some other way, and handing it to the worker started
          // its thread for nothing (+5 MB RSS). When other elements run in the
          // process, a frame of that first interval that comes while playing
          // (or while the pipeline starts to: `playingOrStarting`), not yet
          // ahead of the clock, goes to the worker instead: a paced
          // stream's first frame while playing comes before its sink's first
          // QoS event, and 8 paced streams started together queued it for the
          // shared nets, late, and their decoders then skipped frames for
          // 0.6 s (with "while another analysis runs" instead of "when other
          // elements run", one stream in 8 still did). A file alone in its
          // process is annotated exactly as before.
          let inStream: Bool
          if current.live == true {
            inStream = false
          } else if current.pacedBySink {
            inStream = current.framesInScene <= 1 && element.pointee.current_state != GST_STATE_PLAYING
          } else if runsAheadOfClock(element, frame.pointee.buffer) {
            inStream = true
          } else if current.framesInScene <= Int(s.detectionInterval) {
            inStream = current.framesInScene <= 1 || !playingOrStarting(element)
              || Self.started.load(ordering: .relaxed) <= 1
          } else {
            inStream = false
          }
          if !inStream {
            worker.offer(image, frame: current.frame, options: s.analysisOptions)
          } else {
            Debug.debug(element, "pacing: frame \(current.frame) analysed in the stream")
            // Every frame goes through the analyser (detection frames detect, the
            // others follow each face by its appearance, ~1 ms); its results may
            // arrive at most max-lag frames late (0: the stream waits for them,
            // and the analysis runs on this thread, so a file is annotated
            // exactly as with async=false).
            worker.offer(image, frame: current.frame, options: s.analysisOptions, maxLag: Int(s.maxLag))
          }
          // Results older than a track may coast are not shown.
          if let snapshot = worker.snapshot, current.frame - snapshot.frame <= Int(s.trackMaxMissed) {
            faces = snapshot.faces(at: current.frame)
              .map { face in
                var f = face
                f.detection.box = f.detection.box.clipped(width: Double(width), height: Double(height))
                return f
              }
              .filter { $0.detection.box.width >= 1 && $0.detection.box.height >= 1 }
          } else {
            faces = []
          }
        } else {
          current.tune(s)
          faces = try current.analyzer.process(image, options: s.analysisOptions, elapsedFrames: steps)
        }
        current.audience.minTrackFrames = Int(s.minTrackFrames)
        current.audience.maxMissed = Int(s.trackMaxMissed)
        current.endedTracks += current.audience.observe(
          faces, pts: timestamp.pts, duration: timestamp.duration, elapsedFrames: steps)
        ended = current.endedTracks
        current.endedTracks = []
        current.frame += 1
        state = current
        guard let buffer = frame.pointee.buffer else { return GST_FLOW_ERROR }
        FrameMetadata.attach(faces, width: Int32(width), height: Int32(height), to: buffer)
        if s.postMessages {
          FrameMetadata.postMessage(faces, element: element, buffer: buffer)
        }
        // Privacy first, so the overlay's label stays readable over a blurred face.
        try FaceAnonymizer.apply(faces.map(\.detection.box), mode: s.anonymize, on: image)
        if s.draw { try FaceOverlay.draw(faces, on: image) }
        return GST_FLOW_OK
      } catch {
        postError(element, resource: false, code: Int32(GST_STREAM_ERROR_FAILED.rawValue), text: "\(error)", debug: nil)
        return GST_FLOW_ERROR
      }
    }
  }

  /// Asks upstream whether the stream is live (a latency query), as a live
  /// source must never wait for the analysis while a file may.
  func upstreamIsLive(_ element: UnsafeMutablePointer<GstElement>) -> Bool {
    let base = UnsafeMutableRawPointer(element).assumingMemoryBound(to: GstBaseTransform.self)
    guard let pad = base.pointee.sinkpad, let query = gst_query_new_latency() else { return false }
    defer { agb_query_unref(query) }
    guard gst_pad_peer_query(pad, query) != 0 else { return false }
    var live: gboolean = 0
    gst_query_parse_latency(query, &live, nil, nil)
    return live != 0
  }

  /// Whether the element plays, or its pipeline is on its way to PLAYING. A
  /// bin changes its children's states one at a time, sinks first: a sink
  /// may already play, and its streaming thread bring this element its second
  /// frame, while the element itself is still PAUSED (4 paced streams: now and
  /// then one of them analysed that frame in the stream, as if in preroll).
  func playingOrStarting(_ element: UnsafeMutablePointer<GstElement>) -> Bool {
    if element.pointee.current_state == GST_STATE_PLAYING { return true }
    var top = UnsafeMutableRawPointer(element).assumingMemoryBound(to: GstObject.self)
    var owned = false
    while let parent = gst_object_get_parent(top) {
      if owned { agb_object_unref(top) }
      top = parent
      owned = true
    }
    guard owned else { return false }
    defer { agb_object_unref(top) }
    return UnsafeMutableRawPointer(top).assumingMemoryBound(to: GstElement.self).pointee.target_state
      == GST_STATE_PLAYING
  }

  /// Whether the stream is ahead of real time (a file processed as fast as
  /// possible), judged by the buffer's running time against the pipeline clock:
  /// by more than 0.1 s and 2.5 frames. Asked only of streams that no sink
  /// paces (`pacedBySink`), e.g. ones paced by `identity sync=true`, which run
  /// about one frame ahead. The margin is small so that a file is recognised
  /// within its first few frames (with 0.5 s, the worker thread started and
  /// took frames first: 7.8 MB more peak RSS at 720p).
  func runsAheadOfClock(_ element: UnsafeMutablePointer<GstElement>, _ buffer: UnsafeMutablePointer<GstBuffer>?) -> Bool {
    guard let buffer, let clock = gst_element_get_clock(element) else { return true }
    defer { agb_object_unref(clock) }
    let pts = agb_buffer_pts(buffer)
    if pts == agb_clock_time_none() { return true }
    let base = UnsafeMutableRawPointer(element).assumingMemoryBound(to: GstBaseTransform.self)
    let running = gst_segment_to_running_time(&base.pointee.segment, GST_FORMAT_TIME, pts)
    if running == agb_clock_time_none() { return true }
    let now = gst_clock_get_time(clock), start = gst_element_get_base_time(element)
    guard now >= start else { return true }
    let duration = agb_buffer_duration(buffer)
    let frame = duration == agb_clock_time_none() ? Int64(40_000_000) : Int64(bitPattern: UInt64(duration))
    let margin = max(Int64(100_000_000), frame * 5 / 2)
    return Int64(bitPattern: UInt64(running)) - Int64(bitPattern: UInt64(now - start)) > margin
  }

  func postError(_ element: UnsafeMutablePointer<GstElement>, resource: Bool, code: Int32, text: String,
    debug: String?, file: StaticString = #fileID, function: StaticString = #function, line: Int = #line) {
    agb_element_error(
      element, resource ? 1 : 0, code, text, debug,
      UnsafeRawPointer(file.utf8Start).assumingMemoryBound(to: CChar.self),
      UnsafeRawPointer(function.utf8Start).assumingMemoryBound(to: CChar.self), Int32(line))
  }
}
