/// A model's description (`Models/NAME.model`): where its weights come from,
/// how to feed it and how to read its output. One `key = value` per line,
/// `#` comments. The fetch script reads the same files.
public struct ModelManifest: Sendable, Equatable {
  public enum Role: String, Sendable { case detector, age, gender, ageGender = "age-gender", landmarks }
  public enum Format: String, Sendable { case onnx, caffe, haar, dlib }

  public var name: String
  public var role: Role
  public var format: Format
  /// Weights file, relative to the model directory's `weights/` folder (or absolute).
  public var file: String
  /// Second file some formats need (a Caffe prototxt).
  public var configFile: String?
  /// The fetch group (`make models` fetches `default`).
  public var group: String
  public var inputWidth: Int
  public var inputHeight: Int
  /// Channel order the network expects.
  public var rgb: Bool
  /// Per-channel mean in the network's channel order.
  public var mean: [Double]
  public var scale: Double
  public var labels: [String]
  /// Age in years of each output class, for age nets read as an expected value.
  public var ageValues: [Double]
  /// Age group bounds per class ("0-2 4-6 ..."), for nets that classify age groups.
  public var ageGroups: [ClosedRange<Double>]
  /// Context around the face in a chip, as a fraction of the face size per side.
  public var chipPadding: Double
  /// Everything as written, for keys the core does not interpret.
  public var values: [String: String]

  public static func parse(_ text: String, path: String) throws -> ModelManifest {
    var values: [String: String] = [:]
    var lineNumbers: [String: Int] = [:]
    var number = 0
    for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
      number += 1
      let line = rawLine.trimmingWhitespace()
      if line.isEmpty || line.hasPrefix("#") { continue }
      guard let equals = line.firstIndex(of: "=") else {
        throw FaceAnalysisError.manifestInvalid(path: path, line: number, reason: "expected 'key = value'")
      }
      let key = line[..<equals].trimmingWhitespace()
      let value = line[line.index(after: equals)...].trimmingWhitespace()
      guard !key.isEmpty else {
        throw FaceAnalysisError.manifestInvalid(path: path, line: number, reason: "empty key")
      }
      guard values[key] == nil else {
        throw FaceAnalysisError.manifestInvalid(path: path, line: number, reason: "key '\(key)' given twice")
      }
      values[key] = value
      lineNumbers[key] = number
    }

    func fail(_ key: String, _ reason: String) -> FaceAnalysisError {
      .manifestInvalid(path: path, line: lineNumbers[key] ?? 0, reason: reason)
    }
    func required(_ key: String) throws -> String {
      guard let value = values[key], !value.isEmpty else { throw fail(key, "missing key '\(key)'") }
      return value
    }
    func numbers(_ key: String) throws -> [Double]? {
      guard let value = values[key] else { return nil }
      var result: [Double] = []
      for word in value.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
        guard let n = Double(word), n.isFinite else { throw fail(key, "'\(word)' in '\(key)' is not a number") }
        result.append(n)
      }
      return result
    }

    let roleText = try required("role")
    guard let role = Role(rawValue: roleText) else { throw fail("role", "unknown role '\(roleText)'") }
    let formatText = try required("format")
    guard let format = Format(rawValue: formatText) else { throw fail("format", "unknown format '\(formatText)'") }

    var inputWidth = 0, inputHeight = 0
    if let size = try numbers("input-size") {
      guard size.count == 2, size.allSatisfy({ $0 >= 1 && $0 <= 4096 && $0 == $0.rounded() }) else {
        throw fail("input-size", "'input-size' needs two whole numbers in 1...4096")
      }
      inputWidth = Int(size[0])
      inputHeight = Int(size[1])
    } else if format == .onnx || format == .caffe {
      throw fail("input-size", "missing key 'input-size'")
    }
    let mean = try numbers("mean") ?? [0, 0, 0]
    guard mean.count == 3 else { throw fail("mean", "'mean' needs three numbers") }
    let scale = try numbers("scale") ?? [1]
    guard scale.count == 1, scale[0] > 0 else { throw fail("scale", "'scale' needs one positive number") }
    let order = values["color-order"] ?? "bgr"
    guard order == "rgb" || order == "bgr" else { throw fail("color-order", "'color-order' is rgb or bgr") }
    let padding = try numbers("chip-padding") ?? [0]
    guard padding.count == 1, padding[0] >= 0, padding[0] <= 2 else {
      throw fail("chip-padding", "'chip-padding' needs one number in 0...2")
    }
    var groups: [ClosedRange<Double>] = []
    if let text = values["age-groups"] {
      for word in text.split(separator: " ") {
        let bounds = word.split(separator: "-").compactMap { Double($0) }
        guard bounds.count == 2, bounds[0] <= bounds[1] else {
          throw fail("age-groups", "age group '\(word)' is not 'min-max'")
        }
        groups.append(bounds[0]...bounds[1])
      }
    }
    let manifest = ModelManifest(
      name: try required("name"), role: role, format: format, file: try required("file"),
      configFile: values["config-file"], group: values["group"] ?? "default",
      inputWidth: inputWidth, inputHeight: inputHeight, rgb: order == "rgb", mean: mean, scale: scale[0],
      labels: values["labels"].map { $0.split(separator: " ").map(String.init) } ?? [],
      ageValues: try numbers("age-values") ?? [], ageGroups: groups, chipPadding: padding[0], values: values)
    if format == .caffe && manifest.configFile == nil {
      throw fail("config-file", "a caffe model needs 'config-file' (its prototxt)")
    }
    if role == .age && manifest.ageValues.isEmpty && manifest.ageGroups.isEmpty {
      throw fail("role", "an age model needs 'age-values' or 'age-groups'")
    }
    if role == .gender && Set(manifest.labels) != ["female", "male"] {
      throw fail("labels", "a gender model needs 'labels' naming female and male in output order")
    }
    return manifest
  }
}

extension StringProtocol {
  func trimmingWhitespace() -> String {
    let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
    guard let first = firstIndex(where: { !isSpace($0) }) else { return "" }
    let last = lastIndex(where: { !isSpace($0) })!
    return String(self[first...last])
  }
}
