"""Chunked against single-pass tracking on the poses of real videos (a `matchtag run` output).

    python bench/chunked_tracking.py --tags /tmp/out_street [--chunk-frames 40] [--overlap-frames 10]
    python bench/chunked_tracking.py --tags TAGS --pipeline VIDEO [--chunk-s 10] [--overlap-s 2]

With ``--pipeline``, the comparison runs through the Beam pipeline itself: ``matchtag run
VIDEO --pose replay --poses-from TAGS`` (no pose inference) once with
``--track-chunk-s 0`` (one piece) and once with ``--track-chunk-s CHUNK_S`` (segments
tracked as parallel elements and stitched), and the two ``poses``/``tracks`` tables are
compared the same way.  Without it, the pure functions of tagging/track/segments.py are called
directly on frame-count segments.

For every video in ``TAGS/poses`` it rebuilds each processed frame's boxes and detector
scores, tracks them (with the pipeline's tracker config) once over the whole video and once in forced-small overlapping
chunks stitched together (tagging/track/segments.py), and prints the number of global tracks
of each and their relative difference, plus the share of boxes whose chunked id maps
to the same single-pass id (majority mapping).  No ground truth: this measures only
what chunking changes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tagging.tables.queries import read_table  # noqa: E402
from tagging.track.offline import ids_per_frame, track_video  # noqa: E402
from tagging.track.segments import track_video_chunked  # noqa: E402
from tagging.track.sequences import PIPELINE_TRACKER_CONFIG  # noqa: E402


def frames_of(poses) -> tuple[list, list]:
    boxes, scores = [], []
    for _, g in poses.sort_values("frame_index").groupby("frame_index", sort=True):
        boxes.append(g[["bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2"]].to_numpy(np.float64))
        scores.append(g["box_score"].to_numpy(np.float64))
    return boxes, scores


def compare(boxes, scores, chunk_frames: int, overlap_frames: int) -> dict:
    counts = [len(b) for b in boxes]
    single = track_video(boxes, scores, PIPELINE_TRACKER_CONFIG)
    chunked = track_video_chunked(boxes, scores, chunk_frames, overlap_frames, PIPELINE_TRACKER_CONFIG)
    a = np.concatenate(ids_per_frame(single, counts)) if counts else np.zeros(0, np.int64)
    b = np.concatenate(ids_per_frame(chunked, counts)) if counts else np.zeros(0, np.int64)
    return {"frames": len(boxes), "tracks_single": len(single), "tracks_chunked": len(chunked),
            "track_count_diff": abs(len(chunked) - len(single)) / max(len(single), 1),
            "id_agreement": agreement(a, b)}


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Share of boxes tracked in both whose ``b`` id maps to the same ``a`` id (majority mapping)."""
    both = (a >= 0) & (b >= 0)
    agree = 0
    for cid in np.unique(b[both]):
        _, n = np.unique(a[both & (b == cid)], return_counts=True)
        agree += n.max()
    return float(agree / max(both.sum(), 1))


def compare_pipeline(video: str, tags: str, chunk_s: float, overlap_s: float) -> dict:
    import subprocess
    import tempfile
    import time


    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, chunk in (("single", 0.0), ("chunked", chunk_s)):
            dest = Path(tmp) / name
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "pipeline.cli", "run", video, "--output", str(dest),
                            "--pose", "replay", "--poses-from", tags, "--track-chunk-s", str(chunk),
                            "--track-overlap-s", str(overlap_s), "--progress", "off"],
                           check=True, cwd=Path(__file__).resolve().parents[1], capture_output=True)
            out[name] = {"seconds": time.perf_counter() - t,
                         "poses": read_table(dest, "poses").sort_values(
                             ["video_id", "frame_index", "bbox_x1", "bbox_y1"]).reset_index(drop=True),
                         "tracks": read_table(dest, "tracks")}
    a = out["single"]["poses"].track_id.to_numpy()
    b = out["chunked"]["poses"].track_id.to_numpy()
    n_single, n_chunked = len(out["single"]["tracks"]), len(out["chunked"]["tracks"])
    return {"frames_with_people": int(out["single"]["poses"].frame_index.nunique()),
            "boxes": len(a), "tracks_single": n_single, "tracks_chunked": n_chunked,
            "track_count_diff": abs(n_chunked - n_single) / max(n_single, 1),
            "id_agreement": agreement(a, b),
            "wall_s_single": round(out["single"]["seconds"], 1),
            "wall_s_chunked": round(out["chunked"]["seconds"], 1)}


def main(argv=None) -> int:

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tags", required=True, help="output directory of `matchtag run`")
    parser.add_argument("--chunk-frames", type=int, default=40)
    parser.add_argument("--overlap-frames", type=int, default=10)
    parser.add_argument("--pipeline", metavar="VIDEO", help="compare through `matchtag run` on this video")
    parser.add_argument("--chunk-s", type=float, default=10.0)
    parser.add_argument("--overlap-s", type=float, default=2.0)
    args = parser.parse_args(argv)
    if args.pipeline:
        res = compare_pipeline(args.pipeline, args.tags, args.chunk_s, args.overlap_s)
        print(json.dumps({"video": args.pipeline, "chunk_s": args.chunk_s, "overlap_s": args.overlap_s, **res},
                         indent=1))
        return 0
    poses = read_table(args.tags, "poses")
    out = {}
    for vid, g in poses.groupby("video_id", observed=True):
        boxes, scores = frames_of(g)
        out[str(vid)] = compare(boxes, scores, args.chunk_frames, args.overlap_frames)
    print(json.dumps({"chunk_frames": args.chunk_frames, "overlap_frames": args.overlap_frames, "videos": out},
                     indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
