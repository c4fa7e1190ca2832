#!/bin/sh
# Fuzzing with libFuzzer (issue 6): `make fuzz`, or scripts/fuzz.sh [build|run].
#
# Three targets, all over the real code with AddressSanitizer (and its leak check):
#   fuzz-frame     frames of random size (1..512), every pixel format (packed, I420, NV12), row padding
#                  and bytes through the analysis core with the real models
#                  (VideoFaceAnalyzer with the SSD or Haar detector, landmarks, the
#                  Cydral nets, the tracker; the classifier on chosen boxes; FaceOverlay)
#   fuzz-manifest  random text through ModelManifest.parse
#   fuzz-shapepredictor  bytes through ShapePredictor's reader of dlib's format (seed:
#                  a small valid predictor), and what loads run on a small frame
# The bodies are Tests/GstAgeGenderTests/FuzzTargets.swift (the test suite runs
# them in-process with a seeded generator); the entry points are Fuzz/*.swift.
#
# The build is standalone (swiftc -sanitize=fuzzer,address over the FaceAnalysis
# sources and clang++ over the OpenCV bridge) in $FUZZ_DIR (default .build-fuzz):
# it does not touch the package's own `swift build` / `swift test`.
#
# FUZZ_SECONDS (default 600) bounds the whole run: 4/5 for the frame target,
# 1/10 each for the manifest and shape predictor targets. Crashes land in $FUZZ_DIR/artifacts and the
# script exits non-zero. FUZZ_SEED fixes libFuzzer's seed (default: random).
set -eu

cd "$(dirname "$0")/.."
ROOT=$PWD
FUZZ_DIR=${FUZZ_DIR:-$ROOT/.build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-600}
SWIFTC=${SWIFTC:-swiftc}
CLANGXX=${CLANGXX:-$(dirname "$(command -v "$SWIFTC")")/clang++}
MODE=${1:-all}

