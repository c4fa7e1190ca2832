// Fuzz targets over the frame path, the model-manifest reader and the dlib
// shape predictor reader (issue 6).
//
// One source for two drivers: the test suite runs them in-process with a
// seeded generator (FuzzTests.swift), and scripts/fuzz.sh compiles this file
// with `swiftc -sanitize=fuzzer,address` together with the FaceAnalysis
// sources and a libFuzzer entry point (Fuzz/*.swift) for `make fuzz`. So this
// file imports FaceAnalysis only (no XCTest, no Foundation, no GStreamer).
//
// A target returns normally for every input: errors thrown by the analysis are
// the expected answer to garbage; a trap, a crash or a sanitizer report is a bug.
import FaceAnalysis

/// Reads fuzz input bytes front to back; past the end it yields zeros.
struct FuzzBytes {
  let bytes: UnsafeRawBufferPointer
  var offset = 0

  init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

  mutating func byte() -> UInt8 {
    guard offset < bytes.count else { return 0 }
    defer { offset += 1 }
    return bytes[offset]
  }

  mutating func u16() -> Int { Int(byte()) | Int(byte()) << 8 }

  /// A signed offset in -range...range (range >= 1) from two bytes.
  mutating func signed(_ range: Int) -> Int { u16() % (2 * range + 1) - range }

  var rest: UnsafeRawBufferPointer {
    offset < bytes.count ? UnsafeRawBufferPointer(rebasing: bytes[offset...]) : UnsafeRawBufferPointer(start: nil, count: 0)
  }
}

