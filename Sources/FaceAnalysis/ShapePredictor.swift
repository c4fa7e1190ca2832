/// dlib's shape predictor (an ensemble of regression trees, Kazemi & Sullivan
/// 2014), read from dlib's own serialisation and run as dlib 19.x runs it
/// (dlib/image_processing/shape_predictor.h) on a cv_image<bgr_pixel>.
///
/// Trees and leaves live in a few flat arrays (5.8 MB for the 5-point model;
/// dlib's heap matrix per leaf cost ~16 MB of the element's RSS), and pixels
/// are read straight from the caller's frame in any packed layout, without the
/// BGR copy of the frame that dlib needed.
public struct ShapePredictor: Sendable {
  /// Landmarks per shape.
  public let partCount: Int
  /// The mean shape in box-normalised coordinates: x0, y0, x1, y1, ...
  private let initialShape: [Float]
  /// Cascade c owns features featureStart[c]..<featureStart[c + 1] and trees
  /// treeStart[c]..<treeStart[c + 1].
  private let featureStart: [Int]
  private let treeStart: [Int]
  private let maxFeatureCount: Int
  /// Per feature pixel: the part it hangs off and its offset (dx, dy) from that
  /// part in the initial shape.
  private let anchors: [UInt32]
  private let deltas: [Float]
  /// Tree t owns splits splitStart[t]..<splitStart[t + 1] (heap order, a full
  /// tree) and the splitCount + 1 leaves from splitStart[t] + t on.
  private let splitStart: [Int]
  /// Per split: the two feature indices (within its cascade) and the threshold.
  private let splitFeatures: [UInt16]
  private let thresholds: [Float]
  /// partCount * 2 floats per leaf.
  private let leaves: [Float]
  /// The initial shape's points less their mean, and their mean squared norm
  /// (the fixed half of every cascade's similarity transform).
  private let centredReference: [Double]
  private let referenceVariance: Double

  /// Reads a serialised dlib::shape_predictor. Every malformed input throws
  /// FaceAnalysisError.modelInvalid naming `path`.
  public init(contentsOf path: String) throws {
    self = try FileSystem.withFileBytes(path, limit: 1 << 30) { bytes in
      guard let bytes else { throw FaceAnalysisError.modelInvalid(path: path, reason: "cannot read the file") }
      return try ShapePredictor(serialized: bytes, path: path)
    }
  }

  /// `path` only names the source in errors.
  public init(serialized bytes: [UInt8], path: String) throws {
    self = try bytes.withUnsafeBytes { try ShapePredictor(serialized: $0, path: path) }
  }

  /// `path` only names the source in errors.
  public init(serialized bytes: UnsafeRawBufferPointer, path: String) throws {
    do {
      try self.init(reading: bytes)
    } catch let error as DlibFormatError {
      throw FaceAnalysisError.modelInvalid(path: path, reason: "not a dlib shape predictor: \(error.reason)")
    }
  }

