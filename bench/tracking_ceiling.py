"""What a run's own detections allow: identities from the ground truth (an oracle), scored.

    python bench/tracking_ceiling.py --tags RUN_DIR --gt SEQ/gt.txt --video VIDEO [--video-id ID]
        [--cache FILE.npz] [--fill-s 0 0.2 0.5 1 2] [--json]

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


def main(argv=None) -> int:
    from tracking_vs_peers import real_detections

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tags", required=True, help="a matchtag run's output directory")
    parser.add_argument("--gt", required=True, help="MOT gt.txt of the video")
    parser.add_argument("--video", help="the video file (torso colours, as tracking_vs_peers.py reads them)")
    parser.add_argument("--video-id", dest="video_id")
    parser.add_argument("--cache", help=".npz of tracking_vs_peers.py's torso colours")
    parser.add_argument("--fill-s", nargs="+", type=float, default=[0.2, 0.5, 1.0, 2.0],
                        help="gap lengths to fill, seconds")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not args.video and not (args.cache and Path(args.cache).is_file()):
        parser.error("needs --video (or an existing --cache)")
    import contextlib

    with contextlib.redirect_stdout(sys.stderr):     # trackeval prints a notice on import
        import trackeval  # noqa: F401
    run, seq, _ = real_detections(args)
    results = ceiling(seq, run.dets.xyxy, run.processed_fps, args.fill_s)
    if args.json:
        print(json.dumps({"video_id": run.video_id, "results": results}, indent=1))
        return 0
    print(f"{run.video_id}: {seq.frame_count} frames at {seq.fps:g} fps, "
          f"{sum(len(b) for b in run.dets.xyxy)} detections, {len(seq.frame)} GT boxes")
    print(f"{'ceiling':44s}{'IDF1':>8s}{'HOTA':>8s}{'MOTA':>8s}{'recall':>8s}  ids out / in GT")
    for label, m in results.items():
        print(f"{label:44s}{m['IDF1']:8.3f}{m['HOTA']:8.3f}{m['MOTA']:8.3f}{m['recall']:8.3f}"
              f"  {m['ids_out']} / {m['ids_in_gt']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
