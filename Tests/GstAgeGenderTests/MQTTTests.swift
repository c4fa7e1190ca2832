import CGStreamer
import Foundation
import GstPipeline
import XCTest

/// agegenderjson's MQTT publishing against a real mosquitto broker started by
/// each test (MQTTSupport), received with mosquitto_sub.
final class MQTTTests: XCTestCase {
  override func setUpWithError() throws { try Fixtures.setUp() }

  private func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("agegender-mqtt-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
  }

  private func fileLines(_ path: String) throws -> [String] {
    try String(contentsOfFile: try Fixtures.require(path), encoding: .utf8).split(separator: "\n").map(String.init)
  }

  /// The error a pipeline fails to start with (nil when it starts), and how long that took.
  private func startFailure(_ description: String) throws -> (error: String?, seconds: Double) {
    let pipeline = try Pipeline(description)
    let start = monotonicSeconds()
    do {
      try pipeline.setState(GST_STATE_PAUSED)
      return (nil, monotonicSeconds() - start)
    } catch {
      return ("\(error)", monotonicSeconds() - start)
    }
  }

  /// Every line of the shared clip's analysis (agegender, then agegenderjson
  /// writing a file and publishing at QoS 1) arrives, parses, and equals the file's.
  func testEveryFrameLineOfAClipArrivesAndParses() throws {
    let video = try Fixtures.video("head-pose-face-detection-female-and-male.mp4")
    let dir = try temporaryDirectory()
    let broker = try MQTTSupport.Broker(folder: dir, testCase: self)
    let subscriber = try MQTTSupport.Subscriber(broker: broker, testCase: self)
    let path = dir.appendingPathComponent("faces.jsonl").path
    let pipeline = try Pipeline(
      "filesrc location=\(video) ! decodebin ! videoconvert ! agegender async=false ! agegenderjson location=\(path) "
        + "mqtt-host=127.0.0.1 mqtt-port=\(broker.port) mqtt-qos=1 mqtt-client-id=clip-test ! fakesink")
    try pipeline.run(timeoutSeconds: 180)

    let written = try fileLines(path)
    // One line per frame of the 56-frame clip, then one per person and the summary (issue 12).
    XCTAssertEqual(written.count, 56 + 2 + 1, "one line per frame of the 56-frame clip, 2 people, the summary")
    let received = subscriber.wait(for: written.count, seconds: 15)
    XCTAssertEqual(received, written, "the messages are not the file's lines, in order")
    XCTAssertTrue(received.suffix(3).allSatisfy { $0.hasPrefix("{\"event\":") }, "\(received.suffix(3))")
    var faces = 0
    for line in received.prefix(56) {
      let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
      XCTAssertEqual(Set(object.keys), ["pts", "running_time", "width", "height", "faces"])
      faces += (object["faces"] as? [Any])?.count ?? 0
    }
    XCTAssertGreaterThanOrEqual(faces, 100, "both people in nearly every frame")
    XCTAssertTrue(broker.log.contains("clip-test"), "the broker did not see mqtt-client-id: \(broker.log.suffix(500))")
  }

