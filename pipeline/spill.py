"""Spill files: a run's poses, kept in files between the pose stage and the writers.

Why: a shuffle's whole input sits in the local FnApiRunner's memory until the next
stage starts, so when every pose row crossed three shuffles (to join track ids, to
gather tracks, to write), memory grew with the match: about 370 MB per minute of
match.  Now the pose stage's output is written to spill files, a block of frames per
file, and only references to them (:class:`SpillRef`, a few hundred bytes per block of
``--range-frames`` frames) and each segment's tracked boxes cross shuffles.  The steps
that need the frames (tracking a segment, writing a block's rows, gathering a track)
read them back.

Layout: ``OUTPUT/_spill/<run_id>/<video_id>/<first frame>-<random>.frames`` (the frames
of one block: a pickle of ``[(frame_index, timestamp_ms, FramePoses)]``, private to the
run that wrote it) and ``.../<first frame>-<random>.tracks.npz`` (the same block's
tracked people, by track, for the per-track steps); and per tracked segment
``.../segment-<k>-<random>.ids.npz`` (which of the segment's tracks each of its boxes is
in, so that the stitch needs only a small view of each segment); and per track
``.../track-<id>-<random>.positions.npz`` (its boxes on every frame, gaps filled, by block
of frames, for the ``positions`` writer).  A video's folder is removed when
it is committed or given up; the run's folder when the run ends
(:meth:`pipeline.commit.RunLock.finish`); a killed run's folder by the next run
(:func:`pipeline.commit.remove_dead_runs`).
"""

from __future__ import annotations

import io
import os
import pickle
import uuid
from dataclasses import dataclass

import numpy as np
from apache_beam.io.filesystems import FileSystems

SPILL_DIR = "_spill"


def _local(path: str) -> bool:
    return "://" not in path


def _join(*parts: str) -> str:
    return os.path.join(*parts) if _local(parts[0]) else FileSystems.join(*parts)


def spill_root(output: str, run_id: str) -> str:
    """The folder of one run's spill files."""
    return _join(output, SPILL_DIR, run_id)


def spill_video_dir(output: str, run_id: str, video_id: str) -> str:
    """The folder of one video's spill files in one run."""
    return _join(spill_root(output, run_id), video_id)


@dataclass(frozen=True)
class SpillRef:
    """Where one block of a video's frames was spilled, and what it holds: frames
    ``first_frame..last_frame`` (video frame indices; ``frames`` of them, not all of
    that span when other frames went to another block) between ``first_ms`` and
    ``last_ms`` of container time."""

    path: str
    video_id: str
    first_frame: int
    last_frame: int
    first_ms: float
    last_ms: float
    frames: int


def _write(path: str, data: bytes) -> None:
    if _local(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)  # a retried bundle never reads a torn file
    else:
        with FileSystems.create(path) as fh:
            fh.write(data)


def _read(path: str) -> bytes:
    if _local(path):
        with open(path, "rb") as fh:
            return fh.read()
    with FileSystems.open(path) as fh:
        return fh.read()


def write_frames(root: str, video_id: str, frames: list) -> SpillRef:
    """Spill ``frames`` (``(frame_index, timestamp_ms, FramePoses)``, any order) of one video."""
    frames = sorted(frames, key=lambda f: f[0])
    first = int(frames[0][0])
    path = _join(root, video_id, f"{first:09d}-{uuid.uuid4().hex[:8]}.frames")
    _write(path, pickle.dumps(frames, protocol=pickle.HIGHEST_PROTOCOL))
    times = [float(f[1]) for f in frames]
    return SpillRef(path, video_id, first, int(frames[-1][0]), min(times), max(times), len(frames))


def read_frames(ref: SpillRef) -> list:
    """The ``(frame_index, timestamp_ms, FramePoses)`` of a block, in frame order."""
    return pickle.loads(_read(ref.path))


def apply_ids(ref: SpillRef, ids: tuple[np.ndarray, np.ndarray, np.ndarray], stride: int) -> list:
    """A block's frames with track ids filled in.

    ``ids``: ``(ordinals, det_index, track_id)`` arrays, ordinal = ``frame_index // stride``;
    ids of frames that are not in this block are ignored, people without one keep -1."""
    ords, dets, tids = ids
    frames = read_frames(ref)
    order = np.argsort(ords, kind="stable")
    ords, dets, tids = ords[order], dets[order], tids[order]
    for frame_index, _ts, poses in frames:
        o = int(frame_index) // stride
        lo, hi = np.searchsorted(ords, o, "left"), np.searchsorted(ords, o, "right")
        track_id = np.full(len(poses), -1, np.int64)
        track_id[dets[lo:hi]] = tids[lo:hi]
        poses.track_id = track_id
    return frames


# ------------------------------------------------------------------ per-track observations

_FIELDS = ("frame_index", "timestamp_ms", "score", "keypoints", "appearance", "context", "xyxy")


