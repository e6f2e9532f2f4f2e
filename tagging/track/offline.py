"""Whole-video tracking: online pass, then clean, cut, join, filter, re-link, fill and smooth.

Tagging is a batch job, so the tracker may look at the future.  After the online
pass (tagging/track/online.py), which breaks a track whenever a player is missed
for too long or the motion model loses him, :func:`offline_tracks` runs, in order:

0. **cleans** each tracklet of outlier boxes (:func:`drop_outliers`) and **cuts**
   tracklets where two players' boxes overlap (:func:`split_at_contacts`), so that a
   join never has to undo an identity swap, and at gaps that begin with the player behind
   a nearer one (:func:`split_at_occluded_gaps`), where the online pass re-activated a
   track by IoU alone; then estimates the camera path;
1. **joins** tracklets by motion continuity: for each tracklet that ends and each one
   that starts later (within ``join_max_gap_frames``), extrapolate the first one's
   end forwards and the second one's start backwards with straight-line fits over
   ``join_fit_frames`` frames; the cost is the mean miss distance in box heights
   (plus a size-change term).  One Hungarian assignment over all (end, start) pairs
   links chains in one go, each tracklet at most once on each side (below the reference
   frame rate, never breaking a far cheaper mutual-best pair: :func:`protect_mutual_best`);
2. **drops** tracks shorter than ``min_track_frames`` or weaker on average than
   ``min_track_mean_score`` (clutter that made it past the online birth rule);
3. **re-links** track ends to later track starts over any gap up to
   ``relink_max_gap_frames`` by position alone (camera path removed), for players who
   left the picture or stayed hidden too long to extrapolate their motion
   (:func:`relink_cost_matrix`);
4. **fills** gaps up to ``fill_max_gap_frames`` by linear interpolation;
5. **smooths** the boxes with a Gaussian of ``smooth_sigma_frames`` (detector jitter
   is independent frame to frame; player motion is not).

Frames are processed-frame indices (0-based).  Everything is numpy; no Beam.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.optimize import linear_sum_assignment

from tagging.track.appearance import Cues, colour_distance, end_look, pose_dissimilarity
from tagging.track.online import ByteTracker, TrackerConfig

MODES = ("offline", "online")


@dataclass
class Track:
    """One track of one video.

    ``frame``: (K,) int64 processed-frame index, increasing; ``xyxy``: (K, 4) px;
    ``det_index``: (K,) int64 index of the box in that frame's detections, -1 where the
    box was filled in; ``score``: (K,) detection score (0 where filled).
    """

    track_id: int
    frame: np.ndarray
    xyxy: np.ndarray
    det_index: np.ndarray
    score: np.ndarray

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def observed(self) -> np.ndarray:
        return self.det_index >= 0


def _tracklets_from_tracker(tracker: ByteTracker, xyxy_per_frame) -> list[Track]:
    out = []
    for tid, frames, det_idx, score in tracker.tracks():
        boxes = np.stack([np.asarray(xyxy_per_frame[f], np.float64)[d] for f, d in zip(frames, det_idx)])
        out.append(Track(tid, frames, boxes.reshape(-1, 4), det_idx, score))
    return out


def _online_tracks(xyxy_per_frame, ids_per_frame, score_per_frame) -> list[Track]:
    """Tracks exactly as the online tracker output them frame by frame."""
    acc: dict[int, list] = {}
    for f, (boxes, ids, scores) in enumerate(zip(xyxy_per_frame, ids_per_frame, score_per_frame)):
        for d in np.nonzero(ids >= 0)[0]:
            acc.setdefault(int(ids[d]), []).append((f, int(d), float(scores[d]), *np.asarray(boxes, np.float64)[d]))
    tracks = []
    for tid, rows in sorted(acc.items()):
        r = np.asarray(rows, np.float64)
        tracks.append(Track(tid, r[:, 0].astype(np.int64), r[:, 3:7], r[:, 1].astype(np.int64), r[:, 2]))
    return tracks


def camera_path(tracks: list[Track], n_frames: int) -> np.ndarray:
    """(n_frames, 2) px: a rough camera path from the tracks themselves.

    Frame to frame, the median displacement of all players seen in both frames is
    mostly the camera's pan (players move in every direction; the camera moves them
    all together).  Its running sum, subtracted from box centres, gives positions in
    which players move slowly and straight -- what tracklet joining extrapolates.
    """
    return np.cumsum(camera_moves(tracks, 0, n_frames), axis=0)


def camera_moves(tracks: list[Track], start: int, stop: int) -> np.ndarray:
    """(stop - start, 2) px: the camera's move into each frame ``start..stop-1`` (the median
    step of the players observed in it and the frame before; 0 where fewer than two)."""
    # one flat array of every frame-to-frame step (a full match: ~3 million), grouped by
    # frame with one sort, so memory stays a few arrays long, not one object per step
    fr_parts, d_parts = [np.zeros(0, np.int64)], [np.zeros((0, 2))]
    for t in tracks:
        obs = t.observed
        f, b = t.frame[obs], t.xyxy[obs]
        if len(f) < 2:
            continue
        c = (b[:, :2] + b[:, 2:]) / 2
        keep = (np.diff(f) == 1) & (f[1:] >= start) & (f[1:] < stop)
        fr_parts.append(f[1:][keep] - start)
        d_parts.append(np.diff(c, axis=0)[keep])
    fr, d = np.concatenate(fr_parts), np.concatenate(d_parts)
    n_frames = max(stop - start, 0)
    move = np.zeros((n_frames, 2))
    counts = np.bincount(fr, minlength=n_frames)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    many = np.nonzero(counts >= 2)[0]
    lo = starts[many] + (counts[many] - 1) // 2          # the middle one or two of each frame's steps
    hi = starts[many] + counts[many] // 2
    for k in range(2):
        v = d[np.lexsort((d[:, k], fr)), k]
        move[many, k] = (v[lo] + v[hi]) / 2
    return move


def _stabilized(t: Track, path: np.ndarray | None) -> Track:
    if path is None:
        return t
    shift = np.tile(path[t.frame], 2)
    return Track(t.track_id, t.frame, t.xyxy - shift, t.det_index, t.score)


def _end_fit(t: Track, n: int, at_end: bool) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Straight-line fit of the centre over ``n`` observations at one end of ``t``.

    Returns (centre at that end (2,), velocity px/frame (2,), frame of that end, mean height)."""
    obs = t.observed
    f, b = t.frame[obs], t.xyxy[obs]
    f, b = (f[-n:], b[-n:]) if at_end else (f[:n], b[:n])
    c = (b[:, :2] + b[:, 2:]) / 2
    h = float(np.mean(b[:, 3] - b[:, 1]))
    end = float(f[-1] if at_end else f[0])
    if len(f) < 2 or f[-1] == f[0]:
        return c[-1 if at_end else 0], np.zeros(2), end, h
    ft = f - end
    a = np.stack([np.ones_like(ft, dtype=np.float64), ft], axis=1)
    coef, *_ = np.linalg.lstsq(a, c, rcond=None)
    return coef[0], coef[1], end, h


