"""Tracking scored on real pixels: a ``matchtag run``'s tracks against MOT ground truth.

What is scored: the ``positions`` table by default (each track's detected boxes, plus its
boxes interpolated through gaps of up to 1.2 s: what the tracker outputs, as MOT
trackers are scored), and the ``poses`` table's tracked detections alone beside it.

Where tagging/evaluate/tracking.py simulates detections from ground truth, here the
detections are the pose stage's own: every row of the ``poses`` table is one detected
person (box, detector score, keypoints), tracked or not (``track_id`` -1).  The same
rows are what the peers get in ``bench/tracking_vs_peers.py --tags``.

**Frame mapping.** The table's ``frame_index`` is the 0-based decoded video frame; MOT
ground truth numbers frames from 1.  Video frame 0 is GT frame 1.  With ``--stride S``
only every S-th video frame went through pose inference: only those frames are scored
(GT on the other frames is left out, not counted as missed), renumbered 1..n.

Scoring is the same as for the simulated protocol (motmetrics IDF1/MOTA/ID switches at
IoU 0.5, trackeval HOTA): :func:`tagging.evaluate.tracking.sequence_scores`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tagging.evaluate.tracking import (
    FrameDetections,
    MotFormatError,
    MotSequence,
    TrackerOutput,
    combine,
    read_gt,
    sequence_scores,
)

FRAME_MAPPING = "video frame_index 0 = GT frame 1 (only frames that went through pose inference are scored)"


@dataclass
class RunDetections:
    """One video of a run, frame by frame over its processed frames.

    ``frame_index``: (n,) 0-based video frame of each processed frame; ``dets``: the
    pose stage's boxes, detector scores and keypoints per processed frame (index i =
    ``frame_index[i]``), ``dets.gt_id`` all -1; ``track_id[i]``: (N_i,) the run's ids (-1 = none).
    """

    video_id: str
    fps: float
    stride: int
    width_px: int
    height_px: int
    frame_index: np.ndarray
    dets: FrameDetections
    track_id: list

    @property
    def processed_fps(self) -> float:
        """Processed frames per second of video."""
        return self.fps / self.stride


def _check_processed(tags, video_id: str, table: str, frame_index: np.ndarray, processed: np.ndarray,
                     stride: int) -> None:
    """Raise MotFormatError when ``table`` has a row on a frame the run did not process."""
    stray = ~np.isin(frame_index, processed)
    if stray.any():
        raise MotFormatError(f"{tags}: video {video_id!r} has {table} on frame {frame_index[stray][0]}, which is "
                             f"not a processed frame (stride {stride}, {len(processed)} processed)")


def load_run(tags: str | Path, video_id: str | None = None) -> RunDetections:
    """Read one video's processed frames from the ``videos`` and ``poses`` tables under ``tags``.

    ``video_id`` may be left out when the run holds one video.  Raises MotFormatError
    (naming ``tags``) for a missing table, an unknown or ambiguous video, or a failed video.
    """
    from schemas.tables import KEYPOINT_COLUMNS
    from tagging.tables.load import load_poses, load_videos

    try:
        videos = load_videos(tags)
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise MotFormatError(f"{tags}: no readable videos table ({exc})") from exc
    if video_id is None:
        if len(videos) != 1:
            raise MotFormatError(f"{tags}: holds {len(videos)} videos ({', '.join(videos.video_id)}); "
                                 "choose one with --video-id")
        video_id = str(videos.video_id.iloc[0])
    row = videos[videos.video_id == video_id]
    if row.empty:
        raise MotFormatError(f"{tags}: no video {video_id!r} (has: {', '.join(videos.video_id)})")
    row = row.iloc[-1]
    if row.status == "failed" or row.frame_count is None or str(row.frame_count) == "<NA>":
        raise MotFormatError(f"{tags}: video {video_id!r} failed ({row.error}); nothing to score")
    if isinstance(row.tagging_config, str):
        stride = int(json.loads(row.tagging_config).get("options", {}).get("stride") or 1)
    else:       # a table without its config: the stride that explains the frame counts
        stride = max(1, int(np.ceil(int(row.frame_count) / max(int(row.frames_processed or 0), 1))))
    processed = np.arange(0, int(row.frame_count), stride)[:int(row.frames_processed or 0)]
    poses = load_poses(tags, video_id, columns=["frame_index", "track_id", "box_score",
                                                "bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", *KEYPOINT_COLUMNS])
    fi = poses.frame_index.to_numpy(np.int64)
    boxes = poses[["bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2"]].to_numpy(np.float64)
    kps = poses[list(KEYPOINT_COLUMNS)].to_numpy(np.float32).reshape(-1, len(KEYPOINT_COLUMNS) // 3, 3)
    score = poses.box_score.to_numpy(np.float64)
    tid = poses.track_id.to_numpy(np.int64)
    _check_processed(tags, video_id, "poses", fi, processed, stride)
    order = np.argsort(fi, kind="stable")
    cuts = np.searchsorted(fi[order], np.concatenate([processed, [np.iinfo(np.int64).max]]))
    sl = [order[cuts[i]:cuts[i + 1]] for i in range(len(processed))]
    dets = FrameDetections([boxes[s] for s in sl], [score[s] for s in sl],
                           [np.full(len(s), -1, np.int64) for s in sl], [kps[s] for s in sl])
    return RunDetections(video_id, float(row.fps), stride, int(row.width), int(row.height), processed, dets,
                         [tid[s] for s in sl])


def gt_for_run(gt_path: str | Path, run: RunDetections) -> MotSequence:
    """The ground truth of ``gt_path`` on the run's processed frames, renumbered 1..n (module doc).

    GT frames the run never processed (between strided frames, or past ``--max-frames``)
    are left out."""
    frame, track_id, xyxy = read_gt(Path(gt_path), None)
    video_frame = frame - 1                      # GT frame 1 = video frame 0
    keep = np.isin(video_frame, run.frame_index)
    ordinal = np.searchsorted(run.frame_index, video_frame[keep]) + 1
    return MotSequence(run.video_id, len(run.frame_index), run.width_px, run.height_px, run.processed_fps,
                       ordinal.astype(np.int64), track_id[keep], xyxy[keep])


def score_tracks(seq: MotSequence, out: TrackerOutput) -> dict:
    """IDF1, HOTA, MOTA, ID switches ... (:func:`combine`) plus ids out / in GT for one sequence."""
    acc, hota = sequence_scores(seq, out)
    return {**combine({seq.name: acc}, {seq.name: hota}),
            "ids_out": int(len(np.unique(out.track_id))), "ids_in_gt": int(len(np.unique(seq.track_id)))}


BOXES = ("auto", "positions", "poses")


def _positions_output(tags, run: RunDetections) -> TrackerOutput | None:
    """The run's ``positions`` table (its tracks' boxes on every frame, short gaps filled) as
    tracker output on the processed frames, or None when the run has none (written before
    schema version 4)."""
    from tagging.tables.load import load_positions

    pos = load_positions(tags, run.video_id, columns=["frame_index", "track_id", "bbox_x1", "bbox_y1",
                                                       "bbox_x2", "bbox_y2"])
    if pos.empty:
        return None
    fi = pos.frame_index.to_numpy(np.int64)
    _check_processed(tags, run.video_id, "positions", fi, run.frame_index, run.stride)
    return TrackerOutput(np.searchsorted(run.frame_index, fi).astype(np.int64) + 1,
                         pos.track_id.to_numpy(np.int64),
                         pos[["bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2"]].to_numpy(np.float64))


def evaluate_run(tags: str | Path, gt_path: str | Path, video_id: str | None = None, boxes: str = "auto") -> dict:
    """Score a run's tracks against ``gt_path``.

    ``boxes="positions"``: the ``positions`` table, every box the tracker output (detections
    and gaps of up to 1.2 s filled between two detections of the same id), as MOT
    trackers are scored; ``"poses"``: the ``poses`` table's tracked detections only;
    ``"auto"`` (default): positions when the run has that table, else poses.  The result
    also holds the detections-only scores under ``"detections_only"``.
    """
    if boxes not in BOXES:
        raise ValueError(f"boxes must be one of {BOXES}; got {boxes!r}")
    run = load_run(tags, video_id)
    seq = gt_for_run(gt_path, run)
    detected = score_tracks(seq, TrackerOutput.from_frame_ids(run.dets, run.track_id))
    positions = None if boxes == "poses" else _positions_output(tags, run)
    if boxes == "positions" and positions is None:
        raise MotFormatError(f"{tags}: video {run.video_id!r} has no positions table (written before schema "
                             "version 4?); score its poses with --boxes poses")
    scored = detected if positions is None else score_tracks(seq, positions)
    gt_frames = len(np.unique(read_gt(Path(gt_path), None)[0]))
    return {"video_id": run.video_id, "gt": str(gt_path), "frame_mapping": FRAME_MAPPING, "stride": run.stride,
            "fps": run.fps, "frames_scored": len(run.frame_index),
            "gt_frames_not_scored": gt_frames - len(np.unique(seq.frame)),
            "boxes": "poses" if positions is None else "positions", **scored,
            "detections_only": {k: detected[k] for k in ("IDF1", "HOTA", "MOTA", "id_switches", "ids_out")}}
