import COpenCVBridge
import COpenCVImageIO
import FaceAnalysis

/// Image files (JPEG, PNG, ...) for tools and tests, through OpenCV's
/// imgcodecs; a separate module so the plugin does not load imgcodecs.
extension OwnedImage {
  /// Reads an image file as packed BGR.
  public convenience init(contentsOf path: String) throws {
    var data: UnsafeMutablePointer<UInt8>?
    var w: Int32 = 0
    var h: Int32 = 0
    var error = agb_error()
    guard agb_read_image(path, &data, &w, &h, &error) == 0, let data else {
      throw FaceAnalysisError.imageUnreadable(path: path, reason: error.text)
    }
    self.init(adoptingBGR: data, width: Int(w), height: Int(h))
  }

  /// Writes the image (format by the path's extension).
  public func write(to path: String) throws {
    let v = view
    var image = agb_image(
      data: v.data.assumingMemoryBound(to: UInt8.self), width: Int32(v.width), height: Int32(v.height),
      stride: Int32(v.stride), format: v.format.rawValue, chroma: Int32(AGB_CHROMA_NONE.rawValue), u: nil, v: nil,
      chroma_stride: 0)
    var error = agb_error()
    if agb_write_image(path, &image, &error) != 0 {
      throw FaceAnalysisError.imageUnreadable(path: path, reason: error.text)
    }
  }
}

extension ImageView {
  /// The image encoded in memory in the file format of `fileExtension`
  /// (".jpg", ".png"); packed formats only (convert planar frames first).
  public func encoded(as fileExtension: String) throws -> [UInt8] {
    var image = agb_image(
      data: data.assumingMemoryBound(to: UInt8.self), width: Int32(width), height: Int32(height),
      stride: Int32(stride), format: format.rawValue, chroma: Int32(AGB_CHROMA_NONE.rawValue), u: nil, v: nil,
      chroma_stride: 0)
    var bytes: UnsafeMutablePointer<UInt8>?
    var count: Int32 = 0
    var error = agb_error()
    guard chroma == nil, agb_encode_image(&image, fileExtension, &bytes, &count, &error) == 0, let bytes else {
      throw FaceAnalysisError.inference(reason: "encoding an image as \(fileExtension): \(error.text)")
    }
    defer { agb_free(bytes) }
    return Array(UnsafeBufferPointer(start: bytes, count: Int(count)))
  }

  /// The pixels of `x, y, width, height` (clipped to the image), sharing this
  /// image's memory; nil when nothing is left. Packed formats only.
  public func region(x: Int, y: Int, width: Int, height: Int) -> ImageView? {
    guard chroma == nil else { return nil }
    let left = max(0, x), top = max(0, y)
    let right = min(self.width, x + width), bottom = min(self.height, y + height)
    guard right > left, bottom > top else { return nil }
    return ImageView(
      data: data + top * stride + left * format.bytesPerPixel, width: right - left, height: bottom - top,
      stride: stride, format: format)
  }
}
