#!/usr/bin/env python3
"""Serves video files over RTSP on 127.0.0.1, one mount per file, for trying
many cameras without cameras (GStreamer's gst-rtsp-server through PyGObject;
Debian: gir1.2-gst-rtsp-server-1.0).

    rtsp_server.py [--port N] cam0=clip.mp4 cam1=other.mp4 ...

Each MOUNT=FILE is served at rtsp://127.0.0.1:PORT/MOUNT as H.264 RTP, the
file's own stream (no re-encoding), from its start for every client, at its
own frame rate; a client sees the end of the file as the end of the stream.
`--port 0` (the default) lets the system pick a free port. Once it listens, one
line goes to stdout: `ready rtsp://127.0.0.1:PORT/`. It serves until killed.
MP4/QuickTime files with H.264 video only (the shared test clips are).
"""
import argparse
import os
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: any free one)")
    parser.add_argument("mounts", nargs="+", metavar="MOUNT=FILE")
    args = parser.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    for item in args.mounts:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            sys.exit(f"rtsp_server.py: expected MOUNT=FILE, got {item!r}")
        if not os.path.isfile(path):
            sys.exit(f"rtsp_server.py: no such file: {path}")
        factory = GstRtspServer.RTSPMediaFactory()
        # A media per client, so every client starts at the file's beginning.
        factory.set_shared(False)
        location = path.replace("\\", "\\\\").replace('"', '\\"')
        factory.set_launch(
            f'( filesrc location="{location}" ! qtdemux ! h264parse '
            f"! rtph264pay name=pay0 pt=96 config-interval=1 )")
        mounts.add_factory("/" + name, factory)
    if server.attach(None) == 0:
        sys.exit(f"rtsp_server.py: cannot listen on 127.0.0.1:{args.port}")
    print(f"ready rtsp://127.0.0.1:{server.get_bound_port()}/", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
