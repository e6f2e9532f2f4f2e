"""Online multi-object tracker: Kalman motion, ByteTrack-style two-stage association.

Knows nothing about the detector: each frame it gets boxes ``(N, 4)`` xyxy px and
scores ``(N,)`` in 0..1 and returns one track id per box (-1: none).

Per frame (Zhang et al., "ByteTrack", ECCV 2022, with the sports-specific changes
noted in :class:`TrackerConfig`):

1. predict every live track (tracked and lost) one frame ahead with its Kalman filter;
2. match *high-score* boxes to all confirmed tracks (tracked and lost) on IoU of
   slightly enlarged boxes, Hungarian assignment (``linear_sum_assignment``);
3. match *low-score* boxes to the confirmed tracks still unmatched that were tracked
   in the previous frame -- a player half hidden behind another scores low, and this
   stage keeps him without letting low-score clutter start tracks;
4. match remaining high-score boxes to tentative tracks (seen once);
5. tracked tracks left unmatched become *lost*; lost tracks older than
   ``max_lost_frames`` are removed; a lost track matched again is *re-activated*
   with its old id;
6. remaining high-score boxes above ``new_track_score`` start tentative tracks, which
   get an id when matched again within ``tentative_max_lost_frames`` (or at once in
   the first frame of a video).

A frame here is a *processed* frame: with a stride the motion model steps once per
processed frame.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from tagging.core.boxes import iou_matrix
from tagging.track import kalman

TENTATIVE, TRACKED, LOST, REMOVED = 0, 1, 2, 3


@dataclass(frozen=True)
class TrackerConfig:
    """Every threshold of the tracker (online) and of the whole-video pass (offline).

    Scores are detector confidences in 0..1; frame counts are processed frames.
    """

    # --- online association
    high_score: float = 0.5           # boxes at or above: first stage; below (>= low_score): second
    low_score: float = 0.1            # boxes below are ignored
    new_track_score: float = 0.6      # a box must score this to start a track
    match_iou: float = 0.2            # first stage: min IoU (of buffered boxes), high-score boxes
    low_match_iou: float = 0.5        # second stage: min IoU for low-score boxes
    tentative_match_iou: float = 0.3  # tentative tracks: min IoU
    box_buffer: float = 0.1           # boxes grow by this share of w/h on each side before IoU
    # crowding-aware gate (first stage, ByteTracker._crowded): where a track's predicted box is
    # covered to at least ``crowd_cover`` of its area by a nearer track's (lower bottom edge),
    # or the box is covered that much by a nearer box of the frame, the pair needs IoU >=
    # ``crowd_match_iou`` instead of ``match_iou``.  An isolated player keeps the loose gate that
    # follows fast motion; behind another, his track may not take a box a loose IoU reaches.
    # 0 = off.  Default 0.3 with ``crowd_tracked_only``: level on SportsMOT (v1 -0.004, v2 +0.001
    # IDF1, all 45), TUD-Stadtmitte 0.594 -> 0.740; without ``crowd_tracked_only`` TUD 0.811 but
    # SportsMOT v1 -0.06 (docs/tracking.md)
    crowd_cover: float = 0.3
    crowd_match_iou: float = 0.5
    crowd_boxes: bool = True          # also judge crowding among the frame's boxes, not only the tracks'
    crowd_tracked_only: bool = True   # hold only tracks seen in the last frame (lost ones re-acquire loosely)
    fuse_score: bool = False          # rank first-stage pairs by IoU * score (ByteTrack's MOT17 setting);
                                      # off: a detector's score says nothing about *which* player it is
    gate_chi2: float = 0.0            # Kalman gate for tracked tracks: max squared Mahalanobis
                                      # distance (13.28 = chi-square 4 dof 99 %); 0 = off, the
                                      # default: it cost 0.06 IDF1 on SportsMOT (docs/tracking.md)
    max_lost_frames: int = 30         # a lost track is removed after this many frames unmatched
    tentative_max_lost_frames: int = 0  # a tentative track unmatched this long (+1) is dropped
    camera_shift: bool = True         # estimate a common image shift from the tracks (see _compensate_camera)
    camera_gate: float = 0.5          # max centre distance, in box heights, for a shift-estimating pair
    camera_min_tracks: int = 3        # fewer matched tracks than this: assume no shift
    kalman: kalman.KalmanConfig = field(default_factory=kalman.KalmanConfig)

    # --- offline (whole-video) pass, see tagging/track/offline.py
    min_track_frames: int = 3         # shorter tracks (after joining) are dropped as clutter
    min_track_mean_score: float = 0.0  # tracks scoring lower on average are dropped
    outlier_window_frames: int = 7    # running-median window for stray boxes; < 3 disables
    outlier_max_offset: float = 0.25  # stray: centre off by this share of w (h), or log-height by this
    contact_iou: float = 0.5          # cut tracks where two boxes overlap this much, re-join after; 0 = off
    contact_cover: float = 0.0        # ... or where one box is covered this much by a nearer one; 0 = off
                                      # (0.5: -0.035 IDF1 on SportsMOT v1, level on v2, +0.26 on TUD)
    join_stabilize: bool = True       # extrapolate with the camera pan removed (tracklets.camera_path)
    join_max_gap_frames: int = 60     # tracklets further apart in time are never joined
    join_fit_frames: int = 10         # frames at a tracklet's end used to fit its motion
    join_max_cost: float = 1.5        # max joining cost (distance in box heights, see tracklets)
    relink_max_cost: float = 2.0      # long-range re-link after joining: max distance (box heights, camera
                                      # path removed) + log-height change between a track's end and a later
                                      # track's start; 0 = off.  Players leave the picture when the camera
                                      # pans and come back near where they left (+0.04 IDF1 on SportsMOT;
                                      # 2-5 all within 0.003, 1.5 loses a quarter of it; docs/tracking.md)
    relink_max_gap_frames: int = 1500  # never re-link across more than this (60 s at 25 fps)
    fill_max_gap_frames: int = 30     # gaps up to this long are filled by interpolation
    smooth_sigma_frames: float = 1.5  # Gaussian box smoothing; 0 disables
    # --- what a person looks like (tagging/track/appearance.py), where the detections carry it
    colour_weight: float = 0.02       # join / re-link cost per unit of torso-colour ΔE (L*a*b*) ...
    colour_cap: float = 40.0          # ... counted up to this ΔE (lighting and pose change colour too)
    pose_weight: float = 0.5          # join cost per unit of (1 - OKS) between carried and found pose
    # a re-link (seconds apart, no motion to go by) is refused where the two ends' torso colours
    # differ by at least this ΔE: by then two different people are far likelier than one whose
    # shirt changed (set to colour_cap, where the colour term already counts a difference as
    # whole; not tuned); 0 = off.  Joins keep the capped cost: across a short gap motion decides
    relink_max_colour: float = 40.0
    # a join or re-link is left out when another end or start is nearly as cheap (a rival
    # within this margin of cost, a swap of two links costing less than this more):
    # a break costs one id, a swap costs two, and puts events on the wrong player; 0 = off,
    # the default: 0.3 cost 0.04-0.16 IDF1 on SportsMOT v1/v2 (docs/tracking.md)
    ambiguity_margin: float = 0.0
    # at an occlusion, leave a break rather than a swap: cut a track at a gap that begins with
    # its box covered to at least ``occluded_gap_cover`` by a nearer tracked box (lower bottom
    # edge), where the online pass re-activated it by IoU alone; the joins decide again, and a
    # link from such an end is dropped where an unlinked end or start costs at most
    # ``occluded_margin`` more; an end so refused is not re-linked either
    # (offline.split_at_occluded_gaps, offline.occluded_rivals).  0 / 0.3 as crowd_cover; the
    # margin is a tie-breaker (0.1 box heights); TUD 0.740 -> 0.844 IDF1, SportsMOT v1 and v2
    # level or better (docs/tracking.md).  occluded_gap_cover 0 = off
    occluded_gap_cover: float = 0.3
    occluded_margin: float = 0.1
    # a join may not take an end or a start from a mutual-best pair (each the other's cheapest)
    # at a cost more than ``join_mutual_margin`` (box heights) above that pair's
    # (offline.protect_mutual_best).  The Hungarian assignment makes as many links as it can,
    # and at a low frame rate it pays for one more link with a dearer one that breaks the
    # cheapest (TUD at 8.3 fps: 1.16 and 1.23 against a mutual best of 0.73; 0.713 -> 0.766
    # IDF1).  None = off, as at the reference rate, where it cost SportsMOT v1 0.002 IDF1 (all
    # 45; v2 +0.003); ``for_fps`` sets it to ``low_fps_join_mutual_margin`` below the
    # reference rate (docs/tracking.md, "Joins at low frame rates")
    join_mutual_margin: float | None = None
    low_fps_join_mutual_margin: float | None = 0.3

    # Frame counts and the motion gate above are set for this frame rate; ``for_fps``
    # scales them so that they mean the same seconds and the same distances at another.
    reference_fps: float = 25.0
    # below the reference rate ``for_fps`` widens ``box_buffer`` for the fastest motion a
    # frame may hold (sport), and sets this floor to the reference buffer; the tracker then
    # narrows the gate to what the footage shows: ``motion_gate_quantile`` (percent) of the
    # recent x residuals |detected - predicted centre| / predicted width of tracks seen in
    # the last frame (the last ``motion_gate_window`` matches, once there are
    # ``motion_gate_min_samples``), between floor and ceiling.  Pedestrians walk where the
    # Kalman prediction puts them, and a wide gate there lets a track take the neighbour's
    # box; players who sprint and turn keep the wide one.  With for_fps's Kalman noise:
    # TUD-Stadtmitte at 12.5 fps 0.711 -> 0.823 IDF1, SportsMOT v1 at 6.25 fps 0.415 -> 0.448
    # (docs/tracking.md, "Low frame rates").  None = fixed buffer
    box_buffer_floor: float | None = None
    motion_gate_quantile: float = 90.0
    motion_gate_window: int = 300
    motion_gate_min_samples: int = 30

    def for_fps(self, fps: float | None) -> "TrackerConfig":
        """This config at ``fps`` processed frames per second: memories, gaps, windows and
        smoothing keep their length in seconds.  Below the reference rate the box buffer
        (the online motion gate) grows with the motion per frame, up to half a box a side,
        as a ceiling that the tracker narrows to the motion it measures
        (``box_buffer_floor``), and the Kalman process noise grows as a random acceleration
        does over a longer step: position std x 1/r, velocity std x 1/r^2 (r = fps /
        reference_fps), and joins protect mutual-best pairs (``low_fps_join_mutual_margin``).
        Above it all three stay as at the reference rate."""
        from dataclasses import replace

        if not fps or abs(fps - self.reference_fps) < 1e-6:
            return self
        r = fps / self.reference_fps
        slower = {}
        if r < 1:
            k = self.kalman
            slower = dict(join_mutual_margin=self.low_fps_join_mutual_margin if self.join_mutual_margin is None
                          else self.join_mutual_margin,
                          box_buffer=min(0.5, self.box_buffer / r),
                          box_buffer_floor=self.box_buffer if self.box_buffer_floor is None
                          else min(self.box_buffer, self.box_buffer_floor),
                          kalman=replace(k, std_process_position=k.std_process_position / r,
                                         std_velocity=k.std_velocity / r ** 2))

        def frames(n: int, least: int = 1) -> int:
            return max(least, int(round(n * r)))

        return replace(self, max_lost_frames=frames(self.max_lost_frames),
                       join_max_gap_frames=frames(self.join_max_gap_frames),
                       join_fit_frames=frames(self.join_fit_frames, 3),
                       relink_max_gap_frames=frames(self.relink_max_gap_frames),
                       fill_max_gap_frames=frames(self.fill_max_gap_frames),
                       outlier_window_frames=frames(self.outlier_window_frames, 5) | 1
                       if self.outlier_window_frames >= 3 else self.outlier_window_frames,
                       smooth_sigma_frames=self.smooth_sigma_frames * r,
                       reference_fps=fps, **slower)

    def __post_init__(self) -> None:
        if not 0 <= self.low_score <= self.high_score <= 1:
            raise ValueError(f"need 0 <= low_score <= high_score <= 1; got {self.low_score}, {self.high_score}")
        if self.max_lost_frames < 0 or self.tentative_max_lost_frames < 0:
            raise ValueError("max_lost_frames and tentative_max_lost_frames must be >= 0")
        if not 0 <= self.motion_gate_quantile <= 100:
            raise ValueError(f"motion_gate_quantile is a percentage in 0..100; got {self.motion_gate_quantile}")
        if not (0 <= self.crowd_cover <= 1 and 0 <= self.crowd_match_iou <= 1):
            raise ValueError(f"crowd_cover and crowd_match_iou are shares in 0..1; got {self.crowd_cover}, "
                             f"{self.crowd_match_iou}")


@dataclass
class _Track:
    mean: np.ndarray                  # (8,) Kalman state
    cov: np.ndarray                   # (8, 8)
    state: int
    track_id: int = -1                # -1 while tentative
    last_frame: int = 0
    history: list = field(default_factory=list)  # (frame, detection index, score)


def _buffered(xyxy: np.ndarray, buffer: float) -> np.ndarray:
    """Grow boxes by ``buffer`` x w (x h) on each side: fast players overlap their next box again."""
    if buffer <= 0 or len(xyxy) == 0:
        return xyxy
    wh = xyxy[:, 2:] - xyxy[:, :2]
    return np.concatenate([xyxy[:, :2] - buffer * wh, xyxy[:, 2:] + buffer * wh], axis=1)


def _assign(similarity: np.ndarray, min_similarity: float) -> list[tuple[int, int]]:
    """Max-total-similarity one-to-one matching, keeping pairs at or above ``min_similarity``."""
    if similarity.size == 0:
        return []
    # pairs below the threshold get a big cost so they never displace a valid pair
    cost = np.where(similarity >= min_similarity, -similarity, 1e6)
    rows, cols = linear_sum_assignment(cost)
    return [(r, c) for r, c in zip(rows.tolist(), cols.tolist()) if similarity[r, c] >= min_similarity]


class ByteTracker:
    """Online tracker; call :meth:`update` once per processed frame, in order."""

    def __init__(self, config: TrackerConfig = TrackerConfig()):
        self.config = config
        self._tracks: list[_Track] = []
        self._finished: list[_Track] = []
        self._next_id = 1
        self._frame = 0
        # per processed frame: the common image shift (dx, dy) px found on top of the
        # tracks' own motion; its running sum is a rough camera path (used offline)
        self.camera_shift_px: list[np.ndarray] = []
        # x residuals (px / px width) of recent matches of tracks seen in the last frame
        self._residuals: deque[float] = deque(maxlen=max(1, config.motion_gate_window))
        self._buffer = config.box_buffer

    # ------------------------------------------------------------------ public
    def update(self, xyxy: np.ndarray, score: np.ndarray) -> np.ndarray:
        """Ids for one frame's boxes ((N, 4) px, (N,) score): (N,) int64, -1 for none.

        A box gets an id only when its track is confirmed; see :meth:`tracks` for the
        whole-video view in which a confirmed track also owns its first box.
        """
        cfg = self.config
        xyxy = np.asarray(xyxy, np.float64).reshape(-1, 4)
        score = np.asarray(score, np.float64).reshape(-1)
        if len(score) != len(xyxy):
            raise ValueError(f"{len(xyxy)} boxes but {len(score)} scores")
        frame = self._frame
        ids = np.full(len(xyxy), -1, np.int64)
        self._predict()
        high = np.nonzero(score >= cfg.high_score)[0]
        self.camera_shift_px.append(self._compensate_camera(xyxy[high]) if cfg.camera_shift else np.zeros(2))

        low = np.nonzero((score >= cfg.low_score) & (score < cfg.high_score))[0]
        confirmed = [t for t in self._tracks if t.state in (TRACKED, LOST)]
        tentative = [t for t in self._tracks if t.state == TENTATIVE]
        self._buffer = self._motion_gate()
        buffered = _buffered(xyxy, self._buffer)

        # stage 1: high-score boxes vs every confirmed track
        matched_tracks, used = set(), set()
        # tracked and lost tracks compete in one assignment (splitting them into a cascade
        # lets a neighbour take a returning player's box); see _stage for the gate
        for t, d in self._stage(confirmed, high, buffered, score, cfg.match_iou, fuse=cfg.fuse_score, xyxy=xyxy,
                                crowd=cfg.crowd_cover > 0):
            self._match(t, d, xyxy, score, frame)
            matched_tracks.add(id(t))
            used.add(d)

        # stage 2: low-score boxes vs confirmed tracks tracked until the last frame
        remaining = [t for t in confirmed if id(t) not in matched_tracks and t.state == TRACKED]
        for t, d in self._stage(remaining, low, buffered, score, cfg.low_match_iou, fuse=False, xyxy=xyxy):
            self._match(t, d, xyxy, score, frame)
            matched_tracks.add(id(t))
            used.add(d)

        # stage 3: remaining high-score boxes vs tentative tracks
        rest = np.array([d for d in high if d not in used], np.int64)
        for t, d in self._stage(tentative, rest, buffered, score, cfg.tentative_match_iou, fuse=False):
            self._match(t, d, xyxy, score, frame)
            matched_tracks.add(id(t))
            used.add(d)
            if t.track_id < 0:
                t.track_id = self._new_id()

        # unmatched tracks: lose or remove
        for t in self._tracks:
            if id(t) in matched_tracks:
                continue
            unseen = frame - t.last_frame
            if t.state == TENTATIVE:
                if unseen > cfg.tentative_max_lost_frames:
                    t.state = REMOVED
            elif unseen > cfg.max_lost_frames:
                t.state = REMOVED
            else:
                t.state = LOST
        self._finished += [t for t in self._tracks if t.state == REMOVED and t.track_id >= 0]
        self._tracks = [t for t in self._tracks if t.state != REMOVED]

        # births
        for d in high:
            if d in used or score[d] < cfg.new_track_score:
                continue
            mean, cov = kalman.initiate(kalman.xyxy_to_z(xyxy[d:d + 1]), cfg.kalman)
            t = _Track(mean[0], cov[0], TENTATIVE, last_frame=frame, history=[(frame, int(d), float(score[d]))])
            if frame == 0:                      # nothing to confuse it with yet (ByteTrack does the same)
                t.state, t.track_id = TRACKED, self._new_id()
            self._tracks.append(t)

        for t in self._tracks:
            if t.last_frame == frame and t.track_id >= 0:
                ids[t.history[-1][1]] = t.track_id
        self._frame += 1
        return ids

    def tracks(self) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        """Every confirmed track so far: ``(track_id, frames (K,), det_index (K,), score (K,))``,
        including the box that started it (sorted by id)."""
        out = []
        for t in self._finished + self._tracks:
            if t.track_id < 0:
                continue
            h = np.asarray(t.history, np.float64).reshape(-1, 3)
            out.append((t.track_id, h[:, 0].astype(np.int64), h[:, 1].astype(np.int64), h[:, 2]))
        return sorted(out, key=lambda r: r[0])

    # ------------------------------------------------------------------ internals
    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def _predict(self) -> None:
        if not self._tracks:
            return
        mean = np.stack([t.mean for t in self._tracks])
        cov = np.stack([t.cov for t in self._tracks])
        # a lost track keeps moving, but not growing: its size velocity is frozen (as in ByteTrack)
        for i, t in enumerate(self._tracks):
            if t.state != TRACKED:
                mean[i, 6:8] = 0
        mean, cov = kalman.predict(mean, cov, self.config.kalman)
        for t, m, c in zip(self._tracks, mean, cov):
            t.mean, t.cov = m, c

    def _compensate_camera(self, det_xyxy: np.ndarray) -> np.ndarray:
        """Shift every track by the median residual of its nearest-box matches; returns the shift.

        Broadcast sport cameras pan and zoom all the time, and a pan moves every player on
        screen by the same amount.  Without frames we cannot measure it from the image, but
        the players themselves show it: when most tracked players' boxes land (say) 15 px
        right of their predictions, the camera moved.  One-to-one matching on centre
        distance (gated at ``camera_gate`` box heights) and a median keep outliers (misses,
        false positives, players who really changed pace) out.
        """
        cfg = self.config
        tracked = [t for t in self._tracks if t.state == TRACKED]
        if len(tracked) < cfg.camera_min_tracks or len(det_xyxy) < cfg.camera_min_tracks:
            return np.zeros(2)
        pred = np.stack([t.mean[:4] for t in tracked])
        det = kalman.xyxy_to_z(det_xyxy)
        diff = det[None, :, :2] - pred[:, None, :2]                   # (T, D, 2)
        dist = np.linalg.norm(diff, axis=2) / pred[:, None, 3]
        rows, cols = linear_sum_assignment(np.where(dist <= cfg.camera_gate, dist, 1e6))
        ok = dist[rows, cols] <= cfg.camera_gate
        if ok.sum() < cfg.camera_min_tracks:
            return np.zeros(2)
        shift = np.median(diff[rows[ok], cols[ok]], axis=0)
        for t in self._tracks:
            t.mean[:2] += shift
        return shift

    def _iou(self, tracks: list[_Track], det_boxes: np.ndarray) -> np.ndarray:
        if not tracks or len(det_boxes) == 0:
            return np.zeros((len(tracks), len(det_boxes)))
        pred = kalman.z_to_xyxy(np.stack([t.mean for t in tracks]))
        return iou_matrix(_buffered(pred, self._buffer), det_boxes).astype(np.float64)

    def _crowded(self, tracks: list[_Track], det_boxes: np.ndarray) -> np.ndarray:
        """(T, D) bool: pairs in a crowd, where :attr:`TrackerConfig.crowd_match_iou` applies.

        A track is crowded when its predicted box is covered to ``crowd_cover`` of its area
        by the predicted box of another track seen in the last frame that is nearer the
        camera (lower bottom edge): the player behind is the one a detector misses, and
        whose track then takes the box in front.  The nearer track keeps the loose gate.
        With ``crowd_boxes``, a box covered that much by a nearer box of the frame is
        crowded too.
        """
        from tagging.track.offline import covered_by     # offline imports this module

        cover = self.config.crowd_cover
        pred = kalman.z_to_xyxy(np.stack([t.mean for t in tracks]))
        inside = {id(t) for t in tracks}
        recent = [t for t in self._tracks if t.state == TRACKED and id(t) not in inside]
        others = kalman.z_to_xyxy(np.stack([t.mean for t in recent])) if recent else np.zeros((0, 4))
        both = np.concatenate([pred, others])
        share = covered_by(both)[:len(tracks)]
        # only nearer tracks seen in the last frame cover: a lost track's prediction drifts
        seen = np.array([t.state == TRACKED for t in tracks] + [True] * len(recent))
        share[:, ~seen] = 0
        share[np.arange(len(tracks)), np.arange(len(tracks))] = 0
        track_busy = share.max(axis=1) >= cover
        if not self.config.crowd_boxes or len(det_boxes) == 0:
            return np.repeat(track_busy[:, None], len(det_boxes), axis=1)
        det_busy = covered_by(det_boxes).max(axis=1) >= cover
        return track_busy[:, None] | det_busy[None, :]

    def _stage(self, tracks, det_idx, buffered, score, min_iou, fuse, xyxy=None, crowd=False):
        """Match ``tracks`` to detections ``det_idx``; returns (track, detection index) pairs.

        Pairs are ranked by IoU of (buffered) boxes and must reach ``min_iou``.  With
        ``xyxy`` and ``gate_chi2`` > 0 they must also pass the Kalman gate: squared
        Mahalanobis distance on centre *and size* below ``gate_chi2``.  IoU alone lets a
        track whose player was missed take a neighbour's or a false positive's box when
        it overlaps enough; the size term and the track's own uncertainty reject most.
        """
        det_idx = np.asarray(det_idx, np.int64)
        if not tracks or len(det_idx) == 0:
            return []
        iou = self._iou(tracks, buffered[det_idx])
        sim = iou * score[det_idx][None, :] if fuse else iou
        ok = iou >= min_iou
        if crowd:
            tight = self._crowded(tracks, xyxy[det_idx])
            if self.config.crowd_tracked_only:
                tight &= np.array([t.state == TRACKED for t in tracks])[:, None]
            ok &= ~tight | (iou >= self.config.crowd_match_iou)
        if xyxy is not None and self.config.gate_chi2 > 0:
            d2 = kalman.mahalanobis_sq(np.stack([t.mean for t in tracks]), np.stack([t.cov for t in tracks]),
                                       kalman.xyxy_to_z(xyxy[det_idx]), self.config.kalman)
            # only tracks seen in the previous frame: a lost track's covariance has grown
            # too wide for the gate to mean much, and IoU already limits how far it may jump
            recent = np.array([t.state == TRACKED for t in tracks])[:, None]
            ok &= (d2 <= self.config.gate_chi2) | ~recent
        sim = np.where(ok, sim, -1.0)
        return [(tracks[r], int(det_idx[c])) for r, c in _assign(sim, 0.0)]

    def _motion_gate(self) -> float:
        """This frame's box buffer (share of w / h a side): ``box_buffer``, or with a
        ``box_buffer_floor`` below it the measured residual quantile between the two."""
        cfg = self.config
        floor = cfg.box_buffer_floor
        if floor is None or floor >= cfg.box_buffer or len(self._residuals) < cfg.motion_gate_min_samples:
            return cfg.box_buffer
        q = float(np.percentile(np.fromiter(self._residuals, np.float64), cfg.motion_gate_quantile))
        return float(np.clip(q, floor, cfg.box_buffer))

    def _match(self, t: _Track, d: int, xyxy, score, frame: int) -> None:
        if t.state == TRACKED and len(t.history) >= 3:
            # a track with a velocity (3 boxes) seen in the last frame: how far off was its prediction
            cx, w = (xyxy[d, 0] + xyxy[d, 2]) / 2, max(float(t.mean[2]), 1.0)
            self._residuals.append(abs(float(cx) - float(t.mean[0])) / w)
        mean, cov = kalman.update(t.mean[None], t.cov[None], kalman.xyxy_to_z(xyxy[d:d + 1]),
                                  self.config.kalman)
        t.mean, t.cov = mean[0], cov[0]
        t.last_frame = frame
        t.history.append((frame, int(d), float(score[d])))
        if t.state == LOST:
            t.state = TRACKED               # re-activation keeps the old id
        elif t.state == TENTATIVE:
            t.state = TRACKED
