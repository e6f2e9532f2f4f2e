#!/usr/bin/env bash
# `make demo`: tag a real sample clip, then draw the overlay video and the match report.
#
# The clip is vtest.avi from Debian's opencv-doc package (OpenCV's pedestrian sample,
# 768x576 at 10 fps). The package (about 96 MB) is downloaded with apt-get into the
# matchtag cache directory; only vtest.avi is unpacked, and the .deb is deleted, so
# nothing large lands in the clone. Everything the demo writes is under
# $CACHE/demo: the clip, the tables, the mp4 and the report.
#
# Usage: tools/demo.sh PYTHON [MAX_FRAMES]   (PYTHON: the virtualenv's interpreter)
set -euo pipefail

PY=${1:?usage: tools/demo.sh PYTHON [MAX_FRAMES]}
FRAMES=${2:-40}
cd "$(dirname "$0")/.."
say() { echo "matchtag demo: $*" >&2; }

# The same rule as tagging/pose/models.py cache_dir: $MATCHTAG_CACHE_DIR, else
# $XDG_CACHE_HOME/matchtag, else ~/.cache/matchtag.
CACHE=$("$PY" -c "from tagging.pose.models import cache_dir; print(cache_dir())")
DEMO=$CACHE/demo
VIDEO=$DEMO/vtest.avi
TAGS=$DEMO/tags
MP4=$DEMO/vtest_overlay.mp4
REPORT=$DEMO/report.html
mkdir -p "$DEMO"

if [ ! -s "$VIDEO" ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    say "error: apt-get not found: the demo clip comes from Debian's opencv-doc package; on this system, tag your own video instead (README, Run)"
    exit 2
  fi
  DL=$(mktemp -d "$DEMO/download.XXXXXX")
  trap 'rm -rf "$DL"' EXIT
  apt_opts=()
  if [ "$(id -u)" = 0 ]; then
    # As root, apt drops to the _apt user to download, which cannot write our temp dir.
    apt_opts=(-o APT::Sandbox::User=root)
  fi
  say "downloading Debian's opencv-doc package (about 96 MB) for its sample clip vtest.avi"
  if ! (cd "$DL" && apt-get "${apt_opts[@]}" -q download opencv-doc >&2); then
    # A fresh machine has no package lists yet.
    if [ "$(id -u)" != 0 ]; then
      say "error: apt-get download opencv-doc failed; run 'sudo apt-get update' once, then make demo again"
      exit 2
    fi
    say "apt-get download failed; running apt-get update first"
    apt-get -q update >&2
    (cd "$DL" && apt-get "${apt_opts[@]}" -q download opencv-doc >&2)
  fi
  deb=$(ls "$DL"/opencv-doc_*.deb)
  member=$(dpkg-deb --fsys-tarfile "$deb" | tar -t | grep '/vtest\.avi$' | head -n 1)
  if [ -z "$member" ]; then
    say "error: $deb has no vtest.avi"
    exit 2
  fi
  dpkg-deb --fsys-tarfile "$deb" | tar -x -O "$member" > "$VIDEO.part"
  mv "$VIDEO.part" "$VIDEO"
  rm -rf "$DL"
  trap - EXIT
  say "clip: $VIDEO ($(du -h "$VIDEO" | cut -f1))"
fi

# --skip-existing: a second `make demo` reuses the tags instead of running the models again.
"$PY" -m pipeline.cli run "$VIDEO" --output "$TAGS" --max-frames "$FRAMES" --skip-existing
"$PY" -m pipeline.cli evaluate coverage --tags "$TAGS" >&2
# Render only the tagged part: the first FRAMES frames, in seconds at the clip's frame rate.
END_S=$("$PY" -c "import sys, pyarrow.parquet as pq; fps = pq.read_table(sys.argv[1]).column('fps')[0].as_py(); \
print(round(int(sys.argv[2]) / fps, 3))" "$TAGS/videos/video_id=vtest" "$FRAMES")
"$PY" -m pipeline.cli render "$VIDEO" --tags "$TAGS" --out "$MP4" --start 0 --end "$END_S"
"$PY" -m pipeline.cli report --tags "$TAGS" --out "$REPORT"

echo "tables:  $TAGS  (videos, poses, tracks, events, runs: Parquet, read with pandas)"
echo "video:   $MP4"
echo "report:  $REPORT"
