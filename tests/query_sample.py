"""A small synthetic ``matchtag run`` output for the query API's tests and docs/querying.md.

No model runs: the rows are made up, written with the schemas of ``schemas.tables`` in the
same layout as the pipeline's (``DIR/<table>/video_id=<id>/part-….parquet`` and a commit record per video, ``DIR/runs/
run_id=<id>/run.parquet``).  Stick figures stand and walk; a throw-in's thrower has both
wrists above the head around the peak.

- ``match-1``: 95 minutes at 1 pose frame per second (``--stride 25`` of a 25 fps video),
  second half from 47:30; manifest metadata (home "Rovers", away "United"); tracks 1-3 team
  "a", 4-5 "b", 6 "other", 7 unknown (null); throw-ins, kicks and a celebration;
- ``match-2``: 10 minutes, no manifest metadata, two throw-ins;
- ``broken``: a failed video (null fps, frame_count, width, height), no other rows;
- two runs, the second listing ``broken``'s failure.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from schemas.tables import CONTEXT_COLUMNS, KEYPOINT_NAMES, RUNS, TABLES, TORSO_COLUMNS, file_schema
from tagging.tables.store import CommitRecord, commit_local

FPS = 25.0
STRIDE = 25
WIDTH, HEIGHT = 768, 432
SECOND_HALF_S = 47 * 60 + 30
ROW_GROUP_ROWS = 2000   # several row groups per poses file, so time filters can skip some

# (x, y) of each COCO keypoint for a standing person 1 unit tall, origin at the feet.
_STANDING = {"nose": (0, -0.93), "left_eye": (-0.02, -0.95), "right_eye": (0.02, -0.95),
             "left_ear": (-0.04, -0.94), "right_ear": (0.04, -0.94),
             "left_shoulder": (-0.1, -0.8), "right_shoulder": (0.1, -0.8),
             "left_elbow": (-0.13, -0.63), "right_elbow": (0.13, -0.63),
             "left_wrist": (-0.14, -0.47), "right_wrist": (0.14, -0.47),
             "left_hip": (-0.07, -0.5), "right_hip": (0.07, -0.5),
             "left_knee": (-0.07, -0.26), "right_knee": (0.07, -0.26),
             "left_ankle": (-0.07, 0.0), "right_ankle": (0.07, 0.0)}
_ARMS_UP = {"left_elbow": (-0.08, -1.0), "right_elbow": (0.08, -1.0),
            "left_wrist": (-0.06, -1.15), "right_wrist": (0.06, -1.15)}

# video -> (duration s, {track: team}, [(event_type, track, peak s)], manifest metadata)
VIDEOS = {
    "match-1": (95 * 60, {1: "a", 2: "a", 3: "a", 4: "b", 5: "b", 6: "other", 7: None},
                [("throw_in", 2, 600.0), ("kick", 1, 1500.0), ("throw_in", 4, 2100.0),
                 ("throw_in", 3, 3000.0), ("kick", 5, 3300.0), ("throw_in", 5, 4000.0),
                 ("throw_in", 1, 5100.0), ("celebration", 2, 5200.0)],
                {"competition": "Demo League", "season": "2026/27", "match_date": "2026-11-28",
                 "home": "Rovers", "away": "United"}),
    "match-2": (10 * 60, {1: "a", 2: "b", 3: "b"}, [("throw_in", 1, 120.0), ("throw_in", 3, 480.0)], {}),
}


def _figures(x: np.ndarray, height: np.ndarray, arms_up: np.ndarray) -> np.ndarray:
    """(N, 17, 3) x_px, y_px, score of figures whose feet are at (x, 380)."""
    standing = np.array([_STANDING[n] for n in KEYPOINT_NAMES], np.float32)
    up = np.array([{**_STANDING, **_ARMS_UP}[n] for n in KEYPOINT_NAMES], np.float32)
    shape = np.where(arms_up[:, None, None], up, standing)                # (N, 17, 2)
    xy = np.stack([x[:, None], np.full((len(x), 1), 380.0)], -1) + shape * height[:, None, None]
    return np.concatenate([xy, np.full((len(x), len(KEYPOINT_NAMES), 1), 0.8)], -1).astype(np.float32)


def _write(table: pa.Table, path: Path, **kwargs) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, **kwargs)


def _video_tables(duration_s: int, teams: dict, events: list) -> tuple[dict, list, list]:
    """Columns of the poses file, rows of the tracks and events files."""
    frames = np.arange(0, duration_s)
    tids = np.array(list(teams), np.int64)
    f, tid = (m.ravel() for m in np.meshgrid(frames, tids, indexing="ij"))   # frame-major rows
    raised = {(t, s) for _, t, peak in events for s in range(int(peak) - 1, int(peak) + 2)}
    kp = _figures((40 + (tid * 97 + f * (3 + tid)) % (WIDTH - 80)).astype(np.float32),
                  (70.0 + 4 * tid).astype(np.float32), np.array([(t, s) in raised for t, s in zip(tid, f)]))
    poses = {"frame_index": f * STRIDE, "timestamp_ms": f * 1000.0, "track_id": tid,
             "score": np.full(len(f), 0.8), "box_score": np.full(len(f), 0.9),
             "bbox_x1": kp[..., 0].min(1), "bbox_y1": kp[..., 1].min(1),
             "bbox_x2": kp[..., 0].max(1), "bbox_y2": kp[..., 1].max(1)}
    for i, name in enumerate(KEYPOINT_NAMES):
        poses.update({f"{name}_x": kp[:, i, 0], f"{name}_y": kp[:, i, 1], f"{name}_score": kp[:, i, 2]})
    poses.update({c: [None] * len(f) for c in (*CONTEXT_COLUMNS, *TORSO_COLUMNS)})   # context, colour unknown
    tracks = [{"track_id": tid, "first_frame": 0, "last_frame": int(frames[-1] * STRIDE), "first_ms": 0.0,
               "last_ms": float(frames[-1] * 1000), "frame_count": len(frames), "mean_score": 0.8, "team": team}
              for tid, team in teams.items()]
    rows = [{"event_type": et, "track_id": tid, "start_ms": (peak - 1) * 1000, "end_ms": (peak + 1) * 1000,
             "peak_ms": peak * 1000, "confidence": 0.9, "model": "synthetic-sample"} for et, tid, peak in events]
    return poses, tracks, rows


def write_sample_output(root: str | Path) -> Path:
    """Write the sample under ``root`` (created); returns ``root`` as a Path."""
    root = Path(root)
    run_1, run_2 = "20261128T200000Z-aaaaaa", "20261129T200000Z-bbbbbb"
    tagged = dt.datetime(2026, 11, 29, 20, 5, tzinfo=dt.timezone.utc)
    for vid, (duration, teams, events, meta) in VIDEOS.items():
        poses, tracks, rows = _video_tables(duration, teams, events)
        part = f"video_id={vid}/part-00000-of-00001.parquet"
        _write(pa.table(poses, schema=file_schema("poses")), root / "poses" / part, row_group_size=ROW_GROUP_ROWS)
        _write(pa.Table.from_pylist(tracks, schema=file_schema("tracks")), root / "tracks" / part)
        _write(pa.Table.from_pylist(rows, schema=file_schema("events")), root / "events" / part)
        _write(file_schema("balls").empty_table(), root / "balls" / part)
        # positions: the tracked detections (no gaps to fill in this sample)
        tracked = pa.table(poses, schema=file_schema("poses")).filter(pc.field("track_id") >= 0)
        positions = {c: tracked.column(c) for c in file_schema("positions").names if c != "observed"}
        positions["observed"] = pa.array([True] * tracked.num_rows)
        _write(pa.table(positions, schema=file_schema("positions")), root / "positions" / part)
        video = {"path": f"/matches/{vid}.mp4", "sha256": f"{len(vid):064x}", "fps": FPS,
                 "frame_count": duration * int(FPS), "width": WIDTH, "height": HEIGHT,
                 "duration_ms": duration * 1000.0, "status": "ok", "frames_processed": duration,
                 "pose_backend": "centernet+autotiles/movenet-thunder+flip", "pipeline_version": "sample",
                 "run_id": run_2, "tagged_at": tagged, **meta}
        _write(pa.Table.from_pylist([video], schema=file_schema("videos")), root / "videos" / part)
    broken = "video_id=broken/part-00000-of-00001.parquet"
    for table in ("poses", "tracks", "events", "balls", "positions"):
        _write(file_schema(table).empty_table(), root / table / broken)
    failed = {"path": "/matches/broken.mp4", "status": "failed", "error": "/matches/broken.mp4: not a video",
              "frames_processed": 0, "run_id": run_2, "tagged_at": tagged}
    _write(pa.Table.from_pylist([failed], schema=file_schema("videos")), root / "videos" / broken)
    # the commit record of each video names its files (tagging.tables.store): readers list
    # only committed files, as they do for the pipeline's own outputs
    for vid in (*VIDEOS, "broken"):
        part = f"video_id={vid}/part-00000-of-00001.parquet"
        commit_local(root, CommitRecord(vid, run_2, {t: [f"{t}/{part}"] for t in TABLES},
                                        status="failed" if vid == "broken" else "ok"))
    runs_files = RUNS.remove(RUNS.get_field_index("run_id"))
    for run_id, day, failures in ((run_1, 28, []), (run_2, 29, ["broken: /matches/broken.mp4: not a video"])):
        start = dt.datetime(2026, 11, day, 20, tzinfo=dt.timezone.utc)
        row = {"started_at": start, "ended_at": start + dt.timedelta(minutes=9), "state": "DONE",
               "runner": "DirectRunner", "videos_total": 3 if failures else 2, "videos_ok": 2,
               "videos_partial": 0, "videos_failed": len(failures), "videos_skipped": 0, "failures": failures}
        _write(pa.Table.from_pylist([row], schema=runs_files), root / "runs" / f"run_id={run_id}" / "run.parquet")
    return root
