"""gst-agegender benchmark: our element against its peers on the same input, in one run.

Runs each configuration REPEATS times, alternating them (so a noisy neighbour
hits all alike), and prints the median fps, peak RSS and ratios:
  decode-only     filesrc ! decodebin ! videoconvert ! fakesink
  facedetect      GStreamer's own (Haar, no age/gender)
  agegender       defaults
  every-frame     agegender async=false detection-interval=1 classification-interval=1
  seed            agegender detector=haar classifier=levi-hassner (when its weights are present)
  python-loop     bench/python_loop.py: OpenCV 4.6 res10 + Cydral nets every frame
at 1280x720 (../shared/testdata/video/bench-walk-720p.mp4) and at 480x270 (the same clip
scaled, encoded once into a temporary file), then a live run (sync=true at the clip's
25 fps) with GStreamer's latency tracer for the element's added latency, and last the
targets (720p, same run): defaults >= 0.5x decode-only and >= 6x facedetect, every-frame
>= 1.3x the Python loop, peak RSS <= 160 MB, live p99 element latency <= 40 ms.

fps is frames / the time gst-launch reports from PLAYING to EOS (model loading in
start() is outside it; python-loop times its loop the same way). Peak RSS is
/usr/bin/time's maximum resident set of the whole process.

Usage: bench.py [--repeats N] [--skip-270p] [--skip-live]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIDEO_720 = os.path.normpath(os.path.join(ROOT, "..", "shared", "testdata", "video", "bench-walk-720p.mp4"))
PLUGINS = os.path.join(ROOT, "build", "plugins")
MODELS = os.path.join(ROOT, "Models")
ENV = dict(os.environ, GST_PLUGIN_PATH=PLUGINS)


def gst(description, env=ENV):
    """Runs gst-launch under /usr/bin/time; returns (seconds PLAYING→EOS, peak RSS MB)."""
    cmd = ["/usr/bin/time", "-f", "RSS %M", "gst-launch-1.0"] + description.split()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    text = out.stdout + out.stderr
    if out.returncode != 0:
        raise RuntimeError(f"failed: {description}\n{text[-2000:]}")
    m = re.search(r"Execution ended after (\d+):(\d+):(\d+\.\d+)", text)
    rss = re.search(r"RSS (\d+)", text)
    seconds = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    return seconds, int(rss.group(1)) / 1024


def python_loop(video):
    out = subprocess.run(["/usr/bin/time", "-f", "RSS %M", "/usr/bin/python3",
                          os.path.join(ROOT, "bench", "python_loop.py"), video, MODELS],
                         capture_output=True, text=True, timeout=1800)
    text = out.stdout + out.stderr
    if out.returncode != 0:
        raise RuntimeError(f"python loop failed\n{text[-2000:]}")
    seconds = float(re.search(r"seconds=([\d.]+)", text).group(1))
    rss = int(re.search(r"RSS (\d+)", text).group(1)) / 1024
    return seconds, rss


def count_frames(video):
    out = subprocess.run(["gst-launch-1.0", "-m", "filesrc", f"location={video}", "!", "decodebin", "!",
                          "fakesink", "silent=false", "-v"], capture_output=True, text=True, env=ENV,
                         timeout=600)
    return len(re.findall(r"chain   \*\*\*", out.stdout)) or None


def configurations(video, have_seed):
    head = f"filesrc location={video} ! decodebin ! videoconvert !"
    rows = [
        ("decode-only", lambda: gst(f"{head} fakesink")),
        ("facedetect", lambda: gst(f"{head} facedetect ! fakesink")),
        ("agegender", lambda: gst(f"{head} agegender ! fakesink")),
        ("every-frame", lambda: gst(
            f"{head} agegender async=false detection-interval=1 classification-interval=1 ! fakesink")),
    ]
    if have_seed:
        rows.append(("seed", lambda: gst(f"{head} agegender detector=haar classifier=levi-hassner ! fakesink")))
    rows.append(("python-loop", lambda: python_loop(video)))
    return rows


def table(title, video, frames, repeats, have_seed):
    runs = {}
    for r in range(repeats):
        for name, run in configurations(video, have_seed):
            seconds, rss = run()
            runs.setdefault(name, []).append((frames / seconds, rss))
            print(f"  [{title}] repeat {r + 1}/{repeats} {name}: {frames / seconds:.1f} fps, {rss:.0f} MB",
                  file=sys.stderr)
    med = {name: (statistics.median(f for f, _ in v), max(m for _, m in v)) for name, v in runs.items()}
    print(f"\n### {title}: {frames} frames, median of {repeats} alternating runs\n")
    print("| configuration | fps | peak RSS MB | × decode-only | × facedetect | × python-loop |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (fps, rss) in med.items():
        print(f"| {name} | {fps:.1f} | {rss:.0f} | {fps / med['decode-only'][0]:.2f} | "
              f"{fps / med['facedetect'][0]:.2f} | {fps / med['python-loop'][0]:.2f} |")
    return med


def live_latency(video, extra=()):
    """p50/p99 of agegender's own latency (latency tracer) in a sync=true run, and QoS drops."""
    env = dict(ENV, GST_TRACERS="latency(flags=element)", GST_DEBUG="GST_TRACER:7")
    out = subprocess.run(["gst-launch-1.0", "-m", "filesrc", f"location={video}", "!", "decodebin", "!",
                          "videoconvert", "!", "agegender", "name=ag"] + list(extra) + ["!", "fakesink", "sync=true", "qos=true"],
                         env=env, capture_output=True, text=True, timeout=900)
    text = out.stdout + out.stderr
    values = [int(v) / 1e6 for v in re.findall(
        r"element-latency.*?element=\(string\)ag,.*?time=\(guint64\)(\d+)", text)]
    qos = len(re.findall(r"\(qos\)|type=\(string\)qos|: qos", text, flags=re.I))
    dropped = max([int(d) for d in re.findall(r"dropped=\(guint64\)(\d+)", text)] or [0])
    if not values:
        raise RuntimeError("no latency tracer records for the element\n" + text[-2000:])
    values.sort()
    p = lambda q: values[min(len(values) - 1, int(q * len(values)))]
    print(f"\n### live run (sync=true, 25 fps, 1280x720)\n")
    print(f"- element latency over {len(values)} buffers: p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, "
          f"max {values[-1]:.1f} ms")
    print(f"- QoS messages: {qos}, frames reported dropped: {dropped}")
    return p(0.99)


