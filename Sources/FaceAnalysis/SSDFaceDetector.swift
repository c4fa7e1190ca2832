import COpenCVBridge

/// OpenCV's res10 SSD face detector (Caffe, trained at 300x300) through cv::dnn.
///
/// The network is fully convolutional, so the input keeps the frame's aspect
/// ratio: its shorter side is `inputSize` pixels (larger finds smaller faces, at
/// a cost that grows with the area). A face that fills the whole frame (a
/// close-up, a tight crop) has no context and is missed; when a frame yields
/// nothing, a second, cheap low-resolution pass looks again with a wide border
/// around the frame (`closeUpPadding`), which finds exactly those faces.
public final class SSDFaceDetector: FaceDetector {
  private let network: DNNNetwork
  public var inputSize: Int
  /// Border around the frame in the main pass, a fraction of each side.
  public var padding: Double
  /// Border of the close-up pass; 0 turns that pass off.
  public var closeUpPadding: Double
  /// Shorter side of the close-up pass's input (its faces are large).
  public var closeUpInputSize: Int = 160
  private var results: [agb_detection]

  public static let defaultModel = "res10-ssd"

  public init(store: ModelStore, model: String = SSDFaceDetector.defaultModel, inputSize: Int = 300,
    padding: Double = 0, closeUpPadding: Double = 0.3, capacity: Int = 256) throws {
    let manifest = try store.manifest(named: model)
    guard manifest.role == .detector, manifest.format != .haar else {
      throw FaceAnalysisError.modelInvalid(path: manifest.file, reason: "model '\(model)' is not a dnn face detector")
    }
    network = try DNNNetwork(manifest: manifest, store: store)
    self.inputSize = inputSize
    self.padding = padding
    self.closeUpPadding = closeUpPadding
    results = Array(repeating: agb_detection(), count: capacity)
  }

  /// Network input size for a frame: aspect kept, shorter side `shortSide`,
  /// the longer side capped at four times that (very wide panoramas).
  public static func inputDimensions(width: Int, height: Int, padding: Double, shortSide: Int) -> (Int, Int) {
    let pw = Double(width) * (1 + 2 * padding), ph = Double(height) * (1 + 2 * padding)
    let scale = Double(shortSide) / max(1, min(pw, ph))
    let cap = Double(shortSide * 4)
    return (Int(min(cap, max(1, (pw * scale).rounded()))), Int(min(cap, max(1, (ph * scale).rounded()))))
  }

  public func detect(in image: ImageView, threshold: Double) throws -> [Detection] {
    let found = try run(image, threshold: threshold, padding: padding, shortSide: inputSize)
    if !found.isEmpty || closeUpPadding <= 0 { return found }
    return try run(image, threshold: threshold, padding: closeUpPadding, shortSide: min(inputSize, closeUpInputSize))
  }

  private func run(_ image: ImageView, threshold: Double, padding: Double, shortSide: Int) throws -> [Detection] {
    var bridged = image.bridged
    var spec = network.spec
    let (w, h) = Self.inputDimensions(width: image.width, height: image.height, padding: padding, shortSide: shortSide)
    spec.width = Int32(w)
    spec.height = Int32(h)
    var error = agb_error()
    let capacity = Int32(results.count)
    let count = results.withUnsafeMutableBufferPointer { out in
      agb_ssd_detect(network.handle, &bridged, &spec, Float(padding), Float(threshold), out.baseAddress,
        capacity, &error)
    }
    guard count >= 0 else { throw FaceAnalysisError.inference(reason: "face detector: \(error.text)") }
    return results.prefix(Int(count)).map {
      Detection(
        box: Box(x: Double($0.x), y: Double($0.y), width: Double($0.width), height: Double($0.height)),
        confidence: Double($0.score))
    }
  }
}