def _looks(tracks: list[Track], cues: Cues | None, n: int):
    """(ends, starts): each track's :class:`EndLook` at its end and at its start; None without cues."""
    if cues is None or not cues.any():
        return None
    out = ([], [])
    for t in tracks:
        obs = t.observed
        for at_end, acc in ((True, out[0]), (False, out[1])):
            acc.append(end_look(t.frame[obs], t.det_index[obs], t.xyxy[obs], cues, n, at_end))
    return out


def _look_cost(looks, i: int, j: int, config: TrackerConfig, pose: bool) -> float:
    """Colour (and with ``pose``, pose) cost of linking the end of track i to the start of track j."""
    if looks is None:
        return 0.0
    a, b = looks[0][i], looks[1][j]
    cost = 0.0
    d = colour_distance(a, b)
    if np.isfinite(d):
        cost += config.colour_weight * min(d, config.colour_cap)
    if pose:
        p = pose_dissimilarity(a, b)
        if np.isfinite(p):
            cost += config.pose_weight * p
    return cost


def join_cost_matrix(tracks: list[Track], config: TrackerConfig, path: np.ndarray | None = None,
                     cues: Cues | None = None) -> np.ndarray:
    """(len, len) cost of continuing track i (row) with track j (column); inf where not allowed.

    ``path``: optional (T, 2) camera path (:func:`camera_path`) removed before extrapolating;
    ``cues``: keypoints and torso colours of the detections, which add the appearance
    terms of tagging/track/appearance.py.  With ``join_mutual_margin`` set (below the
    reference frame rate), links that would break a far cheaper mutual-best pair are
    forbidden (:func:`protect_mutual_best`)."""
    looks = _looks(tracks, cues, max(config.join_fit_frames, 1))
    tracks = [_stabilized(t, path) for t in tracks]
    n = len(tracks)
    cost = np.full((n, n), np.inf)
    if n < 2:
        return cost
    k = max(config.join_fit_frames, 1)
    ends = [_end_fit(t, k, True) for t in tracks]
    starts = [_end_fit(t, k, False) for t in tracks]
    for i, (c_i, v_i, e_i, h_i) in enumerate(ends):
        for j, (c_j, v_j, s_j, h_j) in enumerate(starts):
            gap = s_j - e_i
            if i == j or gap < 1 or gap > config.join_max_gap_frames:
                continue
            h = (h_i + h_j) / 2
            fwd = np.linalg.norm(c_i + v_i * gap - c_j) / h       # i's motion carried to j's start
            bwd = np.linalg.norm(c_j - v_j * gap - c_i) / h       # j's motion carried back to i's end
            size = abs(np.log(h_j / h_i))
            c = 0.5 * (fwd + bwd) + size
            if c <= config.join_max_cost:
                c += _look_cost(looks, i, j, config, pose=True)
            if c <= config.join_max_cost:
                cost[i, j] = c
    return protect_mutual_best(cost, config.join_mutual_margin)


