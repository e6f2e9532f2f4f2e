"""Tracking evaluation on MOT-format ground truth, with detections simulated from it.

SportsMOT ships trajectories but not the image frames we could run a detector on,
so association is scored on detections generated from the ground truth under one
fixed, seeded noise protocol (docs/tracking.md; :class:`NoiseProtocol`).  The same
detections go to every tracker, ours and the peers in bench/tracking_vs_peers.py.

Scoring uses maintained libraries, not our own counting:

- ``motmetrics`` for IDF1, MOTA and ID switches (IoU >= 0.5 match, MOTChallenge rule);
- ``trackeval``'s HOTA (Luiten et al., IJCV 2020), averaged over IoU thresholds 0.05..0.95.

Pure numpy/pandas; no Beam, no frames.
"""

from __future__ import annotations

import configparser
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tagging.core.boxes import iou_matrix

SPORTS = ("basketball", "volleyball", "football")


class MotFormatError(ValueError):
    """A ground-truth directory or file that is not valid MOT format."""


@dataclass
class MotSequence:
    """Ground truth of one sequence; frames are 1-based as in the files.

    ``frame``, ``track_id``: (K,) int64; ``xyxy``: (K, 4) float64 px.
    """

    name: str
    frame_count: int
    width_px: int
    height_px: int
    fps: float
    frame: np.ndarray
    track_id: np.ndarray
    xyxy: np.ndarray

    @property
    def max_people_per_frame(self) -> int:
        return int(np.bincount(self.frame).max()) if len(self.frame) else 0


def sport_of(seq: MotSequence) -> str:
    """basketball / volleyball / football from the number of players on screen at once.

    SportsMOT names are YouTube ids, and seqinfo.ini has no sport, so we use the one
    robust difference: basketball has 10 players on court, volleyball 12 and a
    broadcast football shot more than 12.  A heuristic for SportsMOT, not a classifier.
    """
    n = seq.max_people_per_frame
    return "basketball" if n <= 10 else "volleyball" if n <= 12 else "football"


def load_sequence(seq_dir: str | Path) -> MotSequence:
    """Read ``seq_dir/seqinfo.ini`` and ``seq_dir/gt/gt.txt`` (MOT format: frame, id, left,
    top, width, height, conf, class, visibility).  Rows with conf 0 (MOTChallenge "ignore")
    are dropped."""
    seq_dir = Path(seq_dir)
    ini, gt = seq_dir / "seqinfo.ini", seq_dir / "gt" / "gt.txt"
    for f in (ini, gt):
        if not f.is_file():
            raise MotFormatError(f"{f}: missing (expected MOT layout <seq>/seqinfo.ini and <seq>/gt/gt.txt)")
    parser = configparser.ConfigParser()
    try:
        parser.read(ini)
        sec = parser["Sequence"]
        name = sec.get("name", seq_dir.name)
        frame_count, width, height = int(sec["seqLength"]), int(sec["imWidth"]), int(sec["imHeight"])
        fps = float(sec.get("frameRate", "25"))
    except (KeyError, ValueError, configparser.Error) as exc:
        raise MotFormatError(f"{ini}: needs [Sequence] with seqLength, imWidth, imHeight ({exc})") from exc
    frame, track_id, xyxy = read_gt(gt, frame_count)
    return MotSequence(name, frame_count, width, height, fps, frame, track_id, xyxy)


