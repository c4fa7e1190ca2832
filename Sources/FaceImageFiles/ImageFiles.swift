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
