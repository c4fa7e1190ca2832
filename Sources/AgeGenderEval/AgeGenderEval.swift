import AgeGenderMeta
import ArgumentParser
import CGStreamer
import FaceAnalysis
import FaceImageFiles
import GstPipeline

#if canImport(Glibc)
  import Glibc
#endif

/// Scores the agegender element on a folder of labelled face images, running
/// every image through a real pipeline (appsrc ! videoconvert ! agegender ! appsink)
/// with the models loaded once.
@main
struct AgeGenderEval: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "agegender-eval",
    abstract: "Score the agegender element on labelled face images.",
    discussion: """
      FOLDER holds images and labels.csv (columns file,age,gender,age_min,age_max; others ignored).
      For each image the face nearest the centre is scored. Printed: tables per age bin, source and gender,
      the reliability of gender-confidence, and as the last line one JSON object: images, detect_rate,
      gender_acc (on detected), gender_acc_all, age_mae_exact, gender_ece, age_interval_coverage (exact ages
      inside age-min..age-max), age_interval_width.
      """)

  @Argument(help: "Folder with the images and labels.csv.")
  var folder: String

  @Argument(help: "Element properties as name=value (e.g. detection-threshold=0.4).")
  var properties: [String] = []

  @Option(help: "Write per-image predictions (\(Prediction.header)) to this CSV file.")
  var predictions: String?

  @Option(help: "Folder holding libgstagegender.so (default: GST_PLUGIN_PATH, else the checkout's build/plugins).")
  var pluginPath: String?

  @Option(help: "An earlier predictions CSV: print the faces whose result changed (gender right/wrong, found, age).")
  var compare: String?

  @Option(help: "With --compare: list age changes whose error moved by at least this many years.")
  var compareAgeThreshold = 5.0

  @Flag(help: "Print one line per image to standard error.")
  var verbose = false

  func run() throws {
    Pipeline.initialize(pluginPath: pluginPath)
    let labelsPath = folder + "/labels.csv"
    guard let text = readFile(labelsPath) else { throw ValidationError("cannot read \(labelsPath)") }
    let faces = try readLabels(labelsPath, text: text)
    guard !faces.isEmpty else { throw ValidationError("\(labelsPath) lists no images") }

    // Unrelated still images: no tracking across them (properties may override).
    let feeder = try FrameFeeder(middle: "videoconvert ! agegender name=ag draw=false tracking=false async=false") { pipeline in
      try Pipeline.applyAssignments(properties, to: try pipeline.child("ag"))
    }

    var predictionRows: [Prediction] = []
    for face in faces {
      let image = try OwnedImage(contentsOf: folder + "/" + face.file)
      let found = try feeder.process(
        bgr: image.view.data, width: image.width, height: image.height, stride: image.stride
      ) { buffer -> FaceRecord? in
        let records = AgeGenderMeta.faces(of: buffer) ?? []
        let cx = Double(image.width) / 2, cy = Double(image.height) / 2
        return records.min { distance($0, cx, cy) < distance($1, cx, cy) }
      }
      var p = Prediction(file: face.file, detected: found != nil)
      if let found {
        p.gender = found.gender
        p.age = found.age
        p.genderConfidence = found.genderConfidence
        p.ageMin = found.ageMin
        p.ageMax = found.ageMax
        p.box = (found.x, found.y, found.width, found.height)
      }
      predictionRows.append(p)
      if verbose {
        let said = found.map { "\($0.gender) \(format($0.age, 1))" } ?? "no face"
        fputs("\(face.file): \(said) (label \(face.gender) \(format(face.ageMin, 0))-\(format(face.ageMax, 0)))\n", stderr)
      }
    }
    feeder.finish()
    if let predictions {
      let text = ([Prediction.header] + predictionRows.map(\.csvRow)).joined(separator: "\n") + "\n"
      guard writeFile(predictions, text) else { throw ValidationError("cannot write \(predictions)") }
    }
    if let compare {
      print(EvalReport.comparison(faces, predictionRows, against: try Prediction.read(compare), name: compare,
        ageThreshold: compareAgeThreshold))
      print("")
    }
    print(EvalReport.tables(faces, predictionRows))
    let (reliability, ece) = EvalReport.reliability(faces, predictionRows)
    print(reliability)
    var all = GroupFigures()
    for (face, p) in zip(faces, predictionRows) { all.add(face, p) }
    func json(_ v: Double?, _ digits: Int) -> String { v.map { format($0, digits) } ?? "null" }
    print(
      "{\"images\": \(all.images), \"detect_rate\": \(format(all.foundRate, 4)), "
        + "\"gender_acc\": \(all.found > 0 ? format(Double(all.genderRight) / Double(all.found), 4) : "null"), "
        + "\"gender_acc_all\": \(format(all.genderAll, 4)), \"age_mae_exact\": \(json(all.mae, 3)), "
        + "\"age_exact_images\": \(all.exact), \"gender_ece\": \(json(ece, 4)), "
        + "\"age_interval_coverage\": \(json(all.coverage, 4)), \"age_interval_width\": \(json(all.meanWidth, 2))}")
  }
}

func distance(_ f: FaceRecord, _ cx: Double, _ cy: Double) -> Double {
  let dx = Double(f.x) + Double(f.width) / 2 - cx, dy = Double(f.y) + Double(f.height) / 2 - cy
  return dx * dx + dy * dy
}

func format(_ value: Double, _ digits: Int) -> String {
  var buffer = [CChar](repeating: 0, count: 64)
  _ = withVaList([value]) { vsnprintf(&buffer, 64, "%.\(digits)f", $0) }
  return String(cString: buffer)
}

func readFile(_ path: String) -> String? {
  guard let file = fopen(path, "rb") else { return nil }
  defer { fclose(file) }
  var bytes: [UInt8] = []
  var chunk = [UInt8](repeating: 0, count: 65536)
  while true {
    let n = fread(&chunk, 1, chunk.count, file)
    if n <= 0 { break }
    bytes += chunk[0..<n]
  }
  return String(decoding: bytes, as: UTF8.self)
}

func writeFile(_ path: String, _ text: String) -> Bool {
  guard let file = fopen(path, "wb") else { return false }
  defer { fclose(file) }
  let bytes = Array(text.utf8)
  return fwrite(bytes, 1, bytes.count, file) == bytes.count
}
