import COpenCVBridge

/// A network loaded through the OpenCV bridge. Loading checks the files first,
/// so errors name the file; the bridge turns OpenCV's exceptions into messages.
final class DNNNetwork: @unchecked Sendable {
  // The bridge serialises forwards per network, so sharing one instance is safe.
  let handle: OpaquePointer
  let spec: agb_input_spec
  let manifest: ModelManifest

  /// `inputSize` (width, height) overrides the manifest's, for fully
  /// convolutional nets loaded once per input size (CenterFaceDetector).
  init(manifest: ModelManifest, store: ModelStore, inputSize: (width: Int, height: Int)? = nil) throws {
    let files = try store.files(of: manifest)
    var error = agb_error()
    let loaded: OpaquePointer?
    switch manifest.format {
    case .onnx:
      loaded = agb_net_load_onnx(files.weights, &error)
    case .caffe:
      loaded = agb_net_load_caffe(files.config ?? "", files.weights, &error)
    case .haar, .dlib:
      throw FaceAnalysisError.modelInvalid(path: files.weights, reason: "a \(manifest.format) model is not a dnn network")
    }
    guard let loaded else {
      // The weights are the usual culprit; name both files for Caffe.
      let path = files.config.map { "\(files.weights) (with \($0))" } ?? files.weights
      throw FaceAnalysisError.modelInvalid(path: path, reason: error.text)
    }
    let mean = manifest.mean.map(Float.init)
    var spec = agb_input_spec(
      width: Int32(inputSize?.width ?? manifest.inputWidth), height: Int32(inputSize?.height ?? manifest.inputHeight), rgb: manifest.rgb ? 1 : 0,
      mean: (mean[0], mean[1], mean[2]), scale: Float(manifest.scale))
    // Caffe and ONNX readers accept some damaged files; one forward pass at load
    // time turns those into a load error naming the file (and warms the net up).
    let outputs = agb_net_check(loaded, &spec, 1, &error)
    guard outputs > 0 else {
      agb_net_free(loaded)
      throw FaceAnalysisError.modelInvalid(path: files.weights, reason: error.text)
    }
    handle = loaded
    self.manifest = manifest
    self.spec = spec
    self.outputsPerItem = Int(outputs)
  }

  /// Values the network gives per input item (classes, or detections x 7).
  let outputsPerItem: Int

  deinit { agb_net_free(handle) }
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
