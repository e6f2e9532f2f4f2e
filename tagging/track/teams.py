"""Team assignment from jersey colour: torso colour per person, clustered per video.

1. :func:`torso_colours` -- per person, the median CIELAB colour of the torso: the
   quadrilateral of shoulders and hips when those keypoints are confident, else the
   box's 20-55 % height band, middle half of its width.  Pitch-coloured and near-black
   pixels are left out (grass between the arms, shadows), so a 25 px tall player on
   a wide shot still gives a jersey colour.  "Pitch-coloured" is judged against the
   grass right around the person (a ring one box wide), not one colour for the whole
   frame: sunlit and shaded grass, and the far half of a wide shot, differ more from
   each other than a lime kit does from grass.
2. :func:`assign_teams` -- one colour per track (median over its frames), k-means on
   the tracks with k = 2 and k = 3 (scikit-learn).  With three clusters, the smallest
   becomes ``"other"`` (referees, goalkeepers, staff) when it is small and far from both
   teams; otherwise two teams.  Tracks far from every team centre are also ``"other"``.
   Tracks whose boxes stand mostly off the pitch (benches, staff) are ``"other"`` before
   clustering.  Teams are ``"a"`` and ``"b"`` (``"a"`` = the team with more tracks); a track with too
   few usable colours gets ``None``.

Pure numpy/OpenCV/scikit-learn; frames are RGB uint8 arrays (H, W, 3).
"""

from __future__ import annotations

import warnings

from dataclasses import dataclass

import cv2
import numpy as np

from tagging.core.keypoints import KP

