"""Graph size and `--dry-run` wall time against the manifest's length (issue 15.1).

    python bench/dry_run_scale.py [--videos DIR] [--sizes 1 100 1000] [--json]

Writes manifests of N rows that point at the real files in DIR (default
$MATCHTAG_SHARED_DATA/video, else ../shared/data/video) repeated, through one
symlink per row, under different video ids, and runs `python -m pipeline.cli run --manifest M --output O --dry-run` for
each, as a user would (a fresh process: imports included in the wall time).  Prints
the transform count the dry run reports, the number of videos it would tag, and the
wall time.  The count must be the same for every N.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _video_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    env = os.environ.get("MATCHTAG_SHARED_DATA")
    return (Path(env) if env else REPO.parent / "shared" / "data") / "video"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--videos", help="folder of real video files to repeat")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 100, 1000])
    ap.add_argument("--json", action="store_true", help="print only JSON on stdout")
    args = ap.parse_args()
    folder = _video_dir(args.videos)
    files = sorted(p for p in folder.iterdir() if p.suffix in (".mp4", ".avi", ".mkv", ".mov")) \
        if folder.is_dir() else []
    if not files:
        print(f"dry_run_scale: error: {folder}: no video files there (give --videos DIR)", file=sys.stderr)
        return 2
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            # One symlink per row: the same path twice is one video (one job), by design.
            links = Path(tmp) / f"v{n}"
            links.mkdir()
            for i in range(n):
                (links / f"match-{i:05d}{files[i % len(files)].suffix}").symlink_to(files[i % len(files)])
            manifest = Path(tmp) / f"m{n}.csv"
            manifest.write_text("path,video_id\n" + "".join(
                f"{p},{p.stem}\n" for p in sorted(links.iterdir())))
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "--manifest", str(manifest),
                                   "--output", str(Path(tmp) / "tags"), "--dry-run"],
                                  capture_output=True, text=True, env=env, cwd=REPO)
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return proc.returncode
            plan = json.loads(proc.stdout)
            results.append({"videos": n, "transforms": plan["transforms"], "to_tag": len(plan["to_tag"]),
                            "wall_s": round(wall, 2), "build_s": plan["build_s"]})
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for r in results:
            print(f"{r['videos']:>6} videos: {r['transforms']} transforms, {r['to_tag']} to tag, "
                  f"dry run {r['wall_s']} s (graph built in {r['build_s']} s)")
    if len({r["transforms"] for r in results}) != 1:
        print("dry_run_scale: the graph grows with the manifest", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
