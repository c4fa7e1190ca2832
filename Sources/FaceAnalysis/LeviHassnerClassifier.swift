import COpenCVBridge

/// The original Levi & Hassner (2015) Adience age and gender Caffe nets, as the
/// OpenCV age-and-gender tutorials run them: the detector's box widened by
/// `padding` pixels on every side, clipped to the frame, stretched to 227x227
/// BGR (aspect not kept, like `blobFromImage(face, 1, (227, 227), mean)`), mean
/// (78.43, 87.77, 114.90) subtracted, scale 1.
///
/// The age net classifies eight groups, (0-2) (4-6) (8-12) (15-20) (25-32)
/// (38-43) (48-53) (60-100). Each estimate's `ageRange` is the most probable
/// group's bounds (what the tutorials print) and `age` is that group's midpoint
/// (1, 5, 10, 17.5, 28.5, 40.5, 50.5, 80), so `age` always lies inside
/// `age-min...age-max` for metadata readers and matches the drawn label. (The
/// probability-weighted mean of the midpoints was only ~1 year closer on the 18
/// exact ages of ../shared/testdata/faces, MAE 13.5 vs 14.5 on SSD boxes, and
/// often falls outside the reported group.) `femaleProbability` is the gender
/// net's Female output (its outputs are [Male, Female]: male first).
/// `ageVariance` is the group distribution's spread around `age`,
/// sum p_k (midpoint_k - age)^2.
///
/// Checked against an independent C++ reproduction of the tutorial
/// (`blobFromImage(frame(paddedBox), 1, (227, 227), mean, swapRB=false)`): the
/// same probabilities within 2e-3 on the astronaut with 0, 20 and 40 px padding
/// (this class resamples with warpAffine, and with area averaging first for
/// crops over 1.5 x 227 px; the tutorial with a bilinear resize).
///
/// All faces of an image run through each net in one batch.
public final class LeviHassnerClassifier: AgeGenderClassifier {
  private let ageNet: DNNNetwork
  private let genderNet: DNNNetwork
  private let femaleIndex: Int
  /// Context added around the detector's box on every side, in pixels (the tutorials use 20).
  public var padding: Double

  public static let defaultAgeModel = "levi-hassner-age"
  public static let defaultGenderModel = "levi-hassner-gender"
  public static let defaultPadding = 20.0

  public init(store: ModelStore, ageModel: String = defaultAgeModel, genderModel: String = defaultGenderModel,
    padding: Double = defaultPadding) throws {
    let ageManifest = try store.manifest(named: ageModel)
    let genderManifest = try store.manifest(named: genderModel)
    guard ageManifest.role == .age, !ageManifest.ageGroups.isEmpty else {
      throw FaceAnalysisError.modelInvalid(path: ageManifest.file, reason: "'\(ageModel)' is not an age-group model")
    }
    guard genderManifest.role == .gender, let female = genderManifest.labels.firstIndex(of: "female") else {
      throw FaceAnalysisError.modelInvalid(path: genderManifest.file, reason: "'\(genderModel)' is not a gender model")
    }
    ageNet = try DNNNetwork(manifest: ageManifest, store: store)
    genderNet = try DNNNetwork(manifest: genderManifest, store: store)
    guard ageNet.outputsPerItem == ageManifest.ageGroups.count else {
      throw FaceAnalysisError.modelInvalid(
        path: ageManifest.file,
        reason: "it gives \(ageNet.outputsPerItem) outputs, the manifest lists \(ageManifest.ageGroups.count) age groups")
    }
    guard genderNet.outputsPerItem == genderManifest.labels.count else {
      throw FaceAnalysisError.modelInvalid(
        path: genderManifest.file,
        reason: "it gives \(genderNet.outputsPerItem) outputs, the manifest lists \(genderManifest.labels.count) labels")
    }
    femaleIndex = female
    self.padding = padding
  }

  /// The age groups, in the age net's output order.
  public var ageGroups: [ClosedRange<Double>] { ageNet.manifest.ageGroups }