  private init(reading raw: UnsafeRawBufferPointer) throws {
    if raw.isEmpty { throw DlibFormatError(reason: "the file is empty") }
    var reader = DlibReader(raw)
    reader.context = "the version"
    let version = try reader.signed(width: 4)
    guard version == 1 else { throw DlibFormatError(reason: "unexpected version \(version) (expected 1)") }

    reader.context = "the initial shape"
    let shapeLength = try reader.columnVectorLength()
    guard shapeLength > 0 && shapeLength % 2 == 0 else {
      throw DlibFormatError(reason: "the initial shape has \(shapeLength) values, expected a positive even number")
    }
    var initialShape = [Float]()
    initialShape.reserveCapacity(shapeLength)
    for _ in 0..<shapeLength { initialShape.append(try Self.finite(reader.float())) }

    // forests: vector<vector<regression_tree>>, regression_tree = splits, leaf_values.
    let sizes = try Self.forestSizes(reader)
    var treeStart = [0], splitStart = [0]
    var splitFeatures = [UInt16](), thresholds = [Float](), leaves = [Float]()
    treeStart.reserveCapacity(sizes.cascades + 1)
    splitStart.reserveCapacity(sizes.trees + 1)
    splitFeatures.reserveCapacity(2 * sizes.splits)
    thresholds.reserveCapacity(sizes.splits)
    leaves.reserveCapacity(sizes.leafValues)
    reader.context = "the cascade list"
    let cascades = try reader.count(minimumElementBytes: 2)
    for c in 0..<cascades {
      reader.context = "cascade \(c)"
      let trees = try reader.count(minimumElementBytes: 4)
      for t in 0..<trees {
        reader.context = "tree \(t) of cascade \(c)"
        let splits = try reader.count(minimumElementBytes: 8)
        for _ in 0..<splits {
          let idx1 = try reader.unsigned(), idx2 = try reader.unsigned()
          // Checked against the cascade's feature count once that is read.
          // dlib's feature pools hold hundreds of pixels; 16 bits save 0.45 MB.
          guard idx1 <= UInt16.max && idx2 <= UInt16.max else {
            throw DlibFormatError(reason: "\(reader.context) splits on feature \(max(idx1, idx2)), beyond the 65,536 supported")
          }
          splitFeatures.append(UInt16(idx1))
          splitFeatures.append(UInt16(idx2))
          thresholds.append(try Self.finite(reader.float()))
        }
        splitStart.append(thresholds.count)
        let leafCount = try reader.count(minimumElementBytes: 4)
        // dlib walks the splits as a full binary tree in heap order: it lands on
        // leaf i - splits for some i in splits...2 * splits.
        guard leafCount == splits + 1 else {
          throw DlibFormatError(reason: "\(reader.context) has \(splits) splits but \(leafCount) leaves")
        }
        for _ in 0..<leafCount {
          let length = try reader.columnVectorLength()
          guard length == shapeLength else {
            throw DlibFormatError(reason: "a leaf of \(reader.context) has \(length) values, the shape \(shapeLength)")
          }
          for _ in 0..<length { leaves.append(try Self.finite(reader.float())) }
        }
      }
      treeStart.append(treeStart[c] + trees)
    }

    // anchor_idx: vector<vector<unsigned long>>; deltas: vector<vector<vector<float,2>>>.
    let partCount = shapeLength / 2
    var featureStart = [0], anchors = [UInt32]()
    reader.context = "the anchor lists"
    guard try reader.count(minimumElementBytes: 2) == cascades else {
      throw DlibFormatError(reason: "the anchor lists do not match the \(cascades) cascades")
    }
    for c in 0..<cascades {
      reader.context = "the anchors of cascade \(c)"
      let features = try reader.count(minimumElementBytes: 2)
      for _ in 0..<features {
        let part = try reader.unsigned()
        guard part < UInt64(partCount) else {
          throw DlibFormatError(reason: "cascade \(c) anchors a feature on part \(part) of \(partCount)")
        }
        anchors.append(UInt32(part))
      }
      featureStart.append(anchors.count)
    }
    var deltas = [Float]()
    deltas.reserveCapacity(anchors.count * 2)
    reader.context = "the delta lists"
    guard try reader.count(minimumElementBytes: 2) == cascades else {
      throw DlibFormatError(reason: "the delta lists do not match the \(cascades) cascades")
    }
    for c in 0..<cascades {
      reader.context = "the deltas of cascade \(c)"
      let features = featureStart[c + 1] - featureStart[c]
      guard try reader.count(minimumElementBytes: 8) == features else {
        throw DlibFormatError(reason: "cascade \(c) has \(features) anchors but a different number of deltas")
      }
      for _ in 0..<(features * 2) { deltas.append(try Self.finite(reader.float())) }
      for t in treeStart[c]..<treeStart[c + 1] {
        for s in splitStart[t]..<splitStart[t + 1] where max(splitFeatures[2 * s], splitFeatures[2 * s + 1]) >= features {
          throw DlibFormatError(
            reason: "tree \(t - treeStart[c]) of cascade \(c) splits on feature "
              + "\(max(splitFeatures[2 * s], splitFeatures[2 * s + 1])) of \(features)")
        }
      }
    }
    // dlib ignores whatever follows; so does this reader.

    self.partCount = partCount
    self.initialShape = initialShape
    self.featureStart = featureStart
    maxFeatureCount = zip(featureStart.dropFirst(), featureStart).map { $0 - $1 }.max() ?? 0
    self.treeStart = treeStart
    self.anchors = anchors
    self.deltas = deltas
    self.splitStart = splitStart
    self.splitFeatures = splitFeatures
    self.thresholds = thresholds
    self.leaves = leaves
    // find_similarity_transform's "from" half, in double as dlib computes it.
    let (meanX, meanY) = Self.centroid(initialShape, parts: partCount)
    var centred = [Double](repeating: 0, count: shapeLength), variance = 0.0
    for p in 0..<partCount {
      centred[2 * p] = Double(initialShape[2 * p]) - meanX
      centred[2 * p + 1] = Double(initialShape[2 * p + 1]) - meanY
      variance += centred[2 * p] * centred[2 * p] + centred[2 * p + 1] * centred[2 * p + 1]
    }
    centredReference = centred
    referenceVariance = variance / Double(partCount)
  }

