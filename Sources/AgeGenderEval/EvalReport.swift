/// Figures over a set of labelled faces and their predictions: found, gender
/// right over all images, age MAE on exact ages, and how often the reported
/// age interval (age-min..age-max) holds the exact age.
struct GroupFigures {
  var images = 0
  var found = 0
  var genderRight = 0
  var exact = 0
  var absoluteError = 0.0
  var covered = 0
  var width = 0.0

  mutating func add(_ face: LabeledFace, _ p: Prediction) {
    images += 1
    guard p.detected else { return }
    found += 1
    if p.gender == face.gender { genderRight += 1 }
    if let age = face.exactAge {
      exact += 1
      absoluteError += abs(p.age - age)
      if p.ageMin <= age && age <= p.ageMax { covered += 1 }
      width += p.ageMax - p.ageMin
    }
  }

  var foundRate: Double { images > 0 ? Double(found) / Double(images) : 0 }
  var genderAll: Double { images > 0 ? Double(genderRight) / Double(images) : 0 }
  var mae: Double? { exact > 0 ? absoluteError / Double(exact) : nil }
  var coverage: Double? { exact > 0 ? Double(covered) / Double(exact) : nil }
  var meanWidth: Double? { exact > 0 ? width / Double(exact) : nil }
}

enum EvalReport {
  /// The age bins of the shared sets' READMEs; a face falls in the bin of its
  /// age_min (FairFace's labels are these bins).
  static let ageBins: [(name: String, low: Double)] = [
    ("0-2", 0), ("3-9", 3), ("10-19", 10), ("20-29", 20), ("30-39", 30), ("40-49", 40), ("50-59", 50),
    ("60-69", 60), ("70+", 70),
  ]

  static func bin(of face: LabeledFace) -> String {
    ageBins.last { face.ageMin >= $0.low }?.name ?? ageBins[0].name
  }

  /// Markdown tables: per age bin, per source, per gender.
  static func tables(_ faces: [LabeledFace], _ predictions: [Prediction]) -> String {
    var lines: [String] = []
    func table(_ title: String, _ keys: [String], _ key: (LabeledFace) -> String) {
      var groups: [String: GroupFigures] = [:]
      for (face, p) in zip(faces, predictions) { groups[key(face), default: GroupFigures()].add(face, p) }
      lines.append("| \(title) | images | found | gender (all) | age MAE (exact) | interval coverage | mean width |")
      lines.append("|---|---:|---:|---:|---:|---:|---:|")
      for k in keys {
        guard let g = groups[k] else { continue }
        func cell(_ v: Double?, _ digits: Int, _ scale: Double = 1, _ suffix: String = "") -> String {
          v.map { format($0 * scale, digits) + suffix } ?? "-"
        }
        lines.append(
          "| \(k) | \(g.images) | \(cell(g.foundRate, 1, 100, "%")) | \(cell(g.genderAll, 1, 100, "%")) | "
            + "\(cell(g.mae, 2)) | \(cell(g.coverage, 1, 100, "%")) | \(cell(g.meanWidth, 1)) |")
      }
      lines.append("")
    }
    table("age bin", ageBins.map(\.name), bin(of:))
    let sources = Array(Set(faces.map(\.source))).sorted()
    table("source", sources) { $0.source }
    table("gender", ["female", "male"]) { $0.gender }
    return lines.joined(separator: "\n")
  }

  /// Reliability of `gender-confidence` on the faces found: per confidence bin
  /// (0.5-0.55, ..., 0.95-1) the mean confidence and how often the gender was
  /// right, and the expected calibration error (bin-weighted |right - confidence|).
  static func reliability(_ faces: [LabeledFace], _ predictions: [Prediction]) -> (table: String, ece: Double?) {
    let bins = 10
    var count = [Int](repeating: 0, count: bins), right = count
    var confidence = [Double](repeating: 0, count: bins)
    for (face, p) in zip(faces, predictions) where p.detected {
      let c = min(max(p.genderConfidence, 0.5), 1)
      let b = min(bins - 1, Int((c - 0.5) / 0.5 * Double(bins)))
      count[b] += 1
      confidence[b] += c
      if p.gender == face.gender { right[b] += 1 }
    }
    let total = count.reduce(0, +)
    guard total > 0 else { return ("", nil) }
    var lines = ["| gender-confidence | faces | mean confidence | right |", "|---|---:|---:|---:|"]
    var ece = 0.0
    for b in 0..<bins where count[b] > 0 {
      let n = Double(count[b])
      let meanConfidence = confidence[b] / n, accuracy = Double(right[b]) / n
      ece += n / Double(total) * abs(accuracy - meanConfidence)
      let low = 0.5 + 0.05 * Double(b)
      lines.append(
        "| \(format(low, 2))-\(format(low + 0.05, 2)) | \(count[b]) | \(format(meanConfidence, 3)) | "
          + "\(format(accuracy, 3)) |")
    }
    lines.append("")
    return (lines.joined(separator: "\n"), ece)
  }

  /// The faces whose result changed against an earlier predictions file:
  /// gender now right or now wrong, found or lost, and age errors that moved
  /// by at least `ageThreshold` years; then the counts.
  static func comparison(
    _ faces: [LabeledFace], _ predictions: [Prediction], against other: [String: Prediction], name: String,
    ageThreshold: Double
  ) -> String {
    var lines: [String] = []
    var fixed = 0, broken = 0, gained = 0, lost = 0, better = 0, worse = 0, missing = 0
    for (face, now) in zip(faces, predictions) {
      guard let before = other[face.file] else {
        missing += 1
        continue
      }
      var notes: [String] = []
      if before.detected != now.detected {
        notes.append(now.detected ? "now found" : "no longer found")
        if now.detected { gained += 1 } else { lost += 1 }
      }
      if before.detected && now.detected {
        let wasRight = before.gender == face.gender, isRight = now.gender == face.gender
        if wasRight != isRight {
          notes.append("gender \(before.gender) -> \(now.gender) (\(isRight ? "now right" : "now wrong"))")
          if isRight { fixed += 1 } else { broken += 1 }
        }
        if let age = face.exactAge {
          let delta = abs(now.age - age) - abs(before.age - age)
          if abs(delta) >= ageThreshold {
            notes.append("age \(format(before.age, 1)) -> \(format(now.age, 1)) (\(delta < 0 ? "better" : "worse"))")
            if delta < 0 { better += 1 } else { worse += 1 }
          }
        }
      }
      if !notes.isEmpty {
        lines.append("\(face.file) (\(face.gender), \(format(face.ageMin, 0))-\(format(face.ageMax, 0))): "
          + notes.joined(separator: "; "))
      }
    }
    lines.append(
      "against \(name): gender now right \(fixed), now wrong \(broken); found \(gained) more, \(lost) fewer; "
        + "age error better by >= \(format(ageThreshold, 1)) y \(better), worse \(worse)"
        + (missing > 0 ? "; \(missing) images not in \(name)" : ""))
    return lines.joined(separator: "\n")
  }
}
