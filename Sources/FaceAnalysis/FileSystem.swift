#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// The few file-system queries the core needs, without Foundation (which would
/// add ~60 MB of libraries to every process that loads the plugin).
enum FileSystem {
  static func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
  }

  /// Size in bytes of a regular file, nil when it is missing or not a file.
  static func fileSize(_ path: String) -> Int? {
    var info = stat()
    guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
    return Int(info.st_size)
  }

  static func readText(_ path: String, limit: Int = 1 << 20) -> String? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while bytes.count <= limit {
      let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, 4096, file) }
      if n <= 0 { break }
      bytes.append(contentsOf: chunk[0..<n])
    }
    guard bytes.count <= limit else { return nil }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// Runs `body` over a whole file's bytes (nil when it cannot be read or is
  /// larger than `limit`). The bytes live in their own anonymous mapping, not
  /// the malloc heap: freeing a 9 MB malloc block would raise glibc's dynamic
  /// mmap threshold to 9 MB for the rest of the process.
  static func withFileBytes<T>(_ path: String, limit: Int, _ body: (UnsafeRawBufferPointer?) throws -> T) rethrows -> T {
    guard let size = fileSize(path), size <= limit, let file = fopen(path, "rb") else { return try body(nil) }
    defer { fclose(file) }
    let length = max(1, size)
    guard let memory = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
      memory != MAP_FAILED
    else { return try body(nil) }
    defer { munmap(memory, length) }
    // Fewer bytes than stat said: the file shrank while being read.
    let read = fread(memory, 1, size, file)
    return try body(UnsafeRawBufferPointer(start: memory, count: read))
  }

  static func listDirectory(_ path: String) -> [String] {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
      }
      if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
  }

  static func join(_ directory: String, _ name: String) -> String {
    if name.hasPrefix("/") { return name }
    return directory.hasSuffix("/") ? directory + name : directory + "/" + name
  }

  static func environment(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    let text = String(cString: value)
    return text.isEmpty ? nil : text
  }
}
