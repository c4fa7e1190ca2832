// libFuzzer entry point over the dlib shape predictor reader (built by
// scripts/fuzz.sh, with Tests/GstAgeGenderTests/FuzzTargets.swift and the
// FaceAnalysis sources).
#if canImport(Glibc)
  import Glibc
#endif
import FaceAnalysis

/// With AGEGENDER_FUZZ_SEED set, writes the seed model there (scripts/fuzz.sh
/// makes its seed corpus with `-runs=0`).
@_cdecl("LLVMFuzzerInitialize")
public func fuzzShapePredictorInitialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutableRawPointer?) -> CInt {
  if let path = getenv("AGEGENDER_FUZZ_SEED"), let file = fopen(path, "wb") {
    let seed = ShapePredictorFuzzTarget.seed
    _ = seed.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
    fclose(file)
  }
  return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzShapePredictor(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  ShapePredictorFuzzTarget.run(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
  return 0
}