  /// The tutorial's crop: the box grown by `padding` pixels per side, clipped to
  /// the image (an empty intersection falls back to the unclipped box).
  public static func crop(for face: Box, padding: Double, imageWidth: Int, imageHeight: Int) -> Box {
    let grown = Box(x: face.x - padding, y: face.y - padding, width: face.width + 2 * padding,
      height: face.height + 2 * padding)
    let clipped = grown.clipped(width: Double(imageWidth), height: Double(imageHeight))
    return clipped.width >= 1 && clipped.height >= 1 ? clipped : grown
  }

  /// Chip pixels → image pixels for the crop stretched to `width` x `height`
  /// (pixel centres map as cv::resize maps them).
  public static func chipTransform(for crop: Box, width: Int, height: Int) -> ChipTransform {
    let sx = crop.width / Double(width), sy = crop.height / Double(height)
    return ChipTransform(a: sx, b: 0, c: crop.x + (sx - 1) / 2, d: 0, e: sy, f: crop.y + (sy - 1) / 2)
  }

  /// The age net's probabilities for each face (rows of `ageGroups.count`), with the gender net's.
  public func probabilities(_ image: ImageView, faces: [Box]) throws -> (age: [[Double]], female: [Double]) {
    if faces.isEmpty { return ([], []) }
    let crops = faces.map { Self.crop(for: $0, padding: padding, imageWidth: image.width, imageHeight: image.height) }
    let groups = ageNet.manifest.ageGroups.count
    let labels = genderNet.manifest.labels.count
    let ages = try run(ageNet, image, crops, classes: groups)
    let genders = try run(genderNet, image, crops, classes: labels)
    return (
      (0..<faces.count).map { i in (0..<groups).map { Double(ages[i * groups + $0]) } },
      (0..<faces.count).map { i in min(1, max(0, Double(genders[i * labels + femaleIndex]))) }
    )
  }

  public func classify(_ image: ImageView, faces: [Box], landmarks: [[Point]]) throws -> [AgeGenderEstimate] {
    let (ages, females) = try probabilities(image, faces: faces)
    let groups = ageNet.manifest.ageGroups
    return zip(ages, females).map { probabilities, female in
      var best = 0
      for k in probabilities.indices where probabilities[k] > probabilities[best] { best = k }
      let range = groups[best]
      let age = (range.lowerBound + range.upperBound) / 2
      // Spread of the group distribution (at the groups' midpoints) around that age.
      var variance = 0.0
      for (k, p) in probabilities.enumerated() {
        let mid = (groups[k].lowerBound + groups[k].upperBound) / 2
        variance += p * (mid - age) * (mid - age)
      }
      return AgeGenderEstimate(age: age, ageRange: range, femaleProbability: female, ageVariance: variance)
    }
  }

  private func run(_ net: DNNNetwork, _ image: ImageView, _ crops: [Box], classes: Int) throws -> [Float] {
    let width = Int(net.spec.width), height = Int(net.spec.height)
    // Buffers per call (tiny next to the nets): one classifier can serve several
    // threads, the bridge serialises the forwards per net.
    var transforms: [Float] = []
    transforms.reserveCapacity(6 * crops.count)
    for crop in crops { transforms += Self.chipTransform(for: crop, width: width, height: height).floats }
    var output = [Float](repeating: 0, count: crops.count * classes)
    var bridged = image.bridged
    var spec = net.spec
    var error = agb_error()
    let capacity = Int32(output.count)
    let got = transforms.withUnsafeBufferPointer { t in
      output.withUnsafeMutableBufferPointer { out in
        agb_classify_chips(net.handle, &bridged, t.baseAddress, Int32(crops.count), &spec, out.baseAddress,
          capacity, &error)
      }
    }
    guard got >= 0 else { throw FaceAnalysisError.inference(reason: "\(net.manifest.name): \(error.text)") }
    guard Int(got) == classes else {
      throw FaceAnalysisError.modelInvalid(
        path: net.manifest.file, reason: "it gives \(got) outputs per face, the manifest says \(classes)")
    }
    return output
  }
}
