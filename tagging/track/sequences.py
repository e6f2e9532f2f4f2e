"""Tracking entry points for the pipeline, and the plain IoU tracker kept as a baseline.

:func:`track_frames` runs the Kalman/ByteTrack tracker with whole-video association
(tagging/track/online.py, tagging/track/offline.py; docs/tracking.md) by default; given an
:class:`IoUTrackerConfig` it runs the plain IoU tracker below instead.

The IoU tracker: each frame, live tracks are matched to detections by maximum total IoU
(Hungarian assignment) above ``iou_threshold``.  Unmatched detections above
``new_track_score`` start tracks; tracks unseen for more than ``max_age_frames``
processed frames end.  Track ids start at 1 and are unique within one tracker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from tagging.core.boxes import iou_matrix
from tagging.track.offline import ids_per_frame, track_video
from tagging.track.online import TrackerConfig


@dataclass(frozen=True)
class IoUTrackerConfig:
    iou_threshold: float = 0.3
    max_age_frames: int = 5          # processed frames a track may go unmatched
    new_track_score: float = 0.25    # min detection score to start a track (= detector threshold)


@dataclass
class _Track:
    track_id: int
    xyxy: np.ndarray
    last_step: int


@dataclass
class IoUTracker:
    config: IoUTrackerConfig = field(default_factory=IoUTrackerConfig)

    def __post_init__(self) -> None:
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._step = 0

    def update(self, xyxy: np.ndarray, score: np.ndarray) -> np.ndarray:
        """Assign ids to one frame's boxes ((N, 4) px, (N,) score); returns (N,) int64, -1 = none."""
        cfg = self.config
        xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4)
        score = np.asarray(score, np.float32).reshape(-1)
        ids = np.full(len(xyxy), -1, np.int64)
        # frames a track has gone unmatched before this one: step - last_step - 1
        self._tracks = [t for t in self._tracks if self._step - t.last_step - 1 <= cfg.max_age_frames]
        if self._tracks and len(xyxy):
            iou = iou_matrix(np.stack([t.xyxy for t in self._tracks]), xyxy)
            rows, cols = linear_sum_assignment(-iou)
            for r, c in zip(rows, cols):
                if iou[r, c] >= cfg.iou_threshold:
                    track = self._tracks[r]
                    track.xyxy, track.last_step = xyxy[c], self._step
                    ids[c] = track.track_id
        for c in np.nonzero((ids < 0) & (score >= cfg.new_track_score))[0]:
            self._tracks.append(_Track(self._next_id, xyxy[c], self._step))
            ids[c] = self._next_id
            self._next_id += 1
        self._step += 1
        return ids


@dataclass(frozen=True)
class TrackSummary:
    """One track of one video: frame span and mean pose score."""

    track_id: int
    first_frame: int
    last_frame: int
    first_ms: float
    last_ms: float
    frame_count: int
    mean_score: float


# The pose stage's person detector scores people lower than the SportsMOT protocol's
# simulated detector (median box_score 0.33-0.46 on our real clips, cut at 0.25), and
# ByteTrack's split must follow the detector: at 0.5/0.6 only 5-20 % of the people in
# soccer_wide_dfl and street_crowd ever started a track; at 0.3/0.35, 65-75 % of boxes
# are tracked, in 29 and 23 tracks (the IoU tracker made 110 and 83).
PIPELINE_TRACKER_CONFIG = TrackerConfig(high_score=0.3, new_track_score=0.35)


