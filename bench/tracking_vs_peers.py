"""Our tracker against maintained PyPI trackers on exactly the same detections.

    python bench/tracking_vs_peers.py --gt ../shared/data/tracking/sportsmot_train [--noise-seed 0]
        [--noise-protocol v1|v2] [--max-seqs N] [--workers 2] [--json] [--tune]
        [--set crowd_cover=0.3 ...] [--seq-step 3]
    python bench/tracking_vs_peers.py --tags RUN_DIR --gt SEQ/gt.txt --video VIDEO [--video-id ID]
        [--cache FILE.npz] [--subsample K] [--json]

**Real pixels** (``--tags``): the detections are a ``matchtag run``'s own pose-stage output,
read from its ``poses`` table before tracking (every detected person, tracked or not:
box, detector score, keypoints), plus each person's torso colour computed from the
decoded ``--video`` frames with the keypoints (as ``--pose replay`` does).  ``--cache``
keeps these per-frame detections in an ``.npz`` so a tracker change is re-scored in
seconds.  Peers run at their library defaults (frame rate set to the video's); ours runs
with the pipeline's tracker config.  The first row is the run's own ids as written.
Our rows score the tracks' boxes gap-filled and smoothed, as ``track_video`` returns them;
the rows "observed boxes only" score each tracked detection's own box and nothing else,
which is what the pipeline writes to the ``poses`` table (a filled frame has no pose) and
what the peers output (the detections they matched): the like-for-like comparison.
The row "positions table" is what ``matchtag run`` writes to its ``positions`` table and
what ``matchtag evaluate tracking --tags`` scores by default: the observed boxes plus each
track's gaps of up to 1.2 s interpolated (no smoothing).  The rows "+ same gap fill" give
each peer's output that same fill, to show how much of a margin is the fill.
``--subsample K`` keeps every K-th processed frame (a low frame rate test: 25 fps / 3).

Detections come from ``tagging.evaluate.tracking.simulate_detections`` (the fixed noise protocol of
docs/tracking.md), one stream per (seed, sequence): every tracker below gets the very
same boxes and scores, and the same scoring (motmetrics IDF1/MOTA/IDsw, trackeval HOTA).

Peers (install with ``pip install -e .[bench]``; none needs weights):

- ``trackers`` (Roboflow) ``ByteTrackTracker``;
- ``supervision<0.31`` ``ByteTrack`` (removed in 0.31);
- ``norfair`` ``Tracker`` with its IoU distance.

Each peer was tuned on the train split (the only split we have) by ``--tune``: a few
settings of its association, birth and memory (``CANDIDATES``), run on every third
sequence; the best by IDF1 is in ``TUNED``.  Peers report their own boxes: the detection box for
the two ByteTracks, the Kalman estimate for norfair (what their users get).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tagging.evaluate.tracking import (  # noqa: E402
    DEFAULT_NOISE_SEED,
    NOISE_PROTOCOLS,
    FrameDetections,
    MotSequence,
    TrackerOutput,
    evaluate_trackers,
    import_trackeval,
    find_sequences,
    matchtag_tracker,
    subsample,
)


def _output(rows: list) -> TrackerOutput:
    if not rows:
        return TrackerOutput(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 4)))
    frame, tid, box = zip(*rows)
    return TrackerOutput(np.asarray(frame, np.int64), np.asarray(tid, np.int64), np.stack(box).astype(np.float64))


def _sv_detections(xyxy: np.ndarray, score: np.ndarray):
    import supervision as sv

    return sv.Detections(xyxy=np.asarray(xyxy, np.float32).reshape(-1, 4),
                         confidence=np.asarray(score, np.float32), class_id=np.zeros(len(score), int))


@dataclass
class TrackersByteTrack:
    """``trackers.ByteTrackTracker`` (Roboflow's clean-room ByteTrack)."""

    params: dict = field(default_factory=dict)

    def __call__(self, dets: FrameDetections, seq: MotSequence) -> TrackerOutput:
        from trackers import ByteTrackTracker

        tracker = ByteTrackTracker(frame_rate=seq.fps, **self.params)
        rows = []
        for i, (b, s) in enumerate(zip(dets.xyxy, dets.score)):
            out = tracker.update(_sv_detections(b, s))
            for box, tid in zip(out.xyxy, out.tracker_id):
                if tid >= 0:
                    rows.append((i + 1, int(tid), box))
        return _output(rows)


@dataclass
class SupervisionByteTrack:
    """``supervision.ByteTrack`` (supervision < 0.31)."""

    params: dict = field(default_factory=dict)

    def __call__(self, dets: FrameDetections, seq: MotSequence) -> TrackerOutput:
        import warnings

        import supervision as sv

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            tracker = sv.ByteTrack(frame_rate=int(round(seq.fps)), **self.params)
        rows = []
        for i, (b, s) in enumerate(zip(dets.xyxy, dets.score)):
            out = tracker.update_with_detections(_sv_detections(b, s))
            for box, tid in zip(out.xyxy, out.tracker_id):
                if tid is not None and tid >= 0:
                    rows.append((i + 1, int(tid), box))
        return _output(rows)


@dataclass
class Norfair:
    """``norfair.Tracker`` on box corners with norfair's IoU distance."""

    params: dict = field(default_factory=dict)

    def __call__(self, dets: FrameDetections, seq: MotSequence) -> TrackerOutput:
        from norfair import Detection, Tracker

        params = dict(self.params)
        min_score = params.pop("min_score", 0.0)
        tracker = Tracker(distance_function="iou", **params)
        rows = []
        for i, (b, s) in enumerate(zip(dets.xyxy, dets.score)):
            keep = s >= min_score
            detections = [Detection(points=box.reshape(2, 2), scores=np.array([sc, sc]))
                          for box, sc in zip(b[keep], s[keep])]
            for obj in tracker.update(detections=detections):
                rows.append((i + 1, int(obj.id), obj.estimate.reshape(4)))
        return _output(rows)


@dataclass
class PerfectIdentities:
    """The ceiling: every true box keeps its ground-truth id, false positives are dropped
    (it reads the simulator's source ids, which no tracker sees)."""

    def __call__(self, dets: FrameDetections, seq: MotSequence) -> TrackerOutput:
        return TrackerOutput.from_frame_ids(dets, [np.where(g >= 0, g, -1) for g in dets.gt_id])


# Tuned with --tune on every third train sequence, default seed (see module doc).
TUNED = {
    "trackers.ByteTrack": {"lost_track_buffer": 30, "track_activation_threshold": 0.7,
                           "minimum_iou_threshold": 0.1, "high_conf_det_threshold": 0.5},
    "supervision.ByteTrack": {"lost_track_buffer": 30, "track_activation_threshold": 0.25,
                              "minimum_matching_threshold": 0.8},
    "norfair": {"distance_threshold": 0.9, "hit_counter_max": 30, "initialization_delay": 2,
                "min_score": 0.3},
}

_T = {"track_activation_threshold": 0.7}
_N = {"initialization_delay": 2}
CANDIDATES = {   # what --tune tries, in order (results in docs/tracking.md)
    "trackers.ByteTrack": [
        {**_T, "lost_track_buffer": 30, "minimum_iou_threshold": 0.1, "high_conf_det_threshold": 0.5},
        {**_T, "lost_track_buffer": 60, "minimum_iou_threshold": 0.1, "high_conf_det_threshold": 0.5},
        {**_T, "lost_track_buffer": 30, "minimum_iou_threshold": 0.3, "high_conf_det_threshold": 0.5},
        {**_T, "lost_track_buffer": 30, "minimum_iou_threshold": 0.1, "high_conf_det_threshold": 0.6},
    ],
    "supervision.ByteTrack": [
        {"lost_track_buffer": 30, "track_activation_threshold": 0.25, "minimum_matching_threshold": 0.8},
        {"lost_track_buffer": 30, "track_activation_threshold": 0.7, "minimum_matching_threshold": 0.9},
        {"lost_track_buffer": 30, "track_activation_threshold": 0.5, "minimum_matching_threshold": 0.8},
    ],
    "norfair": [
        {**_N, "distance_threshold": 0.8, "hit_counter_max": 15, "min_score": 0.3},
        {**_N, "distance_threshold": 0.9, "hit_counter_max": 30, "min_score": 0.3},
        {**_N, "distance_threshold": 0.8, "hit_counter_max": 15, "min_score": 0.5},
    ],
}

PEERS = {"trackers.ByteTrack": TrackersByteTrack, "supervision.ByteTrack": SupervisionByteTrack,
         "norfair": Norfair}

COLUMNS = ("HOTA", "IDF1", "MOTA", "id_switches", "DetA", "AssA")


def _table(results: dict) -> str:
    lines = [f"{'tracker':34s}{'split':>12s}" + "".join(f"{c:>12s}" for c in COLUMNS)]
    for label, r in results.items():
        for split, m in [("overall", r["overall"]), *r["per_sport"].items()]:
            lines.append(f"{label:34s}{split:>12s}" + "".join(
                f"{m[c]:12.3f}" if isinstance(m[c], float) else f"{m[c]:12d}" for c in COLUMNS))
    return "\n".join(lines)


# Library defaults for the real-pixels table (issue 14: "peers at their library defaults");
# norfair has no default distance threshold, so it gets the one tuned on SportsMOT.
DEFAULTS = {"trackers.ByteTrack": {}, "supervision.ByteTrack": {},
            "norfair": {"distance_threshold": TUNED["norfair"]["distance_threshold"]}}


def real_detections(args):
    """(RunDetections, MotSequence, colours per processed frame) of ``args.tags``; cached in ``args.cache``."""
    from tagging.evaluate.tracking_real import gt_for_run, load_run

    run = load_run(args.tags, args.video_id)
    cache = Path(args.cache) if args.cache else None
    if cache and cache.is_file():
        z = np.load(cache)
        counts = z["counts"]
        colours = np.split(z["colours"], np.cumsum(counts)[:-1])
        if list(counts) != [len(b) for b in run.dets.xyxy]:
            raise SystemExit(f"{cache}: made from other detections; delete it")
    else:
        from tagging.track.teams import torso_colours
        from tagging.video.reader import frames_at

        colours = [np.zeros((0, 4), np.float32)] * len(run.frame_index)
        pos = {int(f): i for i, f in enumerate(run.frame_index)}
        for fr in frames_at(args.video, run.frame_index.tolist()):
            i = pos[int(fr.index)]
            colours[i] = torso_colours(fr.image, run.dets.xyxy[i], run.dets.keypoints[i])
        if cache:
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(cache, counts=np.array([len(c) for c in colours]),
                                colours=np.concatenate(colours))
    seq = gt_for_run(args.gt, run)
    return run, seq, colours


def _subsample(run, seq: MotSequence, colours: list, k: int):
    """Every k-th processed frame of the run and of its (renumbered) ground truth."""
    from dataclasses import replace

    seq, dets = subsample(seq, run.dets, k)
    keep = np.arange(0, len(run.frame_index), k)
    run = replace(run, stride=run.stride * k, frame_index=run.frame_index[keep], dets=dets,
                  track_id=[run.track_id[i] for i in keep])
    return run, seq, [colours[i] for i in keep]


OBSERVED_ROW = "matchtag default, observed boxes only"
POSITIONS_ROW = "matchtag default, positions table"


def with_gap_fill(out: TrackerOutput, fps: float) -> TrackerOutput:
    """``out`` with each track's gaps of up to 1.2 s filled as the pipeline's ``positions``
    table fills them (tagging/track/positions.py; frames are 1-based processed frames)."""
    from tagging.track.positions import fill_positions

    frame, tid, box = [], [], []
    for t in np.unique(out.track_id):
        m = out.track_id == t
        order = np.argsort(out.frame[m], kind="stable")
        f = out.frame[m][order]
        keep = np.r_[True, np.diff(f) > 0]           # one box per frame and track
        pos = fill_positions(f[keep], f[keep] * 1000.0 / fps, out.xyxy[m][order][keep])
        frame.append(pos.frame_index)
        tid.append(np.full(len(pos.frame_index), t, np.int64))
        box.append(pos.xyxy.astype(np.float64))
    if not frame:
        return out
    return TrackerOutput(np.concatenate(frame), np.concatenate(tid), np.concatenate(box))


def real_pixels(args) -> int:
    from tagging.evaluate.tracking_real import score_tracks
    from tagging.track.offline import track_video
    from tagging.track.sequences import PIPELINE_TRACKER_CONFIG

    run, seq, colours = real_detections(args)
    if args.subsample > 1:
        run, seq, colours = _subsample(run, seq, colours, args.subsample)
    dets = run.dets
    rows = {}
    if args.subsample == 1:
        rows["the run in --tags, as written (poses table)"] = TrackerOutput.from_frame_ids(dets, run.track_id)

    def ours(observed_only=False, **changes):
        """Our tracks: every box, filled and smoothed (the bench's scoring), or with ``observed_only``
        each tracked detection's own box and nothing else (what the pipeline writes to ``poses``)."""
        from dataclasses import replace

        from tagging.evaluate.tracking import tracks_to_output
        from tagging.track.offline import ids_per_frame

        tracks = track_video(dets.xyxy, dets.score, replace(PIPELINE_TRACKER_CONFIG, **changes), "offline",
                             keypoints=dets.keypoints, colours=colours, fps=run.processed_fps)
        if observed_only:
            return TrackerOutput.from_frame_ids(dets, ids_per_frame(tracks, [len(b) for b in dets.xyxy]))
        return tracks_to_output(tracks)

    rows["matchtag default (offline, re-link on)"] = ours()
    # peers output only the detections they matched: this row compares like with like, and is
    # what `matchtag evaluate tracking --tags` gives on a replay of the same poses
    rows[OBSERVED_ROW] = ours(observed_only=True)
    rows["matchtag, --relink off"] = ours(relink_max_cost=0.0)
    rows["matchtag, --relink off, observed boxes only"] = ours(observed_only=True, relink_max_cost=0.0)
    # the defaults before the occluded-gap cut and the crowd gate, and settings SportsMOT does
    # not support (docs/tracking.md)
    rows["matchtag, no occluded-gap cut (old default)"] = ours(occluded_gap_cover=0.0)
    rows["matchtag, crowd gate off"] = ours(crowd_cover=0.0)
    rows["matchtag, crowd gate on lost tracks too"] = ours(crowd_tracked_only=False)
    rows["matchtag, gate off, contact_cover 0.5"] = ours(crowd_cover=0.0, contact_cover=0.5)
    rows["matchtag, gate off, contact+match_iou 0.5"] = ours(crowd_cover=0.0, contact_cover=0.5,
                                                          match_iou=0.5)
    if args.changes:
        rows["matchtag, --set " + " ".join(args.changes)] = ours(**config_changes(args.changes))
        rows["matchtag, --set ..., observed boxes only"] = ours(observed_only=True, **config_changes(args.changes))
    for name, peer in PEERS.items():
        rows[f"{name}, defaults"] = peer(DEFAULTS[name])(dets, seq)
    # What `matchtag run` writes to its positions table, and what `matchtag evaluate tracking
    # --tags` scores by default: the observed boxes plus gaps up to 1.2 s interpolated, no
    # smoothing.  The same fill on each peer's output says how much of our margin is the fill.
    rows[POSITIONS_ROW] = with_gap_fill(rows[OBSERVED_ROW], seq.fps)
    for name in PEERS:
        rows[f"{name} + same gap fill"] = with_gap_fill(rows[f"{name}, defaults"], seq.fps)
    results = {label: score_tracks(seq, out) for label, out in rows.items()}
    if args.json:
        print(json.dumps({"video_id": run.video_id, "frames": seq.frame_count, "fps": seq.fps,
                          "results": results}, indent=1))
        return 0
    print(f"{run.video_id}: {seq.frame_count} frames at {seq.fps:g} fps, {sum(len(b) for b in dets.xyxy)} "
          f"detections; video frame_index 0 = GT frame 1")
    print_real_table("tracker", results)
    return 0


def print_real_table(title: str, results: dict, last: str = "id_switches") -> None:
    """One line per row of ``results`` (score_tracks dicts): IDF1, HOTA, MOTA, ``last``, ids."""
    print(f"{title:44s}{'IDF1':>8s}{'HOTA':>8s}{'MOTA':>8s}{ {'id_switches': 'IDsw'}.get(last, last):>9s}"
          f"  ids out / in GT")
    for label, m in results.items():
        value = f"{m[last]:9d}" if isinstance(m[last], int) else f"{m[last]:9.3f}"
        print(f"{label:44s}{m['IDF1']:8.3f}{m['HOTA']:8.3f}{m['MOTA']:8.3f}{value}  {m['ids_out']} / {m['ids_in_gt']}")


def config_changes(pairs: list[str] | None) -> dict:
    """``["crowd_cover=0.3", ...]`` -> TrackerConfig field changes, values parsed as Python literals."""
    import ast
    from dataclasses import fields

    from tagging.track.online import TrackerConfig

    names = {f.name for f in fields(TrackerConfig)}
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or key not in names:
            raise SystemExit(f"tracking_vs_peers.py: error: --set {pair!r}: need FIELD=VALUE with a "
                             f"TrackerConfig field")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise SystemExit(f"tracking_vs_peers.py: error: --set {pair!r}: {value!r} is not a number or bool")
    return out


def tune(args) -> None:
    names = [p.name for p in find_sequences(args.gt)][::3]
    for peer, candidates in CANDIDATES.items():
        best = None
        for params in candidates:
            r = evaluate_trackers(args.gt, {peer: PEERS[peer](params)}, seed=args.noise_seed, names=names,
                                  workers=args.workers, protocol=NOISE_PROTOCOLS[args.noise_protocol])[peer]["overall"]
            print(f"{peer} {params} IDF1 {r['IDF1']:.3f} HOTA {r['HOTA']:.3f}", flush=True)
            if best is None or r["IDF1"] > best[0]:
                best = (r["IDF1"], params)
        print(f"BEST {peer} {best[1]} IDF1 {best[0]:.3f}", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gt", required=True, help="MOT-format directory (<seq>/gt/gt.txt, seqinfo.ini); "
                                                    "with --tags one gt.txt")
    parser.add_argument("--noise-seed", type=int, default=DEFAULT_NOISE_SEED)
    parser.add_argument("--noise-protocol", choices=sorted(NOISE_PROTOCOLS), default="v1")
    parser.add_argument("--tags", help="real pixels: a matchtag run's output directory (module doc)")
    parser.add_argument("--video-id", dest="video_id")
    parser.add_argument("--video", help="with --tags: the video file (torso colours from its frames)")
    parser.add_argument("--cache", help="with --tags: .npz file for the per-frame torso colours")
    parser.add_argument("--subsample", type=int, default=1, help="with --tags: keep every K-th frame")
    parser.add_argument("--max-seqs", type=int)
    parser.add_argument("--frame-step", type=int, default=1,
                        help="simulated: keep every K-th frame (25 fps / 4 = 6.25 fps)")
    parser.add_argument("--seqs", nargs="+")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--tune", action="store_true", help="try the peers' CANDIDATES on every third sequence")
    parser.add_argument("--set", nargs="+", metavar="FIELD=VALUE", dest="changes",
                        help="run our rows with these TrackerConfig changes (e.g. crowd_cover=0.3); with --tags "
                             "two more rows of ours with them (all boxes, observed boxes only)")
    parser.add_argument("--seq-step", type=int, default=1,
                        help="simulated: every K-th sequence in name order (3: the 15 used while tuning)")
    parser.add_argument("--only", nargs="+", metavar="TRACKER",
                        help="run only these contenders (names as printed); detections are the same per seed")
    args = parser.parse_args(argv)
    logging.getLogger().setLevel(logging.WARNING)
    import_trackeval()          # without its import-time notice: --json is JSON only, stderr quiet
    if args.tags:
        if not args.video and not (args.cache and Path(args.cache).is_file()):
            parser.error("--tags needs --video (or an existing --cache)")
        return real_pixels(args)
    protocol = NOISE_PROTOCOLS[args.noise_protocol]
    if args.tune:
        tune(args)
        return 0
    from dataclasses import replace

    from tagging.track.online import TrackerConfig

    ours = replace(TrackerConfig(), **config_changes(args.changes))
    contenders = {"matchtag (offline)": matchtag_tracker("offline", ours),
                  "matchtag (online)": matchtag_tracker("online", ours),
                  **{name: PEERS[name](TUNED[name]) for name in PEERS},
                  "ceiling (perfect ids)": PerfectIdentities()}
    if args.only:
        unknown = set(args.only) - set(contenders)
        if unknown:
            parser.error(f"unknown tracker(s) {sorted(unknown)}; choose from {sorted(contenders)}")
        contenders = {k: v for k, v in contenders.items() if k in args.only}
    names = args.seqs
    if args.seq_step > 1:
        names = [p.name for p in find_sequences(args.gt) if not args.seqs or p.name in args.seqs][::args.seq_step]
    results = evaluate_trackers(args.gt, contenders, seed=args.noise_seed, names=names,
                                max_seqs=args.max_seqs, workers=args.workers, protocol=protocol,
                                frame_step=args.frame_step)
    if args.json:
        print(json.dumps({k: {"overall": v["overall"], "per_sport": v["per_sport"]} for k, v in results.items()},
                         indent=1))
    else:
        print(f"{protocol.name}, noise seed {args.noise_seed}, {next(iter(results.values()))['overall']['sequences']} sequences")
        print(_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
