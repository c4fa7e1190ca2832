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
      For each image the face nearest the centre is scored. The last line printed is one JSON object:
      images, detect_rate, gender_acc (on detected), gender_acc_all, age_mae_exact.
      """)

  @Argument(help: "Folder with the images and labels.csv.")
  var folder: String

  @Argument(help: "Element properties as name=value (e.g. detection-threshold=0.4).")
  var properties: [String] = []

  @Option(help: "Write per-image predictions (file,detected,gender,age) to this CSV file.")
  var predictions: String?

  @Option(help: "Folder holding libgstagegender.so (default: GST_PLUGIN_PATH, else the checkout's build/plugins).")
  var pluginPath: String?

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

    var rows = ["file,detected,gender,age"]
    var detected = 0, genderRight = 0, exactCount = 0
    var absoluteError = 0.0
    for face in faces {
      let image = try OwnedImage(contentsOf: folder + "/" + face.file)
      let found = try feeder.process(
        bgr: image.view.data, width: image.width, height: image.height, stride: image.stride
      ) { buffer -> FaceRecord? in
        let records = AgeGenderMeta.faces(of: buffer) ?? []
        let cx = Double(image.width) / 2, cy = Double(image.height) / 2
        return records.min { distance($0, cx, cy) < distance($1, cx, cy) }
      }
      if let found {
        detected += 1
        if found.gender == face.gender { genderRight += 1 }
        if let exact = face.exactAge {
          exactCount += 1
          absoluteError += abs(found.age - exact)
        }
        rows.append("\(face.file),1,\(found.gender),\(format(found.age, 2))")
      } else {
        rows.append("\(face.file),0,,")
      }
      if verbose {
        let said = found.map { "\($0.gender) \(format($0.age, 1))" } ?? "no face"
        fputs("\(face.file): \(said) (label \(face.gender) \(format(face.ageMin, 0))-\(format(face.ageMax, 0)))\n", stderr)
      }
    }
    feeder.finish()
    if let predictions {
      guard writeFile(predictions, rows.joined(separator: "\n") + "\n") else {
        throw ValidationError("cannot write \(predictions)")
      }
    }
    let n = Double(faces.count)
    let mae = exactCount > 0 ? format(absoluteError / Double(exactCount), 3) : "null"
    print(
      "{\"images\": \(faces.count), \"detect_rate\": \(format(Double(detected) / n, 4)), "
        + "\"gender_acc\": \(detected > 0 ? format(Double(genderRight) / Double(detected), 4) : "null"), "
        + "\"gender_acc_all\": \(format(Double(genderRight) / n, 4)), \"age_mae_exact\": \(mae), "
        + "\"age_exact_images\": \(exactCount)}")
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
