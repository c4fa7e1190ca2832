import FaceAnalysis
import Foundation
import GstPipeline
import XCTest

/// The short seeded fuzz run of the suite (issue 6): the bodies `make fuzz`
/// hands to libFuzzer (FuzzTargets.swift), fed here by a fixed-seed generator
/// for a bounded time, in-process and without sanitizers. The input about to
/// run is written to $TMPDIR/agegender-fuzz-<target>.bin first, so one that
/// kills the process can be replayed (`.build-fuzz/fuzz-<target> FILE`).
final class FuzzTests: XCTestCase {
  override func setUpWithError() throws { try Fixtures.setUp() }

  private func remember(_ bytes: [UInt8], _ target: String) {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("agegender-fuzz-\(target).bin")
    try? Data(bytes).write(to: path)
  }

  /// Random frames (sizes 1...512, every pixel format, padding, detector and
  /// options, boxes anywhere) plus the astronaut under random headers, ~18 s.
  func testSeededFrameFuzzing() throws {
    let target = try FrameFuzzTarget(modelDirectory: Fixtures.modelDirectory)
    // The portrait at 128x128 (4x4 box average), packed BGR: frames with a face.
    let image = Robust.astronaut
    let source = image.view.data.assumingMemoryBound(to: UInt8.self)
    var face = [UInt8](repeating: 0, count: 128 * 128 * 3)
    for y in 0..<128 {
      for x in 0..<128 {
        for c in 0..<3 {
          var sum = 0
          for dy in 0..<4 { for dx in 0..<4 { sum += Int(source[(4 * y + dy) * image.stride + (4 * x + dx) * 3 + c]) } }
          face[(y * 128 + x) * 3 + c] = UInt8(sum / 16)
        }
      }
    }
    var generator = SeededBytes(seed: 6)
    let deadline = monotonicSeconds() + 18
    var runs = 0
    while monotonicSeconds() < deadline || runs < 10 {
      var input: [UInt8]
      switch runs % 4 {
      case 0:
        // Header: BGR, 128x128, no padding, flags 0x87 (detector size 300, close-up on,
        // SSD, tracking on, threshold 0.5, detection interval 3), 0-4 random boxes; then the face.
        let boxes = Int(generator.next() % 5)
        input = [0, 127, 0, 127, 0, 0, 0x87, UInt8(boxes)] + generator.bytes(8 * boxes) + face
      case 1:
        // The face's bytes under a random header: other sizes, formats, padding, options.
        input = generator.bytes(8 + 32) + face
      default:
        input = generator.bytes(8 + 32 + Int(generator.next() % 4096))
      }
      remember(input, "frame")
      input.withUnsafeBytes { target.run($0) }
      runs += 1
    }
    print("frame fuzzing: \(runs) inputs, \(target.framesWithFaces) analysed frames with faces")
    XCTAssertGreaterThanOrEqual(runs, 10)
    XCTAssertGreaterThan(target.framesWithFaces, 0, "the seeded inputs reach the classifier")
  }

  /// The shape predictor reader on its seed (a small valid model) and mutants
  /// of it, ~2 s: every input loads or throws, and what loads runs.
  func testSeededShapePredictorFuzzing() throws {
    let seed = ShapePredictorFuzzTarget.seed
    XCTAssertNoThrow(try ShapePredictor(serialized: seed, path: "seed"), "the seed is a valid predictor")
    var generator = SeededBytes(seed: 6)
    let deadline = monotonicSeconds() + 2
    var runs = 0, loaded = 0
    while monotonicSeconds() < deadline {
      var bytes = seed
      for _ in 0..<(1 + Int(generator.next() % 4)) where !bytes.isEmpty {
        let at = Int(generator.next() % UInt64(bytes.count))
        switch generator.next() % 4 {
        case 0: bytes[at] = UInt8(truncatingIfNeeded: generator.next())
        case 1: bytes.insert(UInt8(truncatingIfNeeded: generator.next()), at: at)
        case 2: bytes.remove(at: at)
        default: bytes = Array(bytes.prefix(at))
        }
      }
      remember(bytes, "shapepredictor")
      bytes.withUnsafeBytes { ShapePredictorFuzzTarget.run($0) }
      if (try? ShapePredictor(serialized: bytes, path: "x")) != nil { loaded += 1 }
      runs += 1
    }
    print("shape predictor fuzzing: \(runs) inputs, \(loaded) loaded")
    XCTAssertGreaterThan(runs, 1000)
    XCTAssertGreaterThan(loaded, 0, "some mutants still load (inference on them ran)")
  }

  /// Mutated real manifests, spliced lines and random text through
  /// ModelManifest.parse, ~6 s.
  func testSeededManifestFuzzing() throws {
    var material = ManifestFuzzTarget.seeds
    for name in try FileManager.default.contentsOfDirectory(atPath: Fixtures.modelDirectory) where name.hasSuffix(".model") {
      material.append(try String(contentsOfFile: Fixtures.modelDirectory + "/" + name, encoding: .utf8))
    }
    let lines = material.flatMap { $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
    var generator = SeededBytes(seed: 6)
    let deadline = monotonicSeconds() + 6
    var runs = 0, parsed = 0
    while monotonicSeconds() < deadline {
      var bytes: [UInt8]
      switch runs % 3 {
      case 0:
        // A real manifest with a few bytes flipped, inserted or deleted.
        bytes = Array(material[Int(generator.next() % UInt64(material.count))].utf8)
        for _ in 0..<(1 + Int(generator.next() % 4)) where !bytes.isEmpty {
          let at = Int(generator.next() % UInt64(bytes.count))
          switch generator.next() % 3 {
          case 0: bytes[at] = UInt8(truncatingIfNeeded: generator.next())
          case 1: bytes.insert(UInt8(truncatingIfNeeded: generator.next()), at: at)
          default: bytes.remove(at: at)
          }
        }
      case 1:
        // Lines of different manifests spliced together.
        bytes = Array((0..<(1 + Int(generator.next() % 12))).map { _ in lines[Int(generator.next() % UInt64(lines.count))] }
          .joined(separator: generator.next() % 4 == 0 ? "\r\n" : "\n").utf8)
      default:
        bytes = generator.bytes(Int(generator.next() % 512))
      }
      remember(bytes, "manifest")
      bytes.withUnsafeBytes { ManifestFuzzTarget.run($0) }
      if (try? ModelManifest.parse(String(decoding: bytes, as: UTF8.self), path: "x")) != nil { parsed += 1 }
      runs += 1
    }
    print("manifest fuzzing: \(runs) inputs, \(parsed) parsed")
    XCTAssertGreaterThan(runs, 1000)
    XCTAssertGreaterThan(parsed, 0, "some mutants still parse (the checks after parsing ran)")
  }
}
