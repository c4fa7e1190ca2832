import CMosquitto
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Publishes agegenderjson's lines to an MQTT broker with libmosquitto.
///
/// libmosquitto's own network thread (`mosquitto_loop_start`) does all socket
/// work and reconnects with a back-off; the streaming thread only hands a line
/// over (`mosquitto_publish` queues it and wakes that thread) or, while the
/// broker is away, keeps it in a bounded queue of our own. That queue is ours
/// and not libmosquitto's because libmosquitto keeps QoS 1/2 messages published
/// while disconnected without any bound, and refuses QoS 0 ones.
final class MQTTPublisher: @unchecked Sendable {
  struct Options: Equatable {
    var host: String
    var port: Int32
    var topic: String
    var clientID: String?
    var qos: Int32
    var username: String?
    var password: String?
    var tlsCAFile: String?
    var maxQueue: Int
  }

  /// Why the broker could not be reached at start, worded for the element error.
  struct Failure: Error {
    enum Kind { case unreachable, refused, notAuthorized, tls, settings }
    let kind: Kind
    let text: String
  }

  /// How long start() waits for the broker's CONNACK: a broker that is not
  /// there must become an element error in seconds, not hang the state change.
  static let connectTimeoutSeconds = 5.0
  /// Seconds between reconnection attempts after the broker is lost: 1, 2, 3 ...
  /// up to 10 (libmosquitto's linear back-off), so a restarted broker is found
  /// again within seconds while a dead one costs one attempt every 10 s.
  static let reconnectDelay: UInt32 = 1, reconnectDelayMax: UInt32 = 10
  /// MQTT keep-alive: a broker that vanishes without closing the socket is noticed within 1.5x this.
  static let keepAliveSeconds: Int32 = 30
  /// How long stop() waits for lines already handed to libmosquitto to go out.
  static let drainTimeoutSeconds = 5.0

  enum Phase: Equatable { case connecting, connected, disconnected, closing }

  /// A FIFO of lines with a fixed capacity (a ring, so dropping the oldest is O(1)).
  struct LineQueue {
    private var slots: [String?]
    private var head = 0
    private(set) var count = 0
    init(capacity: Int) { slots = Array(repeating: nil, count: max(0, capacity)) }
    var capacity: Int { slots.count }
    /// Appends; when full, drops the oldest line and returns true.
    mutating func push(_ line: String) -> Bool {
      guard capacity > 0 else { return true }
      if count == capacity {
        slots[head] = line
        head = (head + 1) % capacity
        return true
      }
      slots[(head + count) % capacity] = line
      count += 1
      return false
    }
    mutating func pop() -> String? {
      guard count > 0 else { return nil }
      defer {
        slots[head] = nil
        head = (head + 1) % capacity
        count -= 1
      }
      return slots[head]
    }
  }

  struct Shared {
    var phase = Phase.connecting
    var queue: LineQueue
    /// Lines dropped since the last warning about it.
    var dropped: UInt64 = 0
    var everConnected = false
    /// What ended the first connection attempt (start() reads it).
    var startFailure: Failure?
    /// libmosquitto's latest error or warning log line (its TLS errors come only this way).
    var lastLog: String?
    /// TLS errors while playing, since the last successful connection (the restart back-off).
    var tlsFailures = 0
    /// A restart of the network thread after a TLS error is pending.
    var tlsRestarting = false
    /// The thread doing that restart (joined by the next one, or by close()).
    var restarter: pthread_t?
  }

  let options: Options
  let endpoint: String
  private let shared: Mutex<Shared>
  /// Lines handed to libmosquitto, and those it reported sent (QoS 0) or acknowledged (QoS 1, 2).
  private let handed = Atomic<Int>(0)
  private let published = Atomic<Int>(0)
  private var mosq: OpaquePointer?
  /// Posts a GStreamer warning on the element (called from libmosquitto's thread too).
  private let warn: @Sendable (String) -> Void
  private let log: @Sendable (String) -> Void

  private static let libraryReady: Bool = { mosquitto_lib_init() == MOSQ_ERR_SUCCESS.rawValue }()

  init(options: Options, warn: @escaping @Sendable (String) -> Void, log: @escaping @Sendable (String) -> Void) {
    self.options = options
    endpoint = options.host.contains(":") ? "[\(options.host)]:\(options.port)" : "\(options.host):\(options.port)"
    shared = Mutex(Shared(queue: LineQueue(capacity: options.maxQueue)))
    self.warn = warn
    self.log = log
  }

  deinit { close() }

  // MARK: Connecting