L_SHOULDER, R_SHOULDER, L_HIP, R_HIP = (KP[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip"))
NO_COLOUR = np.full(3, np.nan, np.float32)
TEAMS = ("a", "b")


@dataclass(frozen=True)
class TeamConfig:
    min_keypoint_score: float = 0.3     # shoulders/hips above this outline the torso
    pitch_distance: float = 18.0        # L*a*b* distance (8-bit scale) below which a pixel is pitch
    min_pitch_share: float = 0.25       # a track whose boxes are less pitch than this is off the pitch
    min_pixels: int = 6                 # fewer usable torso pixels: no colour for that person
    min_frames: int = 3                 # a track needs this many coloured frames for a team
    other_min_separation: float = 1.5   # the second kit's centre is this many spreads from the first's
    outlier_distance: float = 3.0       # a track this many spreads from its team centre is "other"
    min_spread: float = 5.0             # L*a*b* units: floor of a team's colour spread (identical kits)
    lightness_weight: float = 0.25      # L* scale against a*, b* in the clustering
    max_clusters: int = 4               # k-means clusters the kits are picked from (see _two_kits)
    ring_min_green: float = 0.25        # share of green-hued pixels the ring around a box needs to
                                        # give the local pitch colour (else the frame's is used)
    seed: int = 0
    # per-row teams (row_teams): a single detection's colour is noisier than a track's median
    row_window_s: float = 0.5           # seconds of a track's rows on either side of a row that vote
    row_switch_share: float = 0.75      # share of one side's kit votes for the other kit that
                                        # moves a row of a track onto that kit (a swap)


def _torso_mask(shape: tuple[int, int], box: np.ndarray, kps: np.ndarray | None, cfg: TeamConfig) -> np.ndarray:
    h, w = shape
    mask = np.zeros((h, w), np.uint8)
    if kps is not None and np.all(kps[[L_SHOULDER, R_SHOULDER, L_HIP, R_HIP], 2] >= cfg.min_keypoint_score):
        quad = kps[[L_SHOULDER, R_SHOULDER, R_HIP, L_HIP], :2]
        centre = quad.mean(axis=0)
        quad = centre + 0.8 * (quad - centre)          # shrink: keep arms and background out
        cv2.fillConvexPoly(mask, np.round(quad).astype(np.int32), 1)
        if mask.sum() > 0:
            return mask.astype(bool)
    x1, y1, x2, y2 = box
    bw, bh = x2 - x1, y2 - y1
    xa, xb = int(round(x1 + 0.25 * bw)), int(round(x2 - 0.25 * bw))
    ya, yb = int(round(y1 + 0.2 * bh)), int(round(y1 + 0.55 * bh))
    xa, xb, ya, yb = max(xa, 0), min(max(xb, xa + 1), w), max(ya, 0), min(max(yb, ya + 1), h)
    mask[ya:yb, xa:xb] = 1
    return mask.astype(bool)


def _local_pitch(lab: np.ndarray, greenish: np.ndarray, box: tuple[int, int, int, int],
                 config: TeamConfig) -> np.ndarray | None:
    """Median L*a*b* (float32, (3,)) of the green-hued pixels in a ring around ``box``
    (integer xyxy on the frame): one box width left and right, half its height above and
    below.  None when too little of the ring is green (a person off the pitch)."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    X1, Y1 = max(x1 - w, 0), max(y1 - h // 2, 0)
    X2, Y2 = min(x2 + w, lab.shape[1]), min(y2 + h // 2, lab.shape[0])
    ring = np.ones((Y2 - Y1, X2 - X1), bool)
    ring[y1 - Y1:y2 - Y1, x1 - X1:x2 - X1] = False
    green = greenish[Y1:Y2, X1:X2] & ring
    if green.sum() < max(config.min_pixels, config.ring_min_green * ring.sum()):
        return None
    return np.median(lab[Y1:Y2, X1:X2][green], axis=0).astype(np.float32)


def torso_colours(frame_rgb: np.ndarray, xyxy: np.ndarray, keypoints: np.ndarray | None = None,
                  config: TeamConfig = TeamConfig()) -> np.ndarray:
    """(N, 4) float32 per person: median L*a*b* (OpenCV 8-bit scale) of the torso, and the
    share of the box that is pitch (0..1; NaN when no pitch is in view).  Colour is NaN
    where fewer than ``min_pixels`` usable torso pixels remain."""
    xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4)
    out = np.full((len(xyxy), 4), np.nan, np.float32)
    if len(xyxy) == 0:
        return out
    frame = np.asarray(frame_rgb)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame must be (H, W, 3) RGB; got {frame.shape}")
    lab = cv2.cvtColor(frame, cv2.COLOR_RGB2LAB)
    hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)
    # The pitch is not jersey, but a fixed "green" range would also remove lime or
    # green kits: measure this frame's pitch colour (median of its green-hued pixels)
    # and drop only pixels close to it.  Deep shadow is not jersey either.
    greenish = (hsv[..., 0] >= 30) & (hsv[..., 0] <= 90) & (hsv[..., 1] >= 40)
    labf = lab.astype(np.float32)
    # no pitch in view (indoor court, close-up): no pitch test at all
    frame_pitch = (np.median(lab[greenish].reshape(-1, 3)[::7], axis=0).astype(np.float32)
                   if greenish.mean() > 0.2 else None)
    dark = hsv[..., 2] < 30
    H, W = frame.shape[:2]
    for i, box in enumerate(xyxy):
        kps = None if keypoints is None else np.asarray(keypoints)[i]
        x1, y1, x2, y2 = (int(v) for v in (np.floor(box[0]), np.floor(box[1]), np.ceil(box[2]), np.ceil(box[3])))
        x1, y1 = max(x1, 0), max(y1, 0)
        x2, y2 = min(x2, W), min(y2, H)
        if x2 <= x1 or y2 <= y1:
            continue
        local_box = box - np.array([x1, y1, x1, y1], np.float32)
        local_kps = None if kps is None else kps - np.array([x1, y1, 0], np.float32)
        mask = _torso_mask((y2 - y1, x2 - x1), local_box, local_kps, config)
        mask &= ~dark[y1:y2, x1:x2]
        if frame_pitch is not None:
            pitch = _local_pitch(labf, greenish, (x1, y1, x2, y2), config)
            green = np.linalg.norm(labf[y1:y2, x1:x2] - (frame_pitch if pitch is None else pitch),
                                   axis=2) < config.pitch_distance
            mask &= ~green
            out[i, 3] = green.mean()
        if mask.sum() >= config.min_pixels:
            out[i, :3] = np.median(lab[y1:y2, x1:x2][mask], axis=0)
    return out


def colour_per_track(colours_by_track: dict[int, list[np.ndarray]], config: TeamConfig = TeamConfig()
                  ) -> dict[int, np.ndarray]:
    """One (4,) row per track from :func:`torso_colours` rows: median colour over the frames
    that have one, median pitch share; tracks with fewer than ``min_frames`` colours are left out."""
    out = {}
    for tid, cols in colours_by_track.items():
        c = np.asarray(cols, np.float32).reshape(-1, 4)
        ok = ~np.isnan(c[:, :3]).any(axis=1)
        if ok.sum() >= config.min_frames:
            share = c[:, 3][~np.isnan(c[:, 3])]
            out[tid] = np.concatenate([np.median(c[ok, :3], axis=0),
                                       [np.median(share) if len(share) else np.nan]]).astype(np.float32)
    return out


def track_colour(colours: np.ndarray, config: TeamConfig = TeamConfig()) -> np.ndarray | None:
    """One track's (4,) colour row from its (T, 4) :func:`torso_colours` rows, using only the
    rows that have a colour; None when too few do (see :func:`colour_per_track`)."""
    colours = np.asarray(colours, np.float32).reshape(-1, 4)
    valid = colours[~np.isnan(colours[:, :3]).any(axis=1)]
    return colour_per_track({0: valid}, config).get(0) if len(valid) else None


def _two_kits(x: np.ndarray, fit, config: TeamConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Teams among (N, 3) track colours: over-cluster (``max_clusters``), take the largest
    cluster as one kit and the largest one clearly apart from it as the other, fold the
    remaining clusters into the kit they sit near (one kit split by sun and shade), and
    leave the rest ``other`` (referees, goalkeepers, staff who stand on the grass).
    Returns (N,) team index 0/1, (2, 3) team centres and the (N,) "other" flags.

    Forcing two clusters instead merges both kits into one as soon as a handful of dark
    tracks (coaches at the touchline, referees) are clustered with them."""
    k = int(min(config.max_clusters, len(x) // 2))
    labels, centres = fit(k)
    sizes = np.bincount(labels, minlength=k)
    spread = max(float(np.median(np.linalg.norm(x - centres[labels], axis=1))), config.min_spread)
    near = config.outlier_distance * spread
    order = [int(c) for c in np.argsort(-sizes, kind="stable")]
    first = order[0]
    apart = [c for c in order[1:]
             if np.linalg.norm(centres[c] - centres[first]) > config.other_min_separation * spread]
    if not apart:                        # one kit only in view: fall back to a plain split
        labels, centres = fit(2)
        return labels, centres, np.zeros(len(x), bool)
    kits = [first, apart[0]]
    team_of = np.zeros(len(x), int)
    other = np.zeros(len(x), bool)
    for c in range(k):
        d = [np.linalg.norm(centres[c] - centres[kit]) for kit in kits]
        members = labels == c
        team_of[members] = int(np.argmin(d))
        other[members] = min(d) > near
    return team_of, centres[kits], other


def assign_teams(colour_per_track: dict[int, np.ndarray], config: TeamConfig = TeamConfig()
                 ) -> dict[int, str | None]:
    """``{track_id: "a" | "b" | "other"}`` from one colour per track (see module doc)."""
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    labels: dict[int, str | None] = {tid: None for tid in colour_per_track}
    # off the pitch (bench, staff, crowd): "other", and kept out of the clustering, where
    # dark coats would otherwise pull one "team" centre towards them
    ids = []
    for tid, row in sorted(colour_per_track.items()):
        row = np.asarray(row, np.float64).reshape(-1)
        if len(row) > 3 and not np.isnan(row[3]) and row[3] < config.min_pitch_share:
            labels[tid] = "other"
        else:
            ids.append(tid)
    if len(ids) < 2:
        return labels
    x = np.stack([np.asarray(colour_per_track[t], np.float64).reshape(-1)[:3] for t in ids])
    # sun, shade and the far side of the pitch change a kit's lightness far more than its
    # hue: weigh L* down so that one kit in two lights stays one cluster
    x = x * np.array([config.lightness_weight, 1.0, 1.0])

    def fit(k):
        with warnings.catch_warnings():
            # flat kits (fewer distinct colours than clusters, as in synthetic footage) are
            # fine: the spare clusters come out empty, and the kits are picked by size
            warnings.filterwarnings("ignore", "Number of distinct clusters", ConvergenceWarning)
            km = KMeans(n_clusters=k, n_init=10, random_state=config.seed).fit(x)
        return km.labels_, km.cluster_centers_

    if len(ids) >= 6:
        team_of, centres, other = _two_kits(x, fit, config)
    else:
        team_of, centres = fit(2)
        other = np.zeros(len(ids), bool)
    # outliers against their own team
    dist = np.linalg.norm(x - centres[team_of], axis=1)
    for team in (0, 1):
        members = (team_of == team) & ~other
        if members.sum() >= 3:
            spread = max(float(np.median(dist[members])), config.min_spread)
            other |= members & (dist > config.outlier_distance * spread)
    counts = [int(((team_of == t) & ~other).sum()) for t in (0, 1)]
    name = {0: "a", 1: "b"} if counts[0] >= counts[1] else {0: "b", 1: "a"}
    for i, tid in enumerate(ids):
        labels[tid] = "other" if other[i] else name[int(team_of[i])]
    return labels


def teams_of_tracks(tracked, config: TeamConfig = TeamConfig()) -> dict[int, str | None]:
    """``{track_id: team}`` from tracked frames (``tagging.track.sequences.track_frames`` output)
    whose FramePoses carry ``appearance`` (torso colours); tracks without colours get None."""
    by_track: dict[int, list[np.ndarray]] = {}
    for _, _, poses in tracked:
        for tid, colour in zip(poses.track_id.tolist(), poses.appearance):
            if tid >= 0:
                by_track.setdefault(tid, []).append(colour)
    colours = {tid: c for tid, rows in by_track.items() if (c := track_colour(rows, config)) is not None}
    return assign_teams(colours, config) if colours else {}


@dataclass(frozen=True)
class TeamModel:
    """The two kits' colour models learnt from a video's tracks: ``centres`` (2, 3) median
    L*a*b* of the rows of the ``a`` and ``b`` tracks, L* weighed by ``lightness_weight`` as in
    the clustering; ``spreads`` (2,) their median distance to the centre, floored at
    ``min_spread`` (same units)."""

    centres: np.ndarray
    spreads: np.ndarray


def team_model(colours: np.ndarray, teams, config: TeamConfig = TeamConfig()) -> TeamModel | None:
    """:class:`TeamModel` from (N, >= 3) row colours and the (N,) team of each row's track;
    None unless both kits have at least ``min_frames`` coloured rows."""
    x = _weighted(colours, config)
    teams = np.asarray(teams, object)
    centres, spreads = [], []
    for team in TEAMS:
        rows = x[(teams == team) & ~np.isnan(x).any(axis=1)]
        if len(rows) < config.min_frames:
            return None
        centre = np.median(rows, axis=0)
        centres.append(centre)
        spreads.append(max(float(np.median(np.linalg.norm(rows - centre, axis=1))), config.min_spread))
    return TeamModel(np.stack(centres), np.array(spreads))


def _weighted(colours: np.ndarray, config: TeamConfig) -> np.ndarray:
    c = np.asarray(colours, np.float64).reshape(len(colours), -1)[:, :3]
    return c * np.array([config.lightness_weight, 1.0, 1.0])


def classify_colours(colours: np.ndarray, model: TeamModel, config: TeamConfig = TeamConfig()) -> np.ndarray:
    """(N,) object array: the team of each (N, 4) :func:`torso_colours` row on its own.

    The nearer kit (distance in units of that kit's spread), ``other`` when the row is more
    than ``outlier_distance`` spreads from both kits or its box is less than
    ``min_pitch_share`` pitch (off the pitch), None when the row has no colour."""
    colours = np.asarray(colours, np.float64).reshape(-1, 4)
    out = np.full(len(colours), None, object)
    ok = ~np.isnan(colours[:, :3]).any(axis=1)
    if not ok.any():
        return out
    x = _weighted(colours[ok], config)
    d = np.linalg.norm(x[:, None, :] - model.centres[None], axis=2) / model.spreads[None]
    team = np.array(TEAMS, object)[np.argmin(d, axis=1)]
    far = d.min(axis=1) > config.outlier_distance
    off = ~np.isnan(colours[ok, 3]) & (colours[ok, 3] < config.min_pitch_share)
    team[far | off] = "other"
    out[ok] = team
    return out


def row_teams(track_id: np.ndarray, timestamp_ms: np.ndarray, colours: np.ndarray,
              track_teams: dict[int, str | None], config: TeamConfig = TeamConfig()) -> np.ndarray:
    """(N,) object array: the team of each pose row of one video (``a``/``b``/``other``/None).

    ``track_id`` (N,) (-1: untracked), ``timestamp_ms`` (N,), ``colours`` (N, 4)
    :func:`torso_colours` rows, ``track_teams`` the tracks' teams (:func:`assign_teams`).

    - A row of an ``a``/``b`` track carries its track's team, except where the track has
      changed kit (one id over two players of different teams): the row takes the other
      kit when its own colour (:func:`classify_colours`) says so and, among the track's
      rows in the ``row_window_s`` seconds before it or in those after it (itself
      included), at least ``row_switch_share`` of the kit votes are for the other kit; a
      row without a kit of its own needs both sides to agree.  Each side needs at least
      ``min_frames`` kit votes, so a lone odd colour changes nothing.
    - ``other`` tracks keep ``other`` on every row.
    - Rows without a track, and rows of tracks without a team, get their own colour's team.

    Without two kits to learn from (fewer than ``min_frames`` coloured rows of either),
    every row carries its track's team."""
    track_id = np.asarray(track_id, np.int64).reshape(-1)
    t = np.asarray(timestamp_ms, np.float64).reshape(-1)
    colours = np.asarray(colours, np.float32).reshape(-1, 4)
    of_track = np.array([track_teams.get(int(k)) if k >= 0 else None for k in track_id], object)
    model = team_model(colours, of_track, config)
    if model is None:
        return of_track
    own = classify_colours(colours, model, config)
    out = of_track.copy()
    untracked = np.array([v is None for v in of_track])
    out[untracked] = own[untracked]
    window = 1000.0 * config.row_window_s
    kit_vote = (own == TEAMS[0]) | (own == TEAMS[1])
    # one pass over the rows grouped by track, in time order (a match has ~10^6 rows)
    order = np.lexsort((t, track_id))
    starts = np.nonzero(np.diff(track_id[order], prepend=-2) != 0)[0]
    for idx in np.split(order, starts[1:]):
        team = track_teams.get(int(track_id[idx[0]])) if track_id[idx[0]] >= 0 else None
        if team not in TEAMS:
            continue
        other_kit = TEAMS[1 - TEAMS.index(team)]
        ts = t[idx]
        votes_other = np.cumsum(np.concatenate([[0], own[idx] == other_kit]))
        votes_kit = np.cumsum(np.concatenate([[0], kit_vote[idx]]))
        here = np.arange(len(idx))
        # the rows before a row (itself included) and those after it, each side on its own:
        # a window centred on the swap would hold half of each player's rows there
        sides = [(np.searchsorted(ts, ts - window, side="left"), here + 1),
                 (here, np.searchsorted(ts, ts + window, side="right"))]
        clear = []
        for lo, hi in sides:
            n_kit = votes_kit[hi] - votes_kit[lo]
            clear.append((n_kit >= config.min_frames)
                         & (votes_other[hi] - votes_other[lo] >= config.row_switch_share * n_kit))
        # a row whose own colour says the other kit needs one side to agree; a row without
        # a kit of its own (no colour, or "other") needs both
        swapped = np.where(own[idx] == other_kit, clear[0] | clear[1], clear[0] & clear[1])
        out[idx[swapped]] = other_kit
    return out
