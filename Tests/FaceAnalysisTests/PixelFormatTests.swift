import FaceAnalysis
import XCTest

/// The same picture in every packed layout must give the same answer: this is
/// what proves the bridge's channel handling (the byte shuffling is done here,
/// in the test, independently of the bridge).
final class PixelFormatTests: XCTestCase {
  private struct Result {
    var box: Box
    var estimate: AgeGenderEstimate
  }

  private func analyse(_ buffer: PixelBuffer, file: StaticString = #filePath, line: UInt = #line) throws -> Result? {
    let detector = try Fixtures.detector()
    let classifier = try Fixtures.classifier()
    return try buffer.withView { view in
      let faces = try detector.detect(in: view, threshold: 0.5)
      XCTAssertEqual(faces.count, 1, "\(buffer.format) stride \(buffer.stride): \(faces)", file: file, line: line)
      guard let face = faces.first else { return nil }
      let estimates = try classifier.classify(view, faces: [face.box])
      XCTAssertEqual(estimates.count, 1, file: file, line: line)
      return estimates.first.map { Result(box: face.box, estimate: $0) }
    }
  }

  private func assertSame(
    _ result: Result?, as reference: Result, _ what: String, file: StaticString = #filePath, line: UInt = #line
  ) {
    guard let result else { return XCTFail("\(what): no face", file: file, line: line) }
    let a = result.box, b = reference.box
    for (x, y, name) in [(a.x, b.x, "x"), (a.y, b.y, "y"), (a.maxX, b.maxX, "maxX"), (a.maxY, b.maxY, "maxY")] {
      XCTAssertEqual(x, y, accuracy: 2, "\(what): box \(name)", file: file, line: line)
    }
    XCTAssertEqual(result.estimate.gender, reference.estimate.gender, what, file: file, line: line)
    XCTAssertEqual(result.estimate.age, reference.estimate.age, accuracy: 0.5, what, file: file, line: line)
    XCTAssertEqual(
      result.estimate.femaleProbability, reference.estimate.femaleProbability, accuracy: 0.02, what, file: file,
      line: line)
  }

  private func reference() throws -> (OwnedImage, Result) {
    let image = try Fixtures.image(Fixtures.astronautPath)
    XCTAssertEqual(image.format, .bgr)
    let bgr = PixelBuffer(
      width: image.width, height: image.height, stride: image.stride, format: .bgr,
      bytes: Array(UnsafeBufferPointer(start: image.view.data.assumingMemoryBound(to: UInt8.self), count: image.stride * image.height)))
    guard let result = try analyse(bgr) else { throw Fixtures.MissingFixture(message: "no face on the BGR astronaut") }
    // Sanity of the reference itself (measured: female 0.989, age 28.9).
    XCTAssertEqual(result.estimate.gender, .female)
    return (image, result)
  }

  func testEveryColourLayoutMatchesBGR() throws {
    let (image, bgr) = try reference()
    let layouts = PixelFormat.allCases.filter { $0 != .gray8 && $0 != .bgr }
    XCTAssertEqual(layouts.count, 9, "RGB and the eight 4-byte layouts")
    for format in layouts {
      let converted = PixelBuffer.convert(image, to: format)
      XCTAssertEqual(converted.stride, image.width * format.bytesPerPixel)
      assertSame(try analyse(converted), as: bgr, "\(format)")
    }
  }

  func testSwappedChannelsAreNoticed() throws {
    // The comparison above can fail: the same bytes labelled with the wrong order
    // (RGB bytes read as BGR) give a measurably different age.
    let (image, bgr) = try reference()
    let rgbBytes = PixelBuffer.convert(image, to: .rgb)
    let mislabelled = PixelBuffer(
      width: rgbBytes.width, height: rgbBytes.height, stride: rgbBytes.stride, format: .bgr, bytes: rgbBytes.bytes)
    let wrong = try analyse(mislabelled)
    XCTAssertNotNil(wrong)
    if let wrong {
      XCTAssertGreaterThan(abs(wrong.estimate.age - bgr.estimate.age), 0.5, "swapped channels should change the age")
    }
  }

  func testPaddedStridesMatch() throws {
    let (image, bgr) = try reference()
    for (format, extra) in [(PixelFormat.bgr, 64), (.bgr, 1), (.rgb, 64), (.bgra, 64), (.xrgb, 4)] {
      let stride = image.width * format.bytesPerPixel + extra
      let padded = PixelBuffer.convert(image, to: format, stride: stride)
      XCTAssertEqual(padded.stride, stride)
      assertSame(try analyse(padded), as: bgr, "\(format) stride width*\(format.bytesPerPixel)+\(extra)")
    }
  }

  func testGrayFindsTheSameFace() throws {
    // GRAY8 has no colour, so only the box and the gender are compared
    // (measured: the age moves from 28.9 to 36.6 without colour).
    let (image, bgr) = try reference()
    let src = image.view.data.assumingMemoryBound(to: UInt8.self)
    var gray = [UInt8](repeating: 0, count: image.width * image.height)
    for y in 0..<image.height {
      for x in 0..<image.width {
        let p = y * image.stride + x * 3
        gray[y * image.width + x] = UInt8((Int(src[p]) * 29 + Int(src[p + 1]) * 150 + Int(src[p + 2]) * 77) >> 8)
      }
    }
    let buffer = PixelBuffer(width: image.width, height: image.height, stride: image.width, format: .gray8, bytes: gray)
    guard let result = try analyse(buffer) else { return }
    XCTAssertGreaterThan(result.box.iou(bgr.box), 0.9, "\(result.box)")
    XCTAssertEqual(result.estimate.gender, .female)
    XCTAssertTrue((18...60).contains(result.estimate.age), "\(result.estimate.age)")
  }
}
