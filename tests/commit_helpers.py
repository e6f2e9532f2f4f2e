"""Helpers for the commit tests and bench/kill_sweep.py: hand-made committed outputs,
forked runs, and the reader-side check that no video mixes runs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pipeline.commit import commit_video, write_part
from schemas.tables import KEYPOINT_COLUMNS, TABLES, file_schema
from tagging.tables.queries import read_tables
from tagging.tables.store import commit_records, table_dataset

SEED_RUN = "20200101T000000Z-seed00"


def synthetic_pose_rows(video_id: str, frames: int, people: int = 2) -> list[dict]:
    """Hand-made (not model) poses: ``people`` upright figures sliding right 6 px a frame
    over the astronaut clips' 640x480 canvas; every keypoint scored 0.9."""
    rows = []
    for i in range(frames):
        for k in range(people):
            x1, y1 = 100.0 + 150 * k + 6 * i, 100.0
            x2, y2 = x1 + 100, 400.0
            kps = np.stack([np.linspace(x1 + 10, x2 - 10, 17), np.linspace(y1 + 10, y2 - 10, 17),
                            np.full(17, 0.9)], axis=1).ravel()
            row = {"video_id": video_id, "frame_index": i, "timestamp_ms": i * 100.0, "track_id": -1,
                   "score": 0.9, "box_score": 0.95, "bbox_x1": x1, "bbox_y1": y1, "bbox_x2": x2, "bbox_y2": y2}
            row.update(zip(KEYPOINT_COLUMNS, kps.tolist()))
            rows.append(row)
    return rows


def _blank(table: str, video_id: str, **values) -> dict:
    defaults = {"string": "x", "double": 0.0, "float": 0.0, "int64": 0, "int32": 0}
    row = {f.name: (None if f.nullable else defaults[str(f.type)]) for f in file_schema(table)}
    return {**row, "video_id": video_id, **values}


def commit_synthetic(root: str | Path, run_id: str, video_id: str, poses: list[dict], tracks: int = 1,
                     status: str = "ok", balls: list[dict] | None = None) -> dict[str, list[str]]:
    """Write and commit one video by hand; every table says which run wrote it (videos.run_id,
    events.model) and how big it is (poses and tracks row counts)."""
    root = str(root)
    frames = len({r["frame_index"] for r in poses})
    rows = {"videos": [_blank("videos", video_id, path=f"/nowhere/{video_id}.avi", status=status, run_id=run_id,
                              frames_processed=frames, sha256="0" * 64, tagging_config="{}")],
            "poses": poses,
            "tracks": [_blank("tracks", video_id, track_id=t) for t in range(tracks)],
            "events": [_blank("events", video_id, model=run_id)],
            "balls": balls or [],
            "positions": [{"video_id": video_id, "frame_index": r["frame_index"], "timestamp_ms": r["timestamp_ms"],
                           "track_id": r["track_id"], **{c: r[c] for c in ("bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2")},
                           "observed": True} for r in poses if r["track_id"] >= 0]}
    files = {t: [write_part(root, run_id, t, video_id, 0, rows[t])] for t in TABLES}
    commit_video(root, run_id, video_id, files, rows["videos"][0])
    return files


def mixed_videos(root: str | Path) -> list[str]:
    """Videos whose four tables, read as the README says (one snapshot of the commit
    records), do not all come from the run in their ``videos`` row."""
    records = commit_records(root)
    tables = read_tables(root)
    bad = set()
    run_of = dict(zip(tables["videos"].video_id, tables["videos"].run_id))
    for table in TABLES:
        for path in table_dataset(root, table, records).files:
            vid = Path(path).parent.name.split("=", 1)[1]
            if not Path(path).name.startswith(f"{run_of.get(vid)}-"):
                bad.add(vid)
    for vid in set(tables["poses"].video_id) | set(tables["tracks"].video_id):
        if vid not in run_of:
            bad.add(vid)
    return sorted(bad)


def run_forked(fn) -> int:
    """Run ``fn()`` in a forked child (imports already paid for) and return its exit code;
    ``fn`` may end the child itself with ``os._exit``."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 99
        try:
            code = int(fn() or 0)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)
