import FaceAnalysis
import XCTest

/// A planar YUV 4:2:0 frame (BT.601 video range, as GStreamer's videoconvert
/// writes it for SD sizes), converted here from a BGR image independently of the bridge.
final class PlanarFrame {
  let width: Int, height: Int
  let layout: ChromaPlanes.Layout
  var y: [UInt8], u: [UInt8], v: [UInt8]
  let chromaStride: Int

  init(_ image: OwnedImage, layout: ChromaPlanes.Layout) {
    precondition(image.format == .bgr)
    width = image.width
    height = image.height
    self.layout = layout
    let cw = (width + 1) / 2, ch = (height + 1) / 2
    chromaStride = ChromaPlanes.rowBytes(width: width, layout: layout)
    y = [UInt8](repeating: 0, count: width * height)
    u = [UInt8](repeating: 0, count: chromaStride * ch)
    v = layout == .i420 ? [UInt8](repeating: 0, count: chromaStride * ch) : []
    let src = image.view
    let base = src.data.assumingMemoryBound(to: UInt8.self)
    func rgb(_ x: Int, _ yy: Int) -> (Double, Double, Double) {
      let p = min(yy, height - 1) * src.stride + min(x, width - 1) * 3
      return (Double(base[p + 2]), Double(base[p + 1]), Double(base[p]))
    }
    func clamp(_ value: Double) -> UInt8 { UInt8(max(0, min(255, value.rounded()))) }
    for yy in 0..<height {
      for x in 0..<width {
        let (r, g, b) = rgb(x, yy)
        y[yy * width + x] = clamp(16 + (65.738 * r + 129.057 * g + 25.064 * b) / 256)
      }
    }
    for cy in 0..<ch {
      for cx in 0..<cw {
        var r = 0.0, g = 0.0, b = 0.0
        for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
          let p = rgb(2 * cx + dx, 2 * cy + dy)
          r += p.0 / 4
          g += p.1 / 4
          b += p.2 / 4
        }
        let cu = clamp(128 + (-37.945 * r - 74.494 * g + 112.439 * b) / 256)
        let cv = clamp(128 + (112.439 * r - 94.154 * g - 18.285 * b) / 256)
        if layout == .i420 {
          u[cy * chromaStride + cx] = cu
          v[cy * chromaStride + cx] = cv
        } else {
          u[cy * chromaStride + 2 * cx] = cu
          u[cy * chromaStride + 2 * cx + 1] = cv
        }
      }
    }
  }

  func withView<T>(_ body: (ImageView) throws -> T) rethrows -> T {
    try y.withUnsafeMutableBytes { yp in
      try u.withUnsafeMutableBytes { up in
        try v.withUnsafeMutableBytes { vp in
          try body(ImageView(
            data: yp.baseAddress!, width: width, height: height, stride: width, format: .gray8,
            chroma: ChromaPlanes(layout: layout, u: up.baseAddress!, v: layout == .i420 ? vp.baseAddress : nil,
              stride: chromaStride)))
        }
      }
    }
  }
}

/// Planar YUV frames (what decoders output): analysed like their BGR source,
/// drawn on in place, copied whole by the asynchronous worker, and refused
/// wherever the bridge needs colour.
final class PlanarFrameTests: XCTestCase {
  func testConversionToBGRMatchesTheSource() throws {
    let image = try Fixtures.image(Fixtures.astronautPath)
    for layout in [ChromaPlanes.Layout.i420, .nv12] {
      let planar = PlanarFrame(image, layout: layout)
      let converter = BGRFrameConverter()
      let (error, size) = try planar.withView { view -> (Double, (Int, Int)) in
        let bgr = try converter.packed(view)
        XCTAssertNil(bgr.chroma)
        XCTAssertEqual(bgr.format, .bgr)
        let a = bgr.data.assumingMemoryBound(to: UInt8.self), b = image.view.data.assumingMemoryBound(to: UInt8.self)
        var sum = 0.0
        for i in 0..<(image.width * image.height * 3) { sum += abs(Double(a[i]) - Double(b[i])) }
        return (sum / Double(image.width * image.height * 3), (bgr.width, bgr.height))
      }
      XCTAssertEqual(size.0, image.width)
      XCTAssertEqual(size.1, image.height)
      XCTAssertLessThan(error, 6, "\(layout): mean absolute difference \(error) (chroma is subsampled)")
    }
  }