def write_track_parts(ref: SpillRef, frames: list) -> tuple[str, list[int]]:
    """Write the tracked people of a block's (id-filled) frames grouped by track, beside the
    block; returns the file and the track ids in it."""
    def column(get, dtype):
        return np.concatenate([np.asarray(get(f), dtype) for f in frames]) if frames else np.zeros(0, dtype)

    tid = column(lambda f: f[2].track_id, np.int64)
    cols = {"frame_index": column(lambda f: np.full(len(f[2]), f[0]), np.int64),
            "timestamp_ms": column(lambda f: np.full(len(f[2]), f[1]), np.float64),
            "score": column(lambda f: f[2].score, np.float32),
            "keypoints": column(lambda f: f[2].keypoints, np.float32),
            "appearance": column(lambda f: f[2].appearance, np.float32),
            "context": column(lambda f: f[2].context, np.float32),
            "xyxy": column(lambda f: f[2].xyxy, np.float32)}
    # frames are in frame order, so a stable sort by track keeps each track's frames in order
    order = np.argsort(tid, kind="stable")
    order = order[tid[order] >= 0]
    track_ids, starts = np.unique(tid[order], return_index=True)
    arrays = {}
    for t, rows in zip(track_ids.tolist(), np.split(order, starts[1:])):
        arrays.update({f"{t}.{name}": col[rows] for name, col in cols.items()})
    path = ref.path.removesuffix(".frames") + ".tracks.npz"
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    _write(path, buf.getvalue())
    return path, track_ids.tolist()


def read_track_part(path: str, track_id: int) -> tuple[np.ndarray, ...]:
    """One track's ``(frame_index, timestamp_ms, score, keypoints, appearance, context, xyxy)`` in
    one block (see :class:`tagging.track.sequences.TrackSeq` for shapes)."""
    # a local .npz is read member by member: a track reads only its own arrays
    with np.load(path if _local(path) else io.BytesIO(_read(path))) as npz:
        return tuple(npz[f"{track_id}.{f}"] for f in _FIELDS)


# ------------------------------------------------------------------ tracked segments

def write_segment_ids(root: str, video_id: str, k: int, tracks) -> str:
    """Write which track each observed box of a tracked segment is in: ``(track index in
    the segment, ordinal, det_index)``, beside the video's blocks; returns the file."""
    parts = [(np.full(int(t.observed.sum()), i, np.int64), t.frame[t.observed], t.det_index[t.observed])
             for i, t in enumerate(tracks)]
    cols = [np.concatenate([p[c] for p in parts] + [np.zeros(0, np.int64)]).astype(np.int64) for c in range(3)]
    path = _join(root, video_id, f"segment-{k:06d}-{uuid.uuid4().hex[:8]}.ids.npz")
    buf = io.BytesIO()
    np.savez(buf, track=cols[0], ordinal=cols[1], det_index=cols[2])
    _write(path, buf.getvalue())
    return path


def block_ids(parts: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ordinals, det_index, track_id)`` of one block from the segments that own its frames:
    ``parts`` = ``[(segment ids file, first ordinal, stop ordinal, global id per track)]``
    (id 0: the track has no box in the frames that segment owns)."""
    out = [np.zeros(0, np.int64)] * 3
    for path, lo, hi, ids in parts:
        with np.load(path if _local(path) else io.BytesIO(_read(path))) as npz:
            track, ords, dets = npz["track"], npz["ordinal"], npz["det_index"]
        tids = np.asarray(ids, np.int64)[track]
        keep = (ords >= lo) & (ords < hi) & (tids > 0)
        out = [np.concatenate([a, b[keep]]) for a, b in zip(out, (ords, dets, tids))]
    order = np.argsort(out[0], kind="stable")
    return out[0][order], out[1][order], out[2][order]


# ------------------------------------------------------------------ track positions

_POSITION_FIELDS = ("frame_index", "timestamp_ms", "xyxy", "observed")


def write_track_positions(root: str, video_id: str, track_id: int, by_block: dict) -> str:
    """Write one track's positions (``{block: tagging.track.positions.Positions}``) beside the
    video's blocks; returns the file."""
    arrays = {f"{b}.{name}": getattr(pos, name) for b, pos in by_block.items() for name in _POSITION_FIELDS}
    path = _join(root, video_id, f"track-{track_id}-{uuid.uuid4().hex[:8]}.positions.npz")
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    _write(path, buf.getvalue())
    return path


def read_track_positions(path: str, block: int) -> tuple[np.ndarray, ...]:
    """One track's ``(frame_index, timestamp_ms, xyxy, observed)`` in one block."""
    with np.load(path if _local(path) else io.BytesIO(_read(path))) as npz:
        return tuple(npz[f"{block}.{f}"] for f in _POSITION_FIELDS)


def remove_spill(path: str) -> None:
    """Remove a spill folder (a video's or a whole run's); quiet if it is gone."""
    if _local(path):
        import shutil

        shutil.rmtree(path, ignore_errors=True)
        parent = os.path.dirname(path.rstrip("/"))
        for folder in (parent, os.path.dirname(parent)):   # the run's and _spill, once empty
            if SPILL_DIR in folder.split(os.sep):
                try:
                    os.rmdir(folder)
                except OSError:
                    pass
        return
    try:  # object stores have no folders: delete every object under the prefix
        found = FileSystems.match([path.rstrip("/") + "/**"])[0].metadata_list
        if found:
            FileSystems.delete([m.path for m in found])
    except Exception:  # a concurrent clean-up, or an object store that lists lazily
        pass

