/// One image's result as the predictions CSV holds it: the face nearest the
/// centre, or `detected == false`.
struct Prediction {
  var file: String
  var detected: Bool
  var gender: String = ""
  var age = 0.0
  /// Probability of `gender` (0.5-1), as the element reports it.
  var genderConfidence = 0.0
  var ageMin = 0.0
  var ageMax = 0.0
  var box: (x: Int32, y: Int32, width: Int32, height: Int32) = (0, 0, 0, 0)

  static let header = "file,detected,gender,age,gender_confidence,age_min,age_max,x,y,width,height"

  var csvRow: String {
    guard detected else { return "\(file),0,,,,,,,,," }
    return "\(file),1,\(gender),\(format(age, 2)),\(format(genderConfidence, 4)),\(format(ageMin, 2)),"
      + "\(format(ageMax, 2)),\(box.x),\(box.y),\(box.width),\(box.height)"
  }

  /// Reads a predictions CSV written by this tool (older files with only
  /// file,detected,gender,age are read too).
  static func read(_ path: String) throws -> [String: Prediction] {
    guard let text = readFile(path) else { throw LabelsError.unreadable(path) }
    let lines = text.split(whereSeparator: \.isNewline)
    guard let header = lines.first else { throw LabelsError.malformed(path, line: 1, "empty file") }
    let columns = csvFields(header)
    func index(_ name: String) -> Int? { columns.firstIndex(of: name) }
    guard let file = index("file"), let detected = index("detected"), let gender = index("gender"),
      let age = index("age")
    else { throw LabelsError.malformed(path, line: 1, "expected the columns file,detected,gender,age") }
    var result: [String: Prediction] = [:]
    for (n, line) in lines.dropFirst().enumerated() {
      let f = csvFields(line)
      guard f.count == columns.count else {
        throw LabelsError.malformed(path, line: n + 2, "expected \(columns.count) fields")
      }
      func number(_ column: Int?) -> Double { column.flatMap { Double(f[$0]) } ?? 0 }
      var p = Prediction(file: f[file], detected: f[detected] == "1")
      if p.detected {
        p.gender = f[gender]
        guard let value = Double(f[age]) else { throw LabelsError.malformed(path, line: n + 2, "age is not a number") }
        p.age = value
        p.genderConfidence = number(index("gender_confidence"))
        p.ageMin = number(index("age_min"))
        p.ageMax = number(index("age_max"))
      }
      result[p.file] = p
    }
    return result
  }
}