  /// The broker is killed 2 s into a live 10 s stream and restarted 2 s later:
  /// the stream never waits (EOS in about 10 s), lines beyond mqtt-max-queue=5
  /// are dropped and counted in a warning, and lines after the reconnection arrive.
  func testBrokerKilledAndRestartedMidStream() throws {
    let dir = try temporaryDirectory()
    let broker = try MQTTSupport.Broker(folder: dir, testCase: self)
    let subscriber = try MQTTSupport.Subscriber(broker: broker, testCase: self)
    let path = dir.appendingPathComponent("lines.jsonl").path
    let frames = 250
    let pipeline = try Pipeline(
      "videotestsrc is-live=true num-buffers=\(frames) ! video/x-raw,width=64,height=48,framerate=25/1 "
        + "! agegenderjson location=\(path) mqtt-host=127.0.0.1 mqtt-port=\(broker.port) mqtt-max-queue=5 ! fakesink")
    let outage = DispatchGroup()
    let restartError = Robust.Unchecked(Robust.Box<String?>(nil))
    let started = monotonicSeconds()
    outage.enter()
    DispatchQueue.global().async {
      defer { outage.leave() }
      usleep(2_000_000)
      broker.kill()
      usleep(2_000_000)
      do { try broker.start() } catch { restartError.value.value = "\(error)" }
    }
    let warnings = try MQTTSupport.runCollectingWarnings(pipeline, timeoutSeconds: 40)
    let seconds = monotonicSeconds() - started
    XCTAssertEqual(outage.wait(timeout: .now() + 15), .success, "the outage thread did not finish")
    XCTAssertNil(restartError.value.value)
    XCTAssertLessThan(seconds, 20, "the stream stalled: \(frames) live frames at 25 fps took \(seconds) s")

    let written = try fileLines(path)
    XCTAssertEqual(written.count, frames, "the file must have every line whatever the broker does")
    let received = subscriber.wait(for: frames, seconds: 5)
    XCTAssertTrue(warnings.contains { $0.contains("lost the connection") && $0.contains("127.0.0.1:\(broker.port)") }, "\(warnings)")
    let dropWarning = try XCTUnwrap(warnings.first { $0.contains("dropped") }, "no warning counts the drops: \(warnings)")
    let dropped = try XCTUnwrap(
      dropWarning.split(separator: " ").drop { $0 != "dropped" }.dropFirst().first.flatMap { Int($0) },
      "no count in: \(dropWarning)")
    // Down ~2 s and up to ~3 s more until the reconnection (1 s, then 2 s back-off): 50-125 frames.
    XCTAssertGreaterThanOrEqual(dropped, 20, dropWarning)
    XCTAssertLessThanOrEqual(dropped, frames - 5 - 50, dropWarning)
    XCTAssertTrue(warnings.contains { $0.contains("reconnected") && $0.contains("sent 5 queued messages") }, "\(warnings)")
    // What arrived are the file's lines, in order, without the dropped ones, and
    // the lines after the reconnection (the last one included) are there.
    XCTAssertLessThanOrEqual(received.count, frames - dropped)
    var index = written.startIndex
    for line in received {
      guard let found = written[index...].firstIndex(of: line) else {
        XCTFail("received a line that is not in the file, or out of order: \(line)")
        break
      }
      index = found + 1
    }
    XCTAssertEqual(received.last, written.last, "the last line did not arrive")
    // Reconnected by ~5 s (attempts 1 s and then 2 s after the loss); frame 200
    // is at 8 s, which leaves room for one more failed attempt on a loaded machine.
    let after = received.filter { line in written.firstIndex(of: line).map { $0 >= 200 } ?? false }
    XCTAssertEqual(after.count, frames - 200, "every line of the last 2 s arrives after the reconnection")
  }

  /// The broker dies 1 s into a live 4 s stream and stays away: EOS on time, a
  /// warning at EOS counts the drops, and stopping does not wait for the broker.
  func testBrokerGoneUntilEndOfStreamWarnsOfTheDropsAtEOS() throws {
    let dir = try temporaryDirectory()
    let broker = try MQTTSupport.Broker(folder: dir, testCase: self)
    let pipeline = try Pipeline(
      "videotestsrc is-live=true num-buffers=100 ! video/x-raw,width=32,height=24,framerate=25/1 "
        + "! agegenderjson mqtt-host=127.0.0.1 mqtt-port=\(broker.port) mqtt-max-queue=5 ! fakesink")
    let killer = DispatchGroup()
    killer.enter()
    DispatchQueue.global().async {
      usleep(1_000_000)
      broker.kill()
      killer.leave()
    }
    let started = monotonicSeconds()
    let warnings = try MQTTSupport.runCollectingWarnings(pipeline, timeoutSeconds: 30)
    let seconds = monotonicSeconds() - started  // run() returns after the NULL state change
    XCTAssertEqual(killer.wait(timeout: .now() + 10), .success)
    XCTAssertLessThan(seconds, 10, "4 s of live frames and the stop took \(seconds) s")
    let report = try XCTUnwrap(warnings.first { $0.contains("dropped") }, "no drop warning at EOS: \(warnings)")
    let dropped = try XCTUnwrap(
      report.split(separator: " ").drop { $0 != "dropped" }.dropFirst().first.flatMap { Int($0) }, report)
    // ~75 frames after the loss, 5 of them still queued at EOS.
    XCTAssertTrue((40...95).contains(dropped), report)
    XCTAssertTrue(report.contains("5 more are still queued"), report)
  }

