#!/usr/bin/python3
"""A small video player around the agegender element, with seeking, rates and stepping.

Usage:  GST_PLUGIN_PATH=../../build/plugins /usr/bin/python3 player.py [options] VIDEO

Pipeline: filesrc ! decodebin ! videoconvert ! agegender ! videoconvert ! SINK
(autovideosink by default; --sink fakesink for no window). A buffer probe on the
sink's pad prints the faces of every frame that reaches the sink, read from
GstAgeGenderMeta (buf.get_custom_meta("GstAgeGenderMeta")):

  frame pts=5.280 rate=1.0 faces=3 [id=4 female 31.2] [id=5 male 40.8] [id=6 female 27.5]

Keys (on a terminal): Right/l seek +5 s, Left/h seek -5 s, + faster (x2),
- slower (/2), r reverse, 1 normal speed, s or . step one frame (pauses),
space pause/play, q quit.

--script "seek+5,rate2,step,..." runs commands instead of keys, each once the
previous one has shown its frames (or after --command-timeout seconds), then quits:
  seek+N / seek-N   seek N seconds forwards / backwards (flushing, accurate)
  seekN             seek to N seconds
  rateR             play at rate R (0.5, 2, -1 for reverse, ...)
  step              pause and show the next frame
  (seeks and rate changes resume playback)
  pause / play      pause / resume
  wait              let a few more frames play
  eos               play to the end of the stream
Every command prints "command NAME position=S" when it is issued.
Ends with "summary frames=N frames_with_faces=M faces=K commands=C".
Exits 1 on a pipeline error, 2 when --timeout passes.

Needs Debian's python3-gi and python3-gst-1.0.
"""
import argparse
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

META_NAME = "GstAgeGenderMeta"


def faces_of(buf):
    meta = buf.get_custom_meta(META_NAME)
    if meta is None:
        return []
    faces = meta.get_structure().get_value("faces") or []
    return [(f.get_value("track-id"), f.get_value("gender"), f.get_value("age")) for f in faces]


