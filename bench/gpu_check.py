"""One prepared check of the GPU path: where TF puts the models, and how fast they run.

    bench/gpu_check.sh [--quick] [--video VIDEO] [--out result.json]

Prints one JSON object (and writes it to ``--out``):

- ``device``: TF version, the GPUs TF sees (name, compute capability), whether it runs on one;
- ``placement``: the device each model's output tensors were computed on (``/GPU:0`` means
  TF really placed the graph there);
- ``crops_per_s``: MoveNet Lightning and Thunder, crops per second by batch size (1 to 256);
- ``detector``: CenterNet calls per second on one 512 x 512 view, and frames per second on
  the video's frames with automatic tiles (whole frame + tiles per frame);
- ``frames_per_s``: the pose stage model-only (detector + batched crops per frame, in
  process) against end to end (``matchtag run`` on the same frames: decode, RunInference,
  tracking, events, Parquet);
- ``gpu_memory_mb``: TF's peak allocation on GPU:0 (absent on the CPU).

``--quick`` uses fewer batch sizes, frames and repeats: the CPU path runs in about a minute
(tests/test_gpu_check.py runs it there).  On a GPU machine the full check takes a few minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DEFAULT_VIDEO = REPO.parent / "shared" / "data" / "video" / "soccer_wide_dfl_08fd33_4.mp4"
BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
QUICK_BATCHES = (1, 8, 32)


def _best_seconds(fn, repeats: int) -> float:
    fn()  # warm-up: tracing, first allocations, cuDNN autotuning
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _frames(video: str | None, n: int) -> tuple[list[np.ndarray], str]:
    """``n`` RGB frames of ``video``, or of a real-pixel clip (scikit-image's astronaut,
    panned) when no video is given or found."""
    from tagging.video.reader import FrameReader

    if video and Path(video).is_file():
        return [f.image for f in FrameReader(video, max_frames=n)], video
    from skimage import data

    img = data.astronaut()
    wide = np.concatenate([img, img[:, ::-1]], axis=1)          # 512 x 1024
    frames = [np.roll(wide, 8 * i, axis=1) for i in range(n)]
    return frames, "astronaut (panned; no video given)"


def device_info() -> dict:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    details = []
    for g in gpus:
        try:
            details.append({"name": g.name, **{k: str(v) for k, v in tf.config.experimental.get_device_details(g).items()}})
        except Exception:  # noqa: BLE001  (details are best effort)
            details.append({"name": g.name})
    return {"tensorflow": tf.__version__, "built_with_cuda": tf.test.is_built_with_cuda(), "gpus": details,
            "runs_on": "GPU" if tf.config.list_logical_devices("GPU") else "CPU"}


def crop_rates(batches, repeats: int, max_crops: int) -> tuple[dict, dict]:
    from tagging.pose.models import SINGLE_POSE_MOVENETS, load_graph

    rates, placement = {}, {}
    rng = np.random.default_rng(0)
    for name, size in SINGLE_POSE_MOVENETS.items():
        model = load_graph(name)
        placement[name] = model.graph.output_devices(np.zeros((1, size, size, 3), np.int32))
        rates[name] = {}
        for b in batches:
            crops = rng.integers(0, 255, (b, size, size, 3), dtype=np.int32)
            calls = max(1, min(max_crops, 4 * b) // b)
            seconds = _best_seconds(lambda: [model(crops) for _ in range(calls)], repeats)
            rates[name][str(b)] = round(calls * b / seconds, 1)
    return rates, placement


def detector_rates(frames, repeats: int) -> tuple[dict, dict]:
    from tagging.pose.detector import DetectorConfig, PersonDetector
    from tagging.pose.models import load_graph

    graph = load_graph("centernet")
    view = np.zeros((1, 512, 512, 3), np.float32)
    placement = {"centernet": graph.output_devices(view)}
    one_view = _best_seconds(lambda: [graph(view) for _ in range(4)], repeats) / 4
    detector = PersonDetector(graph, DetectorConfig())          # automatic tiles, as `matchtag run`
    per_frame = _best_seconds(lambda: [detector(f) for f in frames], repeats) / len(frames)
    return {"calls_per_s_512": round(1 / one_view, 2), "frames_per_s_auto_tiles": round(1 / per_frame, 2)}, placement


def stage_rates(frames, video: str | None, repeats: int) -> dict:
    from pipeline.main import run
    from pipeline.model_handler import shared_estimator
    from tagging.pose.stage import PoseStageConfig

    est = shared_estimator(PoseStageConfig())
    people: list[int] = []

    def model_only():
        people[:] = [len(est(f)) for f in frames]

    out = {"frames": len(frames)}
    out["model_only"] = round(len(frames) / _best_seconds(model_only, repeats), 3)
    out["people_per_frame_median"] = float(np.median(people))
    if video and Path(video).is_file():
        def end_to_end():
            with tempfile.TemporaryDirectory(prefix="matchtag-gpucheck-") as tmp:
                result = run([video, "--output", tmp, "--max-frames", str(len(frames)), "--runner", "FnApiRunner",
                              "--progress", "off"])
                if result.state != "DONE":
                    raise RuntimeError(f"pipeline ended in state {result.state}")
        out["end_to_end"] = round(len(frames) / _best_seconds(end_to_end, max(1, repeats - 1)), 3)
        out["end_to_end_over_model_only"] = round(out["end_to_end"] / out["model_only"], 3)
    else:
        out["end_to_end"] = None  # needs a video file for `matchtag run`
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer batch sizes, frames and repeats (CPU path)")
    ap.add_argument("--video", default=str(DEFAULT_VIDEO) if DEFAULT_VIDEO.is_file() else None)
    ap.add_argument("--frames", type=int, default=None, help="frames for the frame rates (default 48, quick 4)")
    ap.add_argument("--batches", type=int, nargs="+", help="crop batch sizes (default 1..256, quick 1 8 32)")
    ap.add_argument("--out", help="also write the JSON here")
    args = ap.parse_args(argv)

    from tagging.pose.models import configure_tensorflow, fetch_models

    started = time.perf_counter()
    configure_tensorflow()
    fetch_models(["centernet", "movenet-lightning", "movenet-thunder"])
    import tensorflow as tf

    repeats = 1 if args.quick else 3
    frames, source = _frames(args.video, args.frames or (4 if args.quick else 48))
    result = {"check": "matchtag-gpu-check-v1", "quick": args.quick, "video": source, "device": device_info()}
    batches = args.batches or (QUICK_BATCHES if args.quick else BATCHES)
    result["crops_per_s"], placement = crop_rates(batches, repeats,
                                                  max_crops=64 if args.quick else 1024)
    result["detector"], det_placement = detector_rates(frames, repeats)
    result["placement"] = {**placement, **det_placement}
    result["frames_per_s"] = stage_rates(frames, args.video, repeats)
    if tf.config.list_logical_devices("GPU"):
        result["gpu_memory_mb"] = round(tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20, 1)
    result["on_gpu"] = all("GPU" in d for devs in result["placement"].values() for d in devs)
    result["seconds"] = round(time.perf_counter() - started, 1)
    text = json.dumps(result, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
