#!/bin/sh
# valgrind memcheck of a short pipeline through agegender (issue 6), `make memcheck`.
#
# Runs gst-launch-1.0 under memcheck on frames with a face (the astronaut
# portrait), once with async=false on packed BGR (analysis in the streaming
# thread) and once with async=true on planar I420 (the first detection interval
# in the streaming thread, then, as the stream falls behind the clock under
# valgrind, the worker thread with its copy of the planes, joined on NULL),
# GST_DEBUG off, and reports, from valgrind's XML:
#   - definite leaks and invalid accesses (invalid read/write/free, uninitialised
#     values, overlapping copies, bad syscall parameters) whose stack passes
#     through our code: libgstagegender.so or a file under Sources/;
#   - the same kinds elsewhere (GLib, GStreamer, OpenCV, ...) as a count,
#     after scripts/memcheck.supp and GLib's glib.supp.
# Exits non-zero when an error attributed to our code exists, or when a run
# does not complete (the pipeline must reach EOS under valgrind).
#
# Environment: AGEGENDER_PLUGIN_DIR (default build/plugins), AGEGENDER_MODEL_DIR
# (default Models/), MEMCHECK_FRAMES
# (default 20), MEMCHECK_OUT (default out/memcheck), MEMCHECK_MODES (default
# "false:BGR true:I420": the async value and video format of each run).
set -eu

cd "$(dirname "$0")/.."
ROOT=$PWD
PLUGIN_DIR=${AGEGENDER_PLUGIN_DIR:-$ROOT/build/plugins}
FRAMES=${MEMCHECK_FRAMES:-20}
OUT=${MEMCHECK_OUT:-$ROOT/out/memcheck}
MODES=${MEMCHECK_MODES:-false:BGR true:I420}
STILL=$ROOT/../shared/testdata/stills/astronaut.png

if ! command -v valgrind >/dev/null 2>&1; then
  echo "memcheck: installing valgrind" >&2
  if [ "$(id -u)" = 0 ]; then apt-get install -y valgrind >/dev/null; else sudo apt-get install -y valgrind >/dev/null; fi
fi
[ -f "$PLUGIN_DIR/libgstagegender.so" ] || { echo "memcheck: $PLUGIN_DIR/libgstagegender.so is missing (make build)" >&2; exit 2; }
[ -f "$STILL" ] || { echo "memcheck: $STILL is missing (shared test media)" >&2; exit 2; }
mkdir -p "$OUT/plugins"

# Debian 12's valgrind (3.19) cannot read the DWARF 5 that Swift 6 and clang 21
# emit ("unhandled dwarf2 abbrev form code 0x25 ... I can't recover"): it runs a
# copy of the plugin without debug sections (function symbols stay, so stacks
# still name our functions and the library).
objcopy --strip-debug "$PLUGIN_DIR/libgstagegender.so" "$OUT/plugins/libgstagegender.so"
export GST_PLUGIN_PATH="$OUT/plugins"
export AGEGENDER_MODEL_DIR="${AGEGENDER_MODEL_DIR:-$ROOT/Models}"
export GST_DEBUG=0
# A private registry, filled outside valgrind (the plugin scanner is a child process).
export GST_REGISTRY="$OUT/registry.bin"
gst-inspect-1.0 agegender >/dev/null
export GST_REGISTRY_UPDATE=no
# GLib's advice for valgrind: plain malloc, freed memory cleared.
export G_SLICE=always-malloc G_DEBUG=gc-friendly

status=0
for mode in $MODES; do
  async=${mode%%:*}
  format=${mode#*:}
  xml="$OUT/memcheck-async-$async-$format.xml"
  log="$OUT/memcheck-async-$async-$format.log"
  echo "memcheck: async=$async, $format, $FRAMES frames (valgrind log: $log)"
  started=$(date +%s)
  run_status=0
  valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
    --num-callers=50 --error-limit=no --child-silent-after-fork=yes \
    --suppressions=/usr/share/glib-2.0/valgrind/glib.supp --suppressions="$ROOT/scripts/memcheck.supp" \
    --xml=yes --xml-file="$xml" --log-file="$log" \
    gst-launch-1.0 -q filesrc location="$STILL" ! pngdec ! imagefreeze num-buffers="$FRAMES" ! videoconvert \
    ! video/x-raw,format="$format" ! agegender async="$async" ! fakesink >"$OUT/gst-launch-async-$async-$format.txt" 2>&1 \
    || run_status=$?
  echo "memcheck: gst-launch exited with $run_status after $(( $(date +%s) - started )) s"
  if [ "$run_status" -ne 0 ]; then
    sed 's/^/  /' "$OUT/gst-launch-async-$async-$format.txt" | tail -20
    status=1
  fi
  python3 - "$xml" "$ROOT" <<'EOF' || status=1
import sys
import xml.etree.ElementTree as ET

path, root = sys.argv[1], sys.argv[2]
BAD = {
    "Leak_DefinitelyLost", "InvalidRead", "InvalidWrite", "InvalidFree", "MismatchedFree", "InvalidJump",
    "UninitCondition", "UninitValue", "SyscallParam", "Overlap", "InvalidMemPool", "FishyValue",
}
tree = ET.parse(path)
ours, others = [], {}
for error in tree.getroot().iter("error"):
    kind = error.findtext("kind")
    if kind not in BAD:
        continue
    frames = error.find("stack").findall("frame") if error.find("stack") is not None else []
    def is_ours(frame):
        obj = frame.findtext("obj") or ""
        directory = frame.findtext("dir") or ""
        return obj.endswith("/libgstagegender.so") or directory.startswith(root + "/Sources")
    if any(is_ours(f) for f in frames):
        ours.append(error)
    else:
        others[kind] = others.get(kind, 0) + 1

def describe(error):
    what = error.find("xwhat/text") if error.find("xwhat") is not None else error.find("what")
    lines = [f"  {error.findtext('kind')}: {what.text if what is not None else ''}"]
    for frame in error.find("stack").findall("frame")[:12]:
        where = frame.findtext("file")
        where = f"{frame.findtext('dir')}/{where}:{frame.findtext('line')}" if where else frame.findtext("obj")
        lines.append(f"    {frame.findtext('fn') or '???'} ({where})")
    return "\n".join(lines)

counted = ", ".join(f"{k} {v}" for k, v in sorted(others.items())) or "none"
suppressed = sum(int(p.findtext("count") or 0) for p in tree.getroot().iter("pair"))
definite = sum(int(e.findtext("xwhat/leakedbytes") or 0) for e in tree.getroot().iter("error")
               if e.findtext("kind") == "Leak_DefinitelyLost")
print(f"memcheck: errors in our code: {len(ours)}; elsewhere (after suppressions): {counted}; "
      f"definitely lost in total: {definite} bytes; suppressed: {suppressed}")
for error in ours:
    print(describe(error))
sys.exit(1 if ours else 0)
EOF
done
if [ "$status" -eq 0 ]; then echo "memcheck: OK (no definite leak, no invalid access in our code)"; else echo "memcheck: FAILED" >&2; fi
exit $status
