import COpenCVBridge

/// A network loaded through the OpenCV bridge. Loading checks the files first,
/// so errors name the file; the bridge turns OpenCV's exceptions into messages.
///
/// The loaded net comes from `ModelCache`: every `DNNNetwork` of the same
/// files, format, input size and model instance (`ModelStore.modelInstance`)
/// in the process shares one, freed with the last of them. The bridge
/// serialises forwards per net (cv::dnn::Net is not re-entrant), so sharing is
/// safe; `manifest` and `spec` (preprocessing) stay this object's own.
final class DNNNetwork: @unchecked Sendable {
  struct Loaded {
    let handle: OpaquePointer
    /// Values the network gives per input item (classes, or detections x 7).
    let outputsPerItem: Int
  }

  private let loaded: SharedModel<Loaded>
  var handle: OpaquePointer { loaded.value.handle }
  let spec: agb_input_spec
  let manifest: ModelManifest
  /// Values the network gives per input item (classes, or detections x 7).
  var outputsPerItem: Int { loaded.value.outputsPerItem }

  /// `inputSize` (width, height) overrides the manifest's, for fully
  /// convolutional nets loaded once per input size (CenterFaceDetector).
  init(manifest: ModelManifest, store: ModelStore, inputSize: (width: Int, height: Int)? = nil) throws {
    let mean = manifest.mean.map(Float.init)
    let spec = agb_input_spec(
      width: Int32(inputSize?.width ?? manifest.inputWidth), height: Int32(inputSize?.height ?? manifest.inputHeight), rgb: manifest.rgb ? 1 : 0,
      mean: (mean[0], mean[1], mean[2]), scale: Float(manifest.scale))
    let (key, files) = try Self.cacheKey(manifest: manifest, store: store, width: Int(spec.width), height: Int(spec.height))
    let checkSpec = spec
    loaded = try ModelCache.shared.model(key, load: { try Self.load(manifest: manifest, files: files, spec: checkSpec) },
      free: { agb_net_free($0.handle) })
    self.manifest = manifest
    self.spec = spec
  }

  /// The cache key of a net: its files, its format, the input size it runs at, the store's model instance.
  static func cacheKey(manifest: ModelManifest, store: ModelStore, width: Int, height: Int) throws
    -> (ModelCache.Key, (weights: String, config: String?))
  {
    let files = try store.files(of: manifest)
    let identities = try ([files.weights] + (files.config.map { [$0] } ?? [])).map { path in
      guard let identity = ModelCache.FileIdentity(path: path) else {
        throw FaceAnalysisError.modelMissing(path: path, hint: store.fetchHint(group: manifest.group))
      }
      return identity
    }
    let key = ModelCache.Key(
      instance: store.modelInstance, kind: "\(manifest.format)", files: identities, inputWidth: width, inputHeight: height)
    return (key, files)
  }

  /// Whether a net of this manifest's files (as they are now) has loaded in this process, at any size.
  static func hasLoaded(manifest: ModelManifest, store: ModelStore) throws -> Bool {
    let (key, _) = try cacheKey(manifest: manifest, store: store, width: 0, height: 0)
    return ModelCache.shared.hasLoaded(kind: key.kind, files: key.files)
  }

  private static func load(manifest: ModelManifest, files: (weights: String, config: String?), spec: agb_input_spec)
    throws -> Loaded
  {
    var error = agb_error()
    let handle: OpaquePointer?
    switch manifest.format {
    case .onnx:
      handle = agb_net_load_onnx(files.weights, &error)
    case .caffe:
      handle = agb_net_load_caffe(files.config ?? "", files.weights, &error)
    case .haar, .dlib:
      throw FaceAnalysisError.modelInvalid(path: files.weights, reason: "a \(manifest.format) model is not a dnn network")
    }
    guard let handle else {
      // The weights are the usual culprit; name both files for Caffe.
      let path = files.config.map { "\(files.weights) (with \($0))" } ?? files.weights
      throw FaceAnalysisError.modelInvalid(path: path, reason: error.text)
    }
    // Caffe and ONNX readers accept some damaged files; one forward pass at load
    // time turns those into a load error naming the file (and warms the net up).
    var checkSpec = spec
    let outputs = agb_net_check(handle, &checkSpec, 1, &error)
    guard outputs > 0 else {
      agb_net_free(handle)
      throw FaceAnalysisError.modelInvalid(path: files.weights, reason: error.text)
    }
    return Loaded(handle: handle, outputsPerItem: Int(outputs))
  }
}

/// OpenCV's worker-thread pool size, shared by every network in the process.
public enum InferenceThreads {
  public static var count: Int {
    get { Int(agb_get_num_threads()) }
    set { agb_set_num_threads(Int32(newValue)) }
  }
}

/// Returns the memory of freed models to the system (see agb_release_free_memory);
/// call after dropping the detectors and classifiers.
public func releaseFreedModelMemory() {
  agb_release_free_memory()
}
