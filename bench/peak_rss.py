"""Peak memory of `matchtag run` on a long video against its first part.

    python bench/peak_rss.py VIDEO --head-s 14 [--stride N] [-- extra matchtag run args]

Runs the pipeline twice in fresh processes (the first `--head-s` seconds via
--max-frames, then the whole file) and prints the peak RSS of each run (the
maximum resident set of the run's process tree, from getrusage) and their ratio.
Bounded memory means the ratio stays near 1 however long the video is.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import cv2

_CHILD = (
    "import resource, subprocess, sys, json, time\n"
    "t = time.time(); rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode\n"
    "print(json.dumps({'rc': rc, 'wall_s': time.time() - t,"
    " 'peak_rss_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))\n"
)


def peak_rss(cmd: list[str]) -> dict:
    """Run ``cmd`` under a fresh parent so RUSAGE_CHILDREN covers only this run."""
    out = subprocess.run([sys.executable, "-c", _CHILD, *cmd], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video")
    ap.add_argument("--head-s", type=float, default=14.0)
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("extra", nargs="*", help="more `matchtag run` arguments (after --)")
    args = ap.parse_args(argv)
    cap = cv2.VideoCapture(args.video)
    fps, frames = cap.get(cv2.CAP_PROP_FPS), int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    head_frames = max(1, int(round(args.head_s * fps / args.stride)))
    base = [sys.executable, "-m", "pipeline.cli", "run", args.video, "--runner", "FnApiRunner",
            "--stride", str(args.stride), "--progress", "off", *args.extra]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in (("head", ["--max-frames", str(head_frames)]), ("whole", [])):
            r = peak_rss(base + ["--output", os.path.join(tmp, name), *extra])
            results[name] = r
            print(f"{name:6s} rc={r['rc']} wall={r['wall_s']:.0f}s peak_rss={r['peak_rss_mb']:.0f} MB", flush=True)
    ratio = results["whole"]["peak_rss_mb"] / results["head"]["peak_rss_mb"]
    summary = {"video": args.video, "fps": fps, "frames": frames, "stride": args.stride,
               "head_s": args.head_s, "head_frames": head_frames, **{f"{k}_{m}": v[m] for k, v in results.items()
                                                                     for m in ("peak_rss_mb", "wall_s", "rc")},
               "ratio_whole_to_head": ratio}
    print(json.dumps(summary, indent=1))
    return 0 if all(r["rc"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