class Player:
    def __init__(self, video, sink, props, frames_per_command, command_timeout):
        desc = (f"filesrc name=source ! decodebin ! videoconvert ! agegender name=ag {props} "
                f"! videoconvert ! {sink} name=sink")
        self.pipeline = Gst.parse_launch(desc)
        self.pipeline.get_by_name("source").set_property("location", video)
        self.loop = GLib.MainLoop()
        self.rate = 1.0
        self.status = 0
        self.stats = {"frames": 0, "frames_with_faces": 0, "faces": 0, "commands": 0}
        self.script = []
        self.frames_per_command = frames_per_command
        self.command_timeout = command_timeout
        self.frames_since_command = 0
        self.waiting_for = 0
        self.command_timer = None
        self.at_eos = False
        # Frame lines (streaming thread) and command lines (main loop) are
        # printed under one lock, each frame tagged with the command it follows.
        self.lock = threading.Lock()
        self.serial = 0
        pad = self.pipeline.get_by_name("sink").get_static_pad("sink")
        pad.add_probe(Gst.PadProbeType.BUFFER, self.on_buffer)
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message", self.on_message)

    # Frames shown

    def on_buffer(self, pad, info):
        buf = info.get_buffer()
        faces = faces_of(buf)
        self.stats["frames"] += 1
        self.stats["faces"] += len(faces)
        if faces:
            self.stats["frames_with_faces"] += 1
        pts = buf.pts / Gst.SECOND if buf.pts != Gst.CLOCK_TIME_NONE else -1
        text = " ".join(f"[id={i} {g} {a:.1f}]" for i, g, a in faces)
        with self.lock:
            print(f"frame pts={pts:.3f} rate={self.rate} faces={len(faces)} {text}".rstrip(), flush=True)
            serial = self.serial
        GLib.idle_add(self.frame_shown, serial)
        return Gst.PadProbeReturn.OK

    def frame_shown(self, serial):
        if serial != self.serial:
            return False  # a frame that came before the current command
        self.frames_since_command += 1
        if self.script is not None and self.waiting_for and self.frames_since_command >= self.waiting_for:
            self.next_command()
        return False

    # Bus

    def on_message(self, bus, message):
        if message.type == Gst.MessageType.ERROR:
            error, debug = message.parse_error()
            print(f"error: {error.message} ({debug})", file=sys.stderr, flush=True)
            self.status = 1
            self.loop.quit()
        elif message.type == Gst.MessageType.EOS:
            self.at_eos = True
            print("eos", flush=True)
            if self.script is None:
                self.loop.quit()
            elif self.waiting_for:
                self.next_command()

    # Commands

    def position(self):
        ok, pos = self.pipeline.query_position(Gst.Format.TIME)
        return pos if ok else 0

    def duration(self):
        ok, dur = self.pipeline.query_duration(Gst.Format.TIME)
        return dur if ok and dur > 0 else None

    def seek(self, position, rate=None):
        rate = self.rate if rate is None else rate
        dur = self.duration()
        position = max(0, position)
        if dur is not None:
            position = min(position, dur - 1)
        flags = Gst.SeekFlags.FLUSH | Gst.SeekFlags.ACCURATE
        if rate > 0:
            ok = self.pipeline.seek(rate, Gst.Format.TIME, flags, Gst.SeekType.SET, position, Gst.SeekType.SET, -1)
        else:
            ok = self.pipeline.seek(rate, Gst.Format.TIME, flags, Gst.SeekType.SET, 0, Gst.SeekType.SET, position)
        if ok:
            self.rate = rate
            self.at_eos = False
        else:
            print(f"seek to {position / Gst.SECOND:.3f} s at rate {rate} refused", flush=True)
        return ok

    def pause(self):
        self.pipeline.set_state(Gst.State.PAUSED)
        self.pipeline.get_state(5 * Gst.SECOND)

    def step(self):
        self.pause()
        self.pipeline.send_event(Gst.Event.new_step(Gst.Format.BUFFERS, 1, abs(self.rate), True, False))

    def run_command(self, name):
        """Runs one command; returns how many frames to wait for before the next."""
        if name in ("step", "pause"):
            self.pause()  # the frame that prerolls on pausing still belongs to the previous command
        pos = self.position()
        self.stats["commands"] += 1
        with self.lock:
            self.serial += 1
            print(f"command {name} position={pos / Gst.SECOND:.3f}", flush=True)
        if name.startswith("seek+") or name.startswith("seek-"):
            self.seek(pos + int(float(name[4:]) * Gst.SECOND))
        elif name.startswith("seek"):
            self.seek(int(float(name[4:]) * Gst.SECOND))
        elif name.startswith("rate"):
            self.seek(pos, float(name[4:]))
        elif name == "step":
            self.pipeline.send_event(Gst.Event.new_step(Gst.Format.BUFFERS, 1, abs(self.rate), True, False))
            return 1
        elif name == "pause":
            return 0
        elif name == "play":
            self.pipeline.set_state(Gst.State.PLAYING)
        elif name == "wait":
            pass
        elif name == "eos":
            self.pipeline.set_state(Gst.State.PLAYING)
            return -1
        elif name == "quit":
            self.loop.quit()
            return 0
        else:
            print(f"unknown command {name}", file=sys.stderr, flush=True)
            self.status = 1
            self.loop.quit()
            return 0
        # Seeks and rate changes resume playback (after steps or a pause).
        self.pipeline.set_state(Gst.State.PLAYING)
        return self.frames_per_command

    def next_command(self):
        if self.command_timer is not None:
            GLib.source_remove(self.command_timer)
            self.command_timer = None
        if not self.script:
            self.waiting_for = 0
            self.loop.quit()
            return False
        name = self.script.pop(0)
        self.frames_since_command = 0
        wait = self.run_command(name)
        if wait == -1:  # the EOS message moves on
            self.waiting_for = 10 ** 9
            return False
        self.waiting_for = wait
        if wait == 0 or self.at_eos:
            GLib.idle_add(self.next_command)
        else:
            self.command_timer = GLib.timeout_add(int(self.command_timeout * 1000), self.command_timed_out)
        return False

    def command_timed_out(self):
        self.command_timer = None
        self.next_command()
        return False

    # Keys

    def on_key(self, source, condition):
        key = sys.stdin.read(1)
        if key == "\x1b":  # arrow keys: ESC [ C / ESC [ D
            rest = sys.stdin.read(2)
            key = {"[C": "l", "[D": "h"}.get(rest, "")
        pos = self.position()
        if key == "q":
            self.loop.quit()
            return False
        if key == "l":
            self.seek(pos + 5 * Gst.SECOND)
        elif key == "h":
            self.seek(pos - 5 * Gst.SECOND)
        elif key == "+":
            self.seek(pos, self.rate * 2)
        elif key == "-":
            self.seek(pos, self.rate / 2)
        elif key == "r":
            self.seek(pos, -abs(self.rate))
        elif key == "1":
            self.seek(pos, 1.0)
        elif key in ("s", "."):
            self.step()
        elif key == " ":
            _, state, _ = self.pipeline.get_state(0)
            self.pipeline.set_state(Gst.State.PAUSED if state == Gst.State.PLAYING else Gst.State.PLAYING)
        print(f"key {key!r} rate={self.rate} position={self.position() / Gst.SECOND:.3f}", flush=True)
        return True

    def run(self, script, timeout):
        self.pipeline.set_state(Gst.State.PAUSED)
        if self.pipeline.get_state(20 * Gst.SECOND)[0] == Gst.StateChangeReturn.FAILURE:
            print("error: the pipeline does not start (is GST_PLUGIN_PATH set to the plugin's folder?)",
                  file=sys.stderr)
            self.pipeline.set_state(Gst.State.NULL)
            return 1
        self.pipeline.set_state(Gst.State.PLAYING)
        old_tty = None
        if script is not None:
            self.script = [c.strip() for c in script.split(",") if c.strip()]
            self.frames_since_command = 0
            self.waiting_for = self.frames_per_command  # let a few frames play first
        else:
            self.script = None
            if sys.stdin.isatty():
                import termios
                import tty
                old_tty = termios.tcgetattr(sys.stdin)
                tty.setcbreak(sys.stdin.fileno())
                GLib.io_add_watch(sys.stdin, GLib.IO_IN, self.on_key)
                print("keys: Right/l +5 s, Left/h -5 s, + faster, - slower, r reverse, 1 normal, "
                      "s step, space pause, q quit", flush=True)

        def timed_out():
            print(f"timeout: still running after {timeout} s", file=sys.stderr, flush=True)
            self.status = 2
            self.loop.quit()
            return False

        GLib.timeout_add_seconds(timeout, timed_out)
        try:
            self.loop.run()
        finally:
            if old_tty is not None:
                import termios
                termios.tcsetattr(sys.stdin, termios.TCSADRAIN, old_tty)
            self.pipeline.set_state(Gst.State.NULL)
        s = self.stats
        print(f"summary frames={s['frames']} frames_with_faces={s['frames_with_faces']} faces={s['faces']} "
              f"commands={s['commands']}", flush=True)
        return self.status