  /// A password file: a wrong password is an element error saying so (naming
  /// host:port); the right one publishes.
  func testPasswordWrongIsAnErrorRightPublishes() throws {
    let dir = try temporaryDirectory()
    let passwords = dir.appendingPathComponent("passwords").path
    let made = try runProcess(try MQTTSupport.program("mosquitto_passwd"), ["-b", "-c", passwords, "camera", "s3cret pass"], timeoutSeconds: 20)
    XCTAssertEqual(made.status, 0, made.stderr)
    let broker = try MQTTSupport.Broker(
      folder: dir, extra: ["allow_anonymous false", "password_file \(passwords)"], testCase: self)

    let (error, seconds) = try startFailure(
      "videotestsrc num-buffers=3 ! agegenderjson mqtt-host=127.0.0.1 mqtt-port=\(broker.port) mqtt-username=camera "
        + "mqtt-password=wrong ! fakesink")
    let text = try XCTUnwrap(error, "a wrong password started")
    XCTAssertTrue(text.contains("user name or password") && text.contains("127.0.0.1:\(broker.port)"), text)
    XCTAssertLessThan(seconds, 6)
    let anonymous = try XCTUnwrap(
      try startFailure("videotestsrc num-buffers=3 ! agegenderjson mqtt-host=127.0.0.1 mqtt-port=\(broker.port) ! fakesink").error,
      "no user name: started")
    XCTAssertTrue(anonymous.contains("refused"), anonymous)

    let subscriber = try MQTTSupport.Subscriber(broker: broker, arguments: ["-u", "camera", "-P", "s3cret pass"], testCase: self)
    // From gst-launch: with mqtt-host and no location, nothing goes to stdout.
    let launched = try runProcess(
      "/usr/bin/gst-launch-1.0",
      ["-q", "videotestsrc", "num-buffers=5", "!", "video/x-raw,width=32,height=24", "!", "agegenderjson",
        "mqtt-host=127.0.0.1", "mqtt-port=\(broker.port)", "mqtt-username=camera", "mqtt-password=s3cret pass", "!",
        "fakesink"], timeoutSeconds: 30)
    XCTAssertEqual(launched.status, 0, launched.stderr)
    XCTAssertEqual(launched.stdout, "", "lines went to stdout although mqtt-host is set")
    let received = subscriber.wait(for: 5, seconds: 10)
    XCTAssertEqual(received.count, 5, "\(received)")
    XCTAssertTrue(received.allSatisfy { $0.hasPrefix("{\"pts\":") && $0.contains("\"width\":32") }, "\(received)")
  }

