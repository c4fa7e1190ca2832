// libFuzzer entry point over the frame path (built by scripts/fuzz.sh, with
// Tests/GstAgeGenderTests/FuzzTargets.swift and the FaceAnalysis sources).
// Models: $AGEGENDER_MODEL_DIR, else the checkout's Models/.
#if canImport(Glibc)
  import Glibc
#endif
import FaceAnalysis

nonisolated(unsafe) private var target: FrameFuzzTarget?

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrame(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  if target == nil {
    let directory = getenv("AGEGENDER_MODEL_DIR").map { String(cString: $0) } ?? "Models"
    do {
      target = try FrameFuzzTarget(modelDirectory: directory)
    } catch {
      fputs("fuzz-frame: cannot load the models from \(directory): \(error)\n", stderr)
      exit(2)
    }
  }
  target!.run(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
  return 0
}
