"""Crop-model throughput by batch size and TF intra-op threads, on real person crops.

    MATCHTAG_CACHE_DIR=/tmp/mtcache python bench/crop_batch_threads.py \
        [--video ../shared/data/video/soccer_wide_dfl_08fd33_4.mp4] [--crops 32] [--threads 0 1]

Crops are the first ``--crops`` people CenterNet finds in the video.  TensorFlow's
thread pool can be set only once per process, so each thread setting runs in its
own subprocess.  Each figure is the best of 5 passes (other load only slows a pass
down).  Prints crops/s for the package's original graph at batch 1 (its
``Identity:0``), for the batchable graph at batch 1, 8 and 16, and for two calls at
once (two threads) at batch 1 and 16, per model.
``threads 0`` = TF's default (one per core).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_VIDEO = REPO.parent / "shared" / "data" / "video" / "soccer_wide_dfl_08fd33_4.mp4"
MODELS = ("movenet-lightning", "movenet-thunder")


def _child(video: str, n: int, threads: int) -> dict:
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    sys.path.insert(0, str(REPO))
    import numpy as np

    from tagging.core.boxes import square_crop_box
    from tagging.pose import models as M
    from tagging.pose.detector import PersonDetector
    from tagging.pose.estimators import extract_crop
    from tagging.video.reader import FrameReader

    M.configure_tensorflow(intra_op_threads=threads)
    detector = PersonDetector(M.load_graph("centernet"))
    frames, boxes = [], []
    for frame in FrameReader(video):
        for box in square_crop_box(detector(frame.image).xyxy, 1.25):
            frames.append(frame.image)
            boxes.append(box)
        if len(boxes) >= n:
            break
    out = {}
    for name in MODELS:
        size = M.SINGLE_POSE_MOVENETS[name]
        crops = np.stack([extract_crop(f, b, size) for f, b in zip(frames[:n], boxes[:n])]).astype(np.int32)
        original = M.GraphModel(name, outputs=("Identity:0",))
        batched = M.load_graph(name)

        def rate(fn, repeats=5):
            # best of several passes: other processes on a shared CPU only ever slow a pass down
            fn()
            best = float("inf")
            for _ in range(repeats):
                t = time.perf_counter()
                fn()
                best = min(best, time.perf_counter() - t)
            return len(crops) / best

        row = {"original_b1": rate(lambda: [original(c[None]) for c in crops])}
        for b in (1, 8, 16):
            row[f"b{b}"] = rate(lambda b=b: [batched(crops[i:i + b]) for i in range(0, len(crops), b)])
        # Two Python threads, each feeding every other batch: TF releases the GIL, so
        # this is two model calls at once.  With 1 intra-op thread per call, it shows
        # what the cores can do with no intra-op synchronisation at all.
        pool = ThreadPoolExecutor(2)
        for b in (1, 16):
            row[f"2x_b{b}"] = rate(lambda b=b: list(pool.map(
                lambda s: [batched(crops[i:i + b]) for i in range(s, len(crops), 2 * b)], (0, b))))
        out[name] = row
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", default=str(DEFAULT_VIDEO))
    ap.add_argument("--crops", type=int, default=32)
    ap.add_argument("--threads", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        print(json.dumps(_child(args.video, args.crops, args.child)))
        return 0
    print(f"{'model':18s} {'threads':>7s} {'orig b1':>8s} {'b1':>7s} {'b8':>7s} {'b16':>7s} {'2x b1':>7s} "
          f"{'2x b16':>7s} {'best/orig':>9s} {'best/orig@default':>17s}")
    print("(crops/s; 2x = two calls at once; best/orig against the original graph at batch 1 with the same "
          "threads, best/orig@default against it with TF's default threads, the issue's baseline)")
    baseline: dict[str, float] = {}
    for threads in args.threads:
        proc = subprocess.run([sys.executable, __file__, "--video", args.video, "--crops", str(args.crops),
                               "--child", str(threads)], capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr[-2000:], file=sys.stderr)
            return 1
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        for name, r in res.items():
            best = max(v for k, v in r.items() if k != "original_b1")
            if threads == 0:
                baseline[name] = r["original_b1"]
            vs_default = f"{best / baseline[name]:17.2f}" if name in baseline else f"{'(run threads 0)':>17s}"
            print(f"{name:18s} {threads or 'default':>7} {r['original_b1']:8.1f} {r['b1']:7.1f} {r['b8']:7.1f} "
                  f"{r['b16']:7.1f} {r['2x_b1']:7.1f} {r['2x_b16']:7.1f} {best / r['original_b1']:9.2f} {vs_default}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
