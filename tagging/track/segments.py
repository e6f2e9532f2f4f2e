"""Chunk-parallel tracking: split a video into overlapping segments, track each on its
own (in parallel, anywhere), then stitch the segments into one global id per player.

- :func:`plan_chunks` cuts ``[0, n_frames)`` into segments of ``chunk_frames`` that
  overlap their successor by ``overlap_frames`` (e.g. 60 s with 2 s overlap).
- Each segment is tracked by :func:`tagging.track.offline.track_video` on its own frames.
- :func:`stitch_chunks` matches the tracks of neighbouring segments in their overlap:
  both segments saw the same detections there, so a player's two tracks share boxes.
  The similarity of two tracks is the share of overlap frames in which they sit on
  the same box (mean IoU); one Hungarian assignment per boundary, pairs below
  ``min_overlap_iou`` stay apart.  Each segment then *owns* the frames from the middle
  of its leading overlap to the middle of its trailing one, so no frame is output
  twice; matched tracks share one global id (1..n in order of first appearance).

Frames are processed-frame indices; all pure numpy, no Beam.

The pipeline cuts segments by **time** instead (:class:`SegmentGrid`: a frame belongs
to every segment whose time span holds its timestamp), so that each frame can be sent
to its segments without knowing the video's length: :func:`track_segment` tracks one
segment's frames, :func:`stitch_segments` stitches whatever segments a video had, and
:func:`track_video_segmented` is the serial reference of that path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from tagging.track.offline import (
    Track,
    camera_moves,
    camera_path,
    concat_tracks,
    fill_gaps,
    join_cost_matrix,
    join_tracklets,
    link_chains,
    relink_cost_matrix,
    relink_tracks,
    track_video,
)
from tagging.track.online import TrackerConfig


@dataclass(frozen=True)
class ChunkPlan:
    """One segment: it tracks frames ``[start, stop)`` and owns ``[own_start, own_stop)``."""

    start: int
    stop: int
    own_start: int
    own_stop: int


def plan_chunks(n_frames: int, chunk_frames: int, overlap_frames: int) -> list[ChunkPlan]:
    """Overlapping segments covering ``n_frames`` processed frames."""
    if chunk_frames <= 0 or overlap_frames < 0 or overlap_frames >= chunk_frames:
        raise ValueError(f"need 0 <= overlap_frames < chunk_frames; got {overlap_frames}, {chunk_frames}")
    if n_frames <= 0:
        return []
    step = chunk_frames - overlap_frames
    starts = list(range(0, max(n_frames - overlap_frames, 1), step))
    return plans_for_spans([(s, min(s + chunk_frames, n_frames)) for s in starts])


def plans_for_spans(spans: list[tuple[int, int]]) -> list[ChunkPlan]:
    """Plans for segments ``[start, stop)`` in order: each owns the frames from the middle
    of its overlap with the previous segment to the middle of its overlap with the next."""
    plans = []
    for i, (start, stop) in enumerate(spans):
        own_start = start if i == 0 else (start + spans[i - 1][1]) // 2
        own_stop = stop if i == len(spans) - 1 else (spans[i + 1][0] + stop) // 2
        plans.append(ChunkPlan(start, stop, own_start, max(own_start, own_stop)))
    return plans


def track_chunk(xyxy_per_frame, score_per_frame, plan: ChunkPlan, config: TrackerConfig = TrackerConfig(),
                mode: str = "offline") -> list[Track]:
    """Track one segment; returned frames are video-global indices."""
    tracks = track_video(xyxy_per_frame[plan.start:plan.stop], score_per_frame[plan.start:plan.stop], config, mode)
    for t in tracks:
        t.frame = t.frame + plan.start
    return tracks


def _box_at(t: Track, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(len(frames), 4) boxes of ``t`` at ``frames`` and a (len(frames),) mask of where it has one."""
    pos = np.searchsorted(t.frame, frames)
    pos = np.minimum(pos, len(t.frame) - 1)
    have = t.frame[pos] == frames
    return t.xyxy[pos], have


