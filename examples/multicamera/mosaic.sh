#!/bin/sh
# Many cameras in one process: up to four RTSP (or any URI) cameras, each through
# its own agegender (all sharing one copy of the models) and agegenderjson
# (JSON lines naming the camera with source-id), into a 2x2 mosaic encoded to MP4.
#
#   examples/multicamera/mosaic.sh OUTDIR URL [URL [URL [URL]]]
#
# Writes OUTDIR/mosaic.mp4 (960x540 at 25 fps, 480x270 tiles) and OUTDIR/camN.jsonl per
# camera. Ends when every camera's stream ends, or on Ctrl-C (-e: the MP4 is
# finished properly). GST_PLUGIN_PATH must hold the plugin (make build stages it
# in build/plugins). To try it without cameras, serve the shared clips:
#   examples/multicamera/rtsp_server.py cam0=clip0.mp4 cam1=clip1.mp4 ...
# and pass the rtsp://127.0.0.1:PORT/camN URLs it prints.
set -eu
if [ $# -lt 2 ] || [ $# -gt 5 ]; then
  echo "usage: $0 OUTDIR URL [URL [URL [URL]]]" >&2
  exit 2
fi
out=$1
shift
mkdir -p "$out"
set -- "$@"
# With live inputs the compositor sometimes sends its first frame twice at
# time 0 (1 run in 3 here), and mp4mux then fails ("Buffer has no PTS");
# videorate drops the repeat.
pipeline="compositor name=mix background=black \
  sink_0::xpos=0 sink_0::ypos=0 sink_1::xpos=480 sink_1::ypos=0 \
  sink_2::xpos=0 sink_2::ypos=270 sink_3::xpos=480 sink_3::ypos=270 \
  ! video/x-raw,format=I420,width=960,height=540,framerate=25/1 ! videorate \
  ! x264enc speed-preset=veryfast tune=zerolatency \
  ! h264parse ! mp4mux ! filesink location=$out/mosaic.mp4"
i=0
for url in "$@"; do
  case $url in
    rtsp://*) source="rtspsrc location=$url latency=200 protocols=tcp ! decodebin" ;;
    *) source="uridecodebin uri=$url" ;;
  esac
  # agegender runs at each camera's own size; the tile is scaled after it.
  pipeline="$pipeline $source ! videoconvert ! agegender ! agegenderjson source-id=cam$i location=$out/cam$i.jsonl \
    ! videoconvert ! videoscale ! video/x-raw,width=480,height=270 ! queue ! mix.sink_$i"
  i=$((i + 1))
done
# shellcheck disable=SC2086  # the pipeline is gst-launch's word list
exec gst-launch-1.0 -e $pipeline
