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

/// The chroma planes of a planar YUV 4:2:0 frame (I420: U and V planes; NV12:
/// one plane of U,V pairs), each (width+1)/2 x (height+1)/2 samples.
public struct ChromaPlanes {
  public enum Layout: Int32, Sendable { case i420 = 1, nv12 = 2 }
  public var layout: Layout
  public var u: UnsafeMutableRawPointer
  /// Nil for NV12.
  public var v: UnsafeMutableRawPointer?
  public var stride: Int

  public init(layout: Layout, u: UnsafeMutableRawPointer, v: UnsafeMutableRawPointer?, stride: Int) {
    self.layout = layout
    self.u = u
    self.v = v
    self.stride = stride
  }

  /// Bytes per row of chroma samples for a frame `width` wide.
  public static func rowBytes(width: Int, layout: Layout) -> Int {
    layout == .nv12 ? 2 * ((width + 1) / 2) : (width + 1) / 2
  }
}

/// A view over pixels owned by someone else (a mapped video frame, a decoded
/// image). Nothing is copied; the caller keeps the memory alive.
///
/// A planar YUV frame (as decoders output it, so `videoconvert` has nothing to
/// do) is its Y plane, viewed as `gray8`, plus `chroma`: what needs only
/// brightness (following faces by their look) reads the Y plane directly;
/// the networks see it converted to BGR (`BGRFrameConverter`), and the bridge
/// refuses planar frames wherever colour is needed.
public struct ImageView {
  public var data: UnsafeMutableRawPointer
  public var width: Int
  public var height: Int
  public var stride: Int
  public var format: PixelFormat
  public var chroma: ChromaPlanes?

  public init(data: UnsafeMutableRawPointer, width: Int, height: Int, stride: Int, format: PixelFormat,
    chroma: ChromaPlanes? = nil) {
    self.data = data
    self.width = width
    self.height = height
    self.stride = stride
    self.format = chroma == nil ? format : .gray8
    self.chroma = chroma
  }

  var bridged: agb_image {
    agb_image(
      data: data.assumingMemoryBound(to: UInt8.self), width: Int32(width), height: Int32(height),
      stride: Int32(stride), format: format.rawValue, chroma: chroma?.layout.rawValue ?? 0,
      u: chroma?.u.assumingMemoryBound(to: UInt8.self), v: chroma?.v?.assumingMemoryBound(to: UInt8.self),
      chroma_stride: Int32(chroma?.stride ?? 0))
  }
}

/// Gives the networks packed BGR pixels of planar YUV frames, converting into
/// one buffer reused from frame to frame (packed frames pass through as they are).
public final class BGRFrameConverter {
  private var buffer: UnsafeMutableRawPointer?
  private var capacity = 0

  public init() {}

  deinit { buffer?.deallocate() }

  /// `image` itself when it is packed, else its BGR conversion (valid until the next call).
  public func packed(_ image: ImageView) throws -> ImageView {
    guard image.chroma != nil else { return image }
    let needed = image.width * image.height * 3
    if needed > capacity {
      buffer?.deallocate()
      buffer = UnsafeMutableRawPointer.allocate(byteCount: max(1, needed), alignment: 64)
      capacity = needed
    }
    let out = ImageView(data: buffer!, width: image.width, height: image.height, stride: image.width * 3, format: .bgr)
    var source = image.bridged
    var target = out.bridged
    var error = agb_error()
    guard agb_yuv_to_bgr(&source, &target, &error) == 0 else {
      throw FaceAnalysisError.inference(reason: "YUV to BGR: \(error.text)")
    }
    return out
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
