import FaceAnalysis
import FaceImageFiles
import Foundation
import XCTest

/// ShapePredictor: dlib's shape predictor file read and run in Swift.
final class ShapePredictorTests: XCTestCase {
  private var realPath: String { Fixtures.modelDirectory + "/weights/" + Fixtures.landmarkWeights }

  /// Landmarks that dlib 19.24's shape_predictor (Debian libdlib, on a
  /// cv_image<bgr_pixel> of the decoded file, rectangle made from the float box
  /// as the old C bridge did) gave on these boxes. The boxes are the SSD
  /// detector's, plus ones partly outside the image (feature pixels there read 0)
  /// and the small box on face_031 whose feature pixel falls on a half pixel.
  /// ShapePredictor gives exactly these points, as it did on all 2,888 boxes
  /// compared (detector boxes, jittered, partly outside, random sizes).
  private static let fromDlib: [(file: String, box: Box, points: [Double])] = [
    ("faces/face_001.jpg", Box(x: 171.730103, y: 79.9339294, width: 199.223465, height: 275.944214),
     [292, 143, 254, 156, 177, 186, 202, 175, 215, 246]),
    ("faces/face_004.jpg", Box(x: 38.5881653, y: 4.07984924, width: 154.751083, height: 195.920151),
     [152, 52, 122, 56, 56, 65, 82, 62, 93, 119]),
    ("faces/face_012.jpg", Box(x: -55.8521729, y: 92.7169876, width: 139.630432, height: 222.793381),
     [60, 163, 41, 167, 1, 173, 16, 172, 23, 238]),
    ("faces/face_012.jpg", Box(x: 364.221741, y: 336.603302, width: 139.630432, height: 222.793381),
     [462, 398, 443, 396, 393, 391, 413, 393, 430, 459]),
    ("faces/face_020.jpg", Box(x: 17.5, y: 0.5, width: 172, height: 194), [151, 60, 121, 61, 45, 59, 75, 61, 97, 120]),
    ("faces/face_031.jpg", Box(x: 151.15802, y: 112.958122, width: 156.677063, height: 187.801544),
     [273, 189, 244, 190, 175, 190, 203, 190, 221, 234]),
    ("faces/face_031.jpg", Box(x: 1.42577863, y: 295.100891, width: 50.0884857, height: 76.9409409),
     [41, 319, 34, 320, 15, 321, 23, 321, 30, 337]),
    ("stills/astronaut.png", Box(x: 179.517563, y: 58.087883, width: 92.1988678, height: 118.940918),
     [255, 104, 237, 105, 195, 101, 212, 103, 224, 135]),
    ("stills/astronaut.png", Box(x: -36.8795471, y: 58.087883, width: 92.1988678, height: 118.940918),
     [26, 96, 16, 101, -9, 109, 1, 106, 11, 140]),
    ("stills/hopper.jpg", Box(x: 41.5822754, y: 24.560936, width: 42.6058426, height: 51.6662788),
     [76, 42, 69, 43, 49, 43, 56, 43, 63, 58]),
  ]

  func testLandmarksAreDlibs() throws {
    let landmarker = try Fixtures.landmarker()
    for (file, box, expected) in Self.fromDlib {
      let image = try Fixtures.image(Fixtures.testData.appendingPathComponent(file).path)
      let points = try landmarker.landmarks(for: [box], in: image.view)[0]
      XCTAssertEqual(points.count, 5, file)
      for (k, p) in points.enumerated() {
        XCTAssertEqual(p.x, expected[2 * k], accuracy: 0.5, "\(file) \(box) part \(k)")
        XCTAssertEqual(p.y, expected[2 * k + 1], accuracy: 0.5, "\(file) \(box) part \(k)")
      }
    }
  }

  func testRealModelIsCompact() throws {
    let predictor = try Fixtures.landmarker().predictor
    XCTAssertEqual(predictor.partCount, 5)
    XCTAssertEqual(predictor.cascadeCount, 15)
    XCTAssertEqual(predictor.treeCount, 7500)
    XCTAssertLessThan(predictor.storageBytes, 7_000_000)
  }

