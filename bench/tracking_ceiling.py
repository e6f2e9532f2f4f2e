"""What a run's own detections allow: identities from the ground truth (an oracle), scored.

    python bench/tracking_ceiling.py --tags RUN_DIR --gt SEQ/gt.txt --video VIDEO [--video-id ID]
        [--cache FILE.npz] [--fill-s 0 0.2 0.5 1 2] [--subsample K] [--links] [--json]

Each processed frame's detections (the ``poses`` table's rows, tracked or not, as in
``bench/tracking_vs_peers.py --tags``) are matched one-to-one to that frame's ground-truth
boxes (Hungarian on IoU, pairs with IoU >= 0.5); a matched detection takes the GT id,
an unmatched one is dropped.  No tracker can do better on identities with these boxes:
this is the ceiling of IDF1 / HOTA for the detections, not for the scene.

With ``--fill-s S`` each oracle track's gaps of at most S seconds are filled by linear
interpolation between its detections (what ``tagging.track.offline.fill_gaps`` does),
which says how much recall gap filling can add.  The pipeline does not write filled
boxes to the ``poses`` table, so through ``matchtag evaluate tracking`` only the S = 0
row applies; ``bench/tracking_vs_peers.py`` scores our filled boxes.

``--links`` then runs our offline pass (the pipeline's tracker config) step by step and
prints every join and re-link it makes with the oracle's verdict: the GT id at the end
of the first piece and at the start of the second (most common id over
``join_fit_frames`` observations; here a box takes the GT id it overlaps at IoU >= 0.3,
so that a half-seen person is still named), the gap, the cost and the cheapest rival (another
end for the same start, or another start for the same end), and whether the end box
was covered by a nearer box (depth order) when the piece ended.  Pieces that hold more
than one person before any join (swaps of the online pass) and filled gaps between two
different people are listed too, and the IDF1 / HOTA after each step.

``--subsample K`` keeps every K-th processed frame first (as ``tracking_vs_peers.py
--subsample``): the same questions at a low frame rate.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tagging.core.boxes import iou_matrix  # noqa: E402
from tagging.evaluate.tracking import MotSequence, TrackerOutput, tracks_to_output  # noqa: E402
from tagging.track.offline import Track, fill_gaps  # noqa: E402


def oracle_ids(seq: MotSequence, xyxy_per_frame: list, min_iou: float = 0.5) -> list[np.ndarray]:
    """Per processed frame, (N_i,) GT id of each detection (-1: matches no GT box at ``min_iou``)."""
    from scipy.optimize import linear_sum_assignment

    out = []
    for i, boxes in enumerate(xyxy_per_frame):
        ids = np.full(len(boxes), -1, np.int64)
        here = seq.frame == i + 1
        if len(boxes) and here.any():
            iou = iou_matrix(np.asarray(boxes, np.float64), seq.xyxy[here])
            rows, cols = linear_sum_assignment(-iou)
            ok = iou[rows, cols] >= min_iou
            ids[rows[ok]] = seq.track_id[here][cols[ok]]
        out.append(ids)
    return out


def oracle_tracks(xyxy_per_frame: list, ids: list[np.ndarray]) -> list[Track]:
    """The oracle ids as :class:`Track` s (0-based frames), one per GT id."""
    acc: dict[int, list] = {}
    for f, (boxes, frame_ids) in enumerate(zip(xyxy_per_frame, ids)):
        for d in np.nonzero(frame_ids >= 0)[0]:
            acc.setdefault(int(frame_ids[d]), []).append((f, int(d), *np.asarray(boxes, np.float64)[d]))
    tracks = []
    for tid, rows in sorted(acc.items()):
        r = np.asarray(rows, np.float64)
        tracks.append(Track(tid, r[:, 0].astype(np.int64), r[:, 2:6], r[:, 1].astype(np.int64), np.ones(len(r))))
    return tracks


def ceiling(seq: MotSequence, xyxy_per_frame: list, fps: float, fill_s: list[float]) -> dict:
    """{label: scores} for the oracle without and with gap filling of up to each ``fill_s`` seconds."""
    from tagging.evaluate.tracking_real import score_tracks

    ids = oracle_ids(seq, xyxy_per_frame)
    tracks = oracle_tracks(xyxy_per_frame, ids)
    results = {"oracle ids, detections only": score_tracks(seq, TrackerOutput(
        np.concatenate([t.frame + 1 for t in tracks]), np.concatenate([np.full(len(t), t.track_id) for t in tracks]),
        np.concatenate([t.xyxy for t in tracks])))}
    for s in fill_s:
        n = int(round(s * fps))
        if n > 0:
            results[f"oracle ids, gaps <= {s:g} s filled ({n} frames)"] = score_tracks(
                seq, tracks_to_output([fill_gaps(t, n) for t in tracks]))
    return results


def _label(track: Track, ids: list[np.ndarray], n: int, at_end: bool) -> int:
    """Most common oracle id of ``n`` observations at one end of ``track`` (-1: none / false positives)."""
    obs = track.observed
    pairs = list(zip(track.frame[obs].tolist(), track.det_index[obs].tolist()))
    pairs = pairs[-n:] if at_end else pairs[:n]
    labels = [int(ids[f][d]) for f, d in pairs]
    return max(set(labels), key=labels.count) if labels else -1


def _people(track: Track, ids: list[np.ndarray]) -> list[tuple[int, int]]:
    """Runs of (oracle id, observations) along ``track``."""
    runs: list[list[int]] = []
    for f, d in zip(track.frame[track.observed].tolist(), track.det_index[track.observed].tolist()):
        g = int(ids[f][d])
        if runs and runs[-1][0] == g:
            runs[-1][1] += 1
        else:
            runs.append([g, 1])
    return [(g, n) for g, n in runs]


def _end_cover(track: Track, xyxy_per_frame: list) -> float:
    """Share of the last observed box of ``track`` covered by a nearer box of the same frame."""
    from tagging.track.offline import covered_by

    k = np.nonzero(track.observed)[0][-1]
    boxes = np.asarray(xyxy_per_frame[int(track.frame[k])], np.float64)
    return float(covered_by(boxes)[int(track.det_index[k])].max()) if len(boxes) > 1 else 0.0


def _print_links(name: str, tracks: list[Track], cost: np.ndarray, nxt: dict, ids, xyxy_per_frame, n: int) -> None:
    wrong = 0
    print(f"\n{name}: {len(nxt)} links among {len(tracks)} pieces")
    for i, j in sorted(nxt.items(), key=lambda p: int(tracks[p[0]].frame[-1])):
        a, b = _label(tracks[i], ids, n, True), _label(tracks[j], ids, n, False)
        rival_end = np.delete(cost[:, j], i)
        rival_start = np.delete(cost[i], j)
        rival = min(rival_end.min(initial=np.inf), rival_start.min(initial=np.inf))
        ok = a == b and a >= 0
        wrong += not ok
        print(f"  {'ok   ' if ok else 'WRONG'} {i:3d}->{j:3d} gt {a:3d} -> {b:3d}  frames {int(tracks[i].frame[-1]):4d} -> "
              f"{int(tracks[j].frame[0]):4d} (gap {int(tracks[j].frame[0] - tracks[i].frame[-1]):3d})  "
              f"cost {cost[i, j]:.2f}  rival {rival:.2f}  end covered {_end_cover(tracks[i], xyxy_per_frame):.2f}")
        for k in np.nonzero(np.isfinite(cost[:, j]))[0]:
            if k != i:
                print(f"      rival end   piece {k:3d} gt {_label(tracks[k], ids, n, True):3d} cost {cost[k, j]:.2f} "
                      f"ends {int(tracks[k].frame[-1])} -> {nxt.get(int(k))}")
        for k in np.nonzero(np.isfinite(cost[i]))[0]:
            if k != j:
                print(f"      rival start piece {k:3d} gt {_label(tracks[k], ids, n, False):3d} cost {cost[i, k]:.2f} "
                      f"starts {int(tracks[k].frame[0])}")
    print(f"  {wrong} of {len(nxt)} wrong")


def diagnose(seq: MotSequence, dets, colours: list, fps: float, changes: dict) -> None:
    """Print our offline pass step by step against the oracle ids (module doc, ``--links``)."""
    from dataclasses import replace

    from tagging.evaluate.tracking_real import score_tracks
    from tagging.track import offline as off
    from tagging.track.appearance import Cues
    from tagging.track.online import ByteTracker
    from tagging.track.sequences import PIPELINE_TRACKER_CONFIG

    config = replace(PIPELINE_TRACKER_CONFIG, **changes).for_fps(fps)
    xyxy = dets.xyxy
    ids = oracle_ids(seq, xyxy, min_iou=0.3)     # who a (partly seen) box is, not whether it scores
    cues = Cues(dets.keypoints, colours)
    n = config.join_fit_frames

    def score(label, tracks):
        m = score_tracks(seq, tracks_to_output(tracks))
        print(f"{label:52s} IDF1 {m['IDF1']:.3f}  HOTA {m['HOTA']:.3f}  IDsw {m['id_switches']:3d}  "
              f"ids {m['ids_out']}")

    tracker = ByteTracker(config)
    for b, s in zip(xyxy, dets.score):
        tracker.update(b, s)
    tracks = off._tracklets_from_tracker(tracker, xyxy)
    score("online tracklets (as the online pass left them)", tracks)
    tracks = off.split_at_contacts([t for t in (off.drop_outliers(t, config) for t in tracks) if len(t)], config)
    tracks, cut_ends = off.split_at_occluded_gaps(tracks, config)
    score("after strays and contact cuts", tracks)
    print("pieces holding more than one person (swaps of the online pass):")
    for t in tracks:
        runs = _people(t, ids)
        if len({g for g, _ in runs}) > 1:
            print(f"  piece {t.track_id:3d} frames {int(t.frame[0])}-{int(t.frame[-1])}: "
                  + ", ".join(f"gt {g} x{k}" for g, k in runs))
    path = off.camera_path(tracks, len(xyxy)) if config.join_stabilize else None
    cost = off.join_cost_matrix(tracks, config, path, cues)
    nxt = off.link_pairs(cost, config.ambiguity_margin, off._ends_in(tracks, cut_ends), config.occluded_margin)
    _print_links("joins", tracks, cost, nxt, ids, xyxy, n)
    tracks, refused = off._join(tracks, config, path, cues, cut_ends)
    score("after joins", tracks)
    tracks = [t for t in tracks if int(t.observed.sum()) >= config.min_track_frames
              and float(t.score[t.observed].mean()) >= config.min_track_mean_score]
    score("after clutter removal", tracks)
    cost = off.relink_cost_matrix(tracks, config, path, cues)
    cost[off._ends_in(tracks, refused)] = np.inf
    nxt = (off.link_pairs(cost, config.ambiguity_margin, off._ends_in(tracks, cut_ends), config.occluded_margin)
           if config.relink_max_cost > 0 else {})
    _print_links("re-links", tracks, cost, nxt, ids, xyxy, n)
    tracks = off.relink_tracks(tracks, config, path, cues, cut_ends, refused)
    score("after re-links", tracks)
    print("filled gaps between two different people:")
    for t in tracks:
        obs = np.nonzero(t.observed)[0]
        for a, b in zip(obs[:-1], obs[1:]):
            gap = int(t.frame[b] - t.frame[a]) - 1
            ga, gb = (int(ids[int(t.frame[k])][int(t.det_index[k])]) for k in (a, b))
            if 0 < gap <= config.fill_max_gap_frames and ga != gb:
                print(f"  track {t.track_id}: frames {int(t.frame[a])} -> {int(t.frame[b])} gt {ga} -> {gb}")
    filled = [off.fill_gaps(t, config.fill_max_gap_frames) for t in tracks]
    score("after gap filling", filled)
    score("after smoothing (the bench's row)", [off.smooth_boxes(t, config.smooth_sigma_frames) for t in filled])
    score("re-links' output, observed boxes only (the pipeline's)",
          [off.Track(t.track_id, t.frame[t.observed], t.xyxy[t.observed], t.det_index[t.observed],
                     t.score[t.observed]) for t in tracks])


def main(argv=None) -> int:
    from tracking_vs_peers import _subsample, config_changes, print_real_table, real_detections

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tags", required=True, help="a matchtag run's output directory")
    parser.add_argument("--gt", required=True, help="MOT gt.txt of the video")
    parser.add_argument("--video", help="the video file (torso colours, as tracking_vs_peers.py reads them)")
    parser.add_argument("--video-id", dest="video_id")
    parser.add_argument("--cache", help=".npz of tracking_vs_peers.py's torso colours")
    parser.add_argument("--fill-s", nargs="+", type=float, default=[0.2, 0.5, 1.0, 2.0],
                        help="gap lengths to fill, seconds")
    parser.add_argument("--links", action="store_true", help="print our offline pass's links against the oracle")
    parser.add_argument("--set", nargs="+", metavar="FIELD=VALUE", dest="changes",
                        help="with --links: TrackerConfig changes to the pipeline's config")
    parser.add_argument("--subsample", type=int, default=1, help="keep every K-th processed frame")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not args.video and not (args.cache and Path(args.cache).is_file()):
        parser.error("needs --video (or an existing --cache)")
    from tagging.evaluate.tracking import import_trackeval

    import_trackeval()          # without its import-time notice
    run, seq, colours = real_detections(args)
    if args.subsample > 1:
        run, seq, colours = _subsample(run, seq, colours, args.subsample)
    if args.links:
        diagnose(seq, run.dets, colours, run.processed_fps, config_changes(args.changes))
        return 0
    results = ceiling(seq, run.dets.xyxy, run.processed_fps, args.fill_s)
    if args.json:
        print(json.dumps({"video_id": run.video_id, "results": results}, indent=1))
        return 0
    print(f"{run.video_id}: {seq.frame_count} frames at {seq.fps:g} fps, "
          f"{sum(len(b) for b in run.dets.xyxy)} detections, {len(seq.frame)} GT boxes")
    print_real_table("ceiling", results, "recall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
