"""A batch the way a scheduler runs it: manifest, broken file, rerun, kill -9.

    python bench/batch_rerun.py VIDEO_DIR [--stride 10] [--broken NAME]

1. Builds a manifest of the videos in VIDEO_DIR, with one of them (``--broken``)
   replaced by a copy cut at half its bytes (truncated mid-stream).
2. Runs it: reports each video's status and the partitions written.
3. Reruns it with --skip-existing: reports how many videos were processed.
4. Runs it into a fresh output and kills it with SIGKILL half-way through, runs
   it again and kills it as soon as the commit phase has begun, then lets a third
   run finish; all the while it checks every visible partition is one complete
   Parquet file, and at the end compares every table's row count with step 2.

Prints one JSON summary at the end.  ``--stride`` keeps the run short; the
broken file is still read past its damage.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tagging.tables.queries import read_table  # noqa: E402

TABLES = ("videos", "poses", "tracks", "events")


def matchtag(args: list[str], **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipeline.cli", "run", *args, "--runner", "FnApiRunner",
                             "--progress", "off"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, **kw)


def counts(out: Path) -> dict:
    return {t: len(read_table(out, t)) if (out / "_commits").exists() else 0 for t in TABLES}


def torn_partitions(out: Path) -> list[str]:
    """Committed files that are not complete Parquet files, and videos whose tables mix runs."""
    from tagging.tables.store import commit_records

    bad = []
    try:
        records = commit_records(out)
    except Exception as exc:  # a torn record
        return [f"{out}/_commits: {exc}"]
    for vid, record in records.items():
        for t in TABLES:
            for rel in record.files[t]:
                try:
                    pq.read_metadata(out / rel)
                    if not Path(rel).name.startswith(record.run_id + "-"):
                        raise ValueError(f"file of another run than {record.run_id}")
                except FileNotFoundError:
                    pass  # superseded by a newer commit meanwhile
                except Exception as exc:
                    bad.append(f"{out / rel}: {exc}")
    return bad


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video_dir")
    ap.add_argument("--stride", type=int, default=10)
    ap.add_argument("--broken", default="soccer_wide_dfl_08fd33_4.mp4")
    args = ap.parse_args(argv)
    videos = sorted(p for p in Path(args.video_dir).iterdir() if p.suffix in (".mp4", ".avi", ".mkv", ".mov"))
    summary: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        lines = ["path,video_id,competition,season,match_date,home,away"]
        for i, v in enumerate(videos):
            path = v
            if v.name == args.broken:
                data = v.read_bytes()
                path = tmp / f"truncated_{v.name}"
                path.write_bytes(data[: len(data) // 2])
            lines.append(f"{path},clip-{i + 1},Bench League,2025/26,2025-11-{i + 1:02d},Home {i},Away {i}")
        manifest = tmp / "manifest.csv"
        manifest.write_text("\n".join(lines) + "\n")
        common = ["--manifest", str(manifest), "--stride", str(args.stride)]

        clean = tmp / "clean"
        t = time.time()
        p = matchtag([*common, "--output", str(clean)])
        p.wait()
        v = read_table(clean, "videos").sort_values("video_id")
        summary["run"] = {
            "exit_code": p.returncode, "wall_s": round(time.time() - t, 1),
            "videos": v[["video_id", "status", "frames_processed", "error"]].to_dict(orient="records"),
            "complete_ok_partitions": int((v.status == "ok").sum()),
            "partitions_per_table": {tb: len(list((clean / tb).iterdir())) for tb in TABLES},
            "rows": counts(clean)}
        print(json.dumps(summary["run"], indent=1, default=str), flush=True)

        p = matchtag([*common, "--output", str(clean), "--skip-existing"])
        p.wait()
        runs = pd.read_parquet(clean / "runs").sort_values("started_at")
        last = runs.iloc[-1]
        summary["skip_existing_rerun"] = {
            "exit_code": p.returncode, "videos_total": int(last.videos_total),
            "videos_skipped": int(last.videos_skipped),
            "videos_processed": int(last.videos_total - last.videos_skipped),
            "frames_decoded": int(last.frames_decoded), "rows_unchanged": counts(clean) == summary["run"]["rows"]}
        print(json.dumps(summary["skip_existing_rerun"], indent=1), flush=True)

        # Kill twice into the same output: once half-way through the work (while
        # frames are being tagged), once as soon as the commit phase has started (the
        # first partition is visible), then let a third run finish.
        killed = tmp / "killed"
        torn, polls, kills = [], 0, []
        half = summary["run"]["wall_s"] / 2
        for phase in ("half_way", "during_commit"):
            p = matchtag([*common, "--output", str(killed)])
            t = time.time()
            start_parts = sum(1 for tb in TABLES if (killed / tb).exists() for _ in (killed / tb).iterdir())
            while p.poll() is None:
                torn += torn_partitions(killed)
                polls += 1
                parts = sum(1 for tb in TABLES if (killed / tb).exists() for _ in (killed / tb).iterdir())
                if (phase == "half_way" and time.time() - t >= half) or \
                        (phase == "during_commit" and parts > start_parts):
                    p.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.05)
            p.wait()
            kills.append({"phase": phase, "after_s": round(time.time() - t, 1), "exit_code": p.returncode,
                          "visible_partitions": sum(1 for tb in TABLES if (killed / tb).exists()
                                                    for _ in (killed / tb).iterdir())})
            torn += torn_partitions(killed)
        p = matchtag([*common, "--output", str(killed)])
        while p.poll() is None:
            torn += torn_partitions(killed)
            polls += 1
            time.sleep(0.2)
        summary["kill_9_then_rerun"] = {
            "kills": kills, "rerun_exit_code": p.returncode, "polls": polls,
            "torn_partitions_seen": torn[:5], "rows_after_rerun": counts(killed),
            "rows_clean_run": summary["run"]["rows"], "equal": counts(killed) == summary["run"]["rows"],
            "left_behind": sorted({p.name for p in killed.iterdir()} - {*TABLES, "runs", "_commits"})}
        print(json.dumps(summary["kill_9_then_rerun"], indent=1), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
