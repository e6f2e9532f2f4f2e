"""Run the person detector over a video's frames and keep its ball boxes (COCO "sports ball").

    python bench/ball_detections.py VIDEO --out balls.csv [--every N] [--frames 0,5,9] [--model centernet]

The detector is the pose stage's own (whole frame plus automatic tiles, default
``DetectorConfig``): balls come out of the same model calls as the people, so this is
exactly what the pipeline sees.  Writes ``frame_index,x1,y1,x2,y2,score`` (frame pixels)
for every ball kept, and one ``frame_index`` line per processed frame to ``OUT.frames``
so a frame without a ball counts as processed.  Frames already in OUT are not redone
(the detector costs 1-10 s per frame on a loaded CPU), so the command can be resumed.

It also reports the cost of finding the ball: the model time per frame (shared with the
people, paid anyway) and the extra time to decode, filter and NMS the ball boxes of each
frame's own model outputs (CenterNet).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video")
    ap.add_argument("--out", required=True, help="CSV of ball boxes (appended to when it exists)")
    ap.add_argument("--every", type=int, default=1, help="process every N-th frame")
    ap.add_argument("--frames", default=None, help="comma-separated frame indices (overrides --every)")
    ap.add_argument("--model", default="centernet", choices=("centernet", "nanodet"))
    args = ap.parse_args(argv)

    from tagging.pose.detector import BALL_CLASS, DetectorConfig, PersonDetector, _merge, ball_shaped, decode_centernet
    from tagging.pose.models import configure_tensorflow, fetch_models, load_graph
    from tagging.video.reader import FrameReader

    wanted = None if args.frames is None else {int(f) for f in args.frames.split(",") if f.strip()}
    out, done_path = Path(args.out), Path(args.out + ".frames")
    done = set()
    if done_path.exists():
        done = {int(x) for x in done_path.read_text().split()}
    configure_tensorflow()
    fetch_models([args.model])
    detector = PersonDetector(load_graph(args.model), DetectorConfig(model=args.model))

    calls = {"model_s": 0.0, "n": 0, "ball_s": 0.0}
    model = detector.model
    views: list = []   # (raw output, scale, offset) of each call of the current frame

    def timed_model(x):
        t = time.perf_counter()
        r = model(x)
        calls["model_s"] += time.perf_counter() - t
        calls["n"] += 1
        views.append(r)
        return r

    detector.model = timed_model
    new_file = not out.exists()
    total_s = frames = 0
    with out.open("a", newline="") as fh, done_path.open("a") as done_fh:
        writer = csv.writer(fh)
        if new_file:
            writer.writerow(["frame_index", "x1", "y1", "x2", "y2", "score"])
        for frame in FrameReader(args.video):
            i = frame.index
            if i in done or (wanted is not None and i not in wanted) or (wanted is None and i % args.every):
                continue
            views.clear()
            t = time.perf_counter()
            _people, balls = detector.detect_all(frame.image)
            total_s += time.perf_counter() - t
            if args.model == "centernet":
                # The ball's own cost: decoding its class from this frame's raw outputs and
                # merging its boxes (the model calls are the people's, paid anyway).
                h, w = frame.image.shape[:2]
                t = time.perf_counter()
                found = [decode_centernet(r[0][0], 1.0, (0.0, 0.0), detector.config.ball_score_threshold, BALL_CLASS)
                         for r in views]
                _merge(found, w, h, lambda xyxy: ball_shaped(xyxy, detector.config), detector.config.ball_nms_iou,
                       detector.config.containment)
                calls["ball_s"] += time.perf_counter() - t
            frames += 1
            for box, score in zip(balls.xyxy.tolist(), balls.score.tolist()):
                writer.writerow([i, *(round(v, 2) for v in box), round(score, 4)])
            fh.flush()
            done_fh.write(f"{i}\n")
            done_fh.flush()
    if frames:
        extra = f"; ball decoding adds {calls['ball_s'] / frames * 1000:.2f} ms/frame" if args.model == "centernet" else ""
        print(f"{args.video}: {frames} frames, {total_s / frames:.2f} s/frame detector "
              f"({calls['n'] / frames:.1f} model calls/frame, {calls['model_s'] / frames:.2f} s in the model){extra}",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