  /// Connects and starts libmosquitto's network thread; returns once the
  /// broker accepted the connection, or throws within connectTimeoutSeconds.
  func connect() throws {
    guard Self.libraryReady else { throw Failure(kind: .settings, text: "libmosquitto could not be initialised") }
    guard mosquitto_pub_topic_check(options.topic) == MOSQ_ERR_SUCCESS.rawValue else {
      throw Failure(kind: .settings, text: "mqtt-topic \"\(options.topic)\" is not a valid MQTT topic to publish to")
    }
    let context = Unmanaged.passUnretained(self).toOpaque()
    guard let client = mosquitto_new(options.clientID, true, context) else {
      throw Failure(kind: .settings, text: "could not create an MQTT client: \(String(cString: strerror(errno)))")
    }
    mosq = client
    mosquitto_connect_callback_set(client) { _, context, code in
      MQTTPublisher.from(context).connected(code)
    }
    mosquitto_disconnect_callback_set(client) { _, context, code in
      MQTTPublisher.from(context).disconnected(code)
    }
    mosquitto_publish_callback_set(client) { _, context, _ in
      MQTTPublisher.from(context).published.add(1, ordering: .relaxed)
    }
    mosquitto_log_callback_set(client) { _, context, level, text in
      guard let text else { return }
      MQTTPublisher.from(context).logged(level, String(cString: text))
    }
    if let username = options.username {
      try check(mosquitto_username_pw_set(client, username, options.password), "mqtt-username/mqtt-password")
    }
    if let caFile = options.tlsCAFile {
      // The broker's certificate must chain to this CA and name the host we dial
      // (libmosquitto checks the host name unless told it is insecure).
      let rc = mosquitto_tls_set(client, caFile, nil, nil, nil, nil)
      if rc != MOSQ_ERR_SUCCESS.rawValue {
        throw Failure(
          kind: .tls, text: "TLS set-up failed for mqtt-tls-ca-file \"\(caFile)\": \(String(cString: mosquitto_strerror(rc)))"
            + (access(caFile, R_OK) != 0 ? " (cannot read the file)" : ""))
      }
    }
    try check(mosquitto_reconnect_delay_set(client, Self.reconnectDelay, Self.reconnectDelayMax, false), "reconnect delay")
    let rc = mosquitto_connect_async(client, options.host, options.port, Self.keepAliveSeconds)
    if rc != MOSQ_ERR_SUCCESS.rawValue {
      // Refused TCP connections and TLS handshakes with a local broker fail here, at once.
      let failure =
        rc == MOSQ_ERR_ERRNO.rawValue
        ? Failure(kind: .unreachable, text: "could not connect to the MQTT broker at \(endpoint): \(String(cString: strerror(errno)))")
        : startFailure(rc, lastLog: shared.withLock { $0.lastLog })
      close()
      throw failure
    }
    try check(mosquitto_loop_start(client), "network thread")
    let deadline = monotonicNow() + Self.connectTimeoutSeconds
    while true {
      let (phase, failure) = shared.withLock { ($0.phase, $0.startFailure) }
      if phase == .connected { return }
      if let failure {
        close()
        throw failure
      }
      if monotonicNow() > deadline {
        let last = shared.withLock { $0.lastLog }
        if let last, mentions(last, "OpenSSL") {
          close()
          throw startFailure(MOSQ_ERR_TLS.rawValue, lastLog: last)
        }
        close()
        throw Failure(
          kind: .unreachable,
          text: "the MQTT broker at \(endpoint) did not accept a connection within \(Int(Self.connectTimeoutSeconds)) s"
            + (last.map { " (\($0))" } ?? ""))
      }
      usleep(10_000)
    }
  }

  private func check(_ rc: Int32, _ what: String) throws {
    guard rc != MOSQ_ERR_SUCCESS.rawValue else { return }
    close()
    throw Failure(kind: .settings, text: "MQTT \(what): \(String(cString: mosquitto_strerror(rc)))")
  }

  private static func from(_ context: UnsafeMutableRawPointer?) -> MQTTPublisher {
    Unmanaged<MQTTPublisher>.fromOpaque(context!).takeUnretainedValue()
  }

  // MARK: libmosquitto's thread

  /// CONNACK: accepted (code 0) or refused. On acceptance, the lines queued
  /// while the broker was away go first, under the lock, so that the
  /// streaming thread's next line cannot overtake them.
  private func connected(_ code: Int32) {
    if code != 0 {
      let reason = String(cString: mosquitto_connack_string(code))
      // MQTT 3.1.1 CONNACK 4: bad user name or password; 5: not authorised.
      let kind: Failure.Kind = (code == 4 || code == 5) ? .notAuthorized : .refused
      let text =
        kind == .notAuthorized
        ? "the MQTT broker at \(endpoint) refused the user name or password (\(reason)); check mqtt-username and mqtt-password"
        : "the MQTT broker at \(endpoint) refused the connection: \(reason)"
      let first = shared.withLock { s -> Bool in
        if !s.everConnected && s.startFailure == nil { s.startFailure = Failure(kind: kind, text: text) }
        return !s.everConnected
      }
      if !first { warn(text + "; retrying") }
      return
    }
    var report: String?
    shared.withLock { s in
      if s.phase == .closing { return }  // stop() has begun: nothing more goes out
      let again = s.everConnected
      s.everConnected = true
      var sent = 0
      while let line = s.queue.pop() {
        if send(line) { sent += 1 }
      }
      s.phase = .connected
      s.tlsFailures = 0
      if again {
        report = "reconnected to the MQTT broker at \(endpoint); sent \(sent) queued messages"
        if s.dropped > 0 {
          report! += ", dropped \(s.dropped) messages (oldest first) beyond mqtt-max-queue=\(options.maxQueue)"
          s.dropped = 0
        }
      }
    }
    if let report { warn(report) }
  }