def protect_mutual_best(cost: np.ndarray, margin: float | None) -> np.ndarray:
    """``cost`` ((n, n), inf: not allowed) less the links that would take an end or a start
    from a mutual-best pair for more than ``margin`` above that pair's cost (None: unchanged).

    (i, j) is mutual-best where start j is end i's cheapest and end i start j's cheapest.
    The assignment maximises the number of links, so it will break such a pair to link one
    more piece: i to a dearer start l, and some other end k to j.  Where the pair is far
    cheaper than either replacement, the extra link is the likelier mistake (a piece of a
    false or vanished person taking a real one's continuation); those dearer links from i
    and into j are forbidden, and the pair stays the cheapest way through.  A pair with a
    piece k that both could link through (i -> k -> j: one person seen again in between)
    protects nothing, or it would forbid the steps of that person's own chain."""
    if margin is None or not np.isfinite(cost).any():
        return cost
    out = cost.copy()
    row_best, col_best = np.argmin(cost, axis=1), np.argmin(cost, axis=0)
    for i in np.nonzero(np.isfinite(cost).any(axis=1))[0]:
        j = row_best[i]
        # a pair that skips a piece both could link through (i -> k -> j, one person seen
        # again in between) is no reason to forbid the steps of that chain
        if col_best[j] != i or (np.isfinite(cost[i]) & np.isfinite(cost[:, j])).any():
            continue
        too_dear = cost[i, j] + margin
        out[i, cost[i] > too_dear] = np.inf
        out[cost[:, j] > too_dear, j] = np.inf
    return out


def join_tracklets(tracks: list[Track], config: TrackerConfig, path: np.ndarray | None = None,
                   cues: Cues | None = None, cut_ends: frozenset = frozenset()) -> list[Track]:
    """Link tracklets end-to-start by motion continuity; a joined track keeps its first id.

    ``cut_ends``: (frame, detection) of the last box of each piece that
    :func:`split_at_occluded_gaps` cut; a link from such an end must have no rival within
    ``occluded_margin`` of its cost (:func:`occluded_rivals`)."""
    return _join(tracks, config, path, cues, cut_ends)[0]


def _join(tracks: list[Track], config: TrackerConfig, path, cues, cut_ends: frozenset) -> tuple[list[Track], frozenset]:
    """:func:`join_tracklets`, and the (frame, detection) of the cut ends whose every link was
    refused as contested (left as a break: the re-link, blind to motion, must not take them)."""
    if len(tracks) < 2:
        return list(tracks), frozenset()
    cost = join_cost_matrix(tracks, config, path, cues)
    contested = _ends_in(tracks, cut_ends)
    chains = link_chains(cost, config.ambiguity_margin, contested, config.occluded_margin)
    last = {chain[-1] for chain in chains}
    refused = [i for i in np.nonzero(contested)[0] if i in last and np.isfinite(cost[i]).any()]
    return _along(tracks, cost, chains), frozenset(_last_obs(tracks[i]) for i in refused)


def _last_obs(t: Track) -> tuple[int, int]:
    k = np.nonzero(t.observed)[0][-1]
    return int(t.frame[k]), int(t.det_index[k])


