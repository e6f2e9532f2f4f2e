"""Typed stage outputs -> table rows (dicts keyed by the columns in ``schemas``)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Iterator

from schemas.tables import CONTEXT_COLUMNS, KEYPOINT_COLUMNS, TORSO_COLUMNS
from tagging.core.types import Event, FramePoses
from tagging.track.positions import Positions
from tagging.track.sequences import TrackSummary


def pose_rows(video_id: str, frame_index: int, timestamp_ms: float, poses: FramePoses) -> Iterator[dict]:
    """One row per person; keypoints spread over the wide ``<name>_x/_y/_score`` columns."""
    flat = poses.keypoints.reshape(len(poses), len(KEYPOINT_COLUMNS)).tolist()
    # NaN (unknown) is written as null
    context = [[None if v != v else v for v in row] for row in poses.context.tolist()]
    torso = [[None if v != v else v for v in row] for row in poses.appearance.tolist()]
    for i in range(len(poses)):
        x1, y1, x2, y2 = poses.xyxy[i].tolist()
        row = {"video_id": video_id, "frame_index": int(frame_index), "timestamp_ms": float(timestamp_ms),
               "track_id": int(poses.track_id[i]), "score": float(poses.score[i]),
               "box_score": float(poses.box_score[i]),
               "bbox_x1": x1, "bbox_y1": y1, "bbox_x2": x2, "bbox_y2": y2}
        row.update(zip(KEYPOINT_COLUMNS, flat[i]))
        row.update(zip(CONTEXT_COLUMNS, context[i]))
        row.update(zip(TORSO_COLUMNS, torso[i]))
        yield row


def ball_rows(video_id: str, frame_index: int, timestamp_ms: float, poses: FramePoses) -> Iterator[dict]:
    """One ``balls`` row per ball the frame's detector pass kept (none when not looked for)."""
    if poses.balls is None:
        return
    for (x1, y1, x2, y2), score in zip(poses.balls.xyxy.tolist(), poses.balls.score.tolist()):
        yield {"video_id": video_id, "frame_index": int(frame_index), "timestamp_ms": float(timestamp_ms),
               "x1": x1, "y1": y1, "x2": x2, "y2": y2, "score": score}


def track_row(video_id: str, summary: TrackSummary, team: str | None = None) -> dict:
    return {"video_id": video_id, **asdict(summary), "team": team}


def event_row(video_id: str, event: Event) -> dict:
    return {"video_id": video_id, **asdict(event)}


def position_rows(video_id: str, track_id: int, positions: Positions) -> Iterator[dict]:
    """One ``positions`` row per frame of one track's :class:`Positions`."""
    boxes = positions.xyxy.tolist()
    for f, t, (x1, y1, x2, y2), obs in zip(positions.frame_index.tolist(), positions.timestamp_ms.tolist(), boxes,
                                          positions.observed.tolist()):
        yield {"video_id": video_id, "frame_index": f, "timestamp_ms": t, "track_id": int(track_id),
               "bbox_x1": x1, "bbox_y1": y1, "bbox_x2": x2, "bbox_y2": y2, "observed": obs}
