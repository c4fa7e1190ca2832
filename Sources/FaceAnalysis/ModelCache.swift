import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Loaded models shared by everything in the process that asks for the same
/// one: several `agegender` elements (one per camera) hold one copy of each
/// net instead of one each (issue 14: 77 MB per added stream before).
///
/// A model is the same when its files are the same (device, inode, size and
/// modification time, so another spelling of the path shares and a replaced
/// file does not), it is read the same way (`kind`), at the same input size
/// (a CenterFace net planned for one size gives garbage at another, see
/// `CenterFaceDetector`), and it is asked for under the same instance name
/// (`ModelStore.modelInstance`, the element's `model-instance-id`; the empty
/// name is the process-wide default).
///
/// Reference counting is Swift's own: the cache keeps only weak references,
/// every user holds a `SharedModel`, and the model is freed when the last
/// user lets go (the observer hears "freed"). A model is loaded once even
/// when many users ask at the same moment (each key loads under its own
/// lock, so loading one model never waits for the load of another).
///
/// The shared objects must be safe to use from several threads: the bridge
/// serialises each net's forwards (and each cascade's detections) with a lock
/// of its own, and the shape predictor is read-only.
public final class ModelCache: Sendable {
  /// The cache of this process.
  public static let shared = ModelCache()

  /// A file as the cache tells files apart.
  public struct FileIdentity: Hashable, Sendable, CustomStringConvertible {
    public let path: String
    let device: UInt64
    let inode: UInt64
    let size: Int64
    let modified: Int64
    let modifiedNanoseconds: Int64

    /// The identity of the file at `path`, nil when it cannot be stat'ed.
    public init?(path: String) {
      var info = stat()
      guard stat(path, &info) == 0 else { return nil }
      self.path = path
      device = UInt64(info.st_dev)
      inode = UInt64(info.st_ino)
      size = Int64(info.st_size)
      modified = Int64(info.st_mtim.tv_sec)
      modifiedNanoseconds = Int64(info.st_mtim.tv_nsec)
    }

    // The path only names the file in messages: two spellings of one file are one file.
    public static func == (a: FileIdentity, b: FileIdentity) -> Bool {
      a.device == b.device && a.inode == b.inode && a.size == b.size && a.modified == b.modified
        && a.modifiedNanoseconds == b.modifiedNanoseconds
    }

    public func hash(into hasher: inout Hasher) {
      hasher.combine(device)
      hasher.combine(inode)
      hasher.combine(size)
      hasher.combine(modified)
      hasher.combine(modifiedNanoseconds)
    }

    public var description: String { path }
  }

  /// What makes two requests the same loaded model.
  public struct Key: Hashable, Sendable, CustomStringConvertible {
    /// The model instance name (the empty string: the default, shared by all).
    public var instance: String
    /// How the files are read (e.g. "onnx", "caffe", "haar", "shape-predictor").
    public var kind: String
    public var files: [FileIdentity]
    /// The network input the model is planned for (0 x 0 when that does not apply).
    public var inputWidth: Int
    public var inputHeight: Int

    public init(instance: String, kind: String, files: [FileIdentity], inputWidth: Int = 0, inputHeight: Int = 0) {
      self.instance = instance
      self.kind = kind
      self.files = files
      self.inputWidth = inputWidth
      self.inputHeight = inputHeight
    }

    public var description: String {
      let names = files.map { $0.path.split(separator: "/").last.map(String.init) ?? $0.path }.joined(separator: " + ")
      let size = inputWidth > 0 ? " at \(inputWidth)x\(inputHeight)" : ""
      return "\(kind) \(names)\(size)" + (instance.isEmpty ? "" : " (model instance '\(instance)')")
    }
  }

  /// A slot per key: its lock is held while its model loads, so users of one
  /// key wait for a single load and users of other keys do not wait at all.
  /// Only `model(_:load:free:)` reads the weak reference, under this lock and
  /// never under `entries`' (a strong reference read out of it and dropped
  /// under a lock could be the last one, and the model's deinit takes `entries`' lock).
  private final class Slot: Sendable {
    struct Content {
      weak var model: AnyObject?
    }
    let content = Mutex(Content())
  }

  private struct Entry {
    let slot: Slot
    /// Requests between taking the slot and finishing with it (a slot in use is never dropped).
    var pending = 0
    /// Models of this key loaded and not yet freed (1 while in use; for a
    /// moment 2, when one is being freed as the next loads).
    var live = 0
  }

  private struct Counters {
    var loads = 0
    var frees = 0
    /// Kind and files of every model that loaded in this process (never
    /// shrinks; a changed file is another identity).
    var loadedFiles: Set<[String]> = []
  }

  private let entries = Mutex<[Key: Entry]>([:])
  private let counters = Mutex(Counters())
  /// What happened to a model, for the observer.
  public enum Event: String, Sendable {
    case loaded, shared, freed
  }

