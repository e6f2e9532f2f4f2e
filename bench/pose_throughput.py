"""Pose stage throughput on real frames: model-only vs the whole Beam pipeline.

    MATCHTAG_CACHE_DIR=/tmp/mtcache python bench/pose_throughput.py \
        [--video ../shared/data/video/soccer_wide_dfl_08fd33_4.mp4] [--frames 24] [--batch 16] [--json]

Prints, on the same decoded frames, in one process:

1. model-only crops/s of the crop model: the package's original graph at batch 1
   (its own decoding tail, ``Identity:0``), our batchable graph at batch 1, and at
   ``--batch`` (crops are the people our detector finds in those frames);
2. model-only frames/s: detector + batched crop model per frame (no Beam);
3. end-to-end frames/s: ``matchtag run`` (decode, RunInference detection + crop
   batches across frames, tracking, events, Parquet) on the same frames, in the same
   process, so models are already loaded (RunInference shares them per process);
4. the ratio end-to-end / model-only.

Each figure is the best of several passes (``--passes``; the frame-rate passes
alternate model-only and end-to-end so both see the same background load).

Thread settings come from ``$MATCHTAG_TF_THREADS`` (see docs/pose.md); run the
script once per setting to compare.  Timings on a shared CPU vary by +-10 %.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DEFAULT_VIDEO = REPO.parent / "shared" / "data" / "video" / "soccer_wide_dfl_08fd33_4.mp4"


def _rate(n: int, fn, repeats: int = 3) -> float:
    """Items per second, best of ``repeats`` passes after a warm-up (load only slows a pass)."""
    fn()  # warm-up (graph tracing, first allocation)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return n / best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", default=str(DEFAULT_VIDEO))
    ap.add_argument("--frames", type=int, default=24, help="frames from the start of the video")
    ap.add_argument("--batch", type=int, default=16, help="crop batch size to compare with batch 1")
    ap.add_argument("--crop-model", default=None, help="default: the pose stage's default")
    ap.add_argument("--flip-test", choices=("on", "off"), default="on",
                    help="the pose stage's flip test (default on, as in `matchtag run`)")
    ap.add_argument("--max-crops", type=int, default=64, help="crops used for the crops/s figures")
    ap.add_argument("--passes", type=int, default=2, help="alternating model-only / end-to-end passes")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from apache_beam.options.pipeline_options import PipelineOptions  # noqa: F401  (import cost up front)

    from pipeline.main import run
    from pipeline.model_handler import shared_estimator
    from tagging.pose.estimators import PoseConfig
    from tagging.pose.models import GraphModel, configure_tensorflow
    from tagging.pose.stage import PoseStageConfig
    from tagging.video.reader import FrameReader

    configure_tensorflow()
    import tensorflow as tf

    pose = PoseConfig(crop_model=args.crop_model or PoseConfig.crop_model, flip_test=args.flip_test == "on")
    config = PoseStageConfig(pose=pose)
    frames = [f.image for f in FrameReader(args.video, max_frames=args.frames)]
    est = shared_estimator(config)

    located = [est.locate(f) for f in frames]
    crops = np.concatenate([est.crops(f, boxes) for f, (_, boxes, _balls) in zip(frames, located)]).astype(np.int32)
    total_crops = len(crops)
    crops = crops[:args.max_crops]  # enough for a stable rate; keeps the run short
    n = len(crops)
    original = GraphModel(pose.crop_model, outputs=("Identity:0",)) if pose.crop_model != "posenet" else None
    b = max(1, args.batch)

    def run_original():
        for c in crops:
            original(c[None])

    def run_batch1():
        for c in crops:
            est.crop_model(c[None])

    def run_batched():
        for i in range(0, n, b):
            est.crop_model(crops[i:i + b])

    res = {"video": Path(args.video).name, "frames": len(frames), "crops_timed": n, "flip_test": args.flip_test,
           "detections_per_frame": total_crops / len(frames), "crop_model": pose.crop_model, "batch": b,
           "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
           "cpu_count": os.cpu_count(), "device": "GPU" if tf.config.list_logical_devices("GPU") else "CPU"}
    if original is not None:
        res["crops_per_s_original_batch1"] = _rate(n, run_original)
    res["crops_per_s_batch1"] = _rate(n, run_batch1)
    res[f"crops_per_s_batch{b}"] = _rate(n, run_batched)
    if original is not None:
        res["speedup_vs_original_batch1"] = res[f"crops_per_s_batch{b}"] / res["crops_per_s_original_batch1"]

    people = []

    def model_only():
        people.clear()
        for f in frames:
            people.append(len(est(f)))

    def end_to_end():
        with tempfile.TemporaryDirectory(prefix="matchtag-bench-") as out:
            argv = [args.video, "--output", out, "--max-frames", str(len(frames)), "--runner", "FnApiRunner",
                    "--crop-model", pose.crop_model, "--flip-test", args.flip_test]
            result = run(argv)
            if result.state != "DONE":
                raise RuntimeError(f"pipeline ended in state {result.state}")

    # Alternate the two so both see the same background load; best pass of each.
    model_only()  # warm-up
    best_model = best_e2e = float("inf")
    for _ in range(args.passes):
        t = time.perf_counter()
        model_only()
        best_model = min(best_model, time.perf_counter() - t)
        t = time.perf_counter()
        end_to_end()
        best_e2e = min(best_e2e, time.perf_counter() - t)
    res["people_per_frame_median"] = float(np.median(people))
    res["model_only_frames_per_s"] = len(frames) / best_model
    res["end_to_end_frames_per_s"] = len(frames) / best_e2e
    res["end_to_end_over_model_only"] = res["end_to_end_frames_per_s"] / res["model_only_frames_per_s"]

    if args.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(f"{k:32s} {v:.3f}" if isinstance(v, float) else f"{k:32s} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
