import FaceAnalysis
import Synchronization

/// Where the plugin file was loaded from, to find models without configuration.
final class PluginLocation: Sendable {
  static let shared = PluginLocation()
  private let path = Mutex<String?>(nil)

  func set(_ value: String) { path.withLock { $0 = value } }

  /// Model directories tried in order when neither model-dir nor
  /// AGEGENDER_MODEL_DIR is set: the checkout's Models/ next to the staged
  /// build/plugins/ (or SwiftPM's .build/<config>/), then an installed
  /// <datadir>/gst-agegender/models beside <libdir>/gstreamer-1.0/.
  func defaultModelDirectories() -> [String] {
    guard let file = path.withLock({ $0 }), let slash = file.lastIndex(of: "/") else { return [] }
    let dir = String(file[..<slash])
    return [
      dir + "/../../Models",
      dir + "/../../../Models",
      dir + "/../../share/gst-agegender/models",
      dir + "/../../../share/gst-agegender/models",
    ]
  }

  /// The model directory to use: explicit setting, then the environment, then the defaults.
  func resolveModelDirectory(explicit: String?) -> String {
    if let explicit, !explicit.isEmpty { return explicit }
    if let env = environmentValue(ModelStore.environmentVariable) { return env }
    let candidates = defaultModelDirectories()
    return candidates.first(where: ModelStore.looksLikeModelDirectory) ?? candidates.first ?? "Models"
  }
}

#if canImport(Glibc)
  import Glibc
#endif

func environmentValue(_ name: String) -> String? {
  guard let value = getenv(name) else { return nil }
  let text = String(cString: value)
  return text.isEmpty ? nil : text
}