  private struct Observer {
    let isListening: @Sendable () -> Bool
    let receive: @Sendable (Event, Key) -> Void
  }

  private let observer = Mutex<Observer?>(nil)

  public init() {}

  /// `observer` hears every load, share and free while `isListening()` says
  /// so (the plugin sends them to its debug log when its level is INFO or
  /// more, where tests and users can see the sharing). Asked first, because
  /// calling the observer for every event while nobody read it (the debug
  /// level off) grew the lifecycle test's anonymous RSS by ~10 kB a
  /// start/stop cycle (2.3 MB over 180 cycles, heap in use flat; 0.3 MB with
  /// no call), a cost whose cause was not found.
  public func setObserver(
    isListening: @escaping @Sendable () -> Bool = { true }, _ observer: (@Sendable (Event, Key) -> Void)?
  ) {
    self.observer.withLock { $0 = observer.map { Observer(isListening: isListening, receive: $0) } }
  }

  /// The model for `key`: the live one if any user holds it, else `load()`'s
  /// (called once however many ask at the same time). `free` releases what
  /// `load` returned when the last user lets go.
  public func model<Value>(
    _ key: Key, load: () throws -> Value, free: @escaping @Sendable (Value) -> Void = { _ in }
  ) throws -> SharedModel<Value> {
    let slot = entries.withLock { entries -> Slot in
      if entries[key] == nil { entries[key] = Entry(slot: Slot()) }
      entries[key]!.pending += 1
      return entries[key]!.slot
    }
    defer {
      entries.withLock { entries in
        entries[key]?.pending -= 1
        dropIfUnused(key, in: &entries)
      }
    }
    var loaded = false
    // Held past the lock: a model of another type under this key (a caller's
    // mistake) is dropped outside it.
    var other: AnyObject?
    let model = try slot.content.withLock { content -> SharedModel<Value> in
      if let live = content.model {
        if let typed = live as? SharedModel<Value> { return typed }
        other = live
      }
      let made = SharedModel(value: try load(), key: key, cache: self, free: free)
      content.model = made
      loaded = true
      entries.withLock { $0[key]?.live += 1 }
      return made
    }
    withExtendedLifetime(other) {}
    if loaded {
      counters.withLock {
        $0.loads += 1
        $0.loadedFiles.insert(Self.fileKey(kind: key.kind, files: key.files))
      }
      notify(.loaded, key)
    } else {
      notify(.shared, key)
    }
    return model
  }

  /// Whether a model of this kind has loaded from these very files (same
  /// identities) in this process, at any input size, under any instance: then
  /// the files are known to load, and a load only to check them can be skipped.
  public func hasLoaded(kind: String, files: [FileIdentity]) -> Bool {
    let wanted = Self.fileKey(kind: kind, files: files)
    return counters.withLock { $0.loadedFiles.contains(wanted) }
  }

  private static func fileKey(kind: String, files: [FileIdentity]) -> [String] {
    [kind] + files.map { "\($0.device):\($0.inode):\($0.size):\($0.modified).\($0.modifiedNanoseconds)" }
  }

  /// Keys of the models some user holds now.
  public var liveModels: [Key] {
    entries.withLock { entries in entries.compactMap { key, entry in entry.live > 0 ? key : nil } }
  }

  /// Models loaded and freed since the process started.
  public var statistics: (loads: Int, frees: Int) {
    counters.withLock { ($0.loads, $0.frees) }
  }

  /// A model's last user let go (from `SharedModel.deinit`, on any thread).
  fileprivate func didFree(_ key: Key) {
    entries.withLock { entries in
      entries[key]?.live -= 1
      dropIfUnused(key, in: &entries)
    }
    counters.withLock { $0.frees += 1 }
    notify(.freed, key)
  }

  /// Forgets the slot of a key with no model and no request under way.
  private func dropIfUnused(_ key: Key, in entries: inout [Key: Entry]) {
    guard let entry = entries[key], entry.pending == 0, entry.live == 0 else { return }
    entries[key] = nil
  }

  private func notify(_ event: Event, _ key: Key) {
    if let observer = observer.withLock({ $0 }), observer.isListening() { observer.receive(event, key) }
  }
}

/// A cached model. Every user holds a reference to it; when the last one goes,
/// `free` releases the model and the cache forgets it.
public final class SharedModel<Value>: @unchecked Sendable {
  public let value: Value
  public let key: ModelCache.Key
  private let cache: ModelCache
  private let free: @Sendable (Value) -> Void

  fileprivate init(value: Value, key: ModelCache.Key, cache: ModelCache, free: @escaping @Sendable (Value) -> Void) {
    self.value = value
    self.key = key
    self.cache = cache
    self.free = free
  }

  deinit {
    free(value)
    cache.didFree(key)
  }
}