def targets(med, p99):
    """Each target of the detector issue, with the figure this run measured."""
    rows = [
        ("defaults × decode-only", med["agegender"][0] / med["decode-only"][0], ">=", 0.5),
        ("defaults × facedetect", med["agegender"][0] / med["facedetect"][0], ">=", 6.0),
        ("every-frame × python-loop", med["every-frame"][0] / med["python-loop"][0], ">=", 1.3),
        ("defaults peak RSS MB", med["agegender"][1], "<=", 160.0),
    ]
    if p99 is not None:
        rows.append(("live p99 element latency ms", p99, "<=", 40.0))
    print("\n### targets (1280x720, this run)\n")
    print("| figure | measured | target | met |")
    print("|---|---:|---:|---|")
    for name, value, op, goal in rows:
        met = value >= goal if op == ">=" else value <= goal
        print(f"| {name} | {value:.2f} | {op} {goal:g} | {'yes' if met else 'no'} |")


def main():
    args = argparse.ArgumentParser()
    args.add_argument("--repeats", type=int, default=5)
    args.add_argument("--skip-270p", action="store_true")
    args.add_argument("--skip-live", action="store_true")
    opts = args.parse_args()
    for path in (VIDEO_720, os.path.join(PLUGINS, "libgstagegender.so")):
        if not os.path.exists(path):
            sys.exit(f"missing {path} (run make build; the input is in ../shared/testdata)")
    # The seed configuration's weights come only with `make models-levi-hassner` (85 MB).
    have_seed = all(os.path.exists(os.path.join(MODELS, "weights", n))
                    for n in ("age_net.caffemodel", "gender_net.caffemodel"))
    print(f"gst-agegender benchmark on {os.uname().nodename}, {os.cpu_count()} cores")
    frames = count_frames(VIDEO_720) or 328
    hd = table("1280x720", VIDEO_720, frames, opts.repeats, have_seed)
    if not opts.skip_270p:
        with tempfile.TemporaryDirectory() as tmp:
            small = os.path.join(tmp, "bench-walk-270p.mp4")
            subprocess.run(["gst-launch-1.0", "-q", "filesrc", f"location={VIDEO_720}", "!", "decodebin", "!",
                            "videoconvert", "!", "videoscale", "!", "video/x-raw,width=480,height=270", "!",
                            "x264enc", "!", "mp4mux", "!", "filesink", f"location={small}"], check=True)
            table("480x270", small, frames, opts.repeats, have_seed)
    p99 = None if opts.skip_live else live_latency(VIDEO_720)
    targets(hd, p99)


if __name__ == "__main__":
    main()