def track_frames(frames, config: TrackerConfig | IoUTrackerConfig = PIPELINE_TRACKER_CONFIG,
                 mode: str = "offline"):
    """Track a whole video.

    ``frames``: iterable of ``(frame_index, timestamp_ms, FramePoses)`` in any order.
    Returns the same triples sorted by frame index, each FramePoses with ``track_id``
    filled in (people in no track keep -1).  ``mode``: "offline" (whole-video
    association, the default) or "online" (frame by frame); ignored for the IoU tracker.
    The motion model steps once per *processed* frame (frames present here).
    """
    ordered = sorted(frames, key=lambda f: f[0])
    if isinstance(config, IoUTrackerConfig):
        tracker = IoUTracker(config)
        for _, _, poses in ordered:
            poses.track_id = tracker.update(poses.xyxy, poses.box_score)
        return ordered
    from tagging.track.segments import processed_fps

    fps = processed_fps(np.arange(len(ordered)), [ts for _, ts, _ in ordered])
    tracks = track_video([p.xyxy for _, _, p in ordered], [p.box_score for _, _, p in ordered], config, mode,
                         keypoints=[p.keypoints for _, _, p in ordered],
                         colours=[p.appearance for _, _, p in ordered], fps=fps)
    for (_, _, poses), ids in zip(ordered, ids_per_frame(tracks, [len(p) for _, _, p in ordered])):
        poses.track_id = ids
    return ordered


@dataclass
class TrackSeq:
    """Everything one track of one video holds, in frame order (the per-track unit of the
    pipeline's table and event steps): ``frame_index`` (T,), ``timestamp_ms`` (T,),
    ``score`` (T,) pose score, ``keypoints`` (T, 17, 3), ``appearance`` (T, 4) torso colours,
    ``context`` (T, CONTEXT_DIM) ball and pitch context (tagging.core.types.CONTEXT_COLUMNS),
    ``xyxy`` (T, 4) the detection's box in frame pixels."""

    track_id: int
    frame_index: np.ndarray
    timestamp_ms: np.ndarray
    score: np.ndarray
    keypoints: np.ndarray
    appearance: np.ndarray
    context: np.ndarray | None = None
    xyxy: np.ndarray | None = None

    @classmethod
    def from_observations(cls, track_id: int, observations) -> "TrackSeq":
        """From ``(frame_index, timestamp_ms, score, keypoints (17, 3), appearance (4,)[, context[,
        xyxy (4,)]])`` in any order."""
        obs = sorted(observations, key=lambda o: o[0])
        if not obs:
            raise ValueError(f"track {track_id} has no observations")

        def optional(i):
            return np.stack([o[i] for o in obs]).astype(np.float32) if all(len(o) > i for o in obs) else None

        return cls(int(track_id), np.array([o[0] for o in obs], np.int64), np.array([o[1] for o in obs], np.float64),
                   np.array([o[2] for o in obs], np.float32), np.stack([o[3] for o in obs]).astype(np.float32),
                   np.stack([o[4] for o in obs]).astype(np.float32), optional(5), optional(6))

    def summary(self) -> TrackSummary:
        return TrackSummary(self.track_id, int(self.frame_index[0]), int(self.frame_index[-1]),
                            float(self.timestamp_ms[0]), float(self.timestamp_ms[-1]), len(self.frame_index),
                            float(self.score.astype(np.float64).mean()))


def track_observations(frame_index: int, timestamp_ms: float, poses):
    """``(track_id, observation)`` for every tracked person of one frame (see :class:`TrackSeq`)."""
    for i, tid in enumerate(poses.track_id.tolist()):
        if tid >= 0:
            yield tid, (int(frame_index), float(timestamp_ms), float(poses.score[i]), poses.keypoints[i],
                        poses.appearance[i], poses.context[i], poses.xyxy[i])


def sequences_by_track(tracked) -> dict[int, TrackSeq]:
    """``{track_id: TrackSeq}`` of a whole video from :func:`track_frames` output (the pipeline
    builds the same per track with :func:`track_observations` and a GroupByKey)."""
    obs: dict[int, list] = {}
    for frame in tracked:
        for tid, o in track_observations(*frame):
            obs.setdefault(tid, []).append(o)
    return {tid: TrackSeq.from_observations(tid, o) for tid, o in sorted(obs.items())}


def summarize_tracks(tracked) -> list[TrackSummary]:
    """Per-track summaries from :func:`track_frames` output."""
    return [seq.summary() for seq in sequences_by_track(tracked).values()]


def keypoint_sequences(tracked) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``{track_id: (timestamps_ms (T,), keypoints (T, 17, 3))}`` from :func:`track_frames` output."""
    return {tid: (seq.timestamp_ms, seq.keypoints) for tid, seq in sequences_by_track(tracked).items()}
