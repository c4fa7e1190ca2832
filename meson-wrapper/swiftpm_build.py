#!/usr/bin/env python3
"""Builds the plugin with SwiftPM and copies it where meson expects it.

Usage: swiftpm_build.py SWIFT PACKAGE_ROOT SCRATCH_PATH OUTPUT [SWIFT_BUILD_ARG...]

Runs `swift build -c release --product gstagegender` with PACKAGE_ROOT as the
working directory (SCRATCH_PATH empty: SwiftPM's default .build there), then
copies libgstagegender.so from SwiftPM's bin path to OUTPUT. SwiftPM does the
incremental work, so meson runs this on every build.
"""
import os
import shutil
import subprocess
import sys


def main():
    swift, root, scratch, output = sys.argv[1:5]
    common = ["-c", "release"] + (["--scratch-path", scratch] if scratch else []) + sys.argv[5:]
    subprocess.run([swift, "build", *common, "--product", "gstagegender"], cwd=root, check=True)
    bin_path = subprocess.run([swift, "build", *common, "--show-bin-path"], cwd=root, check=True,
                              capture_output=True, text=True).stdout.strip().splitlines()[-1]
    built = os.path.join(bin_path, "libgstagegender.so")
    if not os.path.isfile(built):
        sys.exit(f"swift build finished but {built} is missing")
    # Copy to a temporary name, then rename: never a half-written plugin at OUTPUT.
    partial = output + ".partial"
    shutil.copy2(built, partial)
    os.replace(partial, output)


if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as error:
        sys.exit(f"swiftpm_build.py: {' '.join(error.cmd)} failed with status {error.returncode}")
