#if canImport(Glibc)
  import Glibc
#endif

/// Runs a `VideoFaceAnalyzer` on its own thread so the stream never waits for
/// the networks (DeepStream's async classifier mode, applied to the whole
/// analysis). The streaming thread offers frames; the worker takes one only
/// when it is idle (a copy, so the buffer can move on), and the streaming
/// thread shows the latest results, moved along each track's velocity for the
/// frames that have passed since.
public final class AsyncFaceAnalyzer: @unchecked Sendable {
  /// The worker's latest results and the frame they belong to.
  public struct Snapshot: Sendable {
    public var frame: Int
    public var faces: [AnalyzedFace]
    /// Per-frame box change of each face's track (x, y, width, height).
    public var velocities: [UInt64: (Double, Double, Double, Double)]

    public init(frame: Int, faces: [AnalyzedFace], velocities: [UInt64: (Double, Double, Double, Double)]) {
      self.frame = frame
      self.faces = faces
      self.velocities = velocities
    }

    /// The faces as they should be at `frame`, extrapolated along their tracks.
    public func faces(at frame: Int) -> [AnalyzedFace] {
      let steps = Double(max(0, frame - self.frame))
      return faces.map { face in
        guard steps > 0, let v = velocities[face.trackID] else { return face }
        var moved = face
        moved.detection.box.x += v.0 * steps
        moved.detection.box.y += v.1 * steps
        moved.detection.box.width = max(1, moved.detection.box.width + v.2 * steps)
        moved.detection.box.height = max(1, moved.detection.box.height + v.3 * steps)
        moved.detection.landmarks = face.detection.landmarks(movedTo: moved.detection.box)
        return moved
      }
    }
  }

  private let analyzer: VideoFaceAnalyzer
  /// Runs before each analysis: where settings that the detector and tracker
  /// read are applied, so only the analysing thread ever touches them (the
  /// worker, or the caller of `offer(maxLag:)`; `busy` keeps them apart).
  private let prepare: () -> Void
  private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
  private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
  /// Signalled whenever the worker finishes a frame.
  private let done = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
  private var thread = pthread_t()
  /// Accepting frames (until `stop`).
  private var running = false
  private var threadStarted = false

  // Guarded by `lock`.
  private var job: (frame: Int, options: VideoAnalysisOptions)?
  private var busy = false
  private var stopping = false
  private var latest: Snapshot?
  private var failure: Error?
  private var copy: UnsafeMutableRawPointer?
  private var copyCapacity = 0
  private var copyView: ImageView?
  /// Stream frame of the worker's previous frame (for the tracker's clock).
  private var lastFrame: Int?
  /// Scene counter: `reset` increments it; an analysis that started in an
  /// older epoch has its results discarded.
  private var epoch = 0
  /// The analyzer still holds an older scene's tracks: reset it before the next
  /// analysis (set when `reset` came while an analysis was running).
  private var analyzerStale = false

  public init(analyzer: VideoFaceAnalyzer, prepare: @escaping () -> Void = {}) {
    self.analyzer = analyzer
    self.prepare = prepare
    pthread_mutex_init(lock, nil)
    pthread_cond_init(wake, nil)
    pthread_cond_init(done, nil)
    running = true
  }

  /// Starts the worker thread the first time a frame is handed over (a file
  /// whose stream waits for every analysis never needs one). Called with
  /// `lock` held.
  private func startThreadLocked() -> Bool {
    if threadStarted { return true }
    let context = Unmanaged.passUnretained(self).toOpaque()
    threadStarted = pthread_create(&thread, nil, { context in
      Unmanaged<AsyncFaceAnalyzer>.fromOpaque(context!).takeUnretainedValue().work()
      return nil
    }, context) == 0
    return threadStarted
  }

  deinit {
    stop()
    pthread_cond_destroy(wake)
    pthread_cond_destroy(done)
    pthread_mutex_destroy(lock)
    lock.deallocate()
    wake.deallocate()
    done.deallocate()
    copy?.deallocate()
  }

  /// Stops the worker after its current frame and waits for it.
  public func stop() {
    guard running else { return }
    pthread_mutex_lock(lock)
    stopping = true
    pthread_cond_signal(wake)
    pthread_cond_broadcast(done)
    let started = threadStarted
    pthread_mutex_unlock(lock)
    if started { pthread_join(thread, nil) }
    running = false
  }

  /// Hands the frame to the worker if it is idle and `due` (the caller paces
  /// the analysis, e.g. every detection-interval frames); returns whether it
  /// took it.
  @discardableResult
  public func offer(_ image: ImageView, frame: Int, options: VideoAnalysisOptions, due: Bool = true) -> Bool {
    pthread_mutex_lock(lock)
    defer { pthread_mutex_unlock(lock) }
    return due && enqueueLocked(image, frame: frame, options: options)
  }

  /// For streams that must not run ahead of the analysis (files): when the
  /// latest results are more than `maxLag` frames behind `frame`, waits for the
  /// worker to finish, then analyses this frame (due or not) on the calling thread.
  /// Otherwise offers the frame like `offer`. Returns at once when the worker
  /// is stopping; returns whether this frame was analysed or taken.
  @discardableResult
  public func offer(_ image: ImageView, frame: Int, options: VideoAnalysisOptions, maxLag: Int, due: Bool = true)
    -> Bool
  {
    pthread_mutex_lock(lock)
    defer { pthread_mutex_unlock(lock) }
    // The frame in the worker (if any) is newer than `latest`: wait for it first,
    // and analyse this very frame only if that still leaves us too far behind.
    while running && !stopping && (latest.map { frame - $0.frame > maxLag } ?? true) {
      if job != nil || busy {
        pthread_cond_wait(done, lock)
      } else {
        // The worker is idle and we would only wait for it: analyse this very
        // frame here, in place (no copy of the frame, no thread hop). `busy`
        // keeps the worker off meanwhile.
        analyseLocked(image, frame: frame, options: options)
        return true
      }
    }
    return due && enqueueLocked(image, frame: frame, options: options)
  }

