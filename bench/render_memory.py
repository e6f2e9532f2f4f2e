"""Peak memory of `matchtag render` on a whole video against its first seconds.

    python bench/render_memory.py VIDEO TAGS_DIR --head-s 10 [--people 20]

Copies the tables to a temporary folder and, with ``--people N``, fills the video's poses
table with N people in every frame of the video (the first real pose of the video, or of any video, shifted a little
per person and frame; synthetic, so that the poses grow with the video as a match's do).
Then renders the first ``--head-s`` seconds and the whole video, each in a fresh process, and
prints each run's peak RSS (bench/peak_rss.py's measure) and their ratio: bounded memory
means the ratio stays near 1 however long the video is.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peak_rss import peak_rss  # noqa: E402

from schemas.tables import KEYPOINT_COLUMNS, PARTITION_COLUMN, file_schema  # noqa: E402
from tagging.draw.render import find_video  # noqa: E402
from tagging.tables.store import table_dataset  # noqa: E402
from tagging.video.reader import probe  # noqa: E402


def fill_poses(tags: Path, video_id: str, frames: int, fps: float, people: int) -> int:
    """Replace the video's poses with ``people`` shifted copies of one real pose per frame."""
    dataset = table_dataset(tags, "poses")
    files = [f for f in dataset.files if f"{PARTITION_COLUMN}={video_id}" in f]
    # A pose of this video, else of any video (a clip whose tagged frames held nobody).
    seed = (dataset.to_table(filter=pc.field(PARTITION_COLUMN) == video_id).slice(0, 1).to_pylist()
            or dataset.head(1).to_pylist())
    if not seed:
        raise SystemExit(f"{tags}: no poses to copy")
    seed = seed[0]
    xs = [c for c in KEYPOINT_COLUMNS if c.endswith("_x")] + ["bbox_x1", "bbox_x2"]
    schema = file_schema("poses")
    writer = pq.ParquetWriter(files[0], schema)
    for start in range(0, frames, 500):
        rows = []
        for f in range(start, min(frames, start + 500)):
            for p in range(people):
                row = {k: seed[k] for k in schema.names}
                shift = float((37 * p + f) % 400) - 200
                row.update({c: float(np.float32(seed[c] + shift)) for c in xs})
                row.update(frame_index=f, timestamp_ms=round(f * 1000 / fps, 3), track_id=p)
                rows.append(row)
        writer.write_table(pa.Table.from_pylist(rows, schema=schema))
    writer.close()
    for path in files[1:]:
        pq.write_table(schema.empty_table(), path)
    return frames * people


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video")
    ap.add_argument("tags")
    ap.add_argument("--head-s", type=float, default=10.0)
    ap.add_argument("--people", type=int, default=0, help="fill the poses table: N people in every frame")
    args = ap.parse_args(argv)
    info = probe(args.video)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tags = Path(tmp) / "tags"
        shutil.copytree(args.tags, tags, ignore=shutil.ignore_patterns("_staging"))
        video_id = find_video(tags, args.video)[PARTITION_COLUMN]
        rows = fill_poses(tags, video_id, info.frame_count, info.fps, args.people) if args.people else None
        base = [sys.executable, "-m", "pipeline.cli", "render", args.video, "--tags", str(tags)]
        for name, extra in (("head", ["--end", str(args.head_s)]), ("whole", [])):
            r = peak_rss(base + ["--out", os.path.join(tmp, f"{name}.mp4"), *extra])
            results[name] = r
            print(f"{name:6s} rc={r['rc']} wall={r['wall_s']:.0f}s peak_rss={r['peak_rss_mb']:.0f} MB", flush=True)
    summary = {"video": args.video, "fps": info.fps, "frames": info.frame_count, "head_s": args.head_s,
               "synthetic_pose_rows": rows,
               **{f"{k}_{m}": v[m] for k, v in results.items() for m in ("peak_rss_mb", "wall_s", "rc")},
               "ratio_whole_to_head": results["whole"]["peak_rss_mb"] / results["head"]["peak_rss_mb"]}
    print(json.dumps(summary, indent=1))
    return 0 if all(r["rc"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