  /// A decoder's frame in one buffer (Y, then the chroma, no padding) is
  /// converted in place; the result is the same as from separate planes.
  func testContiguousFramesConvertAlike() throws {
    let image = try Fixtures.image(Fixtures.astronautPath)
    let converter = BGRFrameConverter()  // owns the converted pixels
    for layout in [ChromaPlanes.Layout.i420, .nv12] {
      let planar = PlanarFrame(image, layout: layout)
      let separate = try planar.withView { view -> [UInt8] in
        let bgr = try converter.packed(view)
        return Array(UnsafeBufferPointer(start: bgr.data.assumingMemoryBound(to: UInt8.self), count: bgr.stride * bgr.height))
      }
      var whole = planar.y + planar.u + planar.v
      let together = try whole.withUnsafeMutableBytes { raw -> [UInt8] in
        let base = raw.baseAddress!
        let u = base + planar.y.count
        let view = ImageView(
          data: base, width: planar.width, height: planar.height, stride: planar.width, format: .gray8,
          chroma: ChromaPlanes(layout: layout, u: u, v: layout == .i420 ? u + planar.u.count : nil,
            stride: planar.chromaStride))
        let bgr = try converter.packed(view)
        return Array(UnsafeBufferPointer(start: bgr.data.assumingMemoryBound(to: UInt8.self), count: bgr.stride * bgr.height))
      }
      XCTAssertEqual(separate, together, "\(layout)")
    }
  }

  func testOddSizesConvert() throws {
    let image = try Fixtures.image(Fixtures.astronautPath)
    let odd = PixelBuffer.crop(image, Box(x: 100, y: 30, width: 201, height: 157))
    let owned = OwnedImage(width: odd.width, height: odd.height, format: .bgr)
    owned.view.data.copyMemory(from: odd.bytes, byteCount: odd.bytes.count)
    let converter = BGRFrameConverter()  // owns the converted pixels
    for layout in [ChromaPlanes.Layout.i420, .nv12] {
      let planar = PlanarFrame(owned, layout: layout)
      XCTAssertEqual(planar.width % 2, 1)
      let corner = try planar.withView { view -> [UInt8] in
        let bgr = try converter.packed(view)
        let p = bgr.data.assumingMemoryBound(to: UInt8.self) + (bgr.height - 1) * bgr.stride + (bgr.width - 1) * 3
        return [p[0], p[1], p[2]]
      }
      let q = owned.view.data.assumingMemoryBound(to: UInt8.self) + (owned.height - 1) * owned.stride + (owned.width - 1) * 3
      for c in 0..<3 { XCTAssertEqual(Double(corner[c]), Double(q[c]), accuracy: 40, "\(layout): last pixel, channel \(c)") }
    }
  }

  func testPlanarFramesAreAnalysedLikeTheirBGR() throws {
    try Fixtures.requireModels()
    let image = try Fixtures.image(Fixtures.astronautPath)
    let reference = try XCTUnwrap(
      try VideoFaceAnalyzer(detector: try Fixtures.detector(), classifier: try Fixtures.classifier())
        .process(image.view, options: VideoAnalysisOptions()).first)
    for layout in [ChromaPlanes.Layout.i420, .nv12] {
      let planar = PlanarFrame(image, layout: layout)
      let analyzer = VideoFaceAnalyzer(detector: try Fixtures.detector(), classifier: try Fixtures.classifier())
      // Detection frame, then a frame followed by appearance on the Y plane.
      let options = VideoAnalysisOptions(detectionInterval: 2)
      var faces: [[AnalyzedFace]] = []
      for _ in 0..<2 { faces.append(try planar.withView { try analyzer.process($0, options: options) }) }
      for (frame, found) in faces.enumerated() {
        let face = try XCTUnwrap(found.first, "\(layout), frame \(frame)")
        XCTAssertEqual(found.count, 1)
        XCTAssertEqual(face.detection.box.x, reference.detection.box.x, accuracy: 4, "\(layout)")
        XCTAssertEqual(face.detection.box.width, reference.detection.box.width, accuracy: 4, "\(layout)")
        XCTAssertEqual(face.estimate.gender, reference.estimate.gender, "\(layout)")
        XCTAssertEqual(face.estimate.age, reference.estimate.age, accuracy: 3, "\(layout)")
      }
    }
  }

