import Foundation
import CGStreamer
import GstPipeline
import XCTest

#if canImport(Glibc)
  import Glibc
#endif

/// A real mosquitto broker and mosquitto_sub for the MQTT tests: started on
/// 127.0.0.1 on a free port with a config in a temporary folder, killed in the
/// test's teardown; every wait bounded.
enum MQTTSupport {
  /// A program the tests need; a missing one fails the test naming it (never a skip).
  static func program(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
    for folder in ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"] {
      let path = folder + "/" + name
      if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    let message = "required program is missing: \(name) (scripts/install-deps.sh installs mosquitto, mosquitto-clients, openssl)"
    XCTFail(message, file: file, line: line)
    throw Pipeline.Failure(message)
  }

  /// A TCP port nothing listens on right now (the tests' shared `freePort`).
  static func freePort() throws -> Int32 { Int32(try GstAgeGenderTests.freePort(SOCK_STREAM)) }

  /// Plays the pipeline to its end and returns the texts of its warning messages.
  static func runCollectingWarnings(_ pipeline: Pipeline, timeoutSeconds: UInt64) throws -> [String] {
    var warnings: [String] = []
    try pipeline.run(timeoutSeconds: timeoutSeconds) { message in
      guard agb_message_type(message) == GST_MESSAGE_WARNING else { return }
      var error: UnsafeMutablePointer<GError>?
      gst_message_parse_warning(message, &error, nil)
      if let error {
        warnings.append(String(cString: error.pointee.message))
        g_error_free(error)
      }
    }
    return warnings
  }

  /// Whether something accepts TCP connections on 127.0.0.1:port.
  static func listening(_ port: Int32) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { Glibc.close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
      }
    }
  }

  /// A child process whose output goes to files; `stop()` ends it (SIGTERM, then SIGKILL after 2 s).
  final class Child {
    let process = Process()
    let output: URL
    let errors: URL

    init(_ executable: String, _ arguments: [String], in folder: URL, name: String) throws {
      output = folder.appendingPathComponent("\(name).out")
      errors = folder.appendingPathComponent("\(name).err")
      _ = FileManager.default.createFile(atPath: output.path, contents: nil)
      _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
      process.executableURL = URL(fileURLWithPath: executable)
      process.arguments = arguments
      process.standardOutput = try FileHandle(forWritingTo: output)
      process.standardError = try FileHandle(forWritingTo: errors)
      process.standardInput = FileHandle.nullDevice
      try process.run()
    }

    var running: Bool { process.isRunning }

    func stop() {
      guard process.isRunning else { return }
      kill(process.processIdentifier, SIGTERM)
      let deadline = monotonicSeconds() + 2
      while process.isRunning && monotonicSeconds() < deadline { usleep(10_000) }
      if process.isRunning { kill(process.processIdentifier, SIGKILL) }
      process.waitUntilExit()
    }

    var stdout: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOf: errors, encoding: .utf8)) ?? "" }
  }

  /// A mosquitto broker with its own config file in `folder`.
  final class Broker {
    let port: Int32
    let folder: URL
    let config: URL
    private(set) var child: Child?
    private var starts = 0

    /// `listener` lines go after "listener PORT 127.0.0.1" (TLS files, say); `extra` at the top level.
    init(folder: URL, listenerOptions: [String] = [], extra: [String] = [], testCase: XCTestCase) throws {
      port = try MQTTSupport.freePort()
      self.folder = folder
      config = folder.appendingPathComponent("mosquitto.conf")
      // user root: a broker started as root otherwise switches to the mosquitto
      // user, who cannot read the test's key and password files.
      let lines =
        ["per_listener_settings false", "persistence false", "user \(getuid() == 0 ? "root" : NSUserName())",
          "log_type all", "log_dest stderr"]
        + (extra.contains { $0.hasPrefix("allow_anonymous") } ? [] : ["allow_anonymous true"])
        + extra + ["listener \(port) 127.0.0.1"] + listenerOptions
      try (lines.joined(separator: "\n") + "\n").write(to: config, atomically: true, encoding: .utf8)
      testCase.addTeardownBlock { [self] in child?.stop() }
      try start()
    }

    /// Starts (or restarts) the broker and waits (bounded) until it listens.
    func start() throws {
      child?.stop()
      starts += 1
      child = try Child(try MQTTSupport.program("mosquitto"), ["-c", config.path], in: folder, name: "broker\(starts)")
      let deadline = monotonicSeconds() + 10
      while !MQTTSupport.listening(port) {
        guard child!.running, monotonicSeconds() < deadline else {
          throw Pipeline.Failure("mosquitto did not start listening on port \(port): \(child!.stderr)")
        }
        usleep(20_000)
      }
    }

    /// Kills the broker at once (SIGKILL: no goodbye to the clients).
    func kill() {
      guard let child, child.running else { return }
      Glibc.kill(child.process.processIdentifier, SIGKILL)
      child.process.waitUntilExit()
    }

    var log: String { child?.stderr ?? "" }
  }

  /// mosquitto_sub on `topic` writing one payload per line to a file. Ready
  /// once a probe message published to it has come back.
  final class Subscriber {
    let child: Child

    init(broker: Broker, topic: String = "agegender", arguments: [String] = [], testCase: XCTestCase) throws {
      let probeTopic = "agegender-test-probe"
      child = try Child(
        try MQTTSupport.program("mosquitto_sub"),
        ["-h", "127.0.0.1", "-p", "\(broker.port)", "-t", topic, "-t", probeTopic, "-q", "1"] + arguments,
        in: broker.folder, name: "sub-\(UUID().uuidString)")
      let child = child
      testCase.addTeardownBlock { child.stop() }
      let publish = try MQTTSupport.program("mosquitto_pub")
      let deadline = monotonicSeconds() + 10
      while !child.stdout.contains("probe") {
        guard child.running, monotonicSeconds() < deadline else {
          throw Pipeline.Failure("mosquitto_sub did not receive its probe: \(child.stderr)")
        }
        _ = try runProcess(
          publish, ["-h", "127.0.0.1", "-p", "\(broker.port)", "-t", probeTopic, "-m", "probe"] + arguments,
          timeoutSeconds: 5)
        usleep(100_000)
      }
    }

    /// The payloads received so far, probes left out.
    var lines: [String] { child.stdout.split(separator: "\n").map(String.init).filter { $0 != "probe" } }

    /// Waits (bounded) until `count` lines came, or `seconds` passed.
    @discardableResult
    func wait(for count: Int, seconds: Double) -> [String] {
      let deadline = monotonicSeconds() + seconds
      while lines.count < count && monotonicSeconds() < deadline { usleep(50_000) }
      return lines
    }
  }
}
