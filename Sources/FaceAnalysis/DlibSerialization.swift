#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Why a dlib stream could not be read, and where.
struct DlibFormatError: Error {
  var reason: String
}

/// Reads dlib's portable serialisation format (dlib/serialize.h) from bytes,
/// checking every read: malformed input throws DlibFormatError, never traps.
///
/// - Integers: a control byte (bit 7: negative, for signed types only; low 4
///   bits: byte count n, 1...sizeof(T); bits 4-6 ignored) then n bytes, little
///   endian, of the magnitude.
/// - Floating point (float_details): a signed 64-bit mantissa then a signed
///   16-bit exponent, value mantissa * 2^exponent; exponents 32000, 32001 and
///   32002 mean +inf, -inf and NaN.
/// - std::vector: an unsigned long count, then the elements.
/// - matrix<T,0,1>: rows and columns as longs (negated in the current format),
///   then the elements row by row.
struct DlibReader {
  private let bytes: UnsafeRawBufferPointer
  private(set) var offset = 0
  /// What is being read, for error messages (set by the caller; a string per
  /// read would cost more than the reading).
  var context = "the file"

  init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

  var remaining: Int { bytes.count - offset }

  private func fail(_ what: String) -> DlibFormatError {
    DlibFormatError(reason: "\(what) at byte \(offset) of \(bytes.count)")
  }

  @inline(__always)
  private mutating func byte() throws -> UInt8 {
    guard offset < bytes.count else { throw fail("file ends in \(context)") }
    defer { offset += 1 }
    return bytes[offset]
  }

  /// The magnitude bytes after a control byte; `size` is already checked.
  @inline(__always)
  private mutating func magnitude(_ size: Int) throws -> UInt64 {
    guard size <= remaining else { throw fail("file ends in \(context)") }
    var value: UInt64 = 0
    for i in stride(from: size - 1, through: 0, by: -1) { value = value << 8 | UInt64(bytes[offset + i]) }
    offset += size
    return value
  }

  /// An unsigned integer of `width` bytes (dlib's unsigned unpack_int).
  mutating func unsigned(width: Int = 8) throws -> UInt64 {
    let control = try byte()
    // dlib masks with 0x8F: a sign bit on an unsigned value makes the size invalid.
    let size = Int(control & 0x8F)
    guard size >= 1 && size <= width else { throw fail("invalid integer encoding (0x\(hex(control))) in \(context)") }
    return try magnitude(size)
  }

  /// A signed integer of `width` bytes (dlib's signed unpack_int), wrapped to
  /// that width as dlib's shifts into a signed type do.
  mutating func signed(width: Int) throws -> Int64 {
    let control = try byte()
    let size = Int(control & 0x0F)
    guard size >= 1 && size <= width else { throw fail("invalid integer encoding (0x\(hex(control))) in \(context)") }
    let raw = try magnitude(size)
    let shift = UInt64(64 - 8 * width)
    let value = Int64(bitPattern: raw << shift) >> Int64(shift)
    return control & 0x80 != 0 ? 0 &- value : value
  }

  /// A float (dlib's deserialize(float&)): mantissa and exponent, converted as
  /// float_details::convert_to_T<float> does (ldexp of the mantissa as a float).
  mutating func float() throws -> Float {
    // dlib's older ASCII float format is recognised by bits 0x70 of the first
    // byte; files from dlib 18.x on use this binary one.
    guard offset < bytes.count else { throw fail("file ends in \(context)") }
    guard bytes[offset] & 0x70 == 0 else { throw fail("unsupported (text) float encoding in \(context)") }
    let mantissa = try signed(width: 8)
    let exponent = Int16(truncatingIfNeeded: try signed(width: 2))
    switch exponent {
    case ..<32000: return ldexpf(Float(mantissa), Int32(exponent))
    case 32000: return .infinity
    case 32001: return -.infinity
    default: return .nan
    }
  }

  /// Steps over a float, checking its encoding as `float()` does but not
  /// converting it (the sizing pass over a shape predictor's ~1.2 million
  /// floats: converting them twice was half of its 110 ms load).
  mutating func skipFloat() throws {
    guard offset < bytes.count else { throw fail("file ends in \(context)") }
    guard bytes[offset] & 0x70 == 0 else { throw fail("unsupported (text) float encoding in \(context)") }
    try skipSigned(width: 8)  // the mantissa
    try skipSigned(width: 2)  // the exponent
  }

  @inline(__always)
  private mutating func skipSigned(width: Int) throws {
    let control = try byte()
    let size = Int(control & 0x0F)
    guard size >= 1 && size <= width else { throw fail("invalid integer encoding (0x\(hex(control))) in \(context)") }
    guard size <= remaining else { throw fail("file ends in \(context)") }
    offset += size
  }

  /// A std::vector count. Each element takes at least `minimumElementBytes`
  /// bytes, so a count the rest of the file cannot hold is rejected before any
  /// memory is reserved for it.
  mutating func count(minimumElementBytes: Int) throws -> Int {
    let value = try unsigned()
    guard value <= UInt64(remaining / max(1, minimumElementBytes)) else {
      throw fail("\(context) claims \(value) elements, more than the rest of the file holds")
    }
    return Int(value)
  }

  /// The size of a dlib::matrix<float,0,1> (a column vector).
  mutating func columnVectorLength() throws -> Int {
    var rows = try signed(width: 8)
    var columns = try signed(width: 8)
    if rows < 0 || columns < 0 {  // the current format stores both negated
      rows = 0 &- rows
      columns = 0 &- columns
    }
    guard columns == 1 else { throw fail("\(context) has \(columns) columns, expected a column vector") }
    // Each float takes at least 4 bytes (two integers of at least 2 bytes each).
    guard rows >= 0 && rows <= Int64(remaining / 4) else {
      throw fail("\(context) claims \(rows) rows, more than the rest of the file holds")
    }
    return Int(rows)
  }

  private func hex(_ value: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(value >> 4)], digits[Int(value & 15)]])
  }
}