  /// CenterFace resizes a planar frame's planes and converts only its input:
  /// the faces are those of the frame's BGR conversion, in both layouts, and a
  /// close-up region of odd size (through a BGR copy) gives what BGR gives.
  func testCenterFaceOnPlanarFramesFindsWhatItFindsInBGR() throws {
    try Fixtures.requireModels()
    let image = try Fixtures.image(Fixtures.astronautPath)
    let detector = try CenterFaceDetector(store: ModelStore(directory: Fixtures.modelDirectory))
    XCTAssertTrue(detector.readsPlanarFrames)
    let converter = BGRFrameConverter()
    for layout in [ChromaPlanes.Layout.i420, .nv12] {
      let planar = PlanarFrame(image, layout: layout)
      let (direct, viaBGR) = try planar.withView { view in
        (try detector.detect(in: view, threshold: 0.4), try detector.detect(in: try converter.packed(view), threshold: 0.4))
      }
      XCTAssertEqual(direct.count, viaBGR.count, "\(layout)")
      XCTAssertFalse(direct.isEmpty, "\(layout): the astronaut's face")
      for (a, b) in zip(direct, viaBGR) {
        XCTAssertGreaterThan(a.box.iou(b.box), 0.9, "\(layout)")
        XCTAssertEqual(a.confidence, b.confidence, accuracy: 0.05, "\(layout)")
      }
    }
    // A blank frame: the main pass finds nothing, so the close-up pass runs; a
    // border of a quarter makes its region odd-sized (160 / 1.5 = 107 px).
    let blank = OwnedImage(width: 320, height: 240, format: .bgr, fill: 128)
    detector.closeUpPadding = 0.25
    let layout = CenterFaceDetector.inputLayout(width: 320, height: 240, padding: 0.25, shortSide: 160)
    XCTAssertTrue(Int(layout.region.width) % 2 == 1 || Int(layout.region.height) % 2 == 1, "\(layout)")
    let planar = PlanarFrame(blank, layout: .i420)
    let (direct, viaBGR) = try planar.withView { view in
      (try detector.detect(in: view, threshold: 0.4), try detector.detect(in: try converter.packed(view), threshold: 0.4))
    }
    XCTAssertEqual(direct.count, viaBGR.count)
  }

  func testTheWorkerCopiesEveryPlane() throws {
    try Fixtures.requireModels()
    let image = try Fixtures.image(Fixtures.astronautPath)
    for layout in [ChromaPlanes.Layout.i420, .nv12] {
      let planar = PlanarFrame(image, layout: layout)
      let worker = AsyncFaceAnalyzer(
        analyzer: VideoFaceAnalyzer(detector: try Fixtures.detector(), classifier: try Fixtures.classifier()))
      defer { worker.stop() }
      let taken = planar.withView { worker.offer($0, frame: 0, options: VideoAnalysisOptions()) }
      XCTAssertTrue(taken)
      // The frame's memory is scribbled over at once: the worker must use its copy.
      for i in planar.y.indices { planar.y[i] = 0 }
      for i in planar.u.indices { planar.u[i] = 0 }
      let deadline = Date().addingTimeInterval(60)
      while worker.snapshot == nil && Date() < deadline { usleep(10_000) }
      XCTAssertNil(worker.takeFailure())
      let faces = try XCTUnwrap(worker.snapshot, "\(layout): no result within 60 s").faces
      XCTAssertEqual(faces.count, 1, "\(layout)")
      XCTAssertEqual(faces.first?.estimate.gender, .female, "\(layout)")
    }
  }

  func testDrawingMarksEveryPlane() throws {
    let image = try Fixtures.image(Fixtures.astronautPath)
    for layout in [ChromaPlanes.Layout.i420, .nv12] {
      let planar = PlanarFrame(image, layout: layout)
      let before = (planar.y, planar.u, planar.v)
      let face = AnalyzedFace(
        detection: Detection(box: Box(x: 100, y: 100, width: 120, height: 120), confidence: 0.9),
        estimate: AgeGenderEstimate(age: 30, femaleProbability: 0.9))
      try planar.withView { try FaceOverlay.draw([face], on: $0) }
      XCTAssertNotEqual(planar.y, before.0, "\(layout): Y plane")
      XCTAssertNotEqual(planar.u, before.1, "\(layout): chroma")
      // Outside the box and its label nothing changes.
      XCTAssertEqual(planar.y[400 * planar.width + 400], before.0[400 * planar.width + 400])
    }
  }

  func testColourNeedingCallsRefusePlanarFrames() throws {
    try Fixtures.requireModels()
    let image = try Fixtures.image(Fixtures.astronautPath)
    let planar = PlanarFrame(image, layout: .i420)
    XCTAssertThrowsError(try planar.withView { try Fixtures.detector().detect(in: $0, threshold: 0.5) }) { error in
      XCTAssertTrue("\(error)".contains("planar"), "\(error)")
    }
    XCTAssertThrowsError(try planar.withView { try Fixtures.classifier().classify($0, faces: [Fixtures.astronautFace]) })
    // Brightness alone is read from the Y plane.
    let tracker = FaceAppearanceTracker()
    try planar.withView { try tracker.remember(1, box: Fixtures.astronautFace, in: $0) }
    let found = try planar.withView { try tracker.locate(1, near: Fixtures.astronautFace, in: $0) }
    XCTAssertEqual(try XCTUnwrap(found).x, Fixtures.astronautFace.x, accuracy: 1)
  }
}
