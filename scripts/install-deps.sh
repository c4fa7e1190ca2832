#!/usr/bin/env bash
# Installs the Debian 12 packages the build, the tests and the demo need,
# only those that are missing (no-op, and no network, when all are there).
set -euo pipefail
packages=(
  pkg-config
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-ugly gstreamer1.0-libav
  libopencv-dnn-dev libopencv-imgproc-dev libopencv-imgcodecs-dev libopencv-objdetect-dev
  opencv-data
  python3 python3-venv python3-gi python3-gst-1.0 gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0
  meson ninja-build
  gstreamer1.0-plugins-bad gstreamer1.0-x xvfb x11-apps
  # agegender-annotate --display (issue 17): Xlib to build against; xdotool sends
  # the window's keys in the tests (Xvfb and xwd above give the screen).
  libx11-dev xdotool
  # MQTT publishing in agegenderjson (issue 13): the client library; the broker,
  # its command-line clients and openssl for the tests (they start their own broker).
  libmosquitto-dev mosquitto mosquitto-clients openssl
  # agegenderjson's lines through json-glib (issue 12); the audience report's
  # tests open it in a real headless browser.
  libjson-glib-dev chromium
  # Many cameras (issue 14): the tests and examples serve clips over RTSP from
  # PyGObject (gst-rtsp-server); rtspsrc itself is in plugins-good.
  gir1.2-gst-rtsp-server-1.0
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "Installing Debian packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
