"""Reading the tag tables back: pandas helpers for analysts and for our own tools."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow.dataset as ds

from schemas.tables import CONTEXT_COLUMNS, KEYPOINT_COLUMNS, PARTITION_COLUMN, TABLES, TORSO_COLUMNS
from tagging.core.keypoints import KEYPOINT_NAMES, NUM_KEYPOINTS
from tagging.core.types import Detections, FramePoses
from tagging.tables.load import load_table
from tagging.tables.store import read_commit, read_consistent, table_dataset


def read_table(tags_dir: str | Path, table: str, video_id: str | None = None,
               columns: list[str] | None = None) -> pd.DataFrame:
    """The committed rows of ``DIR/<table>``, typed as :mod:`tagging.tables.load` gives every
    table (``video_id`` first, a plain string; nullable integers).  ``video_id`` reads only
    that video, ``columns`` only those columns (and ``video_id``).  Each video's rows come
    from the one run its commit record names, even while another run is writing."""
    return load_table(tags_dir, table, video_id, columns=columns)


def read_tables(tags_dir: str | Path, tables: list[str] | tuple[str, ...] = TABLES, video_id: str | None = None,
                columns: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """Several tables from one snapshot of the commit records: for each video, the rows
    of every table come from the same run, even when a run commits meanwhile.

    ``{table: DataFrame}``; ``video_id`` and ``columns`` as in :func:`read_table`.
    """
    where = ds.field(PARTITION_COLUMN) == video_id if video_id is not None else None

    def read(records):
        return {t: table_dataset(tags_dir, t, records).to_table(columns=columns, filter=where).to_pandas()
                for t in tables}

    out = read_consistent(tags_dir, read)
    for df in out.values():
        if PARTITION_COLUMN in df.columns:
            df[PARTITION_COLUMN] = df[PARTITION_COLUMN].astype(str)
    return out


def keypoints_array(poses: pd.DataFrame) -> np.ndarray:
    """(N, 17, 3) x_px, y_px, score from the wide keypoint columns of ``poses`` rows."""
    return poses[list(KEYPOINT_COLUMNS)].to_numpy(np.float32).reshape(-1, NUM_KEYPOINTS, 3)


def _float_columns(poses: pd.DataFrame, columns: tuple[str, ...]) -> np.ndarray:
    cols = [poses[c].to_numpy(np.float32, na_value=np.nan) if c in poses.columns
            else np.full(len(poses), np.nan, np.float32) for c in columns]
    return np.stack(cols, 1).astype(np.float32) if len(poses) else np.zeros((0, len(columns)), np.float32)


def context_array(poses: pd.DataFrame) -> np.ndarray:
    """(N, CONTEXT_DIM) float32 scene context of ``poses`` rows, NaN where unknown (null, or a
    column the rows lack: output written before the context existed)."""
    return _float_columns(poses, CONTEXT_COLUMNS)


def torso_array(poses: pd.DataFrame) -> np.ndarray:
    """(N, 4) float32 torso colour of ``poses`` rows (:data:`schemas.tables.TORSO_COLUMNS`:
    L*, a*, b* on OpenCV's 8-bit scale, pitch share 0..1), NaN where unknown (null, or output
    written before schema version 3)."""
    return _float_columns(poses, TORSO_COLUMNS)


def pose_teams(poses: pd.DataFrame, tracks: pd.DataFrame) -> pd.Series:
    """The team of each of one video's ``poses`` rows (``a``/``b``/``other``/None), indexed
    like ``poses``: the track's ``tracks.team``, except rows of a track that changed kit
    (one id over two players) and rows without a track or team, which take the team of
    their own torso colour (:func:`tagging.track.teams.row_teams`).  ``poses`` needs
    ``track_id``, ``timestamp_ms`` and the torso columns (without them, as in output
    written before schema version 3, every row carries its track's team); ``tracks`` needs
    ``track_id`` and ``team``."""
    from tagging.track.teams import row_teams

    teams = {int(t): (v if isinstance(v, str) else None) for t, v in zip(tracks.track_id, tracks.team)}
    values = row_teams(poses.track_id.to_numpy(np.int64), poses.timestamp_ms.to_numpy(np.float64),
                       torso_array(poses), teams)
    return pd.Series(values, index=poses.index, dtype=object, name="team")


def frame_poses(poses: pd.DataFrame) -> FramePoses:
    """The rows of one frame back as a :class:`FramePoses`."""
    return FramePoses(poses[["bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2"]].to_numpy(np.float32),
                      poses["box_score"].to_numpy(np.float32), keypoints_array(poses),
                      poses["score"].to_numpy(np.float32), poses["track_id"].to_numpy(np.int64),
                      context=context_array(poses))


# The poses columns a FramePoses is built from (frame_poses).
POSE_COLUMNS = ["frame_index", "track_id", "score", "box_score",
                "bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", *KEYPOINT_COLUMNS]


def poses_by_frame(tags_dir: str | Path, video_id: str, start: int, stop: int,
                   block_frames: int = 250) -> Iterator[tuple[int, FramePoses]]:
    """``(frame_index, FramePoses)`` for every frame of ``[start, stop)`` that has poses, in
    frame order, read lazily ``block_frames`` frames at a time (a block is read only when
    the caller gets that far; each read is pushed down to the Parquet scan), so memory stays
    bounded however long the video."""
    dataset = table_dataset(tags_dir, "poses")
    in_video = ds.field(PARTITION_COLUMN) == video_id
    for a in range(start, stop, block_frames):
        b = min(a + block_frames, stop)
        block = dataset.to_table(columns=POSE_COLUMNS, filter=in_video & (ds.field("frame_index") >= a)
                                 & (ds.field("frame_index") < b)).to_pandas()
        block = block.sort_values("frame_index", kind="stable")
        frames = block["frame_index"].to_numpy()
        bounds = np.flatnonzero(np.diff(frames)) + 1
        for rows in np.split(np.arange(len(block)), bounds):
            if len(rows):
                yield int(frames[rows[0]]), frame_poses(block.iloc[rows])


def balls_by_frame(tags_dir: str | Path, video_id: str, start: int, stop: int) -> dict[int, Detections] | None:
    """``{frame_index: ball Detections}`` of ``[start, stop)`` from the ``balls`` table, frames
    without a ball absent; None when the stored run did not look for balls (written before the
    table existed, by MultiPose, or itself by ``--pose replay``): "unknown", not "no ball"."""
    record = read_commit(tags_dir, video_id)
    if record is None or not record.files.get("balls"):
        return None
    backend = table_dataset(tags_dir, "videos").to_table(
        columns=["pose_backend"], filter=ds.field(PARTITION_COLUMN) == video_id).column("pose_backend").to_pylist()
    if not backend or backend[0] is None or backend[0].startswith(("replay:", "movenet-multipose")):
        return None
    rows = table_dataset(tags_dir, "balls").to_table(
        columns=["frame_index", "x1", "y1", "x2", "y2", "score"],
        filter=(ds.field(PARTITION_COLUMN) == video_id) & (ds.field("frame_index") >= start)
        & (ds.field("frame_index") < stop)).to_pandas()
    return {int(f): Detections(g[["x1", "y1", "x2", "y2"]].to_numpy(np.float32), g["score"].to_numpy(np.float32))
            for f, g in rows.groupby("frame_index")}


def long_keypoints(poses: pd.DataFrame) -> pd.DataFrame:
    """One row per person, frame and keypoint: ``keypoint, x, y, kp_score`` beside the ids."""
    ids = [c for c in (PARTITION_COLUMN, "frame_index", "timestamp_ms", "track_id") if c in poses.columns]
    parts = []
    for name in KEYPOINT_NAMES:
        part = poses[ids].copy()
        part["keypoint"] = name
        part["x"] = poses[f"{name}_x"].to_numpy()
        part["y"] = poses[f"{name}_y"].to_numpy()
        part["kp_score"] = poses[f"{name}_score"].to_numpy()
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def coverage(tags_dir: str | Path) -> pd.DataFrame:
    """Per video: frames processed, share of frames with at least one pose, people per
    frame (mean and median over *all* processed frames), tracks and events.

    This is what ``matchtag evaluate coverage`` prints.
    """
    videos = read_table(tags_dir, "videos")
    poses = read_table(tags_dir, "poses", columns=[PARTITION_COLUMN, "frame_index"])
    tracks = read_table(tags_dir, "tracks", columns=[PARTITION_COLUMN, "track_id"])
    events = read_table(tags_dir, "events", columns=[PARTITION_COLUMN, "event_type"])
    out = []
    for v in videos.sort_values(PARTITION_COLUMN).itertuples():
        vid = v.video_id
        n = 0 if pd.isna(v.frames_processed) else int(v.frames_processed)
        per_frame = poses[poses[PARTITION_COLUMN] == vid].groupby("frame_index").size()
        counts = np.zeros(n, np.int64)
        counts[: len(per_frame)] = np.sort(per_frame.to_numpy())[::-1][:n]
        ev = events[events[PARTITION_COLUMN] == vid]["event_type"].value_counts()
        out.append({
            PARTITION_COLUMN: vid, "status": v.status, "frames": n,
            "frames_with_poses": float(len(per_frame) / n) if n else 0.0,
            "people_per_frame_mean": float(counts.mean()) if n else 0.0,
            "people_per_frame_median": float(np.median(counts)) if n else 0.0,
            "tracks": int((tracks[PARTITION_COLUMN] == vid).sum()),
            "events": {str(k): int(c) for k, c in ev.items()},
        })
    return pd.DataFrame(out)