def _ends_in(tracks: list[Track], ends: frozenset) -> np.ndarray:
    """(len(tracks),) bool: whether each track's last observed (frame, detection) is in ``ends``."""
    return np.array([bool(t.observed.any()) and _last_obs(t) in ends for t in tracks], bool)


def relink_cost_matrix(tracks: list[Track], config: TrackerConfig, path: np.ndarray | None = None,
                       cues: Cues | None = None) -> np.ndarray:
    """(len, len) cost of re-linking the end of track i (row) to the later start of track j.

    For gaps too long to extrapolate motion over -- a player who leaves the picture
    while the camera pans away and comes back when it pans back, or who stays hidden
    behind others for seconds.  With the camera path removed, such a player is found
    again near where he was last seen: the cost is the distance between the mean
    (stabilized) centres of ``join_fit_frames`` observations at i's end and at j's
    start, in mean box heights, plus the change in mean log height.  No velocity: over
    seconds a player's direction says little.  Where torso colours are known, their
    difference adds to the cost, and from ``relink_max_colour`` on forbids the re-link.
    inf where not allowed."""
    n = len(tracks)
    cost = np.full((n, n), np.inf)
    if n < 2 or config.relink_max_cost <= 0:
        return cost
    k = max(config.join_fit_frames, 1)
    looks = _looks(tracks, cues, k)
    tracks = [_stabilized(t, path) for t in tracks]

    def ends(at_end: bool):
        c, lh, f = np.zeros((n, 2)), np.zeros(n), np.zeros(n)
        for i, t in enumerate(tracks):
            obs = t.observed
            fr, b = t.frame[obs], t.xyxy[obs]
            b = b[-k:] if at_end else b[:k]
            c[i] = ((b[:, :2] + b[:, 2:]) / 2).mean(axis=0)
            lh[i] = np.log(np.maximum(b[:, 3] - b[:, 1], 1.0)).mean()
            f[i] = fr[-1] if at_end else fr[0]
        return c, lh, f

    ce, lhe, fe = ends(True)
    cs, lhs, fs = ends(False)
    gap = fs[None, :] - fe[:, None]
    h = np.exp((lhe[:, None] + lhs[None, :]) / 2)
    dist = np.linalg.norm(cs[None, :, :] - ce[:, None, :], axis=2) / h
    c = dist + np.abs(lhs[None, :] - lhe[:, None])
    if looks is not None:       # colour only: over seconds a pose says nothing about who it is
        for i, j in zip(*np.nonzero(c <= config.relink_max_cost)):
            c[i, j] += _look_cost(looks, int(i), int(j), config, pose=False)
            if config.relink_max_colour > 0 and colour_distance(looks[0][i], looks[1][j]) >= config.relink_max_colour:
                c[i, j] = np.inf    # NaN (a colour unknown) compares False: no gate without the cue
    ok = (gap >= 1) & (gap <= config.relink_max_gap_frames) & (c <= config.relink_max_cost)
    np.fill_diagonal(ok, False)
    cost[ok] = c[ok]
    return cost


def relink_tracks(tracks: list[Track], config: TrackerConfig, path: np.ndarray | None = None,
                  cues: Cues | None = None, cut_ends: frozenset = frozenset(),
                  refused: frozenset = frozenset()) -> list[Track]:
    """Second, long-range linking pass over joined tracks (:func:`relink_cost_matrix`).

    ``cut_ends`` as for :func:`join_tracklets`; ``refused``: (frame, detection) of ends whose
    joins were refused as contested, which are not re-linked either."""
    if len(tracks) < 2 or config.relink_max_cost <= 0:
        return list(tracks)
    cost = relink_cost_matrix(tracks, config, path, cues)
    cost[_ends_in(tracks, refused)] = np.inf
    return _link(tracks, cost, config.ambiguity_margin, _ends_in(tracks, cut_ends), config.occluded_margin)


