import COpenCVBridge

/// Byte layout of one packed pixel, named the way GStreamer names video formats.
public enum PixelFormat: Int32, CaseIterable, Sendable {
  case bgr = 0, rgb, bgrx, bgra, rgbx, rgba, xbgr, abgr, xrgb, argb, gray8

  public var bytesPerPixel: Int {
    switch self {
    case .bgr, .rgb: return 3
    case .gray8: return 1
    default: return 4
    }
  }
}

/// A view over packed pixels owned by someone else (a mapped video frame, a
/// decoded image). Nothing is copied; the caller keeps the memory alive.
public struct ImageView {
  public var data: UnsafeMutableRawPointer
  public var width: Int
  public var height: Int
  public var stride: Int
  public var format: PixelFormat

  public init(data: UnsafeMutableRawPointer, width: Int, height: Int, stride: Int, format: PixelFormat) {
    self.data = data
    self.width = width
    self.height = height
    self.stride = stride
    self.format = format
  }

  var bridged: agb_image {
    agb_image(
      data: data.assumingMemoryBound(to: UInt8.self), width: Int32(width), height: Int32(height),
      stride: Int32(stride), format: format.rawValue)
  }
}

/// An image that owns its pixels (packed BGR), e.g. one read from a file.
public final class OwnedImage {
  public let width: Int
  public let height: Int
  public let format: PixelFormat
  public let stride: Int
  private let pixels: UnsafeMutableRawPointer

  /// Takes ownership of packed BGR pixels allocated with malloc (freed with
  /// agb_free), as the image-file reader hands them out.
  public init(adoptingBGR data: UnsafeMutablePointer<UInt8>, width: Int, height: Int) {
    pixels = UnsafeMutableRawPointer(data)
    self.width = width
    self.height = height
    format = .bgr
    stride = width * 3
  }

  /// A blank image (all bytes `fill`).
  public init(width: Int, height: Int, format: PixelFormat, fill: UInt8 = 0) {
    self.width = width
    self.height = height
    self.format = format
    stride = width * format.bytesPerPixel
    pixels = UnsafeMutableRawPointer.allocate(byteCount: max(1, stride * height), alignment: 16)
    pixels.initializeMemory(as: UInt8.self, repeating: fill, count: max(1, stride * height))
    ownedBySwift = true
  }

  private var ownedBySwift = false

  deinit {
    if ownedBySwift { pixels.deallocate() } else { agb_free(pixels) }
  }

  public var view: ImageView {
    ImageView(data: pixels, width: width, height: height, stride: stride, format: format)
  }

}

extension agb_error {
  /// The bridge's message as a Swift string.
  public var text: String {
    withUnsafeBytes(of: message) { raw in
      String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
    }
  }
}
