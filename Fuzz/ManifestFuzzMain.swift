// libFuzzer entry point over the model-manifest reader (built by scripts/fuzz.sh,
// with Tests/GstAgeGenderTests/FuzzTargets.swift and the FaceAnalysis sources).
import FaceAnalysis

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzManifest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  ManifestFuzzTarget.run(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
  return 0
}
