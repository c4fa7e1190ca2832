import Foundation
import GstPipeline
import XCTest

/// meson-wrapper/: meson setup, compile (through SwiftPM) and install into a
/// DESTDIR with prefix /usr; the installed plugin then runs from there with no
/// AGEGENDER_MODEL_DIR and finds the installed models by itself.
final class MesonInstallTests: XCTestCase {
  override func setUpWithError() throws { try Fixtures.setUp() }

  private func tool(_ name: String) throws -> String {
    for dir in ["/usr/bin", "/usr/local/bin"] where FileManager.default.isExecutableFile(atPath: dir + "/" + name) {
      return dir + "/" + name
    }
    return try Fixtures.require("/usr/bin/" + name, hint: "apt-get install meson ninja-build (scripts/install-deps.sh)")
  }

  /// The folder holding `name` under `root`, searched recursively.
  private func find(_ name: String, under root: String) -> String? {
    guard let walker = FileManager.default.enumerator(atPath: root) else { return nil }
    for case let relative as String in walker where (relative as NSString).lastPathComponent == name {
      return (root + "/" + relative as NSString).deletingLastPathComponent
    }
    return nil
  }

  func testMesonInstallIntoDestdirFindsItsModelsAndPkgConfigWorks() throws {
    let meson = try tool("meson")
    _ = try tool("ninja")
    let wrapper = try Fixtures.require(Fixtures.repoRoot + "/meson-wrapper/meson.build")
    let video = try Fixtures.video(ExampleTests.clip)
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("agegender-meson-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: work) }
    let build = work + "/build", destdir = work + "/destdir"
    // Reuse the SwiftPM build the tests run from (so compile is incremental). The
    // running `swift test` holds that scratch path's lock until it exits, so the
    // nested swift build must ignore it (nothing else builds there meanwhile).
    let scratch = (Fixtures.binDirectory as NSString).deletingLastPathComponent
    var started = monotonicSeconds()

    let setup = try runProcess(
      meson,
      ["setup", build, (wrapper as NSString).deletingLastPathComponent, "--prefix", "/usr",
        "-Dswiftpm_scratch_path=\(scratch)", "-Dswiftpm_args=--ignore-lock", "-Dfetch_models=false"],
      timeoutSeconds: 60)
    XCTAssertEqual(setup.status, 0, setup.stdout + setup.stderr)
    let compile = try runProcess(meson, ["compile", "-C", build], timeoutSeconds: 400)
    XCTAssertEqual(compile.status, 0, String((compile.stdout + compile.stderr).suffix(3000)))
    let install = try runProcess(meson, ["install", "-C", build], environment: ["DESTDIR": destdir], timeoutSeconds: 120)
    XCTAssertEqual(install.status, 0, String((install.stdout + install.stderr).suffix(3000)))
    print("meson setup+compile+install: \(Int(monotonicSeconds() - started)) s")

    // What landed where.
    let pluginDir = try XCTUnwrap(find("libgstagegender.so", under: destdir), "no libgstagegender.so under \(destdir)")
    XCTAssertTrue(pluginDir.hasPrefix(destdir + "/usr/lib"), pluginDir)
    XCTAssertTrue(pluginDir.hasSuffix("/gstreamer-1.0"), pluginDir)
    let models = destdir + "/usr/share/gst-agegender/models"
    for file in ["centerface.model", "weights/centerface.onnx", "res10-ssd.model", "cydral-age.model", "cydral-gender.model", "dlib-landmarks5.model",
      "weights/res10_300x300_ssd_iter_140000.caffemodel", "weights/res10_300x300_ssd_deploy.prototxt",
      "weights/cydral-age-v1.onnx", "weights/cydral-gender-v1.onnx", "weights/shape_predictor_5_face_landmarks.dat"] {
      XCTAssertTrue(FileManager.default.fileExists(atPath: models + "/" + file), "not installed: \(models)/\(file)")
    }
    let header = destdir + "/usr/include/gst-agegender/gstagegendermeta.h"
    XCTAssertEqual(
      FileManager.default.contents(atPath: header),
      FileManager.default.contents(atPath: Fixtures.repoRoot + "/Sources/CGStreamer/gstagegendermeta.h"),
      "installed header differs from the source")

    // The installed plugin alone (own registry, no model-dir, no AGEGENDER_MODEL_DIR)
    // finds the installed models: a checkout's Models/ is not among its candidates.
    started = monotonicSeconds()
    let run = try runProcess(
      "/usr/bin/env",
      ["-u", "AGEGENDER_MODEL_DIR", "gst-launch-1.0", "-m", "filesrc", "location=\(video)", "!", "decodebin", "!",
        "videoconvert", "!", "agegender", "post-messages=true", "async=false", "!", "fakesink"],
      environment: ["GST_PLUGIN_PATH": pluginDir, "GST_REGISTRY": work + "/registry.bin", "GST_DEBUG": "agegender:4"],
      timeoutSeconds: 180)
    print("gst-launch with the installed plugin: \(Int(monotonicSeconds() - started)) s")
    XCTAssertEqual(run.status, 0, String(run.stdout.suffix(500)) + String(run.stderr.suffix(1500)))
    let log = run.stderr
    let loaded = try XCTUnwrap(
      log.split(separator: "\n").first { $0.contains("models loaded from") }, "no 'models loaded' log line")
    XCTAssertTrue(loaded.contains(pluginDir + "/../../../share/gst-agegender/models"), String(loaded))
    let messages = run.stdout.split(separator: "\n").filter { $0.contains("(element): agegender, timestamp=") }
    XCTAssertEqual(messages.count, 56, "one agegender message per frame")
    let female = messages.filter { $0.contains("gender\\=\\(string\\)female") }.count
    let male = messages.filter { $0.contains("gender\\=\\(string\\)male") }.count
    XCTAssertGreaterThanOrEqual(female, 50, "frames with a female face")
    XCTAssertGreaterThanOrEqual(male, 50, "frames with a male face")

    // pkg-config finds the installed .pc; its Cflags name the installed header's folder.
    let pcDir = try XCTUnwrap(find("gst-agegender.pc", under: destdir), "no gst-agegender.pc under \(destdir)")
    let cflags = try runProcess("/usr/bin/pkg-config", ["--cflags", "gst-agegender"], environment: ["PKG_CONFIG_PATH": pcDir])
    XCTAssertEqual(cflags.status, 0, cflags.stderr)
    let flags = cflags.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    XCTAssertTrue(flags.contains("-I/usr/include/gst-agegender"), cflags.stdout)
    XCTAssertTrue(flags.contains("-I/usr/include/gstreamer-1.0"), "Requires gstreamer-1.0 not honoured: \(cflags.stdout)")
    let pluginsdir = try runProcess(
      "/usr/bin/pkg-config", ["--variable=pluginsdir", "gst-agegender"], environment: ["PKG_CONFIG_PATH": pcDir])
    XCTAssertEqual(destdir + pluginsdir.stdout.trimmingCharacters(in: .whitespacesAndNewlines), pluginDir)

    // The installed header compiles on its own with those flags (include dir moved into the DESTDIR).
    let source = work + "/uses_header.c"
    try """
      #include <gstagegendermeta.h>
      int main (void) { GstAgeGenderFace face; return gst_age_gender_meta_get_face (NULL, 0, &face) ? 1 : 0; }
      """.write(toFile: source, atomically: true, encoding: .utf8)
    let compileFlags = flags.map { $0 == "-I/usr/include/gst-agegender" ? "-I\(destdir)/usr/include/gst-agegender" : $0 }
    let libs = try runProcess("/usr/bin/pkg-config", ["--libs", "gst-agegender"], environment: ["PKG_CONFIG_PATH": pcDir])
    let cc = try runProcess(
      "/usr/bin/cc",
      ["-Wall", "-Werror", "-o", work + "/uses_header", source] + compileFlags
        + libs.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
    XCTAssertEqual(cc.status, 0, cc.stderr)
  }
}
