import Glibc
import COpenCVBridge

/// One chip as dlib's `get_face_chip_details` places it and its
/// `extract_image_chip` cuts it (the bridge's `agb_face_chip`): the chip's
/// corner pixels sample the corners of a square `side` pixels across (dlib's
/// rect.right() - rect.left()) centred at (centerX, centerY), rotated by `angle`.
///
/// dlib's square is `size * scale` pixels wide less one, where `scale` is the
/// image pixels per chip pixel of the similarity fit: its chip pixel u lies at
/// (u - (size - 1) / 2) * side / (size - 1) from the centre. The earlier
/// `chipTransform` sampled at (u - size / 2) * scale: half a chip pixel up and
/// left and ~1% smaller (see docs/accuracy.md for what that cost).
public struct FaceChip: Equatable, Sendable {
  public var centerX, centerY: Double
  public var side: Double
  public var angle: Double
  public var mirrored: Bool

  public init(centerX: Double, centerY: Double, side: Double, angle: Double, mirrored: Bool = false) {
    self.centerX = centerX
    self.centerY = centerY
    self.side = side
    self.angle = angle
    self.mirrored = mirrored
  }

  /// The chip of `size` pixels with `padding` context for a placed face.
  public init(_ placement: FacePlacement, size: Int, padding: Double) {
    let centre = placement.point(0.5, 0.5)
    let axis = (placement.xAxisX * placement.xAxisX + placement.xAxisY * placement.xAxisY).squareRoot()
    let scale = axis * (1 + 2 * padding) / Double(size)
    self.init(
      centerX: centre.x, centerY: centre.y, side: Double(size) * scale - 1,
      angle: atan2(placement.xAxisY, placement.xAxisX))
  }

  /// The same chip moved by (dx, dy) and scaled by `scale`, both in units of
  /// its side, along its own axes (test-time augmentation).
  public func jittered(dx: Double, dy: Double, scale: Double) -> FaceChip {
    let c = cos(angle), s = sin(angle)
    let ox = (dx * c - dy * s) * side, oy = (dx * s + dy * c) * side
    return FaceChip(centerX: centerX + ox, centerY: centerY + oy, side: side * scale, angle: angle, mirrored: mirrored)
  }

  public var mirror: FaceChip {
    var m = self
    m.mirrored.toggle()
    return m
  }

  var bridged: agb_face_chip {
    agb_face_chip(cx: centerX, cy: centerY, side: side, angle: angle, mirror: mirrored ? 1 : 0)
  }
}

/// What the chips do with pixels beyond the image's edge.
public enum ChipBorder: Int32, Sendable {
  /// Black, as dlib (the nets' training chips were cut from whole photos,
  /// where a border was rare).
  case black = 0
  /// The edge pixels repeated.
  case replicate = 1
}

extension FaceChip {
  /// The chip's pixels (size x size, in the image's packed format), as the
  /// classifier cuts them. For tests and tools.
  public func pixels(from image: ImageView, size: Int, border: ChipBorder) throws -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: size * size * image.format.bytesPerPixel)
    var source = image.bridged
    var face = bridged
    var error = agb_error()
    let status = bytes.withUnsafeMutableBytes { raw in
      var chip = ImageView(
        data: raw.baseAddress!, width: size, height: size, stride: size * image.format.bytesPerPixel,
        format: image.format
      ).bridged
      return agb_extract_face_chip(&source, &face, border.rawValue, &chip, &error)
    }
    guard status == 0 else { throw FaceAnalysisError.inference(reason: "face chip: \(error.text)") }
    return bytes
  }
}

extension ChipTransform {
  /// The pixels the bridge's affine chip cutter (agb_extract_chip: area
  /// pre-shrink, bilinear warp, edges repeated) samples for this transform;
  /// the Levi & Hassner crops use it, and the Cydral chips did before FaceChip.
  public func pixels(from image: ImageView, width: Int, height: Int) throws -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: width * height * image.format.bytesPerPixel)
    var source = image.bridged
    var error = agb_error()
    let t = floats
    let status = bytes.withUnsafeMutableBytes { raw in
      var chip = ImageView(
        data: raw.baseAddress!, width: width, height: height, stride: width * image.format.bytesPerPixel,
        format: image.format
      ).bridged
      return t.withUnsafeBufferPointer { agb_extract_chip(&source, $0.baseAddress, &chip, &error) }
    }
    guard status == 0 else { throw FaceAnalysisError.inference(reason: "chip: \(error.text)") }
    return bytes
  }
}