  /// dlib reads a grey frame as BGR with three equal channels: the same intensity.
  func testGreyFramesReadAsTheirBGRCopy() throws {
    let image = try Fixtures.image(Fixtures.astronautPath)
    let source = image.view.data.assumingMemoryBound(to: UInt8.self)
    let grey = PixelBuffer(
      width: image.width, height: image.height, stride: image.width + 3, format: .gray8,
      bytes: [UInt8](repeating: 7, count: (image.width + 3) * image.height))
    let bgr = OwnedImage(width: image.width, height: image.height, format: .bgr)
    let target = bgr.view.data.assumingMemoryBound(to: UInt8.self)
    for y in 0..<image.height {
      for x in 0..<image.width {
        let p = y * image.stride + 3 * x
        let value = UInt8((Int(source[p]) + Int(source[p + 1]) + Int(source[p + 2])) / 3)
        grey.bytes[y * grey.stride + x] = value
        for c in 0..<3 { target[y * bgr.stride + 3 * x + c] = value }
      }
    }
    let landmarker = try Fixtures.landmarker()
    let box = Box(x: 179.517563, y: 58.087883, width: 92.1988678, height: 118.940918)
    let expected = try landmarker.landmarks(for: [box], in: bgr.view)[0]
    let got = try grey.withView { try landmarker.landmarks(for: [box], in: $0) }[0]
    XCTAssertEqual(got.map(\.x), expected.map(\.x))
    XCTAssertEqual(got.map(\.y), expected.map(\.y))
  }

  // MARK: - Reading: every malformed file is a FaceAnalysisError naming it.

  private func assertRejected(_ bytes: [UInt8], _ what: String, reason: String? = nil, line: UInt = #line) {
    let error = assertFaceError(try ShapePredictor(serialized: bytes, path: "/m/sp.dat"), what, line: line)
    guard case .modelInvalid(let path, let message)? = error else {
      return XCTFail("\(what): expected modelInvalid, got \(String(describing: error))", line: line)
    }
    XCTAssertEqual(path, "/m/sp.dat", what, line: line)
    if let reason { XCTAssertTrue(message.contains(reason), "\(what): \(message)", line: line) }
  }

  func testTinyModelLoadsAndRuns() throws {
    let predictor = try ShapePredictor(serialized: TinyModel().bytes, path: "tiny")
    XCTAssertEqual(predictor.partCount, 5)
    XCTAssertEqual(predictor.cascadeCount, 2)
    let image = OwnedImage(width: 40, height: 30, format: .rgba, fill: 90)
    let points = try predictor.shape(in: image.view, box: Box(x: 5, y: 5, width: 20, height: 20))
    XCTAssertEqual(points.count, 5)
    XCTAssertTrue(points.allSatisfy { $0.x.isFinite && $0.y.isFinite })
    // Trailing bytes are ignored, as dlib does.
    XCTAssertNoThrow(try ShapePredictor(serialized: TinyModel().bytes + [1, 2, 3], path: "tiny"))
  }

