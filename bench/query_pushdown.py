"""How much the query API reads for a filtered question, against a full read.

    python bench/query_pushdown.py                       # the synthetic sample of tests/query_sample.py
    python bench/query_pushdown.py TAGS_DIR --video ID --start 47:30 --team a

Each line is one ``load_poses`` call: rows returned, files opened, and bytes read through a
filesystem that counts them (tests/read_meter.py), with the share of the full read's bytes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from query_sample import SECOND_HALF_S, write_sample_output  # noqa: E402
from read_meter import metered_reads  # noqa: E402

from tagging.tables import load_poses  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tags", nargs="?", help="output of `matchtag run` (default: write the synthetic sample)")
    ap.add_argument("--video", default="match-1", help="video id of the filtered reads")
    ap.add_argument("--start", default=str(SECOND_HALF_S), help="start of the time range (seconds, mm:ss, ...)")
    ap.add_argument("--team", default="a", help="team of the team-filtered read")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tags = Path(args.tags) if args.tags else write_sample_output(Path(tmp) / "tags")
        questions = [
            ("every video, every column", {}),
            (f"video {args.video}", {"video_id": args.video}),
            (f"video {args.video} from {args.start}", {"video_id": args.video, "start": args.start}),
            ("  ... 3 columns", {"video_id": args.video, "start": args.start,
                                  "columns": ["timestamp_ms", "nose_x", "nose_y"]}),
            (f"  ... team {args.team}", {"video_id": args.video, "start": args.start, "team": args.team}),
        ]
        with metered_reads() as measure:
            full = None
            print(f"{'load_poses':40s} {'rows':>10s} {'files':>6s} {'bytes':>12s} {'of full':>8s}")
            for label, kwargs in questions:
                rows, read = measure(lambda: load_poses(tags, **kwargs))
                full = full or read["bytes"]
                print(f"{label:40s} {len(rows):10d} {read['files']:6d} {read['bytes']:12d} "
                      f"{read['bytes'] / full:8.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
