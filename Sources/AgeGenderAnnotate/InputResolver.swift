import ArgumentParser
import Foundation
import GstPipeline

/// How an http(s) INPUT is treated.
enum ResolveMode: String, ExpressibleByArgument, CaseIterable {
  /// By the cheap rule below (the default).
  case auto
  /// Always ask yt-dlp for the media URL.
  case always
  /// Never: hand the URL to GStreamer as it is.
  case never
}

/// What INPUT turned out to be.
enum InputKind: Equatable {
  /// A local file path.
  case file(String)
  /// A URI GStreamer plays directly (http(s) media URL, rtsp://, file://, srt://, ...).
  case direct(String)
  /// A web page (YouTube and anything else yt-dlp knows) to resolve to a media URL first.
  case page(String)
}

enum InputResolver {
  /// Endings of a URL path that mark a direct media URL.
  static let mediaExtensions: Set<String> = [
    "mp4", "m4v", "mov", "mkv", "webm", "avi", "ts", "mts", "m2ts", "flv", "ogv", "ogg", "mpg", "mpeg",
    "3gp", "wmv", "m3u8", "mpd", "y4m", "mjpg", "mjpeg",
  ]

  /// The cheap rule: no `scheme://` → a file; an http(s) URL whose path (query and
  /// fragment ignored) ends in a media extension → direct; any other http(s) URL →
  /// yt-dlp; other schemes (rtsp, srt, file, ...) → direct. `mode` overrides it for http(s).
  static func classify(_ input: String, mode: ResolveMode) -> InputKind {
    guard let scheme = scheme(of: input) else { return .file(input) }
    guard scheme == "http" || scheme == "https" else { return mode == .always ? .page(input) : .direct(input) }
    switch mode {
    case .never: return .direct(input)
    case .always: return .page(input)
    case .auto: return hasMediaExtension(input) ? .direct(input) : .page(input)
    }
  }

  /// "http" for "http://...": letters, digits, + - . before "://".
  static func scheme(of input: String) -> String? {
    guard let range = input.range(of: "://") else { return nil }
    let scheme = input[..<range.lowerBound]
    guard let first = scheme.first, first.isLetter,
      scheme.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) })
    else { return nil }
    return scheme.lowercased()
  }

  static func hasMediaExtension(_ url: String) -> Bool {
    var path = URLComponents(string: url)?.path ?? url
    if path.isEmpty { return false }
    if let cut = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = String(path[..<cut]) }
    guard let last = path.split(separator: "/").last, let dot = last.lastIndex(of: ".") else { return false }
    return mediaExtensions.contains(last[last.index(after: dot)...].lowercased())
  }

  /// yt-dlp to run: $AGEGENDER_YTDLP, else the checkout's .build-venv/bin/yt-dlp
  /// (what `make build` installs), else the first yt-dlp on PATH.
  static func findYtDlp() -> String? {
    let env = ProcessInfo.processInfo.environment
    if let explicit = env["AGEGENDER_YTDLP"], !explicit.isEmpty { return explicit }
    var dir = URL(fileURLWithPath: CommandLine.executablePath).deletingLastPathComponent()
    while dir.path != "/" {
      let candidate = dir.appendingPathComponent(".build-venv/bin/yt-dlp").path
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
      dir.deleteLastPathComponent()
    }
    for folder in (env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
      let candidate = String(folder) + "/yt-dlp"
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
  }

  /// Runs `yt-dlp -g -f 'best[ext=mp4]/best' URL` and returns the first media URL it prints.
  static func resolveWithYtDlp(_ url: String, timeoutSeconds: Double) throws -> String {
    try resolveWithYtDlp(url, timeoutSeconds: timeoutSeconds, title: false).media
  }

  /// The same; with `title`, also the page's title (`--print title` before the URLs), for the window.
  static func resolveWithYtDlp(_ url: String, timeoutSeconds: Double, title: Bool) throws
    -> (media: String, title: String?)
  {
    guard let ytdlp = findYtDlp() else {
      throw Pipeline.Failure(
        "\(url) is not a direct media URL and yt-dlp was not found (install it with `make build`, "
          + "`pip install yt-dlp` or `apt-get install yt-dlp`, or set AGEGENDER_YTDLP)")
    }
    let printed = title ? ["--print", "title", "--print", "urls"] : ["-g"]
    let result = try runBounded(
      ytdlp, printed + ["-f", "best[ext=mp4]/best", "--no-playlist", "--no-warnings", url], timeoutSeconds: timeoutSeconds)
    var lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map {
      $0.trimmingCharacters(in: .whitespaces)
    }
    let pageTitle = title && result.status == 0 && !lines.isEmpty ? lines.removeFirst() : nil
    guard result.status == 0, let media = lines.first(where: { scheme(of: $0) != nil }) else {
      let why = result.stderr.split(separator: "\n").last.map(String.init) ?? "exit status \(result.status)"
      throw Pipeline.Failure("yt-dlp could not resolve \(url): \(why)")
    }
    return (media, pageTitle.flatMap { $0.isEmpty || $0 == "NA" ? nil : $0 })
  }

  /// Runs a program with output to temporary files (no pipe can fill up), killed after the time-out.
  static func runBounded(_ executable: String, _ arguments: [String], timeoutSeconds: Double) throws
    -> (status: Int32, stdout: String, stderr: String)
  {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("agegender-annotate-\(UUID().uuidString)")
    let outURL = base.appendingPathExtension("out"), errURL = base.appendingPathExtension("err")
    FileManager.default.createFile(atPath: outURL.path, contents: nil)
    FileManager.default.createFile(atPath: errURL.path, contents: nil)
    defer {
      try? FileManager.default.removeItem(at: outURL)
      try? FileManager.default.removeItem(at: errURL)
    }
    process.standardOutput = try FileHandle(forWritingTo: outURL)
    process.standardError = try FileHandle(forWritingTo: errURL)
    process.standardInput = FileHandle.nullDevice
    do {
      try process.run()
    } catch {
      throw Pipeline.Failure("cannot run \(executable): \(error.localizedDescription)")
    }
    let deadline = Date().addingTimeInterval(timeoutSeconds)
    while process.isRunning && Date() < deadline { usleep(50_000) }
    if process.isRunning {
      process.terminate()
      process.waitUntilExit()
      throw Pipeline.Failure("\(executable) did not finish within \(Int(timeoutSeconds)) s")
    }
    process.waitUntilExit()
    let out = (try? Data(contentsOf: outURL)) ?? Data(), err = (try? Data(contentsOf: errURL)) ?? Data()
    return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
  }
}

extension CommandLine {
  /// This executable's path (/proc/self/exe).
  static var executablePath: String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? arguments[0]
  }
}
