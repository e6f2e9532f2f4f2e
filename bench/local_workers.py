"""Speed of 2 local worker processes against 1 on the CPU stages (decode, tracking, writing).

    python bench/local_workers.py --poses-from TAGS VIDEO [VIDEO ...] [--workers 1 2]

Pose inference is taken out of the measurement: the pipeline runs with
`--pose replay --poses-from TAGS`, so each frame is decoded, its people are looked up
in an earlier run's poses table, and tracking, event tagging and the Parquet writes
run as usual.  Both worker counts run in this one invocation, on the same inputs,
each in a fresh process with the FnApiRunner in multi_processing mode; wall time
includes process start-up, as a user would see it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tagging.tables.queries import read_table


def run_once(videos: list[str], poses_from: str, workers: int, out: Path, range_frames: int) -> dict:
    cmd = [sys.executable, "-m", "pipeline.cli", "run", *videos, "--output", str(out),
           "--pose", "replay", "--poses-from", poses_from, "--progress", "off",
           "--range-frames", str(range_frames), "--runner", "FnApiRunner",
           "--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:])
        raise SystemExit(f"run with {workers} worker(s) failed ({proc.returncode})")

    videos_df = read_table(out, "videos")
    return {"workers": workers, "wall_s": wall, "frames": int(videos_df["frames_processed"].sum()),
            "pose_rows": len(read_table(out, "poses"))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("videos", nargs="+")
    ap.add_argument("--poses-from", required=True, help="tags directory of an earlier run of these videos")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--range-frames", type=int, default=100,
                    help="frames per decode range (small, so that one video also spreads over workers)")
    args = ap.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for w in args.workers:
            r = run_once(args.videos, args.poses_from, w, Path(tmp) / f"w{w}", args.range_frames)
            r["frames_per_s"] = r["frames"] / r["wall_s"]
            results.append(r)
            print(f"{w} worker(s): {r['wall_s']:.1f} s for {r['frames']} frames "
                  f"({r['frames_per_s']:.1f} frames/s, {r['pose_rows']} pose rows)", flush=True)
    base = results[0]
    for r in results[1:]:
        r["speedup_vs_first"] = base["wall_s"] / r["wall_s"]
    assert len({r["pose_rows"] for r in results}) == 1, "runs disagree on output rows"
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