def ambiguous_links(cost: np.ndarray, nxt: dict[int, int], margin: float) -> set[int]:
    """Ends i whose chosen link i -> nxt[i] had a plausible rival (leave a break, not a swap).

    A rival is another end k that could take the same start j, or another start l the
    same end could take, at a cost within ``margin`` of the chosen one; where the rival
    is itself linked, the test is on the swap: exchanging the two links costs less than
    ``margin`` more than the chosen pair.  Both links of an ambiguous swap are dropped."""
    if margin <= 0:
        return set()
    prev = {j: i for i, j in nxt.items()}
    bad: set[int] = set()
    for i, j in nxt.items():
        c = cost[i, j]
        # (rival end k, rival start l): another end for start j, or another start for end i,
        # with whatever link that rival already has (None: unlinked)
        rivals = [(k, nxt.get(k)) for k in np.nonzero(np.isfinite(cost[:, j]))[0].tolist() if k != i]
        rivals += [(prev.get(l), l) for l in np.nonzero(np.isfinite(cost[i]))[0].tolist() if l != j]
        for k, l in rivals:
            swap = k is not None and l is not None
            if swap:
                delta = cost[i, l] + cost[k, j] - c - cost[k, l]
            else:
                delta = (cost[k, j] if l is None else cost[i, l]) - c
            if delta < margin:
                bad.add(i)
                if swap:
                    bad.add(k)
    return bad


def box_covers(tracks: list[Track], points: list[tuple[int, int]], ahead: bool = False) -> np.ndarray:
    """(len(points),): for each (track index, row) the share of that box covered by the most
    covering observed box of another track in the same frame, nearer the camera (:func:`covered_by`).

    ``ahead``: the larger of that and the cover of the box carried one frame further at its
    last step's velocity (from the row before): at a low frame rate the last box seen before
    a player goes behind another may be only a little covered, the next one mostly."""
    frames = {int(tracks[ti].frame[k]) for ti, k in points}
    boxes: dict[int, list] = {f: [] for f in frames}
    for ti, t in enumerate(tracks):
        for k in np.nonzero(t.observed & np.isin(t.frame, list(frames)))[0]:
            boxes[int(t.frame[k])].append((ti, t.xyxy[k]))
    out = np.zeros(len(points))
    for n, (ti, k) in enumerate(points):
        t = tracks[ti]
        near = [b for tj, b in boxes[int(t.frame[k])] if tj != ti]
        if not near:
            continue
        own = [t.xyxy[k]]
        if ahead and k > 0:
            own.append(t.xyxy[k] + (t.xyxy[k] - t.xyxy[k - 1]) / max(int(t.frame[k] - t.frame[k - 1]), 1))
        out[n] = max(covered_by(np.vstack([box[None], np.stack(near)]))[0].max() for box in own)
    return out


def split_at_occluded_gaps(tracks: list[Track], config: TrackerConfig) -> tuple[list[Track], frozenset]:
    """Cut tracks at gaps that begin with the player covered by a nearer one (``occluded_gap_cover``,
    of the last box before the gap or of that box carried one step ahead, :func:`box_covers`).

    There the online pass re-activated the track on whichever box its IoU gate reached
    when someone came out from behind the occluder: a join decided without motion and
    without a rival.  Cut, the pieces go through :func:`join_tracklets`, whose motion cost
    decides again, and where another end or start is nearly as cheap the link is left out
    (:func:`occluded_rivals`): a break, not a swap.  Gaps are then only filled across
    links that survived.  Returns (tracks, (frame, detection) of the last box of each piece
    that ends at such a cut); off (no cut) where ``occluded_gap_cover`` is 0."""
    if config.occluded_gap_cover <= 0 or len(tracks) < 2:
        return tracks, frozenset()
    before_gap = [(ti, int(k)) for ti, t in enumerate(tracks) for k in np.nonzero(np.diff(t.frame) > 1)[0]]
    covers = box_covers(tracks, before_gap, ahead=True)
    cut = {p for p, c in zip(before_gap, covers) if c >= config.occluded_gap_cover}
    if not cut:
        return tracks, frozenset()
    cut_rows: dict[int, list[int]] = {}
    for ti, k in sorted(cut):
        cut_rows.setdefault(ti, []).append(k + 1)
    out, next_id = [], max(t.track_id for t in tracks) + 1
    for ti, t in enumerate(tracks):
        for n, run in enumerate(np.split(np.arange(len(t)), cut_rows.get(ti, []))):
            tid = t.track_id if n == 0 else next_id
            next_id += n > 0
            out.append(Track(tid, t.frame[run], t.xyxy[run], t.det_index[run], t.score[run]))
    return out, frozenset((int(tracks[ti].frame[k]), int(tracks[ti].det_index[k])) for ti, k in cut)