  /// A first pass over the forests: their sizes, so that the flat arrays are
  /// allocated once (growing them left ~0.7 MB of freed blocks resident).
  private static func forestSizes(_ start: DlibReader) throws -> (cascades: Int, trees: Int, splits: Int, leafValues: Int) {
    var reader = start
    var trees = 0, splits = 0, leafValues = 0
    reader.context = "the cascade list"
    let cascades = try reader.count(minimumElementBytes: 2)
    for c in 0..<cascades {
      reader.context = "cascade \(c)"
      let count = try reader.count(minimumElementBytes: 4)
      trees += count
      for _ in 0..<count {
        let splitCount = try reader.count(minimumElementBytes: 8)
        splits += splitCount
        for _ in 0..<splitCount {
          _ = try reader.unsigned()
          _ = try reader.unsigned()
          try reader.skipFloat()
        }
        for _ in 0..<(try reader.count(minimumElementBytes: 4)) {
          let length = try reader.columnVectorLength()
          leafValues += length
          for _ in 0..<length { try reader.skipFloat() }
        }
      }
    }
    return (cascades, trees, splits, leafValues)
  }

  /// dlib would load infinities and NaNs; a trained model holds none, and
  /// rejecting them keeps every coordinate finite downstream.
  private static func finite(_ value: Float) throws -> Float {
    guard value.isFinite else { throw DlibFormatError(reason: "the model holds a non-finite value (\(value))") }
    return value
  }

  /// Bytes held by the model's arrays.
  public var storageBytes: Int {
    (initialShape.count + deltas.count + thresholds.count + leaves.count) * 4
      + anchors.count * 4 + splitFeatures.count * 2 + centredReference.count * 8
      + (featureStart.count + treeStart.count + splitStart.count) * 8
  }

  public var cascadeCount: Int { treeStart.count - 1 }
  public var treeCount: Int { treeStart.last ?? 0 }

  /// The shape inside `box` (image pixels), one point per part, rounded to
  /// whole pixels as dlib's full_object_detection holds them.
  ///
  /// The box becomes dlib's rectangle as the C bridge made it: corners
  /// lround(x), lround(y), lround(x + width) - 1, lround(y + height) - 1 in float.
  public func shape(in image: ImageView, box: Box) throws -> [(x: Double, y: Double)] {
    guard image.width > 0 && image.height > 0 else { throw FaceAnalysisError.inference(reason: "landmarks: empty image") }
    guard image.chroma == nil else {
      throw FaceAnalysisError.inference(reason: "landmarks: a planar YUV frame needs converting to BGR first")
    }
    guard image.stride >= image.width * image.format.bytesPerPixel else {
      throw FaceAnalysisError.inference(reason: "landmarks: row stride \(image.stride) shorter than a row")
    }
    let x = Float(box.x), y = Float(box.y)
    let left = Self.lround(x), top = Self.lround(y)
    // unnormalizing_tform(rect): (0,0) -> top-left corner, (1,1) -> bottom-right.
    let frame = BoxFrame(
      left: left, top: top, right: Self.lround(x + Float(box.width)) - 1, bottom: Self.lround(y + Float(box.height)) - 1)
    let pixels = PixelReader(image)

    var shape = initialShape
    var values = [Float](repeating: 0, count: maxFeatureCount)
    shape.withUnsafeMutableBufferPointer { shape in
      values.withUnsafeMutableBufferPointer { values in
        for cascade in 0..<cascadeCount {
          extractFeatures(cascade, shape: UnsafeBufferPointer(shape), frame: frame, pixels: pixels, into: values)
          addTrees(cascade, values: UnsafeBufferPointer(values), to: shape)
        }
      }
    }
    return (0..<partCount).map { p in
      let (px, py) = frame.map(shape[2 * p], shape[2 * p + 1])
      return ((px + 0.5).rounded(.down), (py + 0.5).rounded(.down))
    }
  }