/// Frames of random size (1...512 per side), pixel format, row padding and
/// content through the analysis core with the real models: the video analyzer
/// (SSD or Haar detector, landmarks, Cydral nets, tracker) for two frames, the
/// classifier on boxes the input chooses (inside, across and outside the frame,
/// as a tracker's prediction can be), and the overlay drawing them.
///
/// With bit 6 of the padding byte set, the frame goes through the element's
/// async path instead: an AsyncFaceAnalyzer worker thread copies it and
/// analyses it (the stream side waits for it, as in a file pipeline).
///
/// Formats: every packed one, and planar I420 and NV12 (Y plane, then the
/// chroma, each row padded as the Y rows are), which the analyser converts
/// and the classifier, given one directly, refuses.
///
/// Input layout: format, width (2 bytes), height (2), row padding (bits 0-5)
/// and async (bit 6), flags, box count, 8 bytes per box, then the pixels
/// (repeated to fill the frame).
final class FrameFuzzTarget {
  let ssd: SSDFaceDetector
  let haar: HaarFaceDetector?
  let classifier: CydralAgeGenderClassifier
  let ssdAnalyzer: VideoFaceAnalyzer
  let haarAnalyzer: VideoFaceAnalyzer?
  private var workers: [ObjectIdentifier: AsyncFaceAnalyzer] = [:]
  private var streamFrame = 0
  private var pixels = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 64)
  private var capacity = 1
  /// Inputs run; frames in which the detector reported at least one face.
  private(set) var runs = 0
  private(set) var framesWithFaces = 0

  static let maxSide = 512

  init(modelDirectory: String) throws {
    let store = ModelStore(directory: modelDirectory)
    let ssd = try SSDFaceDetector(store: store)
    let haar = try? HaarFaceDetector()
    let classifier = try CydralAgeGenderClassifier(
      store: store, geometry: LandmarkChipGeometry(landmarker: try FaceLandmarker(store: store)))
    self.ssd = ssd
    self.haar = haar
    self.classifier = classifier
    ssdAnalyzer = VideoFaceAnalyzer(detector: ssd, classifier: classifier)
    haarAnalyzer = haar.map { VideoFaceAnalyzer(detector: $0, classifier: classifier) }
  }

  deinit { pixels.deallocate() }

  func run(_ data: UnsafeRawBufferPointer) {
    runs += 1
    var input = FuzzBytes(data)
    let formatIndex = Int(input.byte()) % (PixelFormat.allCases.count + 2)
    let layout: ChromaPlanes.Layout? =
      formatIndex < PixelFormat.allCases.count ? nil : (formatIndex == PixelFormat.allCases.count ? .i420 : .nv12)
    let format = layout == nil ? PixelFormat.allCases[formatIndex] : .gray8
    let width = 1 + input.u16() % Self.maxSide
    let height = 1 + input.u16() % Self.maxSide
    let paddingByte = input.byte()
    let padding = Int(paddingByte % 64)
    let asyncPath = paddingByte & 0x40 != 0
    let flags = input.byte()
    let boxCount = Int(input.byte() % 5)
    var boxes: [FaceAnalysis.Box] = []
    for _ in 0..<boxCount {
      // Anywhere from two frames left/above to two frames right/below, sizes 0...2 frames.
      let x = Double(input.signed(2 * width)), y = Double(input.signed(2 * height))
      let w = Double(input.u16() % (2 * width + 1)), h = Double(input.u16() % (2 * height + 1))
      boxes.append(FaceAnalysis.Box(x: x, y: y, width: w, height: h))
    }
    let stride = width * format.bytesPerPixel + padding
    let chromaStride = layout.map { ChromaPlanes.rowBytes(width: width, layout: $0) + padding / 2 } ?? 0
    let chromaBytes = chromaStride * ((height + 1) / 2)
    let needed = stride * height + (layout == .i420 ? 2 : layout == .nv12 ? 1 : 0) * chromaBytes
    if needed > capacity {
      pixels.deallocate()
      pixels = UnsafeMutableRawPointer.allocate(byteCount: needed, alignment: 64)
      capacity = needed
    }
    let source = input.rest
    if source.isEmpty {
      pixels.initializeMemory(as: UInt8.self, repeating: flags, count: needed)
    } else {
      var i = 0
      while i < needed {
        let n = min(source.count, needed - i)
        (pixels + i).copyMemory(from: source.baseAddress!, byteCount: n)
        i += n
      }
    }
    let chroma = layout.map { layout in
      ChromaPlanes(
        layout: layout, u: pixels + stride * height, v: layout == .i420 ? pixels + stride * height + chromaBytes : nil,
        stride: chromaStride)
    }
    let image = ImageView(data: pixels, width: width, height: height, stride: stride, format: format, chroma: chroma)

    let sizes = [64, 96, 160, 300]
    ssd.inputSize = sizes[Int(flags & 3)]
    ssd.closeUpPadding = flags & 4 != 0 ? 0.3 : 0
    let useHaar = flags & 8 != 0 && haarAnalyzer != nil
    let analyzer = useHaar ? haarAnalyzer! : ssdAnalyzer
    let options = VideoAnalysisOptions(
      analysis: AnalysisOptions(
        detectionThreshold: Double(flags >> 5) / 8, minFaceSize: Int(flags >> 4 & 1) * 20, maxFaces: 1 + Int(flags % 7)),
      detectionInterval: 1 + Int(flags >> 6), tracking: flags & 16 == 0)
    var faces: [AnalyzedFace] = []
    if asyncPath {
      let key = ObjectIdentifier(analyzer)
      let worker = workers[key] ?? AsyncFaceAnalyzer(analyzer: analyzer)
      workers[key] = worker
      for _ in 0..<2 {
        worker.offer(image, frame: streamFrame, options: options, maxLag: 0)
        streamFrame += 1
        faces = worker.snapshot?.faces(at: streamFrame).map { face in
          var f = face
          f.detection.box = f.detection.box.clipped(width: Double(width), height: Double(height))
          return f
        } ?? []
        if !faces.isEmpty { framesWithFaces += 1 }
        _ = worker.takeFailure()
      }
      // Waits until the worker is idle, so the analyzer is ours again below.
      worker.reset(waitForIdle: true)
    } else {
      for _ in 0..<2 {
        if let found = try? analyzer.process(image, options: options) {
          faces = found
          if !found.isEmpty { framesWithFaces += 1 }
        }
      }
      analyzer.reset()
    }
    if let estimates = try? classifier.classify(image, faces: boxes) {
      for (box, estimate) in zip(boxes, estimates) {
        faces.append(AnalyzedFace(detection: Detection(box: box, confidence: 1), estimate: estimate))
      }
    }
    // The privacy mode on the same boxes (inside, across and far outside the frame), then the overlay.
    try? FaceAnonymizer.apply(faces.map(\.detection.box), mode: flags & 32 == 0 ? .blur : .pixelate, on: image)
    try? FaceOverlay.draw(faces, on: image)
  }
}

/// Random text through the model-manifest reader: it either returns a manifest
/// whose fields hold what the reader promises, or throws; it never traps.
enum ManifestFuzzTarget {
  /// Real manifests and near misses, the libFuzzer seed corpus and the in-process generator's material.
  static let seeds: [String] = [
    "name = res10-ssd\nrole = detector\nformat = caffe\nfile = res10.caffemodel\nconfig-file = deploy.prototxt\ninput-size = 300 300\nmean = 104 177 123\n",
    "name = cydral-age\nrole = age\nformat = onnx\nfile = age.onnx\ninput-size = 64 64\ncolor-order = rgb\nmean = 122.782 117.001 104.298\nscale = 0.00390625\nage-values = 0 1 2 3\nchip-padding = 0.2\n",
    "name = g\nrole = gender\nformat = onnx\nfile = g.onnx\ninput-size = 32 32\nlabels = female male\n",
    "name = lh\nrole = age\nformat = caffe\nfile = a\nconfig-file = b\ninput-size = 227 227\nage-groups = 0-2 4-6 8-12 15-20 25-32 38-43 48-53 60-100\n",
    "# comment\n\nname = l\nrole = landmarks\nformat = dlib\nfile = sp.dat\ngroup = default\n",
    "name = x\r\nrole = detector\r\nformat = haar\r\nfile = c.xml\r\n",
    "role = age\nrole = age\n", "= value\n", "no equals sign\n", "input-size = 1e999 nan\n", "mean = 1 2\n",
    "age-groups = 5-1\n", "chip-padding = -1\n", "scale = 0\n", "\u{FEFF}name=\u{0}\n",
  ]