def occluded_rivals(cost: np.ndarray, nxt: dict[int, int], contested: np.ndarray, margin: float) -> set[int]:
    """Ends i with ``contested[i]`` whose link i -> nxt[i] has a free rival costing at most
    ``margin`` more: another end for the same start, or another start for the same end, that
    the assignment left unlinked.  (Rivals linked elsewhere do not count: on SportsMOT, where
    misses are random, counting them broke many right links, docs/tracking.md.)"""
    bad = set()
    linked_starts = set(nxt.values())
    for i, j in nxt.items():
        if not contested[i]:
            continue
        ends = [k for k in np.nonzero(np.isfinite(cost[:, j]))[0] if k != i and k not in nxt]
        starts = [l for l in np.nonzero(np.isfinite(cost[i]))[0] if l != j and l not in linked_starts]
        rival = min([cost[k, j] for k in ends] + [cost[i, l] for l in starts], default=np.inf)
        if rival <= cost[i, j] + margin:
            bad.add(i)
    return bad


def link_pairs(cost: np.ndarray, ambiguity_margin: float = 0.0, contested: np.ndarray | None = None,
               contested_margin: float = 0.0) -> dict[int, int]:
    """{end i: start j}: one Hungarian assignment over the finite costs, less the links that
    had a plausible rival (:func:`ambiguous_links`; for the ends flagged in ``contested``
    ((n,) bool), :func:`occluded_rivals` with ``contested_margin``)."""
    finite = np.isfinite(cost)
    if not finite.any():
        return {}
    rows, cols = linear_sum_assignment(np.where(finite, cost, 1e9))
    nxt = {int(r): int(c) for r, c in zip(rows, cols) if finite[r, c]}
    bad = ambiguous_links(cost, nxt, ambiguity_margin)
    if contested is not None:
        bad |= occluded_rivals(cost, nxt, contested, contested_margin)
    for i in bad:
        del nxt[i]
    return nxt


def link_chains(cost: np.ndarray, ambiguity_margin: float = 0.0, contested: np.ndarray | None = None,
                contested_margin: float = 0.0) -> list[list[int]]:
    """Chains of track indices (in order of their first track) along the links of
    :func:`link_pairs`; every track is in exactly one chain."""
    nxt = link_pairs(cost, ambiguity_margin, contested, contested_margin)
    has_prev = set(nxt.values())
    chains = []
    for start in range(len(cost)):
        if start in has_prev:
            continue
        chain, i = [start], start
        while i in nxt:
            i = nxt[i]
            chain.append(i)
        chains.append(chain)
    return chains


def concat_tracks(chain: list[Track]) -> Track:
    """One track of ``chain``'s tracks end to end; it keeps the first one's id."""
    return Track(chain[0].track_id, np.concatenate([t.frame for t in chain]),
                 np.concatenate([t.xyxy for t in chain]), np.concatenate([t.det_index for t in chain]),
                 np.concatenate([t.score for t in chain]))


def _link(tracks: list[Track], cost: np.ndarray, ambiguity_margin: float = 0.0,
          contested: np.ndarray | None = None, contested_margin: float = 0.0) -> list[Track]:
    """The tracks joined along :func:`link_chains`."""
    return _along(tracks, cost, link_chains(cost, ambiguity_margin, contested, contested_margin))


def _along(tracks: list[Track], cost: np.ndarray, chains: list[list[int]]) -> list[Track]:
    if not np.isfinite(cost).any():
        return list(tracks)
    return sorted((concat_tracks([tracks[i] for i in chain]) for chain in chains), key=lambda t: t.track_id)