  /// Mean point of a shape stored as x0, y0, x1, y1, ..., summed in double as dlib does.
  private static func centroid<C: RandomAccessCollection>(_ shape: C, parts: Int) -> (Double, Double)
  where C.Element == Float, C.Index == Int {
    var meanX = 0.0, meanY = 0.0
    for p in 0..<parts {
      meanX += Double(shape[shape.startIndex + 2 * p])
      meanY += Double(shape[shape.startIndex + 2 * p + 1])
    }
    return (meanX / Double(parts), meanY / Double(parts))
  }

  /// extract_feature_pixel_values: each feature pixel, placed relative to its
  /// anchor part of the current shape, read as (r + g + b) / 3, or 0 outside the image.
  private func extractFeatures(
    _ cascade: Int, shape: UnsafeBufferPointer<Float>, frame: BoxFrame, pixels: PixelReader,
    into values: UnsafeMutableBufferPointer<Float>
  ) {
    // find_tform_between_shapes(initial, current): the least-squares similarity
    // (Umeyama; the closed form for 2-D), only its 2x2 part, cast to float.
    var m00: Float = 1, m01: Float = 0, m10: Float = 0, m11: Float = 1
    if partCount > 1 && referenceVariance != 0 {
      let (meanX, meanY) = Self.centroid(shape, parts: partCount)
      var dot = 0.0, cross = 0.0
      for p in 0..<partCount {
        let fx = centredReference[2 * p], fy = centredReference[2 * p + 1]
        let tx = Double(shape[2 * p]) - meanX, ty = Double(shape[2 * p + 1]) - meanY
        dot += tx * fx + ty * fy
        cross += ty * fx - tx * fy
      }
      let n = Double(partCount)
      let a = dot / n / referenceVariance, b = cross / n / referenceVariance
      m00 = Float(a)
      m01 = Float(-b)
      m10 = Float(b)
      m11 = Float(a)
    }
    anchors.withUnsafeBufferPointer { anchors in
      deltas.withUnsafeBufferPointer { deltas in
        let first = featureStart[cascade]
        for i in 0..<(featureStart[cascade + 1] - first) {
          let f = first + i
          let part = Int(anchors[f])
          let dx = deltas[2 * f], dy = deltas[2 * f + 1]
          // In float as dlib: tform * delta + location(current_shape, anchor).
          let sx = (m00 * dx + m01 * dy) + shape[2 * part]
          let sy = (m10 * dx + m11 * dy) + shape[2 * part + 1]
          let (px, py) = frame.map(sx, sy)
          values[i] = Float(pixels.intensity(x: (px + 0.5).rounded(.down), y: (py + 0.5).rounded(.down)))
        }
      }
    }
  }

  /// Runs every tree of the cascade and adds the leaves it lands on to the shape.
  private func addTrees(_ cascade: Int, values: UnsafeBufferPointer<Float>, to shape: UnsafeMutableBufferPointer<Float>) {
    splitFeatures.withUnsafeBufferPointer { features in
      thresholds.withUnsafeBufferPointer { thresholds in
        leaves.withUnsafeBufferPointer { leaves in
          let length = shape.count
          for tree in treeStart[cascade]..<treeStart[cascade + 1] {
            let first = splitStart[tree], splits = splitStart[tree + 1] - first
            var node = 0
            while node < splits {
              let s = first + node
              let difference = values[Int(features[2 * s])] - values[Int(features[2 * s + 1])]
              node = difference > thresholds[s] ? 2 * node + 1 : 2 * node + 2
            }
            let leaf = (first + tree + node - splits) * length
            for k in 0..<length { shape[k] += leaves[leaf + k] }
          }
        }
      }
    }
  }