  private func enqueueLocked(_ image: ImageView, frame: Int, options: VideoAnalysisOptions) -> Bool {
    guard running, job == nil, !busy, !stopping, startThreadLocked() else { return false }
    let rowBytes = image.width * image.format.bytesPerPixel
    // A planar frame's chroma follows its Y plane in the copy (one plane of
    // U,V pairs for NV12, a U then a V plane for I420).
    let chromaRows = (image.height + 1) / 2
    let chromaRowBytes = image.chroma.map { ChromaPlanes.rowBytes(width: image.width, layout: $0.layout) } ?? 0
    let chromaPlaneCount = image.chroma.map { $0.layout == .i420 ? 2 : 1 } ?? 0
    let lumaBytes = rowBytes * image.height
    let needed = lumaBytes + chromaPlaneCount * chromaRowBytes * chromaRows
    if needed > copyCapacity {
      copy?.deallocate()
      copy = UnsafeMutableRawPointer.allocate(byteCount: max(1, needed), alignment: 64)
      copyCapacity = needed
    }
    guard let copy else { return false }
    func copyPlane(_ source: UnsafeMutableRawPointer, stride: Int, rows: Int, bytes: Int, to target: UnsafeMutableRawPointer) {
      for row in 0..<rows { (target + row * bytes).copyMemory(from: source + row * stride, byteCount: bytes) }
    }
    copyPlane(image.data, stride: image.stride, rows: image.height, bytes: rowBytes, to: copy)
    var chroma: ChromaPlanes?
    if let planes = image.chroma {
      let u = copy + lumaBytes
      copyPlane(planes.u, stride: planes.stride, rows: chromaRows, bytes: chromaRowBytes, to: u)
      var v: UnsafeMutableRawPointer?
      if let source = planes.v {
        v = u + chromaRowBytes * chromaRows
        copyPlane(source, stride: planes.stride, rows: chromaRows, bytes: chromaRowBytes, to: v!)
      }
      chroma = ChromaPlanes(layout: planes.layout, u: u, v: v, stride: chromaRowBytes)
    }
    copyView = ImageView(
      data: copy, width: image.width, height: image.height, stride: rowBytes, format: image.format, chroma: chroma)
    job = (frame, options)
    pthread_cond_signal(wake)
    return true
  }

  /// The latest results (nil before the first frame has been analysed).
  public var snapshot: Snapshot? {
    pthread_mutex_lock(lock)
    defer { pthread_mutex_unlock(lock) }
    return latest
  }

  /// An error the worker hit since the last call (the element reports it).
  public func takeFailure() -> Error? {
    pthread_mutex_lock(lock)
    defer { pthread_mutex_unlock(lock) }
    let f = failure
    failure = nil
    return f
  }

  /// Forgets tracks and results (a new scene: new stream, new size, a seek, a
  /// discontinuity). Never waits: a pending frame is dropped, and an analysis
  /// running meanwhile (of the old scene) has its results discarded; the
  /// tracker is reset before the next analysis. Track ids keep increasing.
  /// `waitForIdle`: first wait for the worker to finish (then the analyzer
  /// is the caller's again when this returns).
  public func reset(waitForIdle: Bool = false) {
    pthread_mutex_lock(lock)
    while waitForIdle && running && !stopping && (job != nil || busy) { pthread_cond_wait(done, lock) }
    epoch += 1
    job = nil
    latest = nil
    failure = nil
    lastFrame = nil
    if busy {
      analyzerStale = true
    } else {
      analyzer.reset()
      analyzerStale = false
    }
    pthread_cond_broadcast(done)
    pthread_mutex_unlock(lock)
  }

  /// Scenes started so far (`reset` calls).
  public var scene: Int {
    pthread_mutex_lock(lock)
    defer { pthread_mutex_unlock(lock) }
    return epoch
  }

  /// Runs one analysis on the calling thread; called and returns with `lock` held.
  private func analyseLocked(_ view: ImageView, frame: Int, options: VideoAnalysisOptions) {
    let elapsed = lastFrame.map { max(1, frame - $0) } ?? 1
    lastFrame = frame
    busy = true
    let startedIn = epoch
    let resetFirst = analyzerStale
    analyzerStale = false
    pthread_mutex_unlock(lock)
    var result: Snapshot?
    var error: Error?
    do {
      if resetFirst { analyzer.reset() }
      prepare()
      let faces = try analyzer.process(view, options: options, elapsedFrames: elapsed)
      var velocities: [UInt64: (Double, Double, Double, Double)] = [:]
      for track in analyzer.tracker.tracks { velocities[track.id] = track.velocity }
      result = Snapshot(frame: frame, faces: faces, velocities: velocities)
    } catch let e {
      error = e
    }
    pthread_mutex_lock(lock)
    if startedIn == epoch {
      if let result { latest = result }
      if let error { failure = error }
    } else {
      // A reset came meanwhile: this frame belongs to the old scene.
      analyzerStale = true
    }
    busy = false
    pthread_cond_broadcast(done)
  }

  private func work() {
    pthread_mutex_lock(lock)
    while true {
      while job == nil && !stopping { pthread_cond_wait(wake, lock) }
      if stopping { break }
      let current = job!
      job = nil
      analyseLocked(copyView!, frame: current.frame, options: current.options)
    }
    pthread_mutex_unlock(lock)
  }
}
