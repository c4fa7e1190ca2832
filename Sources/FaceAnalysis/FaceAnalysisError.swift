/// What can go wrong in face analysis, with messages that name the file or value.
public enum FaceAnalysisError: Error, CustomStringConvertible, Equatable {
  case modelDirectoryMissing(path: String, hint: String)
  case modelMissing(path: String, hint: String)
  case modelInvalid(path: String, reason: String)
  case manifestInvalid(path: String, line: Int, reason: String)
  case inference(reason: String)
  case imageUnreadable(path: String, reason: String)

  public var description: String {
    switch self {
    case .modelDirectoryMissing(let path, let hint):
      return "model directory \(path) does not exist or holds no model manifests (\(hint))"
    case .modelMissing(let path, let hint):
      return "model file \(path) is missing (\(hint))"
    case .modelInvalid(let path, let reason):
      return "model file \(path) cannot be loaded: \(reason)"
    case .manifestInvalid(let path, let line, let reason):
      return line > 0 ? "model manifest \(path), line \(line): \(reason)" : "model manifest \(path): \(reason)"
    case .inference(let reason):
      return "inference failed: \(reason)"
    case .imageUnreadable(let path, let reason):
      return "image \(path): \(reason)"
    }
  }
}
