import CGStreamer
import Foundation
import GstPipeline
import XCTest

/// The plugin's model cache lines ("models: loaded ...", "shared ...",
/// "freed ...", from its debug category at INFO) while a block runs, or other
/// lines of one topic (`prefix`). The plugin's cache lives in
/// libgstagegender.so, not in this test binary, so its debug log is how the
/// tests see it.
final class ModelLog: @unchecked Sendable {
  private let lock = NSLock()
  private var lines: [String] = []
  private let prefix: String

  private init(prefix: String) { self.prefix = prefix }

  /// Runs `body` with the element's lines up to `level` that start with
  /// `prefix` captured (without it), and every line kept off stderr.
  static func capture(prefix: String = "models: ", level: GstDebugLevel = GST_LEVEL_INFO, _ body: () throws -> Void)
    throws -> ModelLog
  {
    let log = ModelLog(prefix: prefix)
    let context = Unmanaged.passRetained(log).toOpaque()
    gst_debug_set_threshold_for_name("agegender", level)
    // Only ours: the default handler would print every INFO line of the run.
    let removedDefault = gst_debug_remove_log_function(gst_debug_log_default)
    gst_debug_add_log_function(
      { category, _, _, _, _, _, message, data in
        guard let category, let message, let data, let name = gst_debug_category_get_name(category),
          String(cString: name) == "agegender", let text = gst_debug_message_get(message)
        else { return }
        let line = String(cString: text), log = Unmanaged<ModelLog>.fromOpaque(data).takeUnretainedValue()
        guard line.hasPrefix(log.prefix) else { return }
        log.append(String(line.dropFirst(log.prefix.count)))
      }, context, nil)
    defer {
      gst_debug_remove_log_function_by_data(context)
      if removedDefault > 0 { gst_debug_add_log_function(gst_debug_log_default, nil, nil) }
      gst_debug_unset_threshold_for_name("agegender")
      Unmanaged<ModelLog>.fromOpaque(context).release()
    }
    try body()
    return log
  }

  private func append(_ line: String) {
    lock.lock()
    lines.append(line)
    lock.unlock()
  }

  var all: [String] {
    lock.lock()
    defer { lock.unlock() }
    return lines
  }

  /// Lines of one event ("loaded", "shared", "freed") whose model description contains `what`.
  func count(_ event: String, _ what: String) -> Int {
    all.filter { $0.hasPrefix(event + " ") && $0.contains(what) }.count
  }

  /// Each model loaded, with how often it was loaded and freed (every load must be freed).
  var balance: [String: (loaded: Int, freed: Int)] {
    var result: [String: (loaded: Int, freed: Int)] = [:]
    for line in all {
      if line.hasPrefix("loaded ") { result[String(line.dropFirst(7)), default: (0, 0)].loaded += 1 }
      if line.hasPrefix("freed ") { result[String(line.dropFirst(6)), default: (0, 0)].freed += 1 }
    }
    return result
  }

  var text: String { all.joined(separator: "\n") }
}

/// examples/multicamera/rtsp_server.py, started for a test on 127.0.0.1 at a
/// port the system picks, and terminated when the test ends.
final class RTSPServer {
  private let process = Process()
  private let errorFile: URL
  /// rtsp://127.0.0.1:PORT/ (mounts are appended).
  let base: String

  /// `mounts`: mount name and the file it serves.
  init(_ mounts: [(String, String)], file: StaticString = #filePath, line: UInt = #line) throws {
    let script = try Fixtures.require(Fixtures.repoRoot + "/examples/multicamera/rtsp_server.py")
    let python = try Fixtures.require("/usr/bin/python3", hint: "Debian python3")
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = [script, "--port", "0"] + mounts.map { "\($0.0)=\($0.1)" }
    let output = Pipe()
    errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("rtsp-server-\(UUID().uuidString).err")
    _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
    process.standardOutput = output
    process.standardError = try FileHandle(forWritingTo: errorFile)
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // The first line says where it listens; bounded wait (poll, no blocking read).
    var received = Data()
    let fd = output.fileHandleForReading.fileDescriptor
    let deadline = monotonicSeconds() + 20
    while !received.contains(UInt8(ascii: "\n")) && monotonicSeconds() < deadline {
      var request = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      guard poll(&request, 1, 200) > 0 else {
        if !process.isRunning { break }
        continue
      }
      var chunk = [UInt8](repeating: 0, count: 256)
      let n = read(fd, &chunk, chunk.count)
      if n <= 0 { break }
      received.append(contentsOf: chunk[0..<n])
    }
    let first = String(decoding: received, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
    guard first.hasPrefix("ready rtsp://") else {
      if process.isRunning { process.terminate() }
      process.waitUntilExit()
      let errors = (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
      try? FileManager.default.removeItem(at: errorFile)
      let message = "the RTSP server did not start (examples/multicamera/rtsp_server.py needs Debian's "
        + "gir1.2-gst-rtsp-server-1.0, which scripts/install-deps.sh installs): \(first)\n\(errors)"
      XCTFail(message, file: file, line: line)
      throw Pipeline.Failure(message)
    }
    base = String(first.dropFirst("ready ".count))
  }

  func url(_ mount: String) -> String { base + mount }

  /// What the server wrote to stderr so far.
  var errors: String { (try? String(contentsOf: errorFile, encoding: .utf8)) ?? "" }

  deinit {
    if process.isRunning { process.terminate() }
    process.waitUntilExit()
    try? FileManager.default.removeItem(at: errorFile)
  }
}

/// A JSON Lines file, each line parsed with JSONSerialization.
func readJSONLines(_ path: String) throws -> [[String: Any]] {
  let text = try String(contentsOfFile: try Fixtures.require(path), encoding: .utf8)
  return try text.split(separator: "\n").map { line in
    let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
    return try XCTUnwrap(object as? [String: Any], "not a JSON object: \(line)")
  }
}