  static func run(_ data: UnsafeRawBufferPointer) {
    let text = String(decoding: data, as: UTF8.self)
    guard let manifest = try? ModelManifest.parse(text, path: "fuzz.model") else { return }
    // What a successful parse promises the loaders.
    precondition(!manifest.name.isEmpty && !manifest.file.isEmpty, "empty name or file accepted")
    precondition(manifest.mean.count == 3, "mean without three values accepted")
    precondition(manifest.scale > 0 && manifest.scale.isFinite, "scale \(manifest.scale) accepted")
    precondition((0...4096).contains(manifest.inputWidth) && (0...4096).contains(manifest.inputHeight), "input size")
    precondition((0...2).contains(manifest.chipPadding), "chip padding \(manifest.chipPadding) accepted")
    precondition(manifest.ageGroups.allSatisfy { $0.lowerBound <= $0.upperBound })
    if manifest.format == .caffe { precondition(manifest.configFile != nil, "caffe model without config accepted") }
  }
}

/// Bytes through ShapePredictor's reader of dlib's format: it either loads a
/// predictor, which then runs on a small frame, or throws FaceAnalysisError;
/// it never traps. The seed is a small valid predictor in dlib's format.
enum ShapePredictorFuzzTarget {
  nonisolated(unsafe) private static let frame = OwnedImage(width: 24, height: 20, format: .bgrx, fill: 0x5A)

  static func run(_ data: UnsafeRawBufferPointer) {
    guard let predictor = try? ShapePredictor(serialized: data, path: "fuzz.dat") else { return }
    for box in [FaceAnalysis.Box(x: 3, y: 2, width: 16, height: 15), FaceAnalysis.Box(x: -10, y: 12, width: 18, height: 1e9)] {
      let points = try? predictor.shape(in: frame.view, box: box)
      precondition(points == nil || points!.count == predictor.partCount, "wrong number of parts")
    }
  }

  /// 5 parts, 2 cascades of 2 depth-2 trees over 6 feature pixels.
  static var seed: [UInt8] {
    var out: [UInt8] = []
    // dlib's pack_int: a byte count (bit 7: negative), then the magnitude, little endian.
    func int(_ value: Int64) {
      var magnitude = value.magnitude, body: [UInt8] = []
      repeat {
        body.append(UInt8(magnitude & 0xFF))
        magnitude >>= 8
      } while magnitude != 0
      out.append(UInt8(body.count) | (value < 0 ? 0x80 : 0))
      out += body
    }
    // float_details: mantissa * 2^exponent (any such pair reads back).
    func float(_ value: Float) {
      if value == 0 {
        int(0)
        int(0)
        return
      }
      let mantissa = Int64(0x80_0000 | value.significandBitPattern)
      int(value < 0 ? -mantissa : mantissa)
      int(Int64(value.exponent) - 23)
    }
    func column(_ values: [Float]) {
      int(-Int64(values.count))
      int(-1)
      values.forEach(float)
    }
    int(1)
    column([0.86, 0.21, 0.65, 0.23, 0.12, 0.21, 0.33, 0.23, 0.49, 0.63])
    int(2)
    for c in 0..<2 {
      int(2)
      for t in 0..<2 {
        int(3)
        for s in 0..<3 {
          int(Int64((c + t + s) % 6))
          int(Int64((t + 2 * s + 1) % 6))
          float(Float(s * 8 - 8))
        }
        int(4)
        for l in 0..<4 { column((0..<10).map { Float((l * 10 + $0) % 7 - 3) / 256 }) }
      }
    }
    int(2)
    for c in 0..<2 {
      int(6)
      for i in 0..<6 { int(Int64((i + c) % 5)) }
    }
    int(2)
    for c in 0..<2 {
      int(6)
      for i in 0..<12 { float(Float((i * 7 + c) % 11 - 5) / 32) }
    }
    return out
  }
}

/// A small deterministic generator (SplitMix64) for the in-process seeded runs.
struct SeededBytes {
  var state: UInt64

  init(seed: UInt64) { state = seed }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  mutating func bytes(_ count: Int) -> [UInt8] {
    (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
  }
}
