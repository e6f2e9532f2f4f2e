"""Where a tracked person is on every processed frame of their track: the ``positions`` table.

The ``poses`` table has a row per detected person. A tracked player the detector missed
for a few frames (hidden behind another, blurred, at the edge) has no row there on those
frames, although the tracker knows the player was there: the same id is on both sides
of the gap.  :func:`fill_positions` gives every processed frame of a track a box:

- on a frame with the player's detection: that detection's box (``observed``), exactly
  the box of their ``poses`` row;
- in a gap between two of their detections that lasts at most ``max_gap_ms``: a box
  linearly interpolated between the two (``observed`` false), as the offline tracker
  fills its gaps (tagging/track/offline.py: ``fill_gaps``).  The default limit is the
  tracker's own, 1.2 s (:data:`FILL_MAX_GAP_MS`);
- longer gaps (a player who left the picture, or an id re-linked across a long gap):
  no rows, rather than a straight line through where nobody saw them.

A gap's length is the time it leaves without a detection, ``(t_b - t_a) * m / (m + 1)``
for ``m`` missing processed frames between detections at ``t_a`` and ``t_b``: at 25 fps,
up to 30 missing frames; at 7 fps, up to 8.  Missing frames are those of the decode
stride's grid (``frame_index`` multiples of the stride apart); their times are
interpolated between the two detections' times, which is exact at a constant frame rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tagging.track.sequences import PIPELINE_TRACKER_CONFIG

# The pipeline tracker's fill limit in time: its frame count at its reference frame rate.
FILL_MAX_GAP_MS = 1000.0 * PIPELINE_TRACKER_CONFIG.fill_max_gap_frames / PIPELINE_TRACKER_CONFIG.reference_fps


@dataclass
class Positions:
    """One track's boxes on every frame of its filled spans, in frame order: ``frame_index``
    (K,) int64 video frame, ``timestamp_ms`` (K,) float64, ``xyxy`` (K, 4) float32 frame
    pixels, ``observed`` (K,) bool (False: interpolated)."""

    frame_index: np.ndarray
    timestamp_ms: np.ndarray
    xyxy: np.ndarray
    observed: np.ndarray

    def select(self, mask: np.ndarray) -> "Positions":
        return Positions(self.frame_index[mask], self.timestamp_ms[mask], self.xyxy[mask], self.observed[mask])


def fill_positions(frame_index, timestamp_ms, xyxy, stride: int = 1,
                   max_gap_ms: float = FILL_MAX_GAP_MS) -> Positions:
    """One track's detections (``frame_index`` (T,) video frames, strictly increasing and
    ``stride`` apart or more; ``timestamp_ms`` (T,); ``xyxy`` (T, 4) px) with every gap of at
    most ``max_gap_ms`` without a detection filled by linear interpolation (module doc)."""
    f = np.asarray(frame_index, np.int64).reshape(-1)
    t = np.asarray(timestamp_ms, np.float64).reshape(-1)
    box = np.asarray(xyxy, np.float32).reshape(-1, 4)
    if not (len(f) == len(t) == len(box)):
        raise ValueError(f"{len(f)} frames, {len(t)} timestamps and {len(box)} boxes: they must be aligned")
    if stride < 1:
        raise ValueError(f"stride must be >= 1; got {stride}")
    if np.any(np.diff(f) <= 0):
        raise ValueError("frame_index must be strictly increasing (one detection per frame of a track)")
    observed = Positions(f, t, box, np.ones(len(f), bool))
    if len(f) < 2:
        return observed
    missing = (np.diff(f) - 1) // stride          # processed frames between two detections
    span = np.diff(t)
    fill = (missing > 0) & (span * missing / (missing + 1) <= max_gap_ms + 1e-6)
    if not fill.any():
        return observed
    starts = np.nonzero(fill)[0]
    new_f = np.concatenate([f[a] + stride * np.arange(1, missing[a] + 1) for a in starts])
    # which detection each new frame follows, and how far it is towards the next one
    after = np.searchsorted(f, new_f) - 1
    w = (new_f - f[after]) / (f[after + 1] - f[after])
    new_t = t[after] + w * (t[after + 1] - t[after])
    new_box = (box[after] + w[:, None].astype(np.float32) * (box[after + 1] - box[after])).astype(np.float32)
    order = np.argsort(np.concatenate([f, new_f]), kind="stable")
    return Positions(np.concatenate([f, new_f])[order], np.concatenate([t, new_t])[order],
                     np.concatenate([box, new_box])[order],
                     np.concatenate([np.ones(len(f), bool), np.zeros(len(new_f), bool)])[order])


def split_by_block(positions: Positions, block_frames: int) -> dict[int, Positions]:
    """``{block index: the positions in that block}``, blocks of ``block_frames`` video frames
    (frame ``block_frames * k`` starts block ``k``): a table part per block, as for ``poses``."""
    if block_frames < 1:
        raise ValueError(f"block_frames must be >= 1; got {block_frames}")
    block = positions.frame_index // block_frames
    cuts = np.nonzero(np.diff(block))[0] + 1
    return {int(block[idx[0]]): positions.select(idx)
            for idx in np.split(np.arange(len(block)), cuts) if len(idx)}
