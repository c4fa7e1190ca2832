import FaceAnalysis
import FaceImageFiles
import Foundation
import XCTest

/// OwnedImage: decoding, blank images, writing.
final class ImageTests: XCTestCase {
  func testMissingFileThrowsImageUnreadableNamingThePath() {
    let path = "/nonexistent-dir/no-such-image.png"
    let error = assertFaceError(try OwnedImage(contentsOf: path))
    guard case .imageUnreadable(let named, let reason)? = error else {
      return XCTFail("expected imageUnreadable, got \(String(describing: error))")
    }
    XCTAssertEqual(named, path)
    XCTAssertFalse(reason.isEmpty)
    XCTAssertTrue(error!.description.contains(path), error!.description)
  }

  func testNonImageFileThrows() throws {
    let dir = try Fixtures.temporaryDirectory(for: self)
    let path = dir.appendingPathComponent("not-an-image.png").path
    try Data("this is not a PNG".utf8).write(to: URL(fileURLWithPath: path))
    guard case .imageUnreadable(let named, _)? = assertFaceError(try OwnedImage(contentsOf: path)) else {
      return XCTFail("expected imageUnreadable")
    }
    XCTAssertEqual(named, path)
  }

  func testDecodesAsPackedBGR() throws {
    let image = try Fixtures.image(Fixtures.astronautPath)
    XCTAssertEqual(image.width, 512)
    XCTAssertEqual(image.height, 512)
    XCTAssertEqual(image.format, .bgr)
    XCTAssertEqual(image.stride, 512 * 3)
    let view = image.view
    XCTAssertEqual(view.width, 512)
    XCTAssertEqual(view.stride, 1536)
    // The orange space suit at (100, 400): measured B 42, G 78, R 198, so red is in the third byte.
    let p = view.data.assumingMemoryBound(to: UInt8.self) + (400 * view.stride + 100 * 3)
    XCTAssertGreaterThan(Int(p[2]), Int(p[0]) + 100, "R (byte 2) must dominate B (byte 0) on the orange suit")
    let hopper = try Fixtures.image(Fixtures.hopperPath)
    XCTAssertEqual(hopper.width, 128)
    XCTAssertEqual(hopper.height, 128)
  }

  func testBlankImage() {
    let image = OwnedImage(width: 7, height: 3, format: .rgba, fill: 9)
    XCTAssertEqual(image.stride, 28)
    XCTAssertEqual(image.view.format, .rgba)
    let bytes = UnsafeBufferPointer(start: image.view.data.assumingMemoryBound(to: UInt8.self), count: 28 * 3)
    XCTAssertTrue(bytes.allSatisfy { $0 == 9 })
    XCTAssertEqual(PixelFormat.gray8.bytesPerPixel, 1)
    XCTAssertEqual(PixelFormat.rgb.bytesPerPixel, 3)
    XCTAssertEqual(PixelFormat.argb.bytesPerPixel, 4)
  }

  func testWriteThenReadBack() throws {
    let dir = try Fixtures.temporaryDirectory(for: self)
    // An RGBA image with distinct R, G, B, written as PNG (lossless), read back as BGR.
    let rgba = PixelBuffer(width: 4, height: 2, stride: 16, format: .rgba, bytes: Array(repeating: [10, 20, 30, 77], count: 8).flatMap { $0 })
    let path = dir.appendingPathComponent("rgba.png").path
    try rgba.withView { view in
      let owned = OwnedImage(width: 4, height: 2, format: .rgba)
      owned.view.data.copyMemory(from: view.data, byteCount: 32)
      try owned.write(to: path)
    }
    let back = try OwnedImage(contentsOf: path)
    XCTAssertEqual(back.width, 4)
    XCTAssertEqual(back.height, 2)
    let p = back.view.data.assumingMemoryBound(to: UInt8.self)
    XCTAssertEqual([p[0], p[1], p[2]], [30, 20, 10], "B, G, R")

    let unwritable = dir.appendingPathComponent("missing-dir/x.png").path
    guard case .imageUnreadable(let named, _)? = assertFaceError(try back.write(to: unwritable)) else {
      return XCTFail("expected an error writing to a missing folder")
    }
    XCTAssertEqual(named, unwritable)
  }
}
