#!/usr/bin/env bash
# Annotates a YouTube video (or any page yt-dlp understands): yt-dlp resolves the
# page to one media URL (`yt-dlp -g -f 'best[ext=mp4]/best'`), agegender-annotate
# plays it and writes the annotated MP4 (default out/annotated.mp4) and, with
# --json, one JSON object per frame.
#
# Usage: examples/youtube/annotate-youtube.sh URL [-o OUT.mp4] [--json OUT.jsonl] [name=value ...]
#   e.g. examples/youtube/annotate-youtube.sh 'https://www.youtube.com/watch?v=...' --json out/yt.jsonl
#
# YouTube needs network access and a current yt-dlp (`make build` installs one into
# .build-venv; AGEGENDER_YTDLP=/path/to/yt-dlp picks another). AGEGENDER_ANNOTATE
# overrides the tool's path (default .build/release/agegender-annotate).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ $# -lt 1 ]; then
  echo "usage: examples/youtube/annotate-youtube.sh URL [agegender-annotate options and name=value ...]" >&2
  exit 2
fi
url=$1; shift

ytdlp=${AGEGENDER_YTDLP:-}
if [ -z "$ytdlp" ]; then
  if [ -x "$root/.build-venv/bin/yt-dlp" ]; then ytdlp=$root/.build-venv/bin/yt-dlp; else ytdlp=$(command -v yt-dlp || true); fi
fi
if [ -z "$ytdlp" ]; then
  echo "annotate-youtube.sh: yt-dlp not found (run make build, or pip install yt-dlp)" >&2
  exit 1
fi
annotate=${AGEGENDER_ANNOTATE:-$root/.build/release/agegender-annotate}
if [ ! -x "$annotate" ]; then
  echo "annotate-youtube.sh: $annotate not found (run make build)" >&2
  exit 1
fi

if ! resolved=$(timeout 120 "$ytdlp" -g -f 'best[ext=mp4]/best' --no-playlist --no-warnings "$url"); then
  echo "annotate-youtube.sh: yt-dlp could not resolve $url" >&2
  exit 1
fi
media=$(printf '%s\n' "$resolved" | grep -m 1 '://' || true)
if [ -z "$media" ]; then
  echo "annotate-youtube.sh: yt-dlp printed no media URL for $url" >&2
  exit 1
fi
echo "annotate-youtube.sh: $url -> ${media:0:80}..." >&2
# The media URL is played as it is (no second yt-dlp pass).
exec "$annotate" --resolve never "$media" "$@"