  /// The connection ended. Before the first CONNACK that is a start failure;
  /// afterwards the broker was lost, and libmosquitto reconnects by itself.
  private func disconnected(_ code: Int32) {
    var lost = false
    shared.withLock { s in
      if s.phase == .closing { return }
      if !s.everConnected {
        if s.startFailure == nil { s.startFailure = startFailure(code, lastLog: s.lastLog) }
        return
      }
      if s.phase == .connected { lost = true }
      s.phase = .disconnected
    }
    if lost {
      warn(
        "lost the connection to the MQTT broker at \(endpoint) (\(String(cString: mosquitto_strerror(code)))); "
          + "queuing up to \(options.maxQueue) messages while reconnecting")
    }
  }

  private func startFailure(_ code: Int32, lastLog: String?) -> Failure {
    let detail = lastLog.map { ": \($0)" } ?? ""
    if code == MOSQ_ERR_TLS.rawValue || lastLog.map { mentions($0, "OpenSSL") || mentions($0, "TLS") } == true {
      return Failure(
        kind: .tls,
        text: "TLS handshake with the MQTT broker at \(endpoint) failed\(detail)"
          + (options.tlsCAFile == nil ? "" : " (is mqtt-tls-ca-file the CA that signed the broker's certificate?)"))
    }
    if options.tlsCAFile == nil && (code == MOSQ_ERR_CONN_LOST.rawValue || code == MOSQ_ERR_PROTOCOL.rawValue) {
      return Failure(
        kind: .unreachable,
        text: "the connection to the MQTT broker at \(endpoint) ended before the broker accepted the client "
          + "(\(String(cString: mosquitto_strerror(code)))); if it expects TLS, set mqtt-tls-ca-file")
    }
    return Failure(
      kind: .unreachable,
      text: "could not connect to the MQTT broker at \(endpoint): \(String(cString: mosquitto_strerror(code)))\(detail)")
  }