  func testMalformedStructuresAreRejected() {
    func variant(_ change: (inout TinyModel) -> Void) -> [UInt8] {
      var model = TinyModel()
      change(&model)
      return model.bytes
    }
    assertRejected([], "empty", reason: "empty")
    assertRejected(variant { $0.version = 2 }, "version", reason: "version 2")
    assertRejected(variant { $0.shape.removeLast() }, "odd shape", reason: "even")
    assertRejected(variant { $0.shape = [] }, "no shape", reason: "positive even")
    assertRejected(variant { $0.cascades[0][1].leaves.removeLast() }, "leaf count", reason: "leaves")
    assertRejected(variant { $0.cascades[1][0].leaves[2].append(0) }, "leaf length", reason: "values")
    assertRejected(variant { $0.cascades[0][0].splits[1].idx2 = 8 }, "split feature", reason: "splits on feature 8")
    assertRejected(variant { $0.cascades[0][0].splits[1].idx1 = 1 << 40 }, "huge split feature", reason: "feature")
    assertRejected(variant { $0.anchors[1][3] = 5 }, "anchor part", reason: "part 5")
    assertRejected(variant { $0.anchors.removeLast() }, "anchor lists", reason: "anchor")
    assertRejected(variant { $0.deltas[1].removeLast(2) }, "delta count", reason: "deltas")
    assertRejected(variant { $0.cascades[1][2].splits[0].threshold = .nan }, "NaN", reason: "non-finite")
    assertRejected(variant { $0.shape[3] = .infinity }, "infinity", reason: "non-finite")
    assertRejected(variant { $0.deltas[0][0] = -.infinity }, "-infinity", reason: "non-finite")

    var stream = DlibStream()
    stream.int(1)
    stream.int(-10)
    stream.int(-2)
    assertRejected(stream.bytes, "matrix columns", reason: "columns")
    stream = DlibStream()
    stream.int(1)
    stream.int(-10)
    stream.int(-1)
    for _ in 0..<10 { stream.float(0.5) }
    stream.int(1 << 60)
    assertRejected(stream.bytes, "huge count", reason: "more than the rest")
    assertRejected([0x09, 1, 0, 0, 0, 0, 0, 0, 0, 0], "9-byte integer", reason: "integer encoding")
    assertRejected([0x01, 0x01, 0x81, 0x02, 0x81, 0x01] + Array("0.25 1.5 ".utf8), "text float", reason: "float encoding")
    assertRejected(Array(repeating: 0xFF, count: 5000), "junk", reason: "integer encoding")
  }

  func testEveryPrefixOfATinyModelAndManyOfTheRealOneAreRejected() throws {
    let tiny = TinyModel().bytes
    for n in 0..<tiny.count { assertRejected(Array(tiny.prefix(n)), "tiny prefix \(n)") }
    let real = try XCTUnwrap(FileManager.default.contents(atPath: realPath).map { [UInt8]($0) })
    var generator = SystemRandomNumberGenerator()
    let cuts = Array(0..<64) + (0..<24).map { _ in Int.random(in: 64..<real.count, using: &generator) } + [real.count - 1]
    for n in cuts {
      let error = assertFaceError(try ShapePredictor(serialized: Array(real.prefix(n)), path: "p"), "real prefix \(n)")
      guard n > 0, case .modelInvalid(_, let reason)? = error else { continue }
      // Cut inside a value, or after a count the rest can no longer hold.
      XCTAssertTrue(reason.contains("file ends") || reason.contains("more than the rest"), "prefix \(n): \(reason)")
    }
  }

  /// Mutated tiny models: every one loads or throws FaceAnalysisError, and those
  /// that load run on a frame without trapping (the rest of the checks are the
  /// process surviving).
  func testSeededMutations() throws {
    let seed = TinyModel().bytes
    let image = OwnedImage(width: 33, height: 17, format: .bgrx, fill: 200)
    var state: UInt64 = 11
    func next(_ bound: Int) -> Int {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Int((state >> 33) % UInt64(max(1, bound)))
    }
    var loaded = 0
    for _ in 0..<20000 {
      var bytes = seed
      for _ in 0..<(1 + next(4)) where !bytes.isEmpty {
        let at = next(bytes.count)
        switch next(3) {
        case 0: bytes[at] = UInt8(next(256))
        case 1: bytes.insert(UInt8(next(256)), at: at)
        default: bytes.remove(at: at)
        }
      }
      do {
        let predictor = try ShapePredictor(serialized: bytes, path: "mutant")
        loaded += 1
        for box in [Box(x: 2, y: 2, width: 20, height: 12), Box(x: -1e12, y: 5, width: 3e12, height: .nan)] {
          _ = try predictor.shape(in: image.view, box: box)
        }
      } catch is FaceAnalysisError {
      }
    }
    XCTAssertGreaterThan(loaded, 50, "some mutants load, so inference on them ran")
  }
}