def read_gt(gt: Path, frame_count: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of one MOT ``gt.txt`` (conf-0 rows dropped), sorted by frame then id:
    ``frame`` (K,) 1-based, ``track_id`` (K,), ``xyxy`` (K, 4) px.  Frames must lie in
    1..frame_count (``None``: no upper bound)."""
    if not Path(gt).is_file():
        raise MotFormatError(f"{gt}: missing (MOT ground truth: frame, id, left, top, width, height, conf, ...)")
    try:
        data = np.loadtxt(gt, delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise MotFormatError(f"{gt}: not comma-separated numbers ({exc})") from exc
    if data.size == 0:
        data = np.zeros((0, 9))
    if data.shape[1] < 6:
        raise MotFormatError(f"{gt}: need at least 6 columns (frame, id, left, top, width, height); "
                             f"got {data.shape[1]}")
    if data.shape[1] >= 7:
        data = data[data[:, 6] != 0]
    frame = data[:, 0].astype(np.int64)
    if len(frame) and (frame.min() < 1 or (frame_count is not None and frame.max() > frame_count)):
        raise MotFormatError(f"{gt}: frame numbers must be in 1..{frame_count or 'N'} (the frames of the sequence); "
                             f"got {frame.min()}..{frame.max()}")
    order = np.lexsort((data[:, 1], frame))
    data, frame = data[order], frame[order]
    xyxy = np.concatenate([data[:, 2:4], data[:, 2:4] + data[:, 4:6]], axis=1)
    return frame, data[:, 1].astype(np.int64), xyxy


def find_sequences(gt_root: str | Path, names: list[str] | None = None) -> list[Path]:
    """Sequence directories under ``gt_root`` (those holding gt/gt.txt), sorted; optionally only ``names``."""
    root = Path(gt_root)
    if not root.is_dir():
        raise MotFormatError(f"{root}: not a directory")
    found = sorted(p for p in root.iterdir() if (p / "gt" / "gt.txt").is_file())
    if names:
        by_name = {p.name: p for p in found}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise MotFormatError(f"{root}: no sequence(s) {', '.join(missing)}")
        found = [by_name[n] for n in names]
    if not found:
        raise MotFormatError(f"{root}: no <seq>/gt/gt.txt found")
    return found


# --------------------------------------------------------------------- noise protocol

@dataclass(frozen=True)
class NoiseProtocol:
    """The fixed detection-noise protocol (issue 4).  Change nothing here without
    bumping ``name``: numbers are only comparable under the same protocol."""

    name: str = "matchtag-noise-v1"
    miss_prob: float = 0.15
    centre_jitter: float = 0.05        # sigma as a share of w (x) and h (y)
    log_size_sigma: float = 0.05       # w and h each scaled by exp(N(0, sigma)), drawn independently
    low_score_share: float = 0.20
    low_score_range: tuple[float, float] = (0.1, 0.5)
    high_score_range: tuple[float, float] = (0.5, 1.0)
    false_positives_per_frame: float = 1.0
    false_positive_score_range: tuple[float, float] = (0.1, 0.6)


@dataclass(frozen=True)
class NoiseProtocolV2:
    """Detection noise as a real detector makes it (issue 14): misses that come with
    occlusion and in bursts, jitter that drifts rather than flickers.  Scores, sizes and
    false positives are drawn as in v1.  Change nothing without bumping ``name``.

    - **Occlusion.** A box whose area is covered to at least ``occluded_share`` by one
      box whose bottom edge is lower in the image (nearer the camera) is occluded; each
      run of consecutive occluded frames of one player is dropped whole with
      probability ``occluded_miss_prob`` (one draw per run: the cover lasts, and so
      does the miss).  A box covered to at least ``partly_share`` (and kept) scores low.
    - **Bursts.** Independently, each player's detection follows a two-state Markov
      chain frame to frame: seen -> missed with ``burst_start_prob``, missed -> seen with
      ``burst_end_prob`` (mean burst 1 / burst_end_prob frames; stationary miss rate
      start / (start + end), 0.143 with the defaults, as v1's 0.15).
    - **Jitter.** Per player, an AR(1) process with lag-one correlation ``jitter_rho``
      and the same stationary sigma as v1 (0.05 w / h for the centre, 0.05 in log size).
    """

    name: str = "matchtag-noise-v2"
    occluded_share: float = 0.5
    occluded_miss_prob: float = 0.9
    partly_share: float = 0.25
    burst_start_prob: float = 0.05
    burst_end_prob: float = 0.3
    jitter_rho: float = 0.8
    centre_jitter: float = 0.05
    log_size_sigma: float = 0.05
    low_score_share: float = 0.20
    low_score_range: tuple[float, float] = (0.1, 0.5)
    high_score_range: tuple[float, float] = (0.5, 1.0)
    false_positives_per_frame: float = 1.0
    false_positive_score_range: tuple[float, float] = (0.1, 0.6)


NOISE_PROTOCOLS = {"v1": NoiseProtocol(), "v2": NoiseProtocolV2()}
DEFAULT_NOISE_SEED = 0


@dataclass
class FrameDetections:
    """Simulated detections of a whole sequence, one entry per frame (index 0 = frame 1).

    ``xyxy[i]``: (N_i, 4) px; ``score[i]``: (N_i,); ``gt_id[i]``: (N_i,) source GT id,
    -1 for false positives (for tests and ceilings only; trackers never see it).
    Real detections (tagging/evaluate/tracking_real.py) also carry ``keypoints[i]``:
    (N_i, 17, 3) COCO-17 x, y px and score; simulated ones have none (None).
    """

    xyxy: list
    score: list
    gt_id: list
    keypoints: list | None = None


def simulate_detections(seq: MotSequence, seed: int = DEFAULT_NOISE_SEED,
                        protocol: NoiseProtocol | NoiseProtocolV2 = NoiseProtocol()) -> FrameDetections:
    """Noisy detections from ground truth; deterministic in (seed, sequence name, protocol).

    Each sequence gets its own random stream, seeded by ``seed`` and a CRC of its name,
    so a sequence's detections do not change when other sequences are added or left out.
    """
    if isinstance(protocol, NoiseProtocolV2):
        return _simulate_v2(seq, seed, protocol)
    rng = np.random.default_rng([int(seed), zlib.crc32(seq.name.encode())])
    p = protocol
    n = len(seq.frame)
    keep = rng.random(n) >= p.miss_prob
    xyxy, frame, gt_id = seq.xyxy[keep], seq.frame[keep], seq.track_id[keep]
    k = len(xyxy)
    wh = xyxy[:, 2:] - xyxy[:, :2]
    centre = xyxy[:, :2] + wh / 2 + rng.normal(0.0, 1.0, (k, 2)) * p.centre_jitter * wh
    wh = wh * np.exp(rng.normal(0.0, p.log_size_sigma, (k, 2)))
    low = rng.random(k) < p.low_score_share
    score = np.where(low, rng.uniform(*p.low_score_range, k), rng.uniform(*p.high_score_range, k))
    boxes = np.concatenate([centre - wh / 2, centre + wh / 2], axis=1)
    return _with_false_positives(seq, rng, p, frame, boxes, score, gt_id)


def _with_false_positives(seq: MotSequence, rng, p, frame, boxes, score, gt_id) -> FrameDetections:
    """Add Poisson false positives (a real player's size, anywhere in the image), shuffle
    each frame's boxes and cut the stream into frames."""
    n_fp = rng.poisson(p.false_positives_per_frame, seq.frame_count)
    total = int(n_fp.sum())
    if total and len(seq.xyxy):
        gt_wh = seq.xyxy[:, 2:] - seq.xyxy[:, :2]
        fp_wh = gt_wh[rng.integers(0, len(gt_wh), total)]
        fp_wh = np.minimum(fp_wh, [seq.width_px, seq.height_px])
        x1 = rng.uniform(0, 1, total) * (seq.width_px - fp_wh[:, 0])
        y1 = rng.uniform(0, 1, total) * (seq.height_px - fp_wh[:, 1])
        fp_boxes = np.stack([x1, y1, x1 + fp_wh[:, 0], y1 + fp_wh[:, 1]], axis=1)
        fp_score = rng.uniform(*p.false_positive_score_range, total)
        fp_frame = np.repeat(np.arange(1, seq.frame_count + 1), n_fp)
    else:
        fp_boxes, fp_score, fp_frame = np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64)

    all_frame = np.concatenate([frame, fp_frame])
    all_boxes = np.concatenate([boxes, fp_boxes])
    all_score = np.concatenate([score, fp_score])
    all_id = np.concatenate([gt_id, np.full(len(fp_frame), -1, np.int64)])
    # shuffle within each frame so a tracker cannot learn anything from the order
    order = np.lexsort((rng.random(len(all_frame)), all_frame))
    all_frame, all_boxes, all_score, all_id = all_frame[order], all_boxes[order], all_score[order], all_id[order]
    cuts = np.searchsorted(all_frame, np.arange(1, seq.frame_count + 2))
    sl = [slice(cuts[i], cuts[i + 1]) for i in range(seq.frame_count)]
    return FrameDetections([all_boxes[s] for s in sl], [all_score[s] for s in sl], [all_id[s] for s in sl])


def cover_share(xyxy: np.ndarray) -> np.ndarray:
    """(N,) share of each box's area covered by the one box in front of it that covers most.

    "In front" means its bottom edge is lower in the image (y2 larger): nearer the camera
    on a pitch or a street seen from above the ground.  ``xyxy``: (N, 4) px of one frame."""
    from tagging.track.offline import covered_by

    if len(xyxy) < 2:
        return np.zeros(len(xyxy))
    return covered_by(np.asarray(xyxy, np.float64)).max(axis=1)


def _simulate_v2(seq: MotSequence, seed: int, p: NoiseProtocolV2) -> FrameDetections:
    rng = np.random.default_rng([int(seed), zlib.crc32(seq.name.encode()), 2])
    n = len(seq.frame)
    cover = np.zeros(n)
    cuts = np.searchsorted(seq.frame, np.arange(1, seq.frame_count + 2))
    for i in range(seq.frame_count):
        cover[cuts[i]:cuts[i + 1]] = cover_share(seq.xyxy[cuts[i]:cuts[i + 1]])
    keep = np.ones(n, bool)
    noise = np.zeros((n, 4))                       # AR(1) centre (x, y) and log-size (w, h) noise, unit sigma
    innov = np.sqrt(1.0 - p.jitter_rho ** 2)
    for tid in np.unique(seq.track_id):
        idx = np.nonzero(seq.track_id == tid)[0]   # frame order: seq rows are sorted by frame
        occluded = cover[idx] >= p.occluded_share
        # one draw per run of occluded frames: dropped for the whole run or not at all
        starts = occluded & ~np.concatenate([[False], occluded[:-1]])
        run_id = np.cumsum(starts) - 1
        drop_run = rng.random(int(starts.sum())) < p.occluded_miss_prob
        keep[idx[occluded]] = ~drop_run[run_id[occluded]]
        u = rng.random(len(idx))
        z = rng.normal(0.0, 1.0, (len(idx), 4))
        missed, e = False, z[0]
        for k in range(len(idx)):
            missed = u[k] >= p.burst_end_prob if missed else u[k] < p.burst_start_prob
            if missed:
                keep[idx[k]] = False
            e = e if k == 0 else p.jitter_rho * e + innov * z[k]
            noise[idx[k]] = e
    wh = seq.xyxy[:, 2:] - seq.xyxy[:, :2]
    centre = seq.xyxy[:, :2] + wh / 2 + noise[:, :2] * p.centre_jitter * wh
    wh = wh * np.exp(noise[:, 2:] * p.log_size_sigma)
    boxes = np.concatenate([centre - wh / 2, centre + wh / 2], axis=1)[keep]
    k = int(keep.sum())
    low = (rng.random(k) < p.low_score_share) | (cover[keep] >= p.partly_share)
    score = np.where(low, rng.uniform(*p.low_score_range, k), rng.uniform(*p.high_score_range, k))
    return _with_false_positives(seq, rng, p, seq.frame[keep], boxes, score, seq.track_id[keep])


# --------------------------------------------------------------------- metrics

@dataclass
class TrackerOutput:
    """Tracker boxes of one sequence: ``frame`` (K,) 1-based, ``track_id`` (K,), ``xyxy`` (K, 4) px."""

    frame: np.ndarray
    track_id: np.ndarray
    xyxy: np.ndarray

    @classmethod
    def from_frame_ids(cls, dets: FrameDetections, ids: list) -> "TrackerOutput":
        """From per-frame id arrays aligned with ``dets`` (-1 = not output)."""
        fr, tid, box = [], [], []
        for i, (b, d) in enumerate(zip(dets.xyxy, ids)):
            d = np.asarray(d)
            m = d >= 0
            fr.append(np.full(int(m.sum()), i + 1, np.int64))
            tid.append(d[m].astype(np.int64))
            box.append(np.asarray(b, np.float64)[m])
        return cls(np.concatenate(fr) if fr else np.zeros(0, np.int64),
                   np.concatenate(tid) if tid else np.zeros(0, np.int64),
                   np.concatenate(box) if box else np.zeros((0, 4)))



def _per_frame(seq_frames: int, frame: np.ndarray, *arrays):
    order = np.argsort(frame, kind="stable")
    frame = frame[order]
    cuts = np.searchsorted(frame, np.arange(1, seq_frames + 2))
    return [[a[order][cuts[i]:cuts[i + 1]] for a in arrays] for i in range(seq_frames)]


def import_trackeval():
    """``import trackeval`` without its import-time notice about the optional dependencies
    of its BURST dataset (which we never use); anything else it prints goes to stderr."""
    import contextlib
    import io
    import sys

    if "trackeval" in sys.modules:
        return sys.modules["trackeval"]
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
        import trackeval
    rest = [ln for ln in captured.getvalue().splitlines() if ln.strip() and "BURST" not in ln]
    if rest:
        print("\n".join(rest), file=sys.stderr)
    return trackeval


def sequence_scores(seq: MotSequence, out: TrackerOutput):
    """(motmetrics accumulator, trackeval HOTA result dict) for one sequence."""
    import motmetrics as mm
    HOTA = import_trackeval().metrics.HOTA

    gt = _per_frame(seq.frame_count, seq.frame, seq.track_id, seq.xyxy)
    tr = _per_frame(seq.frame_count, np.asarray(out.frame, np.int64),
                    np.asarray(out.track_id, np.int64), np.asarray(out.xyxy, np.float64).reshape(-1, 4))
    acc = mm.MOTAccumulator(auto_id=True)
    gt_uniq, tr_uniq = np.unique(seq.track_id), np.unique(out.track_id)
    data = {"gt_ids": [], "tracker_ids": [], "similarity_scores": [],
            "num_gt_ids": len(gt_uniq), "num_tracker_ids": len(tr_uniq),
            "num_gt_dets": len(seq.frame), "num_tracker_dets": len(out.frame)}
    for (g_id, g_box), (t_id, t_box) in zip(gt, tr):
        iou = iou_matrix(g_box, t_box)
        # motmetrics distance 1 - IoU, NaN where IoU < 0.5 (its own iou_matrix needs numpy < 2)
        acc.update(g_id.tolist(), t_id.tolist(), np.where(iou >= 0.5, 1.0 - iou, np.nan))
        data["gt_ids"].append(np.searchsorted(gt_uniq, g_id))
        data["tracker_ids"].append(np.searchsorted(tr_uniq, t_id))
        data["similarity_scores"].append(iou)
    return acc, HOTA().eval_sequence(data)


def combine(accs: dict, hotas: dict) -> dict:
    """Overall figures over sequences: MOT counts summed (motmetrics' "OVERALL"), HOTA
    combined as trackeval does for a benchmark (counts and association summed over sequences)."""
    import motmetrics as mm
    HOTA = import_trackeval().metrics.HOTA

    names = list(accs)
    mh = mm.metrics.create()
    summary = mh.compute_many([accs[n] for n in names], names=names,
                              metrics=["idf1", "mota", "num_switches", "idp", "idr", "recall", "precision",
                                       "num_false_positives", "num_misses", "num_frames"],
                              generate_overall=True)
    overall = summary.loc["OVERALL"]
    hota = HOTA().combine_sequences({n: hotas[n] for n in names})
    return {
        "HOTA": float(np.mean(hota["HOTA"])), "DetA": float(np.mean(hota["DetA"])),
        "AssA": float(np.mean(hota["AssA"])), "LocA": float(np.mean(hota["LocA"])),
        "IDF1": float(overall["idf1"]), "MOTA": float(overall["mota"]),
        "id_switches": int(overall["num_switches"]),
        "IDP": float(overall["idp"]), "IDR": float(overall["idr"]),
        "recall": float(overall["recall"]), "precision": float(overall["precision"]),
        "false_positives": int(overall["num_false_positives"]), "misses": int(overall["num_misses"]),
        "frames": int(overall["num_frames"]), "sequences": len(names),
    }


# --------------------------------------------------------------------- whole runs

def tracks_to_output(tracks) -> TrackerOutput:
    """From :func:`tagging.track.offline.track_video` tracks (0-based frames) to 1-based MOT output."""
    if not tracks:
        return TrackerOutput(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 4)))
    return TrackerOutput(np.concatenate([t.frame + 1 for t in tracks]),
                         np.concatenate([np.full(len(t), t.track_id, np.int64) for t in tracks]),
                         np.concatenate([t.xyxy for t in tracks]))