build() {
  # Start from an empty object folder: a stale object of a removed source
  # (e.g. the old dlib landmarks.cpp) would otherwise be linked in.
  rm -rf "$FUZZ_DIR/obj"
  mkdir -p "$FUZZ_DIR/obj/include"
  cat >"$FUZZ_DIR/obj/include/module.modulemap" <<EOF
module COpenCVBridge {
  header "$ROOT/Sources/COpenCVBridge/include/opencv_bridge.h"
  export *
}
EOF
  echo "fuzz: building the OpenCV bridge (clang++ -fsanitize=fuzzer-no-link,address)"
  for source in Sources/COpenCVBridge/*.cpp; do
    "$CLANGXX" -std=c++17 -O1 -g -fsanitize=fuzzer-no-link,address -fno-omit-frame-pointer \
      -I Sources/COpenCVBridge/include -I/usr/include/opencv4 \
      -c "$source" -o "$FUZZ_DIR/obj/$(basename "$source").o"
  done
  echo "fuzz: building FaceAnalysis (swiftc -sanitize=fuzzer,address)"
  "$SWIFTC" -swift-version 5 -parse-as-library -module-name FaceAnalysis -O -wmo -g \
    -sanitize=fuzzer,address -I "$FUZZ_DIR/obj/include" \
    -emit-module -emit-module-path "$FUZZ_DIR/obj/FaceAnalysis.swiftmodule" \
    -c Sources/FaceAnalysis/*.swift -o "$FUZZ_DIR/obj/FaceAnalysis.o"
  for target in Frame Manifest ShapePredictor; do
    lower=$(echo "$target" | tr 'A-Z' 'a-z')
    echo "fuzz: linking fuzz-$lower"
    "$SWIFTC" -swift-version 5 -parse-as-library -O -g -sanitize=fuzzer,address -use-ld=lld \
      -I "$FUZZ_DIR/obj" -I "$FUZZ_DIR/obj/include" \
      Tests/GstAgeGenderTests/FuzzTargets.swift "Fuzz/${target}FuzzMain.swift" \
      "$FUZZ_DIR/obj/FaceAnalysis.o" "$FUZZ_DIR"/obj/*.cpp.o \
      -lopencv_dnn -lopencv_objdetect -lopencv_imgproc -lopencv_core -lstdc++ \
      -o "$FUZZ_DIR/fuzz-$lower"
  done
}

seeds() {
  mkdir -p "$FUZZ_DIR/corpus/frame" "$FUZZ_DIR/corpus/manifest" "$FUZZ_DIR/seeds/frame" "$FUZZ_DIR/seeds/manifest" \
    "$FUZZ_DIR/corpus/shapepredictor" "$FUZZ_DIR/seeds/shapepredictor"
  # The shape predictor seed: a small valid model the target itself writes.
  AGEGENDER_FUZZ_SEED="$FUZZ_DIR/seeds/shapepredictor/tiny.dat" "$FUZZ_DIR/fuzz-shapepredictor" -runs=0 >/dev/null 2>&1 || true
  cp -f Models/*.model "$FUZZ_DIR/seeds/manifest/"
  # A frame with a face: the astronaut portrait at 128x128 BGR behind a header
  # (format 0 = BGR, width and height 1 + 127, no padding, flags 0x87: detection size 300,
  # close-up pass, threshold 0.5, detection interval 3).
  still=../shared/testdata/stills/astronaut.png
  if [ -f "$still" ] && [ ! -s "$FUZZ_DIR/seeds/frame/astronaut-128" ]; then
    gst-launch-1.0 -q filesrc location="$still" ! pngdec ! videoscale ! video/x-raw,width=128,height=128 \
      ! videoconvert ! video/x-raw,format=BGR ! filesink location="$FUZZ_DIR/seeds/frame/raw" >/dev/null 2>&1 || true
    if [ -s "$FUZZ_DIR/seeds/frame/raw" ]; then
      { printf '\000\177\000\177\000\000\207\000'; cat "$FUZZ_DIR/seeds/frame/raw"; } >"$FUZZ_DIR/seeds/frame/astronaut-128"
      # The same face as RGBA 100x100 with padded rows, Haar detector, tracking off, two boxes.
      { printf '\005\143\000\143\000\021\031\002\000\000\000\000\144\000\144\000\040\000\040\000\300\000\300\000'
        cat "$FUZZ_DIR/seeds/frame/raw"; } >"$FUZZ_DIR/seeds/frame/astronaut-rgba"
    fi
    rm -f "$FUZZ_DIR/seeds/frame/raw"
  fi
  printf '\012\000\000\000\000\000\000\000' >"$FUZZ_DIR/seeds/frame/gray-1x1"
}

run_target() {  # name seconds max_len
  binary="$FUZZ_DIR/fuzz-$1"
  [ -x "$binary" ] || { echo "fuzz: $binary is not built (run scripts/fuzz.sh build)" >&2; return 1; }
  mkdir -p "$FUZZ_DIR/artifacts"
  echo "fuzz: $1 for $2 s (log: $FUZZ_DIR/$1.log)"
  # The frame target holds the models (~0.6 GB with ASan); allow 4 GB.
  status=0
  AGEGENDER_MODEL_DIR=${AGEGENDER_MODEL_DIR:-$ROOT/Models} ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
    "$binary" -max_total_time="$2" -max_len="$3" -rss_limit_mb=4096 -timeout=60 \
    -print_final_stats=1 ${FUZZ_SEED:+-seed=$FUZZ_SEED} -artifact_prefix="$FUZZ_DIR/artifacts/$1-" \
    "$FUZZ_DIR/corpus/$1" "$FUZZ_DIR/seeds/$1" >"$FUZZ_DIR/$1.log" 2>&1 || status=$?
  grep -E "^#[0-9]+[[:space:]]+(INITED|DONE)|ERROR|SUMMARY|^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)" \
    "$FUZZ_DIR/$1.log" || true
  if [ "$status" -ne 0 ] || ! grep -q '^Done ' "$FUZZ_DIR/$1.log"; then
    echo "fuzz: $1 FAILED with status $status (see $FUZZ_DIR/$1.log and $FUZZ_DIR/artifacts/)" >&2
    return 1
  fi
  echo "fuzz: $1 ok: $(grep '^stat::number_of_executed_units' "$FUZZ_DIR/$1.log" | awk '{print $2}') executions, no crash"
}

case "$MODE" in
  build) build ;;
  run | all)
    [ "$MODE" = run ] || build
    seeds
    manifest_seconds=$((FUZZ_SECONDS / 10))
    [ "$manifest_seconds" -ge 1 ] || manifest_seconds=1
    frame_seconds=$((FUZZ_SECONDS - 2 * manifest_seconds))
    [ "$frame_seconds" -ge 1 ] || frame_seconds=1
    status=0
    run_target frame "$frame_seconds" 65536 || status=1
    run_target manifest "$manifest_seconds" 4096 || status=1
    run_target shapepredictor "$manifest_seconds" 8192 || status=1
    exit $status
    ;;
  *) echo "usage: scripts/fuzz.sh [build|run|all]" >&2; exit 2 ;;
esac
