import COpenCVBridge

/// OpenCV's res10 SSD face detector (Caffe, 300x300) through cv::dnn.
///
/// The frame is letterboxed into the network input with `padding` added on every
/// side: the detector was trained on scenes, and a face that fills the whole
/// frame (a close-up, a tight crop) is missed unless it has some context.
public final class SSDFaceDetector: FaceDetector {
  private let network: DNNNetwork
  public var padding: Double
  private var results: [agb_detection]

  public static let defaultModel = "res10-ssd"

  public init(store: ModelStore, model: String = SSDFaceDetector.defaultModel, padding: Double = 0.25,
    capacity: Int = 256) throws {
    let manifest = try store.manifest(named: model)
    guard manifest.role == .detector else {
      throw FaceAnalysisError.modelInvalid(path: manifest.file, reason: "model '\(model)' is not a detector")
    }
    network = try DNNNetwork(manifest: manifest, store: store)
    self.padding = padding
    results = Array(repeating: agb_detection(), count: capacity)
  }

  public func detect(in image: ImageView, threshold: Double) throws -> [Detection] {
    var bridged = image.bridged
    var spec = network.spec
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