/// dlib's serialisation, written the way dlib/serialize.h writes it.
struct DlibStream {
  var bytes: [UInt8] = []

  /// pack_int: a control byte (size, bit 7 for negative) and the magnitude's bytes.
  mutating func int(_ value: Int64) {
    var magnitude = value.magnitude
    var body: [UInt8] = []
    repeat {
      body.append(UInt8(magnitude & 0xFF))
      magnitude >>= 8
    } while magnitude != 0
    bytes.append(UInt8(body.count) | (value < 0 ? 0x80 : 0))
    bytes += body
  }

  /// float_details: mantissa and exponent, or the special exponents.
  mutating func float(_ value: Float) {
    if !value.isFinite {
      int(0)
      int(value.isNaN ? 32002 : value > 0 ? 32000 : 32001)
      return
    }
    let (fraction, exponent) = frexp(Double(value))
    var mantissa = Int64(fraction * Double(1 << 24)), power = Int64(exponent) - 24
    for _ in 0..<8 where mantissa & 0xFF == 0 {
      mantissa >>= 8
      power += 8
    }
    int(mantissa)
    int(power)
  }

  mutating func column(_ values: [Float]) {
    int(-Int64(values.count))
    int(-1)
    values.forEach { float($0) }
  }
}

/// A small valid shape predictor: 5 parts, 2 cascades of 3 depth-2 trees over 8 feature pixels.
struct TinyModel {
  struct Split { var idx1: UInt64, idx2: UInt64, threshold: Float }
  struct Tree {
    var splits: [Split]
    var leaves: [[Float]]
  }

  var version: Int64 = 1
  var shape: [Float] = [0.86, 0.21, 0.65, 0.23, 0.12, 0.21, 0.33, 0.23, 0.49, 0.63]
  var cascades: [[Tree]] = (0..<2).map { c in (0..<3).map { t in TinyModel.tree(c, t) } }

  static func tree(_ c: Int, _ t: Int) -> Tree {
    var splits: [Split] = []
    for s in 0..<3 {
      splits.append(Split(idx1: UInt64((c + t + s) % 8), idx2: UInt64((3 * t + s + 1) % 8), threshold: Float(s * 10 - 10)))
    }
    var leaves: [[Float]] = []
    for l in 0..<4 {
      var leaf: [Float] = []
      for k in 0..<10 { leaf.append(Float((l * 10 + k) % 7 - 3) / 400) }
      leaves.append(leaf)
    }
    return Tree(splits: splits, leaves: leaves)
  }

  var anchors: [[UInt64]] = (0..<2).map { c in (0..<8).map { UInt64(($0 + c) % 5) } }
  var deltas: [[Float]] = (0..<2).map { c in (0..<16).map { Float(($0 * 7 + c) % 11 - 5) / 50 } }

  var bytes: [UInt8] {
    var s = DlibStream()
    s.int(version)
    s.column(shape)
    s.int(Int64(cascades.count))
    for trees in cascades {
      s.int(Int64(trees.count))
      for tree in trees {
        s.int(Int64(tree.splits.count))
        for split in tree.splits {
          s.int(Int64(bitPattern: split.idx1))
          s.int(Int64(bitPattern: split.idx2))
          s.float(split.threshold)
        }
        s.int(Int64(tree.leaves.count))
        tree.leaves.forEach { s.column($0) }
      }
    }
    s.int(Int64(anchors.count))
    for list in anchors {
      s.int(Int64(list.count))
      list.forEach { s.int(Int64($0)) }
    }
    s.int(Int64(deltas.count))
    for list in deltas {
      s.int(Int64(list.count / 2))
      list.forEach { s.float($0) }
    }
    return s.bytes
  }
}