  /// C's lround on a float (halves away from zero), kept in a Double so that no
  /// box, however absurd, can trap an integer conversion.
  private static func lround(_ value: Float) -> Double {
    value.isFinite ? Double(value.rounded(.toNearestOrAwayFromZero)) : 0
  }
}

/// dlib's unnormalizing_tform(rect) for rect (left, top, right, bottom): the
/// affine map (0,0) -> (left, top), (1,0) -> (right, top), (1,1) -> (right, bottom),
/// which find_affine_transform computes as Q * pinv(P) in double.
///
/// pinv(P) below is, to the bit, what dlib's pinv (LAPACK SVD; Debian's reference
/// LAPACK) gives for those unit points; with it the map matches dlib's bit for
/// bit (checked on 6.6 million rectangles). The exact inverse is ~1e-14 px off
/// dlib, enough to round a feature pixel that lies on a half pixel the other
/// way (1 box in 408 real ones ended 1 px apart).
private struct BoxFrame {
  private static let pinv: [[Double]] = [
    [-0x1.0000000000001p+0, -0x1.8p-51, 0x1.0000000000002p+0],
    [0x1.ffffffffffffep-1, -0x1.ffffffffffffcp-1, 0x1p-53],
    [0x1p-54, 0x1.ffffffffffffep-1, 0x1p-54],
  ]
  /// x = m00 u + m01 v + bx, y = m10 u + m11 v + by.
  let m00, m01, bx, m10, m11, by: Double

  init(left: Double, top: Double, right: Double, bottom: Double) {
    let q = [[left, right, right], [top, top, bottom]]
    // Each entry summed in dlib's order.
    func entry(_ i: Int, _ j: Int) -> Double {
      var sum = q[i][0] * Self.pinv[0][j]
      sum += q[i][1] * Self.pinv[1][j]
      sum += q[i][2] * Self.pinv[2][j]
      return sum
    }
    (m00, m01, bx) = (entry(0, 0), entry(0, 1), entry(0, 2))
    (m10, m11, by) = (entry(1, 0), entry(1, 1), entry(1, 2))
  }

  func map(_ u: Float, _ v: Float) -> (Double, Double) {
    let u = Double(u), v = Double(v)
    return ((m00 * u + m01 * v) + bx, (m10 * u + m11 * v) + by)
  }
}

/// Reads dlib's get_pixel_intensity of a bgr_pixel, (r + g + b) / 3 in
/// integers, from any packed layout; pixels outside the image read 0.
private struct PixelReader {
  let base: UnsafeRawPointer
  let stride: Int
  let step: Int
  /// Offset of the first of the three colour bytes (which order they are in
  /// does not matter to a sum); nil for grey.
  let colour: Int?
  let maxX: Double
  let maxY: Double

  init(_ image: ImageView) {
    base = UnsafeRawPointer(image.data)
    stride = image.stride
    step = image.format.bytesPerPixel
    switch image.format {
    case .gray8: colour = nil
    case .xbgr, .abgr, .xrgb, .argb: colour = 1
    default: colour = 0
    }
    maxX = Double(image.width - 1)
    maxY = Double(image.height - 1)
  }

  /// x, y are whole numbers (or anything: NaN and far-away values are outside).
  func intensity(x: Double, y: Double) -> UInt32 {
    guard x >= 0 && x <= maxX && y >= 0 && y <= maxY else { return 0 }
    let p = base + (Int(y) * stride + Int(x) * step)
    guard let colour else { return UInt32(p.load(as: UInt8.self)) }
    let sum = UInt32(p.load(fromByteOffset: colour, as: UInt8.self)) + UInt32(p.load(fromByteOffset: colour + 1, as: UInt8.self))
      + UInt32(p.load(fromByteOffset: colour + 2, as: UInt8.self))
    return sum / 3
  }
}