def main():
    parser = argparse.ArgumentParser(description="Play a video through agegender with seeking, rates and stepping.")
    parser.add_argument("video")
    parser.add_argument("--sink", default="autovideosink", help="autovideosink (default), fakesink, ...")
    parser.add_argument("--script", help='commands instead of keys, e.g. "seek+5,rate2,step,step,play,rate-1"')
    parser.add_argument("--props", default="", help='agegender properties, e.g. "async=false draw=false"')
    parser.add_argument("--frames-per-command", type=int, default=4,
                        help="frames shown after a script command before the next (default 4)")
    parser.add_argument("--command-timeout", type=float, default=5.0,
                        help="seconds a script command may wait for its frames (default 5)")
    parser.add_argument("--timeout", type=int, default=600, help="give up after this many seconds (exit 2)")
    args = parser.parse_args()
    Gst.init(None)
    sink = "fakesink sync=true" if args.sink == "fakesink" else args.sink
    try:
        player = Player(args.video, sink, args.props, args.frames_per_command, args.command_timeout)
    except GLib.Error as error:
        sys.exit(f"cannot build the pipeline: {error.message} (is GST_PLUGIN_PATH set to the plugin's folder?)")
    sys.exit(player.run(args.script, args.timeout))


if __name__ == "__main__":
    main()
