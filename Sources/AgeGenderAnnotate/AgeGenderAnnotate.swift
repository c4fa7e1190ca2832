import ArgumentParser
import CGStreamer
import Foundation
import GstPipeline

/// Annotates a video file, an http(s) media URL or a web page yt-dlp can
/// resolve (YouTube, ...) with the agegender element: an MP4 with the boxes and
/// labels drawn, and optionally one JSON object per frame with every face.
@main
struct AgeGenderAnnotate: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "agegender-annotate",
    abstract: "Annotate a video (file, http(s) URL or YouTube page) with faces, ages and genders.",
    discussion: """
      INPUT is a file path or a URL. An http(s) URL whose path ends in a media extension (.mp4 .mov .mkv .webm .ts .m3u8 ...) is played as it is; any other http(s) URL (a YouTube page, a page with a <video>) is first resolved to a media URL with `yt-dlp -g -f 'best[ext=mp4]/best' URL` (--resolve changes this rule). Other URIs (rtsp://, srt://, file://) go to uridecodebin unchanged. yt-dlp is $AGEGENDER_YTDLP, else the checkout's .build-venv/bin/yt-dlp, else yt-dlp on PATH.

      Pipeline: uridecodebin ! videoconvert ! agegender [name=value ...] ! tee ! queue ! videoconvert ! x264enc ! mp4mux ! filesink. A probe after agegender turns each frame's GstAgeGenderMeta into one JSON line: {"frame", "pts" (ns), "width", "height", "faces": [{"x", "y", "width", "height", "confidence", "age", "age_min", "age_max", "gender", "gender_confidence", "track_id", "landmarks" (five [x, y], where the detector gives them)}]}.

      --report writes one self-contained HTML page (no network needed to view it): the number of people (tracks of at least min-track-frames frames), by gender and age bracket, dwell times, a timeline with one bar per person, and each person's best face. --summary writes the same figures as JSON (agegenderjson's summary line, plus every person's track).

      Every frame is analysed (async=false is the default here; pass async=true for the element's live mode). On a terminal a progress line shows percent, fps and faces; the last line printed is a summary. The sound is kept: passed through when the MP4 can carry its codec (AAC, MP3, AC-3, ALAC, Opus), else encoded to AAC. Ctrl-C ends the stream cleanly (the MP4 stays playable).

      --display plays INPUT in a window at its own pace with its sound, labelled live (the element's async mode, so the picture never waits for the networks); the window's title is the page's title from yt-dlp, else the file name. Nothing is written unless -o, --json, --report or --summary is given. Keys in the window: q or Esc quit (files being written are finished), space pauses and resumes, Left/Right seek 5 s (not for a live input, nor while an MP4 is written), '.' steps one frame while paused. Closing the window ends the run like q. It needs an X display (DISPLAY).
      """)

  @Argument(help: "Video file, http(s) media URL, or page URL for yt-dlp.")
  var input: String

  @Argument(help: "agegender properties as name=value (e.g. detection-threshold=0.4 max-faces=4).")
  var properties: [String] = []

  @Option(
    name: [.short, .customLong("output")],
    help: "Annotated MP4 to write (its folder is created; default out/annotated.mp4, none with --display).")
  var output: String?

  @Flag(help: "Play in a window with sound, labelled live; keys q/Esc, space, Left/Right, '.'.")
  var display = false

  @Option(name: .customLong("json"), help: "Write one JSON object per frame to this file (JSON Lines).")
  var jsonPath: String?

  @Option(name: .customLong("report"), help: "Write an audience report (one self-contained HTML file) here.")
  var reportPath: String?

  @Option(name: .customLong("summary"), help: "Write the audience summary and every person's track (JSON) here.")
  var summaryPath: String?

  @Option(help: "How to treat an http(s) INPUT: auto (by its ending), always (yt-dlp), never (play as is).")
  var resolve: ResolveMode = .auto

  @Option(help: "Seconds yt-dlp may take to resolve a URL.")
  var resolveTimeout: Double = 120

  @Option(help: "Seconds without any frame or pipeline message before giving up.")
  var stallTimeout: Double = 60

  @Option(help: "Folder holding libgstagegender.so (default: GST_PLUGIN_PATH, else the checkout's build/plugins).")
  var pluginPath: String?

  func run() throws {
    do {
      try annotate()
    } catch let failure as Pipeline.Failure {
      fputs("agegender-annotate: error: \(failure.message)\n", stderr)
      throw ExitCode.failure
    }
  }

  private func annotate() throws {
    // Everything that can be checked is checked before anything starts.
    var elementProperties = try ElementProperties(words: properties)
    let output = self.output ?? (display ? nil : "out/annotated.mp4")
    if display { DisplaySink.handleLostWindow() }
    Pipeline.initialize(pluginPath: pluginPath)
    // No screen: say so before anything starts (no URL resolved, no file created).
    let displaySink = display ? try DisplaySink.choose() : nil
    // A recording wants every frame analysed in the stream (exact per-frame results),
    // not the element's live mode that skips frames while busy; async=true brings it back.
    // A window keeps the element's own default (async): the picture never waits.
    try elementProperties.validate(defaults: display ? [] : [("async", "false")])
    let audiencePaths = [reportPath, summaryPath].compactMap { $0 }
    for path in audiencePaths {
      var isDirectory: ObjCBool = false
      if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
        throw Pipeline.Failure("cannot write \(path): it is a folder")
      }
    }

    let uri: String
    var pageTitle: String?
    switch InputResolver.classify(input, mode: resolve) {
    case .file(let path):
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
        throw Pipeline.Failure("no such input file: \(path)")
      }
      guard FileManager.default.isReadableFile(atPath: path) else { throw Pipeline.Failure("cannot read \(path)") }
      var error: UnsafeMutablePointer<GError>?
      guard let converted = gst_filename_to_uri(path, &error) else {
        defer { if let error { g_error_free(error) } }
        throw Pipeline.Failure("cannot make a URI of \(path): \(error.map { String(cString: $0.pointee.message) } ?? "")")
      }
      uri = String(cString: converted)
      g_free(converted)
    case .direct(let url):
      guard gst_uri_is_valid(url) != 0 else { throw Pipeline.Failure("not a valid URI: \(url)") }
      uri = url
    case .page(let url):
      (uri, pageTitle) = try InputResolver.resolveWithYtDlp(url, timeoutSeconds: resolveTimeout, title: display)
    }

    for path in (output.map { [$0] } ?? []) + (jsonPath.map { [$0] } ?? []) + audiencePaths {
      let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
      do {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
      } catch {
        throw Pipeline.Failure("cannot create the folder \(folder.path): \(error.localizedDescription)")
      }
    }

    let interactive = isatty(STDERR_FILENO) != 0
    _ = interruptRequested.load(ordering: .relaxed)  // initialise before the handler can touch it
    signal(SIGINT) { _ in
      interruptRequested.store(true, ordering: .relaxed)
      signal(SIGINT, SIG_DFL)  // a second Ctrl-C ends the process at once
    }
    let annotator = try Annotator(
      uri: uri, output: output, jsonPath: jsonPath, properties: elementProperties, stallTimeout: stallTimeout,
      progress: interactive,
      display: displaySink.map { Annotator.Display(sink: $0, title: DisplaySink.title(input: input, pageTitle: pageTitle)) })
    let audience =
      audiencePaths.isEmpty
      ? nil : try AudienceCollector(element: try annotator.pipeline.child("ag"), captureFaces: reportPath != nil)
    let summary: AnnotateSummary
    do {
      summary = try annotator.run()
    } catch {
      // An MP4 whose muxer did not finish has no index and plays nowhere.
      if let output { try? FileManager.default.removeItem(atPath: output) }
      throw error
    }
    var written = output.map { [$0] } ?? []
    if let jsonPath { written.append(jsonPath) }
    if let audience, let reportPath {
      try audience.writeReport(to: reportPath, title: input)
      written.append(reportPath)
    }
    if let audience, let summaryPath {
      try audience.writeSummary(to: summaryPath)
      written.append(summaryPath)
    }
    let people = audience.map { "\($0.result.people.count) people, " } ?? ""
    let interrupted =
      interruptRequested.load(ordering: .relaxed) ? " (interrupted)" : summary.windowClosed ? " (window closed)" : ""
    let sound = output != nil && !summary.audio.isEmpty ? "; sound " + summary.audio.joined(separator: ", ") : ""
    print(
      "agegender-annotate: \(summary.frames) frames, \(summary.faces) faces, \(people)"
        + String(format: "%.1f fps", summary.fps) + (written.isEmpty ? "; wrote nothing" : "; wrote " + written.joined(separator: ", "))
        + sound + interrupted)
  }
}