def matchtag_tracker(mode: str = "offline", config=None, chunk_frames: int | None = None,
                     overlap_frames: int = 0):
    """A picklable ``(detections, sequence) -> TrackerOutput`` running our tracker;
    with ``chunk_frames``, on overlapping segments stitched together (tagging/track/segments.py)."""
    return _MatchtagTracker(mode, config, chunk_frames, overlap_frames)


@dataclass
class _MatchtagTracker:
    mode: str
    config: object = None
    chunk_frames: int | None = None
    overlap_frames: int = 0

    def __call__(self, dets: FrameDetections, seq: MotSequence) -> TrackerOutput:
        from tagging.track.offline import track_video
        from tagging.track.online import TrackerConfig
        from tagging.track.segments import track_video_chunked

        config = self.config or TrackerConfig()
        if self.chunk_frames:
            return tracks_to_output(track_video_chunked(dets.xyxy, dets.score, self.chunk_frames,
                                                        self.overlap_frames, config.for_fps(seq.fps), self.mode))
        return tracks_to_output(track_video(dets.xyxy, dets.score, config, self.mode, fps=seq.fps))


def subsample(seq: MotSequence, dets: FrameDetections, step: int) -> tuple[MotSequence, FrameDetections]:
    """Every ``step``-th frame (1, 1 + step, ...) of a sequence and its detections, renumbered
    1..n, at ``fps / step``: the same footage at a lower frame rate."""
    if step <= 1:
        return seq, dets
    from dataclasses import replace

    keep = np.arange(0, seq.frame_count, step)
    sel = (seq.frame - 1) % step == 0

    def pick(xs):
        return None if xs is None else [xs[i] for i in keep]

    return (replace(seq, frame_count=len(keep), fps=seq.fps / step, frame=(seq.frame[sel] - 1) // step + 1,
                    track_id=seq.track_id[sel], xyxy=seq.xyxy[sel]),
            FrameDetections(pick(dets.xyxy), pick(dets.score), pick(dets.gt_id), pick(dets.keypoints)))


