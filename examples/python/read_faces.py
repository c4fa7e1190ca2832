#!/usr/bin/python3
"""Run the agegender element on a video file and print every face it reports.

Usage:  GST_PLUGIN_PATH=../../build/plugins /usr/bin/python3 read_faces.py VIDEO

Pipeline: filesrc ! decodebin ! videoconvert ! agegender ! fakesink, with a
buffer probe on the sink's pad that reads both kinds of metadata the element
attaches:

- GstAgeGenderMeta, a GstCustomMeta (survives videoconvert/videoscale/queue/tee):
  buf.get_custom_meta("GstAgeGenderMeta").get_structure() holds width, height
  and "faces", an array of "face" structures;
- the standard GstVideoRegionOfInterestMeta, one per face (roi_type "face"),
  with an "age-gender" parameter structure (read right after the element:
  GStreamer 1.22's videoconvert/videoscale drop ROI parameters).

Prints one line per face (from GstAgeGenderMeta), then a summary, e.g.

  frame=1 x=72 y=64 width=62 height=83 age=39.0 gender=female gender_confidence=0.999 confidence=1.000 track_id=1
  summary frames=56 frames_with_faces=56 faces=112 female=56 male=56 mean_age=35.2 roi_faces=112 roi_mismatches=0

Needs Debian's python3-gi, python3-gst-1.0 and gir1.2-gst-plugins-base-1.0.
Exits 1 when the pipeline fails.
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import GLib, Gst, GstVideo  # noqa: E402

META_NAME = "GstAgeGenderMeta"
FIELDS = ("x", "y", "width", "height", "confidence", "age", "age-min", "age-max",
          "gender", "gender-confidence", "track-id")


def faces_from_meta(buf):
    """The faces of our GstAgeGenderMeta as dicts, or [] when the buffer has none."""
    meta = buf.get_custom_meta(META_NAME)
    if meta is None:
        return []
    structure = meta.get_structure()
    faces = []
    for face in structure.get_value("faces") or []:
        faces.append({name: face.get_value(name) for name in FIELDS if face.has_field(name)})
    return faces


def faces_from_roi_metas(buf):
    """The standard ROI metas of type "face" with their "age-gender" parameters."""
    faces = []
    api = GstVideo.VideoRegionOfInterestMeta.get_info().api
    for index in range(buf.get_n_meta(api)):
        roi = GstVideo.buffer_get_video_region_of_interest_meta_id(buf, index)
        if roi is None or GLib.quark_to_string(roi.roi_type) != "face":
            continue
        params = roi.get_param("age-gender")
        faces.append({"x": roi.x, "y": roi.y, "width": roi.w, "height": roi.h,
                      "gender": params.get_value("gender") if params else None,
                      "age": params.get_value("age") if params else None})
    return faces


def main():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} VIDEO")
    Gst.init(None)
    try:
        pipeline = Gst.parse_launch(
            "filesrc name=source ! decodebin ! videoconvert ! agegender ! fakesink name=sink")
    except GLib.Error as error:
        sys.exit(f"cannot build the pipeline: {error.message} "
                 "(is GST_PLUGIN_PATH set to the plugin's folder?)")
    # A property, not part of the description: any file name works, spaces included.
    pipeline.get_by_name("source").set_property("location", sys.argv[1])

    stats = {"frames": 0, "frames_with_faces": 0, "faces": 0, "female": 0, "male": 0,
             "age_sum": 0.0, "roi_faces": 0, "roi_mismatches": 0}

    def on_buffer(pad, info):
        buf = info.get_buffer()
        stats["frames"] += 1
        frame = stats["frames"]
        faces = faces_from_meta(buf)
        rois = faces_from_roi_metas(buf)
        stats["roi_faces"] += len(rois)
        # Both carry the same faces in the same order right after the element.
        if len(rois) != len(faces) or any(
                (r["x"], r["y"], r["gender"]) != (f["x"], f["y"], f["gender"])
                for r, f in zip(rois, faces)):
            stats["roi_mismatches"] += 1
        if faces:
            stats["frames_with_faces"] += 1
        for face in faces:
            stats["faces"] += 1
            stats["age_sum"] += face["age"]
            if face["gender"] in ("female", "male"):
                stats[face["gender"]] += 1
            print(f"frame={frame} x={face['x']} y={face['y']} width={face['width']} "
                  f"height={face['height']} age={face['age']:.1f} gender={face['gender']} "
                  f"gender_confidence={face['gender-confidence']:.3f} "
                  f"confidence={face['confidence']:.3f} track_id={face.get('track-id', 0)}",
                  flush=True)
        return Gst.PadProbeReturn.OK

    pipeline.get_by_name("sink").get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, on_buffer)
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        Gst.CLOCK_TIME_NONE, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    status = 0
    if msg is not None and msg.type == Gst.MessageType.ERROR:
        error, debug = msg.parse_error()
        print(f"error from {msg.src.get_name()}: {error.message}\n{debug or ''}", file=sys.stderr)
        status = 1
    mean_age = stats["age_sum"] / stats["faces"] if stats["faces"] else 0.0
    print(f"summary frames={stats['frames']} frames_with_faces={stats['frames_with_faces']} "
          f"faces={stats['faces']} female={stats['female']} male={stats['male']} "
          f"mean_age={mean_age:.1f} roi_faces={stats['roi_faces']} "
          f"roi_mismatches={stats['roi_mismatches']}")
    sys.exit(status)


if __name__ == "__main__":
    main()
