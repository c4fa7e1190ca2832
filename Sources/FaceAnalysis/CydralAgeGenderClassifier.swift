import COpenCVBridge

/// The CC0 Cydral age (81 classes, age = expected value) and gender nets from
/// dlib-models, run through cv::dnn on chips cut around each face.
public final class CydralAgeGenderClassifier: AgeGenderClassifier {
  private let ageNet: DNNNetwork
  private let genderNet: DNNNetwork
  private let femaleIndex: Int
  public var geometry: any FaceChipGeometry
  /// The age is read from the chip and its mirror image, their probabilities
  /// averaged. Measured on ../shared/testdata/faces (aligned chips): age MAE
  /// 7.75 -> 7.52 years, gender unchanged (83.3%), and the largest age SD of a
  /// shown age on the shared clips 2.16 -> 1.55; for the gender net the same
  /// averaging cost two images (79.6%), so it reads the chip alone.
  public var mirrorAveragedAge = true
  private var placements: [FacePlacement] = []
  private var transforms: [Float] = []
  private var output: [Float] = []

  public static let defaultAgeModel = "cydral-age"
  public static let defaultGenderModel = "cydral-gender"

  public init(store: ModelStore, ageModel: String = defaultAgeModel, genderModel: String = defaultGenderModel,
    geometry: any FaceChipGeometry = BoxChipGeometry()) throws {
    let ageManifest = try store.manifest(named: ageModel)
    let genderManifest = try store.manifest(named: genderModel)
    guard ageManifest.role == .age, !ageManifest.ageValues.isEmpty else {
      throw FaceAnalysisError.modelInvalid(path: ageManifest.file, reason: "'\(ageModel)' is not an age-value model")
    }
    guard genderManifest.role == .gender, let female = genderManifest.labels.firstIndex(of: "female") else {
      throw FaceAnalysisError.modelInvalid(path: genderManifest.file, reason: "'\(genderModel)' is not a gender model")
    }
    ageNet = try DNNNetwork(manifest: ageManifest, store: store)
    genderNet = try DNNNetwork(manifest: genderManifest, store: store)
    // The load-time forward pass tells how many outputs each net really has.
    for (net, expected) in [(ageNet, ageManifest.ageValues.count), (genderNet, genderManifest.labels.count)]
    where net.outputsPerItem != expected {
      throw FaceAnalysisError.modelInvalid(
        path: (try? store.files(of: net.manifest).weights) ?? net.manifest.file,
        reason: "it gives \(net.outputsPerItem) outputs per face, its manifest describes \(expected)")
    }
    femaleIndex = female
    self.geometry = geometry
  }

  public func classify(_ image: ImageView, faces: [Box], landmarks: [[Point]]) throws -> [AgeGenderEstimate] {
    if faces.isEmpty { return [] }
    placements = try geometry.placements(for: faces, landmarks: landmarks, in: image)
    let ages = try run(ageNet, image, faces, classes: ageNet.manifest.ageValues.count, mirrored: mirrorAveragedAge)
    let genders = try run(genderNet, image, faces, classes: genderNet.manifest.labels.count, mirrored: false)
    let ageValues = ageNet.manifest.ageValues
    return (0..<faces.count).map { i in
      var age = 0.0, second = 0.0
      for (k, value) in ageValues.enumerated() {
        let p = Double(ages[i * ageValues.count + k])
        age += p * value
        second += p * value * value
      }
      let female = Double(genders[i * 2 + femaleIndex])
      return AgeGenderEstimate(
        age: age, femaleProbability: min(1, max(0, female)), ageVariance: max(0, second - age * age))
    }
  }

  /// The net's outputs per face; `mirrored`: averaged with those of each chip's mirror image.
  private func run(_ net: DNNNetwork, _ image: ImageView, _ faces: [Box], classes: Int, mirrored: Bool) throws
    -> [Float]
  {
    let size = Int(net.spec.width)
    let chips = placements.map { $0.chipTransform(size: size, padding: net.manifest.chipPadding) }
    transforms.removeAll(keepingCapacity: true)
    for chip in chips { transforms += chip.floats }
    if mirrored {
      for chip in chips { transforms += chip.mirrored(chipSize: size).floats }
    }
    let count = mirrored ? 2 * faces.count : faces.count
    if output.count < count * classes { output = Array(repeating: 0, count: count * classes) }
    var bridged = image.bridged
    var spec = net.spec
    var error = agb_error()
    let capacity = Int32(output.count)
    let got = transforms.withUnsafeBufferPointer { t in
      output.withUnsafeMutableBufferPointer { out in
        agb_classify_chips(net.handle, &bridged, t.baseAddress, Int32(count), &spec, out.baseAddress,
          capacity, &error)
      }
    }
    guard got >= 0 else { throw FaceAnalysisError.inference(reason: "\(net.manifest.name): \(error.text)") }
    guard Int(got) == classes else {
      throw FaceAnalysisError.modelInvalid(
        path: net.manifest.file, reason: "it gives \(got) outputs per face, the manifest says \(classes)")
    }
    let n = faces.count * classes
    return mirrored ? (0..<n).map { (output[$0] + output[n + $0]) / 2 } : Array(output.prefix(n))
  }
}