def drop_outliers(track: Track, config: TrackerConfig) -> Track:
    """Un-assign single boxes that stray from the track's running median.

    When a player is missed, his track may take a neighbour's box or a false positive
    for a frame or two before coming back.  Such a box lies off the track's path: more
    than ``outlier_max_offset`` box widths (heights for y) from the median over
    ``outlier_window_frames`` observations, or with a height off by more than that share.
    The box goes back to being unassigned (the frame is then filled by interpolation).
    """
    w = config.outlier_window_frames
    obs = np.nonzero(track.observed)[0]
    if w < 3 or len(obs) < w:
        return track
    b = track.xyxy[obs]
    c = (b[:, :2] + b[:, 2:]) / 2
    wh = np.maximum(b[:, 2:] - b[:, :2], 1.0)
    z = np.concatenate([c, np.log(wh)], axis=1)
    half = w // 2
    padded = np.concatenate([np.repeat(z[:1], half, 0), z, np.repeat(z[-1:], half, 0)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, w, axis=0)     # (K, 4, w)
    med = np.median(windows, axis=2)
    off = np.abs(z - med)
    ref_wh = np.exp(med[:, 2:])
    bad = ((off[:, 0] / ref_wh[:, 0] > config.outlier_max_offset)
           | (off[:, 1] / ref_wh[:, 1] > config.outlier_max_offset)
           | (off[:, 3] > config.outlier_max_offset))
    if not bad.any():
        return track
    keep = np.ones(len(track), bool)
    keep[obs[bad]] = False
    return Track(track.track_id, track.frame[keep], track.xyxy[keep], track.det_index[keep], track.score[keep])


def split_at_contacts(tracks: list[Track], config: TrackerConfig) -> list[Track]:
    """Cut tracks where two players' boxes overlap (IoU >= ``contact_iou``).

    Close together, two tracks can swap players, one or many times, and nothing in the
    boxes says which way round is right.  Offline we need not decide there: each track
    is cut around its contact frames (the overlapping boxes are dropped) and the pieces
    are joined again by motion continuity across the contact (:func:`join_tracklets`),
    which sees the players' paths on both sides.
    """
    from tagging.core.boxes import iou_matrix

    if (config.contact_iou <= 0 and config.contact_cover <= 0) or len(tracks) < 2:
        return tracks
    frame_rows: dict[int, list[tuple[int, int]]] = {}
    for ti, t in enumerate(tracks):
        for k in np.nonzero(t.observed)[0]:
            frame_rows.setdefault(int(t.frame[k]), []).append((ti, int(k)))
    contact = [np.zeros(len(t), bool) for t in tracks]
    for rows in frame_rows.values():
        if len(rows) < 2:
            continue
        boxes = np.stack([tracks[ti].xyxy[k] for ti, k in rows])
        iou = iou_matrix(boxes, boxes)
        np.fill_diagonal(iou, 0)
        hit = iou >= config.contact_iou if config.contact_iou > 0 else np.zeros_like(iou, bool)
        if config.contact_cover > 0:
            # a player mostly hidden behind a nearer one (depth order: lower bottom edge)
            # is where identities swap even when the two boxes differ in size (low IoU)
            covered = covered_by(boxes) >= config.contact_cover
            hit |= covered | covered.T
        for (ti, k), h in zip(rows, hit.any(axis=1)):
            contact[ti][k] |= bool(h)
    out, next_id = [], max(t.track_id for t in tracks) + 1
    for t, c in zip(tracks, contact):
        if not c.any():
            out.append(t)
            continue
        keep = ~c
        # runs of kept frames become pieces
        idx = np.nonzero(keep)[0]
        if len(idx) == 0:
            continue
        breaks = np.nonzero(np.diff(idx) > 1)[0] + 1
        for n, run in enumerate(np.split(idx, breaks)):
            tid = t.track_id if n == 0 else next_id
            next_id += n > 0
            out.append(Track(tid, t.frame[run], t.xyxy[run], t.det_index[run], t.score[run]))
    return out


def covered_by(xyxy: np.ndarray) -> np.ndarray:
    """(N, N): [i, j] = share of box i's area covered by box j where j is nearer the camera
    (its bottom edge lower in the image), else 0."""
    x1, y1, x2, y2 = (xyxy[:, i] for i in range(4))
    iw = np.clip(np.minimum(x2[:, None], x2[None]) - np.maximum(x1[:, None], x1[None]), 0, None)
    ih = np.clip(np.minimum(y2[:, None], y2[None]) - np.maximum(y1[:, None], y1[None]), 0, None)
    share = iw * ih / np.maximum((x2 - x1) * (y2 - y1), 1e-9)[:, None]
    share[~(y2[None, :] > y2[:, None])] = 0.0
    return share


def fill_gaps(track: Track, max_gap_frames: int) -> Track:
    """Linearly interpolated boxes in every gap of at most ``max_gap_frames`` missing frames."""
    if len(track) < 2 or max_gap_frames <= 0:
        return track
    f = track.frame
    missing = np.diff(f) - 1
    if not np.any((missing > 0) & (missing <= max_gap_frames)):
        return track
    new_f = [f[:1]]
    for a, m in zip(range(len(f) - 1), missing):
        if 0 < m <= max_gap_frames:
            new_f.append(np.arange(f[a] + 1, f[a + 1]))
        new_f.append(f[a + 1:a + 2])
    frames = np.concatenate(new_f)
    boxes = np.stack([np.interp(frames, f, track.xyxy[:, c]) for c in range(4)], axis=1)
    where = np.searchsorted(f, frames)
    is_obs = np.isin(frames, f)
    det = np.where(is_obs, track.det_index[np.minimum(where, len(f) - 1)], -1)
    score = np.where(is_obs, track.score[np.minimum(where, len(f) - 1)], 0.0)
    return Track(track.track_id, frames, boxes, det, score)


def smooth_boxes(track: Track, sigma_frames: float) -> Track:
    """Gaussian-smooth centre and size over each run of consecutive frames."""
    if sigma_frames <= 0 or len(track) < 3:
        return track
    z = np.concatenate([(track.xyxy[:, :2] + track.xyxy[:, 2:]) / 2, track.xyxy[:, 2:] - track.xyxy[:, :2]], 1)
    out = z.copy()
    breaks = np.nonzero(np.diff(track.frame) > 1)[0] + 1
    for run in np.split(np.arange(len(track)), breaks):
        if len(run) >= 3:
            out[run] = gaussian_filter1d(z[run], sigma_frames, axis=0, mode="nearest")
    xyxy = np.concatenate([out[:, :2] - out[:, 2:] / 2, out[:, :2] + out[:, 2:] / 2], 1)
    return Track(track.track_id, track.frame, xyxy, track.det_index, track.score)


def track_video(xyxy_per_frame, score_per_frame, config: TrackerConfig = TrackerConfig(),
                mode: str = "offline", keypoints=None, colours=None, fps: float | None = None) -> list[Track]:
    """Track a whole video given each processed frame's boxes ((N_i, 4) px) and scores ((N_i,)).

    ``mode="online"``: the ids the online tracker gave, frame by frame, nothing else.
    ``mode="offline"``: plus joining, filtering, gap filling and smoothing (module doc).
    ``keypoints`` ((N_i, 17, 3) per frame) and ``colours`` ((N_i, >= 3) L*a*b* torso colour
    per frame), where given, add appearance terms to the offline joins
    (tagging/track/appearance.py).  ``fps``: processed frames per second; the config's
    frame counts are scaled to it (:meth:`TrackerConfig.for_fps`).
    """
    config = config.for_fps(fps)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
    if len(xyxy_per_frame) != len(score_per_frame):
        raise ValueError(f"{len(xyxy_per_frame)} frames of boxes but {len(score_per_frame)} of scores")
    tracker = ByteTracker(config)
    ids = [tracker.update(b, s) for b, s in zip(xyxy_per_frame, score_per_frame)]
    if mode == "online":
        return _online_tracks(xyxy_per_frame, ids, score_per_frame)
    return offline_tracks(_tracklets_from_tracker(tracker, xyxy_per_frame), len(xyxy_per_frame), config,
                          Cues(keypoints, colours))


def offline_tracks(tracks: list[Track], n_frames: int, config: TrackerConfig = TrackerConfig(),
                   cues: Cues | None = None) -> list[Track]:
    """The whole-video pass on the online tracker's tracklets (module doc), ids renumbered 1..n."""
    tracks = [drop_outliers(t, config) for t in tracks]
    tracks, cut_ends = split_at_occluded_gaps(split_at_contacts([t for t in tracks if len(t)], config), config)
    path = camera_path(tracks, n_frames) if config.join_stabilize else None
    tracks, refused = _join(tracks, config, path, cues, cut_ends)
    tracks = [t for t in tracks
              if int(t.observed.sum()) >= config.min_track_frames
              and float(t.score[t.observed].mean()) >= config.min_track_mean_score]
    tracks = relink_tracks(tracks, config, path, cues, cut_ends, refused)
    tracks = [smooth_boxes(fill_gaps(t, config.fill_max_gap_frames), config.smooth_sigma_frames)
              for t in tracks]
    # ids 1..n in order of first appearance: stable and dense for the tables
    tracks.sort(key=lambda t: (int(t.frame[0]), t.track_id))
    for new_id, t in enumerate(tracks, start=1):
        t.track_id = new_id
    return tracks


def ids_per_frame(tracks: list[Track], boxes_per_frame: list[int]) -> list[np.ndarray]:
    """Per-frame (N_i,) int64 id of each detection (-1: in no track); ``boxes_per_frame[i]`` = N_i."""
    ids = [np.full(n, -1, np.int64) for n in boxes_per_frame]
    for t in tracks:
        for f, d in zip(t.frame[t.observed].tolist(), t.det_index[t.observed].tolist()):
            ids[f][d] = t.track_id
    return ids