  private func logged(_ level: Int32, _ text: String) {
    if level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING) != 0 {
      shared.withLock { s in
        s.lastLog = text
        // A handshake that fails in the network thread (rather than inside
        // mosquitto_connect_async) ends that thread's loop without a disconnect
        // callback (libmosquitto treats TLS errors as fatal): OpenSSL's log line
        // is the only sign, so it decides the start failure at once.
        if !s.everConnected && s.startFailure == nil && mentions(text, "OpenSSL") {
          s.startFailure = startFailure(MOSQ_ERR_TLS.rawValue, lastLog: text)
        }
      }
    }
    log(text)
    // The same while playing (say the broker came back with a certificate
    // from another CA): libmosquitto's thread gives up for good, so a thread of
    // ours restarts it after the back-off; meanwhile lines are kept and dropped
    // as while the broker is away. Warned once per outage.
    if level & MOSQ_LOG_ERR != 0 && mentions(text, "OpenSSL") {
      let (started, first, previous) = shared.withLock { s -> (Bool, Bool, pthread_t?) in
        guard s.everConnected, s.phase != .closing, !s.tlsRestarting else { return (false, false, nil) }
        s.phase = .disconnected
        s.tlsRestarting = true
        s.tlsFailures += 1
        let previous = s.restarter
        // Spawned under the lock, so close() (which sets .closing under it) always sees and joins it.
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        if pthread_create(&thread, nil, { context in
          let publisher = Unmanaged<MQTTPublisher>.fromOpaque(context!).takeRetainedValue()
          publisher.restartAfterTLSFailure()
          return nil
        }, context) == 0 {
          s.restarter = thread
        } else {
          Unmanaged<MQTTPublisher>.fromOpaque(context).release()
          s.restarter = nil
        }
        return (s.restarter != nil, s.tlsFailures == 1, previous)
      }
      if let previous { pthread_join(previous, nil) }  // it ended right after its loop_start
      if first {
        warn(
          "TLS failure with the MQTT broker at \(endpoint) (\(text)); libmosquitto does not retry after TLS errors, "
            + (started ? "restarting its network thread with back-off" : "and its thread could not be restarted")
            + "; lines are queued up to mqtt-max-queue meanwhile")
      }
    }
  }

  /// After a TLS error: ends what is left of libmosquitto's network thread
  /// (disconnect first, so a thread that did not give up ends too), waits the
  /// back-off (1, 2, 3 ... 10 s, interrupted by close()), then reconnects and
  /// starts a new network thread. Runs on its own thread, never on libmosquitto's.
  private func restartAfterTLSFailure() {
    guard let client = mosq else { return }
    mosquitto_disconnect(client)
    mosquitto_loop_stop(client, false)
    let failures = shared.withLock { $0.tlsFailures }
    let delay = min(Double(Self.reconnectDelayMax), Double(Self.reconnectDelay) * Double(failures))
    let deadline = monotonicNow() + delay
    while monotonicNow() < deadline {
      if shared.withLock({ $0.phase == .closing }) { return }
      usleep(50_000)
    }
    let go = shared.withLock { s -> Bool in
      guard s.phase != .closing else { return false }
      s.tlsRestarting = false
      return true
    }
    guard go else { return }
    // A refused connection here is retried by the new thread's own back-off.
    let rc = mosquitto_reconnect_async(client)
    if rc != MOSQ_ERR_SUCCESS.rawValue { log("reconnect after a TLS error: \(String(cString: mosquitto_strerror(rc)))") }
    mosquitto_loop_start(client)
  }

  // MARK: Publishing (streaming thread)

  /// Hands one line to libmosquitto, or queues it while the broker is away
  /// (dropping the oldest beyond max-queue). Never waits for the network.
  func publish(_ line: String) {
    shared.withLock { s in
      if s.phase == .connected {
        if send(line) { return }
        // Lost, and the disconnect callback has not run yet: keep the line.
        s.phase = .disconnected
      }
      if s.queue.push(line) { s.dropped += 1 }
    }
  }

  /// mosquitto_publish copies the payload and returns at once (its thread sends).
  private func send(_ line: String) -> Bool {
    guard let mosq else { return false }
    var text = line
    let rc = text.withUTF8 { bytes in
      mosquitto_publish(mosq, nil, options.topic, Int32(bytes.count), bytes.baseAddress, options.qos, false)
    }
    if rc == MOSQ_ERR_SUCCESS.rawValue {
      handed.add(1, ordering: .relaxed)
      return true
    }
    if rc != MOSQ_ERR_NO_CONN.rawValue && rc != MOSQ_ERR_CONN_LOST.rawValue {
      log("mosquitto_publish: \(String(cString: mosquitto_strerror(rc)))")
    }
    return false
  }

  /// A warning text for lines dropped and not yet reported (at end of stream), else nil.
  func takeDropReport() -> String? {
    shared.withLock { s -> String? in
      guard s.dropped > 0 else { return nil }
      defer { s.dropped = 0 }
      return "dropped \(s.dropped) messages (oldest first) beyond mqtt-max-queue=\(options.maxQueue) while the MQTT "
        + "broker at \(endpoint) was unreachable; \(s.queue.count) more are still queued"
    }
  }

  // MARK: Closing

  /// Lets handed-over lines go out (bounded), then disconnects and joins the
  /// network thread. Lines still queued for an absent broker are lost.
  func close() {
    guard let client = mosq else { return }
    let deadline = monotonicNow() + Self.drainTimeoutSeconds
    while shared.withLock({ $0.phase == .connected }) && published.load(ordering: .relaxed) < handed.load(ordering: .relaxed)
      && monotonicNow() < deadline
    {
      usleep(5_000)
    }
    let (left, restarter) = shared.withLock { s -> (Int, pthread_t?) in
      s.phase = .closing
      defer { s.restarter = nil }
      return (s.queue.count, s.restarter)
    }
    // A restart after a TLS error either sees .closing and stops, or has
    // finished its loop_start: either way the disconnect below ends the thread.
    if let restarter { pthread_join(restarter, nil) }
    if left > 0 { log("\(left) queued messages not sent: the broker at \(endpoint) was unreachable") }
    mosquitto_disconnect(client)
    // The thread sleeps between reconnection attempts in a select() that
    // loop_stop wakes; it then sees the disconnect and ends.
    mosquitto_loop_stop(client, false)
    mosquitto_destroy(client)
    mosq = nil
  }
}

func monotonicNow() -> Double {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Whether `text` contains `word`. (String.contains(String) comes from
/// _StringProcessing, which the plugin does not import: see Package.swift.)
private func mentions(_ text: String, _ word: String) -> Bool {
  let t = Array(text.utf8), w = Array(word.utf8)
  if w.isEmpty { return true }
  if t.count < w.count { return false }
  return (0...(t.count - w.count)).contains { t[$0..<($0 + w.count)].elementsEqual(w) }
}