  /// TLS with a CA and a server certificate made here with openssl: works with
  /// the CA file; without it, or with another CA, an element error that says why.
  func testTLSWithTheCAWorksWithoutOrWithAnotherCAFails() throws {
    let dir = try temporaryDirectory()
    let openssl = try MQTTSupport.program("openssl")
    func run(_ arguments: [String]) throws {
      let result = try runProcess(openssl, arguments, timeoutSeconds: 30)
      XCTAssertEqual(result.status, 0, "openssl \(arguments.joined(separator: " ")): \(result.stderr)")
    }
    let file = { (name: String) in dir.appendingPathComponent(name).path }
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    try run(["req", "-x509"] + ec + ["-keyout", file("ca.key"), "-out", file("ca.crt"), "-days", "2", "-subj", "/CN=agegender test CA"])
    try run(["req"] + ec + ["-keyout", file("server.key"), "-out", file("server.csr"), "-subj", "/CN=127.0.0.1"])
    try "subjectAltName=IP:127.0.0.1\n".write(toFile: file("ext.cnf"), atomically: true, encoding: .utf8)
    try run([
      "x509", "-req", "-in", file("server.csr"), "-CA", file("ca.crt"), "-CAkey", file("ca.key"), "-CAcreateserial",
      "-out", file("server.crt"), "-days", "2", "-extfile", file("ext.cnf"),
    ])
    try run(["req", "-x509"] + ec + ["-keyout", file("other.key"), "-out", file("other.crt"), "-days", "2", "-subj", "/CN=another CA"])
    let broker = try MQTTSupport.Broker(
      folder: dir, listenerOptions: ["cafile \(file("ca.crt"))", "certfile \(file("server.crt"))", "keyfile \(file("server.key"))"],
      testCase: self)
    let endpoint = "127.0.0.1:\(broker.port)"

    let plain = try XCTUnwrap(
      try startFailure("videotestsrc num-buffers=3 ! agegenderjson mqtt-host=127.0.0.1 mqtt-port=\(broker.port) ! fakesink").error,
      "plain MQTT to a TLS listener started")
    XCTAssertTrue(plain.contains(endpoint) && plain.contains("mqtt-tls-ca-file"), plain)
    let (wrong, seconds) = try startFailure(
      "videotestsrc num-buffers=3 ! agegenderjson mqtt-host=127.0.0.1 mqtt-port=\(broker.port) "
        + "mqtt-tls-ca-file=\(file("other.crt")) ! fakesink")
    let wrongText = try XCTUnwrap(wrong, "TLS with another CA started")
    XCTAssertTrue(wrongText.contains("TLS") && wrongText.contains(endpoint), wrongText)
    XCTAssertTrue(wrongText.contains("certificate verify failed"), wrongText)
    XCTAssertLessThan(seconds, 6)
    let missing = try XCTUnwrap(
      try startFailure(
        "videotestsrc num-buffers=3 ! agegenderjson mqtt-host=127.0.0.1 mqtt-port=\(broker.port) "
          + "mqtt-tls-ca-file=\(file("no-such-ca.crt")) ! fakesink"
      ).error, "TLS with a missing CA file started")
    XCTAssertTrue(missing.contains("no-such-ca.crt"), missing)

    let subscriber = try MQTTSupport.Subscriber(broker: broker, arguments: ["--cafile", file("ca.crt")], testCase: self)
    try Pipeline(
      "videotestsrc num-buffers=5 ! video/x-raw,width=32,height=24 ! agegenderjson mqtt-host=127.0.0.1 "
        + "mqtt-port=\(broker.port) mqtt-tls-ca-file=\(file("ca.crt")) mqtt-topic=cameras/door mqtt-qos=2 ! fakesink"
    ).run(timeoutSeconds: 30)
    XCTAssertEqual(subscriber.wait(for: 1, seconds: 2).count, 0, "lines on another topic reached agegender")
    let doorSubscriber = try MQTTSupport.Subscriber(
      broker: broker, topic: "cameras/#", arguments: ["--cafile", file("ca.crt")], testCase: self)
    try Pipeline(
      "videotestsrc num-buffers=5 ! video/x-raw,width=32,height=24 ! agegenderjson mqtt-host=127.0.0.1 "
        + "mqtt-port=\(broker.port) mqtt-tls-ca-file=\(file("ca.crt")) mqtt-topic=cameras/door mqtt-qos=2 ! fakesink"
    ).run(timeoutSeconds: 30)
    XCTAssertEqual(doorSubscriber.wait(for: 5, seconds: 10).count, 5)
  }

