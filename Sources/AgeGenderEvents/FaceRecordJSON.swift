import AgeGenderMeta

extension FaceRecord {
  /// The face's members into a JSON object being built, as every frame line
  /// has them (agegenderjson's and agegender-annotate --json's):
  /// `"x","y","width","height","confidence","age","age_min","age_max","gender",
  /// "gender_confidence","track_id"` and `"landmarks":[[x,y] x 5]` where the
  /// detector gives them.
  public func writeMembers(_ json: JSONWriter) {
    json.member("x", x)
    json.member("y", y)
    json.member("width", width)
    json.member("height", height)
    json.member("confidence", confidence)
    json.member("age", age)
    json.member("age_min", ageMin)
    json.member("age_max", ageMax)
    json.member("gender", gender)
    json.member("gender_confidence", genderConfidence)
    json.member("track_id", trackID)
    guard landmarks.count == 10 else { return }
    json.member("landmarks") {
      json.array {
        for k in 0..<5 {
          json.array {
            json.value(landmarks[2 * k])
            json.value(landmarks[2 * k + 1])
          }
        }
      }
    }
  }
}
