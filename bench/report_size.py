"""Size and build time of `matchtag report` for a full match's number of events.

    python bench/report_size.py TAGS_DIR --events 5000 [--out report.html]

Copies the tables of a real `matchtag run` output to a temporary folder, replaces each
video's events with ``--events`` synthetic ones (random types, times and players drawn
from that video's own tracks and span; confidences uniform 0-1), builds the report and
prints its size, its thumbnails and how long it took.  The events are synthetic, the
frames, poses and tracks are real: it measures the file-size bound of docs/review.md,
not tagging quality.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from schemas.tables import PARTITION_COLUMN, file_schema
from tagging.draw.report import build_report
from tagging.tables.queries import read_table
from tagging.tables.store import table_dataset

TYPES = ("throw_in", "kick", "jump", "fall", "celebration")


def synthetic_events(tracks, n: int, rng: np.random.Generator) -> list[dict]:
    picks = tracks.iloc[rng.integers(0, len(tracks), n)]
    out = []
    for t in picks.itertuples():
        peak = float(rng.uniform(t.first_ms, max(t.last_ms, t.first_ms + 1)))
        out.append({"event_type": TYPES[rng.integers(len(TYPES))], "track_id": int(t.track_id),
                    "start_ms": peak - 400, "end_ms": peak + 400, "peak_ms": peak,
                    "confidence": float(rng.uniform()), "model": "synthetic-bench"})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tags")
    ap.add_argument("--events", type=int, default=5000, help="synthetic events per video (default 5000)")
    ap.add_argument("--out", help="keep the report here (default: a temporary file)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    work = Path(tempfile.mkdtemp(prefix="report-size-"))
    try:
        tags = work / "tags"
        shutil.copytree(args.tags, tags, ignore=shutil.ignore_patterns("_staging"))
        tracks = read_table(tags, "tracks")
        for vid, group in tracks.groupby(PARTITION_COLUMN):
            files = [f for f in table_dataset(tags, "events").files if f"{PARTITION_COLUMN}={vid}" in f]
            for i, path in enumerate(files):
                rows = synthetic_events(group, args.events, rng) if i == 0 else []
                pq.write_table(pa.Table.from_pylist(rows, schema=file_schema("events")), path)
        out = Path(args.out) if args.out else work / "report.html"
        t0 = time.perf_counter()
        result = build_report(tags, out)
        took = time.perf_counter() - t0
        events = sum(v.events for v in result.videos)
        n_tracks = sum(v.tracks for v in result.videos)
        thumbs = sum(v.thumbnails for v in result.videos)
        print(f"{len(result.videos)} videos, {events} events, {n_tracks} tracks, {thumbs} thumbnails: "
              f"{result.bytes / 1e6:.2f} MB in {took:.1f} s")
        for v in result.videos:
            print(f"  {v.video_id}: {v.status}, {v.events} events, {v.tracks} tracks, {v.thumbnails} thumbnails")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