def _evaluate_one(args):
    seq_dir, tracker, seed, protocol, step = args
    seq = load_sequence(seq_dir)
    # noise is drawn at the full frame rate, then frames are dropped: the detections of the
    # frames kept are the very ones the full-rate run saw
    seq, dets = subsample(seq, simulate_detections(seq, seed, protocol), step)
    acc, hota = sequence_scores(seq, tracker(dets, seq))
    return seq.name, sport_of(seq), acc, hota


def evaluate_trackers(gt_root, trackers: dict, seed: int = DEFAULT_NOISE_SEED, names: list[str] | None = None,
                      max_seqs: int | None = None, workers: int = 1,
                      protocol: NoiseProtocol | NoiseProtocolV2 = NoiseProtocol(), frame_step: int = 1) -> dict:
    """Score each of ``trackers`` (``{label: callable(FrameDetections, MotSequence) -> TrackerOutput}``)
    on the same simulated detections (``protocol``, ``seed``) of every sequence under ``gt_root``;
    with ``frame_step`` > 1 on every ``frame_step``-th frame only (:func:`subsample`).

    Returns ``{label: {"overall": {...}, "per_sport": {sport: {...}}, "per_sequence": {name: {...}}}}``.
    """
    seq_dirs = find_sequences(gt_root, names)
    if max_seqs:
        seq_dirs = seq_dirs[:max_seqs]
    out = {}
    for label, tracker in trackers.items():
        jobs = [(d, tracker, seed, protocol, frame_step) for d in seq_dirs]
        if workers > 1:
            from concurrent.futures import ProcessPoolExecutor
            with ProcessPoolExecutor(workers) as pool:
                results = list(pool.map(_evaluate_one, jobs))
        else:
            results = [_evaluate_one(j) for j in jobs]
        accs = {r[0]: r[2] for r in results}
        hotas = {r[0]: r[3] for r in results}
        sport = {r[0]: r[1] for r in results}
        per_sport = {}
        for sp in SPORTS:
            sel = [n for n in accs if sport[n] == sp]
            if sel:
                per_sport[sp] = combine({n: accs[n] for n in sel}, {n: hotas[n] for n in sel})
        per_seq = {n: {"sport": sport[n], **combine({n: accs[n]}, {n: hotas[n]})} for n in accs}
        out[label] = {"overall": combine(accs, hotas), "per_sport": per_sport, "per_sequence": per_seq}
    return out
