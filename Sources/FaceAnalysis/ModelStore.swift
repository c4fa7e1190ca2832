/// A model directory: manifests (`*.model`) at the top, fetched weights in `weights/`.
/// Resolves a model by name and checks its files exist before anything loads them,
/// so a missing file is reported by name together with the command that fetches it.
public struct ModelStore: Sendable {
  public let directory: String
  /// Models loaded through stores of the same instance name are loaded once
  /// and shared (`ModelCache`); the empty name is the process-wide default.
  /// The element's `model-instance-id`, in DL Streamer's manner.
  public let modelInstance: String

  /// Environment variable that overrides the default model directory.
  public static let environmentVariable = "AGEGENDER_MODEL_DIR"

  public init(directory: String, modelInstance: String = "") {
    self.directory = directory
    self.modelInstance = modelInstance
  }

  public var weightsDirectory: String { FileSystem.join(directory, "weights") }

  public func fetchHint(group: String) -> String {
    let target = group == "default" ? "models" : "models-\(group)"
    return "fetch it with 'make \(target)' in the gst-agegender checkout, or set model-dir / \(Self.environmentVariable)"
  }

  public func manifest(named name: String) throws -> ModelManifest {
    guard FileSystem.isDirectory(directory) else {
      throw FaceAnalysisError.modelDirectoryMissing(path: directory, hint: fetchHint(group: "default"))
    }
    let path = FileSystem.join(directory, name + ".model")
    guard let text = FileSystem.readText(path) else {
      throw FaceAnalysisError.modelMissing(path: path, hint: "no manifest for model '\(name)' in \(directory)")
    }
    return try ModelManifest.parse(text, path: path)
  }

  /// Paths of the model's files, each checked to exist and be non-empty.
  public func files(of manifest: ModelManifest) throws -> (weights: String, config: String?) {
    let weights = try checked(FileSystem.join(weightsDirectory, manifest.file), manifest)
    let config = try manifest.configFile.map { try checked(FileSystem.join(weightsDirectory, $0), manifest) }
    return (weights, config)
  }

  private func checked(_ path: String, _ manifest: ModelManifest) throws -> String {
    guard let size = FileSystem.fileSize(path) else {
      throw FaceAnalysisError.modelMissing(path: path, hint: fetchHint(group: manifest.group))
    }
    guard size > 0 else { throw FaceAnalysisError.modelInvalid(path: path, reason: "the file is empty") }
    return path
  }

  /// Whether a folder looks like a model directory (holds at least one manifest).
  public static func looksLikeModelDirectory(_ path: String) -> Bool {
    FileSystem.listDirectory(path).contains { $0.hasSuffix(".model") }
  }
}
