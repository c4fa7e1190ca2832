import COpenCVBridge
import Glibc

/// The CC0 Cydral age (81 classes, age = expected value) and gender nets from
/// dlib-models, run through cv::dnn on chips cut around each face.
public final class CydralAgeGenderClassifier: AgeGenderClassifier {
  private let ageNet: DNNNetwork
  private let genderNet: DNNNetwork
  private let femaleIndex: Int
  public var geometry: any FaceChipGeometry
  /// Which chips each net reads per face (test-time augmentation); see
  /// `ChipAugmentation` for what each costs and gains.
  public var augmentation = ChipAugmentation.defaultValue
  /// Pixels beyond the image's edge (a face at the border, a tight crop).
  public var border = ChipBorder.defaultValue
  /// Off: the nets' own probabilities and no age interval (for fitting the calibration).
  public var calibrated = true
  private var placements: [FacePlacement] = []
  private var chips: [agb_face_chip] = []
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
    let ageClasses = ageNet.manifest.ageValues.count
    let ages = try run(ageNet, image, classes: ageClasses, variants: augmentation.ageVariants)
    let genders = try run(genderNet, image, classes: genderNet.manifest.labels.count,
      variants: augmentation.genderVariants)
    let ageValues = ageNet.manifest.ageValues
    let calibration = augmentation.calibration
    return (0..<faces.count).map { i in
      // Age: the variants' probabilities averaged, then the expected value.
      let ageVariants = augmentation.ageVariants.count
      var age = 0.0, second = 0.0
      for (k, value) in ageValues.enumerated() {
        var p = 0.0
        for v in 0..<ageVariants { p += Double(ages[(i * ageVariants + v) * ageClasses + k]) }
        p /= Double(ageVariants)
        age += p * value
        second += p * value * value
      }
      // Gender: the variants' log-odds averaged.
      let genderVariants = augmentation.genderVariants.count
      var logit = 0.0
      for v in 0..<genderVariants {
        let row = (i * genderVariants + v) * 2
        let female = Double(genders[row + femaleIndex]), male = Double(genders[row + 1 - femaleIndex])
        logit += log(max(female, 1e-7)) - log(max(male, 1e-7))
      }
      logit /= Double(genderVariants)
      let female =
        calibrated ? calibration.gender.femaleProbability(logOdds: logit, netAge: age) : 1 / (1 + exp(-logit))
      let variance = max(0, second - age * age)
      guard calibrated else { return AgeGenderEstimate(age: age, femaleProbability: female, ageVariance: variance) }
      let calibratedAge = calibration.age.age(age)
      return AgeGenderEstimate(
        age: calibratedAge, femaleProbability: min(1, max(0, female)), ageVariance: variance,
        ageInterval: calibration.ageInterval.interval(around: calibratedAge))
    }
  }

  /// The net's outputs for every face and variant: face i's variant v is row
  /// i * variants.count + v.
  private func run(_ net: DNNNetwork, _ image: ImageView, classes: Int, variants: [ChipVariant]) throws -> [Float] {
    let size = Int(net.spec.width)
    chips.removeAll(keepingCapacity: true)
    for placement in placements {
      let chip = FaceChip(placement, size: size, padding: net.manifest.chipPadding)
      for variant in variants { chips.append(variant.apply(to: chip).bridged) }
    }
    let count = chips.count
    if output.count < count * classes { output = Array(repeating: 0, count: count * classes) }
    var bridged = image.bridged
    var spec = net.spec
    var error = agb_error()
    let capacity = Int32(output.count)
    let got = chips.withUnsafeBufferPointer { c in
      output.withUnsafeMutableBufferPointer { out in
        agb_classify_face_chips(net.handle, &bridged, c.baseAddress, Int32(count), border.rawValue, &spec,
          out.baseAddress, capacity, &error)
      }
    }
    guard got >= 0 else { throw FaceAnalysisError.inference(reason: "\(net.manifest.name): \(error.text)") }
    guard Int(got) == classes else {
      throw FaceAnalysisError.modelInvalid(
        path: net.manifest.file, reason: "it gives \(got) outputs per face, the manifest says \(classes)")
    }
    return Array(output.prefix(count * classes))
  }
}
