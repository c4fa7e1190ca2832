/// A folder of face images with `labels.csv` (columns file,age,gender,age_min,age_max;
/// others ignored; age_min == age_max for an exact age).
struct LabeledFace {
  var file: String
  var gender: String
  var ageMin: Double
  var ageMax: Double
  /// The `source` column (e.g. UTKFace, FairFace), or "" when the file has none.
  var source: String = ""
  var exactAge: Double? { ageMin == ageMax ? ageMin : nil }
}

enum LabelsError: Error, CustomStringConvertible {
  case unreadable(String)
  case malformed(String, line: Int, String)
  var description: String {
    switch self {
    case .unreadable(let path): return "cannot read \(path)"
    case .malformed(let path, let line, let reason): return "\(path), line \(line): \(reason)"
    }
  }
}

/// Splits one CSV line (double-quoted fields may hold commas and "" escapes).
func csvFields(_ line: Substring) -> [String] {
  var fields: [String] = []
  var field = ""
  var quoted = false
  var iterator = line.makeIterator()
  while let c = iterator.next() {
    if quoted {
      if c == "\"" {
        if let next = iterator.next() {
          if next == "\"" { field.append("\"") } else {
            quoted = false
            if next == "," { fields.append(field); field = "" } else { field.append(next) }
          }
        } else { quoted = false }
      } else { field.append(c) }
    } else if c == "\"" { quoted = true } else if c == "," { fields.append(field); field = "" } else if c != "\r" {
      field.append(c)
    }
  }
  fields.append(field)
  return fields
}

func readLabels(_ path: String, text: String) throws -> [LabeledFace] {
  let lines = text.split(whereSeparator: \.isNewline)
  guard let header = lines.first else { throw LabelsError.malformed(path, line: 1, "empty file") }
  let columns = csvFields(header).map { $0.trimmingCharacters() }
  func column(_ name: String) throws -> Int {
    guard let i = columns.firstIndex(of: name) else { throw LabelsError.malformed(path, line: 1, "no '\(name)' column") }
    return i
  }
  let file = try column("file"), gender = try column("gender")
  let ageMin = try column("age_min"), ageMax = try column("age_max")
  let source = columns.firstIndex(of: "source")
  var faces: [LabeledFace] = []
  for (n, line) in lines.dropFirst().enumerated() {
    let f = csvFields(line).map { $0.trimmingCharacters() }
    guard f.count > max(file, gender, ageMin, ageMax) else {
      throw LabelsError.malformed(path, line: n + 2, "expected \(columns.count) fields")
    }
    guard let lo = Double(f[ageMin]), let hi = Double(f[ageMax]) else {
      throw LabelsError.malformed(path, line: n + 2, "age_min/age_max are not numbers")
    }
    let g = f[gender].lowercased()
    guard g == "male" || g == "female" else {
      throw LabelsError.malformed(path, line: n + 2, "gender '\(f[gender])' is not male or female")
    }
    let origin = source.flatMap { $0 < f.count ? f[$0] : nil } ?? ""
    faces.append(LabeledFace(file: f[file], gender: g, ageMin: lo, ageMax: hi, source: origin))
  }
  return faces
}

extension String {
  func trimmingCharacters() -> String {
    let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
    guard let first = firstIndex(where: { !isSpace($0) }) else { return "" }
    return String(self[first...lastIndex(where: { !isSpace($0) })!])
  }
}