  /// While playing over TLS, the broker comes back with a certificate from
  /// another CA, then with the right one again: a warning names the TLS failure,
  /// the stream never stalls, and once the right certificate is back the lines
  /// arrive again (libmosquitto's thread gives up after a TLS error; the element
  /// restarts it with back-off).
  func testTLSFailureWhilePlayingIsAWarningAndNeverStalls() throws {
    let dir = try temporaryDirectory()
    let openssl = try MQTTSupport.program("openssl")
    let file = { (name: String) in dir.appendingPathComponent(name).path }
    func run(_ arguments: [String]) throws {
      let result = try runProcess(openssl, arguments, timeoutSeconds: 30)
      XCTAssertEqual(result.status, 0, "openssl \(arguments.joined(separator: " ")): \(result.stderr)")
    }
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    try "subjectAltName=IP:127.0.0.1\n".write(toFile: file("ext.cnf"), atomically: true, encoding: .utf8)
    for ca in ["ca", "other"] {
      try run(["req", "-x509"] + ec + ["-keyout", file("\(ca).key"), "-out", file("\(ca).crt"), "-days", "2", "-subj", "/CN=\(ca) test CA"])
      try run(["req"] + ec + ["-keyout", file("\(ca)-server.key"), "-out", file("\(ca)-server.csr"), "-subj", "/CN=127.0.0.1"])
      try run([
        "x509", "-req", "-in", file("\(ca)-server.csr"), "-CA", file("\(ca).crt"), "-CAkey", file("\(ca).key"),
        "-CAcreateserial", "-out", file("\(ca)-server.crt"), "-days", "2", "-extfile", file("ext.cnf"),
      ])
    }
    let broker = try MQTTSupport.Broker(
      folder: dir,
      listenerOptions: ["certfile \(file("ca-server.crt"))", "keyfile \(file("ca-server.key"))"], testCase: self)
    let goodConfig = try String(contentsOf: broker.config, encoding: .utf8)
    let badConfig = goodConfig.replacingOccurrences(of: "ca-server.", with: "other-server.")
    let path = file("lines.jsonl")
    let frames = 300
    let pipeline = try Pipeline(
      "videotestsrc is-live=true num-buffers=\(frames) ! video/x-raw,width=32,height=24,framerate=25/1 "
        + "! agegenderjson location=\(path) mqtt-host=127.0.0.1 mqtt-port=\(broker.port) "
        + "mqtt-tls-ca-file=\(file("ca.crt")) mqtt-max-queue=5 ! fakesink")
    // mosquitto_sub gives up on a TLS error too: a fresh one once the right certificate is back.
    let subscriber = Robust.Unchecked(Robust.Box<MQTTSupport.Child?>(nil))
    addTeardownBlock { subscriber.value.value?.stop() }
    let subscribe = try MQTTSupport.program("mosquitto_sub")
    let switcher = DispatchGroup()
    let failure = Robust.Unchecked(Robust.Box<String?>(nil))
    switcher.enter()
    DispatchQueue.global().async {
      defer { switcher.leave() }
      do {
        usleep(1_000_000)
        try badConfig.write(to: broker.config, atomically: true, encoding: .utf8)
        try broker.start()
        usleep(3_000_000)
        try goodConfig.write(to: broker.config, atomically: true, encoding: .utf8)
        try broker.start()
        subscriber.value.value = try MQTTSupport.Child(
          subscribe,
          ["-h", "127.0.0.1", "-p", "\(broker.port)", "-t", "agegender", "-q", "1", "--cafile", file("ca.crt")],
          in: dir, name: "late-subscriber")
      } catch { failure.value.value = "\(error)" }
    }
    let started = monotonicSeconds()
    let warnings = try MQTTSupport.runCollectingWarnings(pipeline, timeoutSeconds: 40)
    let seconds = monotonicSeconds() - started
    XCTAssertEqual(switcher.wait(timeout: .now() + 15), .success)
    XCTAssertNil(failure.value.value)
    print("TLS failure while playing: \(seconds) s, warnings: \(warnings)")
    XCTAssertLessThan(seconds, 20, "\(frames) live frames took \(seconds) s")
    XCTAssertTrue(warnings.contains { $0.contains("TLS failure") && $0.contains("certificate verify failed") }, "\(warnings)")
    XCTAssertTrue(warnings.contains { $0.contains("restarting its network thread") }, "\(warnings)")
    XCTAssertTrue(warnings.contains { $0.contains("reconnected") && $0.contains("dropped") }, "\(warnings)")
    // Back by ~8 s in three runs here (the restarts' back-off after each TLS failure: 1, 2, 3 s); frame 270 is at 10.8 s.
    let written = try fileLines(path)
    XCTAssertEqual(written.count, frames)
    let late = try XCTUnwrap(subscriber.value.value, "the late subscriber did not start")
    let deadline = monotonicSeconds() + 5
    while !late.stdout.contains(written.last ?? "-") && monotonicSeconds() < deadline { usleep(50_000) }
    let received = Set(late.stdout.split(separator: "\n").map(String.init))
    let missing = written[270...].filter { !received.contains($0) }.count
    XCTAssertEqual(missing, 0, "\(missing) of the last 30 lines did not arrive after the TLS recovery")
  }

  /// Nothing listening: an element error naming host:port, within the connect bound.
  func testNothingListeningIsAnErrorNamingHostAndPort() throws {
    let port = try MQTTSupport.freePort()
    let (error, seconds) = try startFailure(
      "videotestsrc num-buffers=3 ! agegenderjson mqtt-host=127.0.0.1 mqtt-port=\(port) ! fakesink")
    let text = try XCTUnwrap(error, "started without a broker")
    XCTAssertTrue(text.contains("127.0.0.1:\(port)"), text)
    XCTAssertLessThan(seconds, 6, "the error took \(seconds) s")
  }
}
