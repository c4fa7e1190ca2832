#!/usr/bin/env bash
# Plays a video file on screen with every face's box, age and gender drawn:
#   filesrc ! decodebin ! videoconvert ! agegender ! videoconvert ! autovideosink
# Usage: examples/display.sh FILE [name=value ...]
#   name=value words set agegender properties; VIDEOSINK=ximagesink picks another sink.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export GST_PLUGIN_PATH=${GST_PLUGIN_PATH:-$root/build/plugins}
if [ $# -lt 1 ]; then
  echo "usage: examples/display.sh FILE [name=value ...]" >&2
  exit 2
fi
file=$1; shift
if [ ! -r "$file" ]; then
  echo "display.sh: cannot read $file" >&2
  exit 1
fi
exec gst-launch-1.0 filesrc location="$file" ! decodebin ! videoconvert ! agegender "$@" ! videoconvert \
  ! "${VIDEOSINK:-autovideosink}"
