#!/usr/bin/env bash
# Live camera with every face's box, age and gender drawn:
#   v4l2src ! videoconvert ! agegender ! videoconvert ! autovideosink
# Usage: examples/webcam.sh [DEVICE] [name=value ...]
#   DEVICE defaults to /dev/video0; name=value words set agegender properties
#   (e.g. detection-size=200 max-faces=4). VIDEOSINK=ximagesink picks another sink.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export GST_PLUGIN_PATH=${GST_PLUGIN_PATH:-$root/build/plugins}
device=/dev/video0
if [ $# -gt 0 ] && [[ $1 != *=* ]]; then device=$1; shift; fi
if [ ! -e "$device" ]; then
  echo "webcam.sh: no camera at $device (give the device, e.g. examples/webcam.sh /dev/video2)" >&2
  exit 1
fi
exec gst-launch-1.0 v4l2src device="$device" ! videoconvert ! agegender "$@" ! videoconvert ! "${VIDEOSINK:-autovideosink}"
