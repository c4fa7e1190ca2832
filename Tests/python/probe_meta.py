"""Pad-probe readers of the agegender element's metadata, from PyGObject.

Usage: probe_meta.py VIDEO MODE
  MODE roi:    probe right after agegender; read GstVideoRegionOfInterestMeta
               (roi_type "face") and its "age-gender" params.
  scaled:      probe after agegender ! videoconvert ! videoscale ! 960x540; read
               GstAgeGenderMeta and check its boxes follow the new size.
Prints one JSON object per line per face and a final summary line; exits non-zero
when the metadata is missing or inconsistent.
"""
import json
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import GLib, Gst, GstVideo  # noqa: E402


def main():
    video, mode = sys.argv[1], sys.argv[2]
    Gst.init(None)
    head = f"filesrc location={video} ! decodebin ! videoconvert ! agegender name=ag async=false"
    if mode == "roi":
        desc = f"{head} ! fakesink name=sink"
    elif mode == "scaled":
        desc = (f"{head} ! videoconvert ! videoscale ! video/x-raw,width=960,height=540 "
                "! queue ! tee name=t ! fakesink name=sink")
    else:
        raise SystemExit(f"unknown mode {mode}")
    pipeline = Gst.parse_launch(desc)
    sink = pipeline.get_by_name("sink")
    stats = {"buffers": 0, "faces": 0, "errors": []}

    def probe(pad, info):
        buf = info.get_buffer()
        stats["buffers"] += 1
        if mode == "roi":
            n = buf.get_n_meta(GstVideo.VideoRegionOfInterestMeta.get_info().api)
            for i in range(n):
                roi = GstVideo.buffer_get_video_region_of_interest_meta_id(buf, i)
                if roi is None:
                    stats["errors"].append(f"no ROI meta with id {i} of {n}")
                    continue
                if GLib.quark_to_string(roi.roi_type) != "face":
                    stats["errors"].append("roi_type is not face")
                params = roi.get_param("age-gender")
                if params is None:
                    stats["errors"].append("ROI meta without age-gender params")
                    continue
                face = {"x": roi.x, "y": roi.y, "w": roi.w, "h": roi.h,
                        "age": params.get_value("age"), "gender": params.get_value("gender"),
                        "gender_confidence": params.get_value("gender-confidence"),
                        "confidence": params.get_value("confidence")}
                print(json.dumps(face))
                stats["faces"] += 1
        else:
            meta = buf.get_custom_meta("GstAgeGenderMeta")
            if meta is None:
                stats["errors"].append(f"buffer {stats['buffers']} has no GstAgeGenderMeta")
                return Gst.PadProbeReturn.OK
            s = meta.get_structure()
            width, height = s.get_value("width"), s.get_value("height")
            if (width, height) != (960, 540):
                stats["errors"].append(f"meta frame size {width}x{height}, expected 960x540")
            for f in s.get_value("faces"):
                face = {k: f.get_value(k) for k in
                        ("x", "y", "width", "height", "age", "gender", "gender-confidence",
                         "confidence", "track-id")}
                if face["x"] + face["width"] > 960 + 2 or face["y"] + face["height"] > 540 + 2:
                    stats["errors"].append(f"box outside the scaled frame: {face}")
                print(json.dumps(face))
                stats["faces"] += 1
        return Gst.PadProbeReturn.OK

    sink.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, probe)
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        120 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg is None:
        raise SystemExit("timed out")
    if msg.type == Gst.MessageType.ERROR:
        err, dbg = msg.parse_error()
        raise SystemExit(f"pipeline error: {err.message} ({dbg})")
    print(json.dumps({"summary": True, "buffers": stats["buffers"], "faces": stats["faces"],
                      "errors": stats["errors"][:5]}))
    if stats["errors"] or stats["faces"] == 0:
        sys.exit(1)


if __name__ == "__main__":
    main()
