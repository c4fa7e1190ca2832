/// A point in pixels.
public struct Point: Equatable, Sendable {
  public var x: Double
  public var y: Double

  public init(x: Double, y: Double) {
    self.x = x
    self.y = y
  }
}

/// An axis-aligned box in pixels.
public struct Box: Equatable, Sendable {
  public var x: Double
  public var y: Double
  public var width: Double
  public var height: Double

  public init(x: Double, y: Double, width: Double, height: Double) {
    self.x = x
    self.y = y
    self.width = width
    self.height = height
  }

  public var area: Double { max(0, width) * max(0, height) }
  public var centerX: Double { x + width / 2 }
  public var centerY: Double { y + height / 2 }
  public var maxX: Double { x + width }
  public var maxY: Double { y + height }

  /// Intersection over union, 0 when the boxes do not overlap.
  public func iou(_ other: Box) -> Double {
    let ix = max(0, min(maxX, other.maxX) - max(x, other.x))
    let iy = max(0, min(maxY, other.maxY) - max(y, other.y))
    let intersection = ix * iy
    let union = area + other.area - intersection
    return union > 0 ? intersection / union : 0
  }

  /// The box clipped to a width x height frame (empty if it lies outside).
  public func clipped(width frameWidth: Double, height frameHeight: Double) -> Box {
    let x0 = min(max(x, 0), frameWidth), y0 = min(max(y, 0), frameHeight)
    let x1 = min(max(maxX, 0), frameWidth), y1 = min(max(maxY, 0), frameHeight)
    return Box(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
  }
}

/// A 2x3 affine map from chip pixel coordinates (u, v) to image coordinates:
/// x = a*u + b*v + c, y = d*u + e*v + f.
public struct ChipTransform: Equatable, Sendable {
  public var a, b, c, d, e, f: Double

  public init(a: Double, b: Double, c: Double, d: Double, e: Double, f: Double) {
    self.a = a
    self.b = b
    self.c = c
    self.d = d
    self.e = e
    self.f = f
  }

  public func apply(_ u: Double, _ v: Double) -> (x: Double, y: Double) {
    (a * u + b * v + c, d * u + e * v + f)
  }

  /// The same chip mirrored left-right: its column u samples where column
  /// chipSize-1-u did.
  public func mirrored(chipSize: Int) -> ChipTransform {
    let last = Double(chipSize - 1)
    return ChipTransform(a: -a, b: b, c: c + a * last, d: -d, e: e, f: f + d * last)
  }

  /// The axis-aligned square `side` pixels wide at (x, y), sampled into a chip of `size` pixels.
  public static func square(x: Double, y: Double, side: Double, chipSize: Int) -> ChipTransform {
    let s = side / Double(chipSize)
    return ChipTransform(a: s, b: 0, c: x, d: 0, e: s, f: y)
  }

  var floats: [Float] { [a, b, c, d, e, f].map(Float.init) }
}