def overlap_similarity(a: list[Track], b: list[Track], frames: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) mean IoU over ``frames`` (a frame where only one has a box counts 0)."""
    from tagging.core.boxes import iou_matrix

    sim = np.zeros((len(a), len(b)))
    if len(frames) == 0:
        return sim
    boxes_a = [_box_at(t, frames) for t in a]
    boxes_b = [_box_at(t, frames) for t in b]
    for i, (ba, ha) in enumerate(boxes_a):
        for j, (bb, hb) in enumerate(boxes_b):
            both = ha & hb
            if not both.any():
                continue
            iou = np.diag(iou_matrix(ba[both], bb[both])) if both.sum() else np.zeros(0)
            sim[i, j] = iou.sum() / max(int((ha | hb).sum()), 1)
    return sim


def _pieces(plans: list[ChunkPlan], chunk_tracks: list[list[Track]], min_overlap_iou: float
            ) -> dict[tuple[int, int], list[tuple[tuple[int, int], Track]]]:
    """Each player's pieces: ``{root: [((segment, track index), the track cut to the frames
    that segment owns), ...]}`` in time order, tracks of neighbouring segments joined where
    they sit on the same boxes in the overlap (union-find over the matches)."""
    parent: dict[tuple[int, int], tuple[int, int]] = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for k in range(len(plans) - 1):
        frames = np.arange(plans[k + 1].start, plans[k].stop)
        sim = overlap_similarity(chunk_tracks[k], chunk_tracks[k + 1], frames)
        if sim.size == 0:
            continue
        rows, cols = linear_sum_assignment(-sim)
        for r, c in zip(rows, cols):
            if sim[r, c] >= min_overlap_iou:
                parent[find((k + 1, int(c)))] = find((k, int(r)))

    pieces: dict[tuple[int, int], list] = {}
    for k, (plan, tracks) in enumerate(zip(plans, chunk_tracks)):
        for i, t in enumerate(tracks):
            keep = (t.frame >= plan.own_start) & (t.frame < plan.own_stop)
            if keep.any():
                pieces.setdefault(find((k, i)), []).append(
                    ((k, i), Track(-1, t.frame[keep], t.xyxy[keep], t.det_index[keep], t.score[keep])))
    for parts in pieces.values():
        parts.sort(key=lambda p: int(p[1].frame[0]))
    return pieces


def stitch_chunks(plans: list[ChunkPlan], chunk_tracks: list[list[Track]],
                  min_overlap_iou: float = 0.5, config: TrackerConfig | None = None) -> list[Track]:
    """One global track list from per-segment tracks (see module doc).

    With ``config`` (offline mode), the stitched tracks go through the joining and
    long-range re-linking passes once more, over the whole video: a player whose track
    broke near a boundary, or who left the picture in one segment and came back in
    another, could not be linked inside either segment.  It works on tracks, not detections, so
    it is cheap enough for the single step that sees the whole video.
    """
    if len(plans) != len(chunk_tracks):
        raise ValueError(f"{len(plans)} chunk plans but {len(chunk_tracks)} track lists")
    pieces = _pieces(plans, chunk_tracks, min_overlap_iou)
    merged = [concat_tracks([p for _, p in parts]) for parts in pieces.values()]
    # one segment: nothing was cut, so the result is the single pass's, unchanged
    if config is not None and merged and len(plans) > 1:
        n_frames = max(p.stop for p in plans)
        for i, t in enumerate(merged):
            t.track_id = i
        path = camera_path(merged, n_frames) if config.join_stabilize else None
        # the same two linking passes as the single pass: short joins, then long re-links
        # (a player who left the picture in one segment and came back in another)
        merged = relink_tracks(join_tracklets(merged, config, path), config, path)
        merged = [fill_gaps(t, config.fill_max_gap_frames) for t in merged]
    merged.sort(key=lambda t: int(t.frame[0]))
    for new_id, t in enumerate(merged, start=1):
        t.track_id = new_id
    return merged


def track_video_chunked(xyxy_per_frame, score_per_frame, chunk_frames: int, overlap_frames: int,
                        config: TrackerConfig = TrackerConfig(), mode: str = "offline",
                        min_overlap_iou: float = 0.5) -> list[Track]:
    """Serial reference of the chunked path: plan, track every segment, stitch."""
    plans = plan_chunks(len(xyxy_per_frame), chunk_frames, overlap_frames)
    return stitch_chunks(plans, [track_chunk(xyxy_per_frame, score_per_frame, p, config, mode) for p in plans],
                         min_overlap_iou, config if mode == "offline" else None)


@dataclass(frozen=True)
class SegmentGrid:
    """Segments by container time: segment k spans ``[k * step, k * step + chunk_ms)`` with
    ``step = chunk_ms - overlap_ms``.  A frame goes to each segment holding its timestamp
    (one, or two in an overlap), so the grid needs neither the video's length nor its
    frame rate."""

    chunk_ms: float
    overlap_ms: float

    def __post_init__(self):
        if not (self.chunk_ms > 0 and 0 <= self.overlap_ms < self.chunk_ms):
            raise ValueError(f"need 0 <= overlap < chunk; got chunk {self.chunk_ms} ms, "
                             f"overlap {self.overlap_ms} ms")

    def segments_of(self, ts_ms: float) -> list[int]:
        step = self.chunk_ms - self.overlap_ms
        ts_ms = max(float(ts_ms), 0.0)  # the grid starts at 0; a negative container time joins segment 0
        last = int(np.floor(ts_ms / step))
        first = max(int(np.floor((ts_ms - self.chunk_ms) / step)) + 1, 0)
        return list(range(first, last + 1))


def processed_fps(ordinals, timestamps_ms) -> float | None:
    """Processed frames per second from frames' ordinals and container times (None: can't tell)."""
    o, t = np.asarray(ordinals, np.float64), np.asarray(timestamps_ms, np.float64)
    order = np.argsort(o)
    do, dt = np.diff(o[order]), np.diff(t[order])
    ok = (do > 0) & (dt > 0)
    if not ok.any():
        return None
    return float(1000.0 / np.median(dt[ok] / do[ok]))


def track_segment(ordinals, xyxy_per_frame, score_per_frame, config: TrackerConfig = TrackerConfig(),
                  mode: str = "offline", keypoints=None, colours=None, timestamps_ms=None) -> list[Track]:
    """Track one segment's frames, given in any order with their ``ordinals`` (processed-frame
    number in the video, e.g. ``frame_index // stride``); returned frames are ordinals.

    ``keypoints``, ``colours``: per frame, as in :func:`tagging.track.offline.track_video`;
    ``timestamps_ms``: per frame container time, from which the frame rate is taken."""
    ordinals = np.asarray(ordinals, np.int64)
    order = np.argsort(ordinals, kind="stable")
    if len(np.unique(ordinals)) != len(ordinals):
        raise ValueError("a segment holds the same frame twice")
    fps = processed_fps(ordinals, timestamps_ms) if timestamps_ms is not None else None
    tracks = track_video([xyxy_per_frame[i] for i in order], [score_per_frame[i] for i in order], config, mode,
                         keypoints=None if keypoints is None else [keypoints[i] for i in order],
                         colours=None if colours is None else [colours[i] for i in order], fps=fps)
    sorted_ordinals = ordinals[order]
    for t in tracks:
        t.frame = sorted_ordinals[t.frame]
    return tracks


def stitch_segments(segments, min_overlap_iou: float = 0.5, config: TrackerConfig | None = None) -> list[Track]:
    """Global tracks of one video from ``segments``: ``(k, first_ordinal, last_ordinal, tracks)``
    per segment that had frames, in any order (what :func:`track_segment` gave for it).

    Each segment owns the frames from the middle of its overlap with the previous
    segment to the middle of its overlap with the next (:func:`plans_for_spans`); see
    :func:`stitch_chunks`.
    """
    segments = sorted(segments, key=lambda s: s[0])
    plans = plans_for_spans([(int(first), int(last) + 1) for _, first, last, _ in segments])
    return stitch_chunks(plans, [s[3] for s in segments], min_overlap_iou, config)


@dataclass
class SegmentView:
    """What the stitch needs of one tracked segment (:func:`segment_view`), a small share of
    its boxes, so that stitching a whole match holds a few percent of its boxes at once.

    ``tracks``: the segment's tracks (same order) cut to their entries at ordinals shared
    with a neighbouring segment, their first and last entry elsewhere, and the first and
    last ``fit_frames`` observations elsewhere (what joining fits a track's ends on);
    ``core``: (C,) int64 ordinals only this segment tracked; ``core_move``: (C, 2) px, the
    camera's move into each of them from all of the segment's boxes (:func:`camera_moves`)."""

    k: int
    first: int
    last: int
    tracks: list[Track]
    core: np.ndarray
    core_move: np.ndarray


def segment_view(k: int, ordinals, shared, tracks: list[Track], fit_frames: int) -> SegmentView:
    """The :class:`SegmentView` of segment ``k``'s ``tracks`` (:func:`track_segment`'s output):
    ``ordinals`` it tracked, of which ``shared`` are also in a neighbouring segment."""
    ordinals = np.unique(np.asarray(ordinals, np.int64))
    shared = np.asarray(shared, np.int64)
    if not len(ordinals):
        raise ValueError(f"segment {k} has no frames")
    first, last = int(ordinals[0]), int(ordinals[-1])
    n = max(fit_frames, 1)
    thin = []
    for t in tracks:
        keep = np.isin(t.frame, shared)
        core = np.nonzero(~keep)[0]
        if len(core):
            obs = core[t.observed[core]]
            keep[np.concatenate([core[[0, -1]], obs[:n], obs[-n:]])] = True
        thin.append(Track(t.track_id, t.frame[keep], t.xyxy[keep], t.det_index[keep], t.score[keep]))
    core = np.setdiff1d(ordinals, shared)
    return SegmentView(k, first, last, thin, core, camera_moves(tracks, first, last + 1)[core - first])


def _link_members(tracks: list[Track], members: list[list], cost: np.ndarray | None, margin: float):
    """:func:`tagging.track.offline.link_chains` on ``tracks``, carrying each track's members
    along: what ``join_tracklets``/``relink_tracks`` return, plus whose pieces each holds."""
    if cost is None or not np.isfinite(cost).any():
        return tracks, members
    linked = [(concat_tracks([tracks[i] for i in chain]), [m for i in chain for m in members[i]])
              for chain in link_chains(cost, margin)]
    linked.sort(key=lambda tm: tm[0].track_id)
    return [t for t, _ in linked], [m for _, m in linked]


def stitch_views(views: list[SegmentView], min_overlap_iou: float = 0.5, config: TrackerConfig | None = None
                 ) -> tuple[dict[int, ChunkPlan], dict[int, np.ndarray]]:
    """:func:`stitch_segments` from :class:`SegmentView` s: for each segment ``k``, the
    frames it owns (a :class:`ChunkPlan`) and the global id of each of its tracks (0: none,
    the track has no box in those frames).  The ids are those :func:`stitch_segments` gives
    the same segments' full tracks: in the overlaps the views hold every box, joining
    fits only a track's ends, and the camera path takes each segment's own moves elsewhere
    (tests/test_track_segments.py checks the two agree)."""
    views = sorted(views, key=lambda v: v.k)
    plans = plans_for_spans([(v.first, v.last + 1) for v in views])
    pieces = _pieces(plans, [v.tracks for v in views], min_overlap_iou)
    members = [[key for key, _ in parts] for parts in pieces.values()]
    merged = [concat_tracks([p for _, p in parts]) for parts in pieces.values()]
    if config is not None and merged and len(plans) > 1:
        for i, t in enumerate(merged):
            t.track_id = i
        path = None
        if config.join_stabilize:
            # in the overlaps the views hold every box; elsewhere each segment measured its own
            move = camera_moves(merged, 0, max(p.stop for p in plans))
            for v in views:
                move[v.core] = v.core_move
            path = np.cumsum(move, axis=0)
        margin = config.ambiguity_margin
        if len(merged) >= 2:
            merged, members = _link_members(merged, members, join_cost_matrix(merged, config, path), margin)
        if len(merged) >= 2 and config.relink_max_cost > 0:
            merged, members = _link_members(merged, members, relink_cost_matrix(merged, config, path), margin)
    ids = {v.k: np.zeros(len(v.tracks), np.int64) for v in views}
    order = sorted(range(len(merged)), key=lambda i: int(merged[i].frame[0]))
    for new_id, i in enumerate(order, start=1):
        for pos, ti in members[i]:
            ids[views[pos].k][ti] = new_id
    return {v.k: p for v, p in zip(views, plans)}, ids


def ids_by_ordinal(tracks: list[Track]) -> dict[int, list[tuple[int, int]]]:
    """``{ordinal: [(det_index, track_id), ...]}`` for every observed box of ``tracks``."""
    out: dict[int, list[tuple[int, int]]] = {}
    for t in tracks:
        for f, d in zip(t.frame[t.observed].tolist(), t.det_index[t.observed].tolist()):
            out.setdefault(f, []).append((d, t.track_id))
    return out


def track_video_segmented(ordinals, timestamps_ms, xyxy_per_frame, score_per_frame, grid: SegmentGrid,
                          config: TrackerConfig = TrackerConfig(), mode: str = "offline",
                          min_overlap_iou: float = 0.5, keypoints=None, colours=None) -> list[Track]:
    """Serial reference of the pipeline's chunked tracking (same grid, same stitch, same cues)."""
    members: dict[int, list[int]] = {}
    for i, ts in enumerate(timestamps_ms):
        for k in grid.segments_of(float(ts)):
            members.setdefault(k, []).append(i)
    segments = []
    for k, idx in members.items():
        ords = [int(ordinals[i]) for i in idx]
        tracks = track_segment(ords, [xyxy_per_frame[i] for i in idx], [score_per_frame[i] for i in idx],
                               config, mode, None if keypoints is None else [keypoints[i] for i in idx],
                               None if colours is None else [colours[i] for i in idx],
                               [timestamps_ms[i] for i in idx])
        segments.append((k, min(ords), max(ords), tracks))
    return stitch_segments(segments, min_overlap_iou, config if mode == "offline" else None)
