"""The measurements behind the pose stage's defaults (docs/pose.md).

    MATCHTAG_CACHE_DIR=/tmp/mtcache python bench/pose_tuning.py tiles        # DFL wide shot: tiles x detector x crop model
    MATCHTAG_CACHE_DIR=/tmp/mtcache python bench/pose_tuning.py crop-scale   # OKS AP vs crop scale, COCO + PoseTrack18
    MATCHTAG_CACHE_DIR=/tmp/mtcache python bench/pose_tuning.py small-people # OKS AP vs person height: Lightning vs Thunder, flip test on/off
    python bench/pose_tuning.py small-people --crop-models movenet-thunder --sides 192 160 128 --flip off --posetrack
                                                                            # ... and vs the crop side

Data: ``../shared/data`` (or ``$MATCHTAG_SHARED_DATA``).  The accuracy studies use a
handful of annotated people: they rank options, they are not benchmark results.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import numpy as np  # noqa: E402


def _data() -> Path:
    return Path(os.environ.get("MATCHTAG_SHARED_DATA", REPO.parent / "shared" / "data"))


def tiles(args) -> None:
    from tagging.pose import models as M
    from tagging.pose.detector import DetectorConfig, PersonDetector
    from tagging.pose.estimators import PoseConfig, TopDownPoseEstimator
    from tagging.video.reader import FrameReader

    video = _data() / "video" / "soccer_wide_dfl_08fd33_4.mp4"
    frames = [f.image for f in FrameReader(str(video), stride=20)][:8]
    dets = {n: M.load_graph(n) for n in ("centernet", "nanodet")}
    crops = {n: M.load_graph(n) for n in ("movenet-lightning", "movenet-thunder")}
    print(f"{video.name}: {len(frames)} frames (every 20th)")
    for dname, tile in [("centernet", 0), ("centernet", -1), ("centernet", 384), ("centernet", 320),
                        ("centernet", 256), ("nanodet", 320), ("nanodet", 256)]:
        det = PersonDetector(dets[dname], DetectorConfig(model=dname, tile_px=tile))
        for cname in crops:
            est = TopDownPoseEstimator(det, crops[cname], PoseConfig(crop_model=cname))
            t = time.perf_counter()
            found, posed = [], []
            for f in frames:
                d, boxes, _balls = est.locate(f)
                found.append(len(d))
                posed.append(len(est.assemble(d, boxes, est.run_crops(est.crops(f, boxes)), f.shape[:2])))
            ms = (time.perf_counter() - t) / len(frames) * 1000
            label = {0: "none", -1: "auto"}.get(tile, f"{tile}px")
            print(f"{dname:9s} tiles={label:5s} {cname:17s} detections median {np.median(found):5.1f}  "
                  f"with pose median {np.median(posed):5.1f} min {min(posed):3d}  {ms:6.0f} ms/frame", flush=True)


def _datasets():
    from tagging.evaluate.pose import load_dataset

    d = _data() / "pose"
    return (load_dataset(d / "coco" / "test_coco.json", d / "coco"),
            load_dataset(d / "posetrack18" / "annotations" / "test_posetrack18_val.json", d / "posetrack18"))


def crop_scale(args) -> None:
    from tagging.evaluate.pose import oks_ap, run_estimator
    from tagging.pose import models as M
    from tagging.pose.detector import DetectorConfig, PersonDetector
    from tagging.pose.estimators import PoseConfig, TopDownPoseEstimator

    coco, posetrack = _datasets()
    det = PersonDetector(M.load_graph("centernet"), DetectorConfig(tile_px=0))
    for cname in ("movenet-thunder", "movenet-lightning"):
        model = M.load_graph(cname)
        for scale in (1.1, 1.2, 1.25, 1.3, 1.4):
            est = TopDownPoseEstimator(det, model, PoseConfig(crop_model=cname, crop_scale=scale))
            a = oks_ap(coco, run_estimator(coco, est))
            b = oks_ap(posetrack, run_estimator(posetrack, est))
            print(f"{cname:17s} crop_scale {scale:4.2f}: COCO AP {a['AP']:.3f} AR {a['AR']:.3f} | "
                  f"PoseTrack18 AP {b['AP']:.3f}", flush=True)


def _shrink(dataset, s: float):
    """A copy of an evaluation set whose images, keypoints and boxes are scaled by ``s``:
    (dataset, {image id: RGB image}, median person height px)."""
    shrunk = copy.deepcopy(dataset)
    for a in shrunk.data["annotations"]:
        k = np.asarray(a["keypoints"], float).reshape(-1, 3)
        k[:, :2] *= s
        a["keypoints"] = k.reshape(-1).tolist()
        for key in ("bbox", "bbox_head"):
            if key in a:
                a[key] = [v * s for v in a[key]]
        if "area" in a:  # else the box's, computed when scored
            a["area"] *= s * s
    for im in shrunk.data["images"]:
        for key in ("ignore_regions_x", "ignore_regions_y"):
            im[key] = [[v * s for v in region] for region in im.get(key) or []]
    heights = [a["bbox"][3] for a in shrunk.data["annotations"] if a.get("num_keypoints", 0) > 0]
    images = {}
    for im in dataset.data["images"]:
        rgb = cv2.imread(str(dataset.images_dir / im["file_name"]))[..., ::-1]
        images[im["id"]] = np.ascontiguousarray(cv2.resize(rgb, None, fx=s, fy=s, interpolation=cv2.INTER_AREA))
    return shrunk, images, float(np.median(heights))


def small_people(args) -> None:
    from tagging.evaluate.pose import drop_in_ignore_regions, oks_ap
    from tagging.pose import models as M
    from tagging.pose.detector import DetectorConfig, PersonDetector
    from tagging.pose.estimators import PoseConfig, TopDownPoseEstimator

    coco, posetrack = _datasets()
    sets = {"COCO": coco, "PoseTrack18": posetrack} if args.posetrack else {"COCO": coco}
    det = PersonDetector(M.load_graph("centernet"), DetectorConfig(tile_px=0))
    flips = {"off": (False,), "on": (True,), "both": (False, True)}[args.flip]
    for name in args.crop_models:
        native = M.CROP_MODEL_SIZES[name]
        # Every person goes through the model at each side (the native one = no small crops).
        sides = sorted({native, *(args.sides or [])}, reverse=True)
        models = {side: M.load_graph(name) if side == native else M.load_movenet(name, side) for side in sides}
        for set_name, dataset in sets.items():
            for s in args.scales:
                shrunk, images, median_h = _shrink(dataset, s)
                for side, model in models.items():
                    for flip in flips:
                        config = PoseConfig(crop_model=name, flip_test=flip, flip_min_height_px=0.0,
                                            small_crop_px=0 if side == native else side,
                                            small_person_height_px=float("inf"))
                        est = TopDownPoseEstimator(det, models[native], config, None if side == native else model)
                        info = {im["id"]: im for im in shrunk.data["images"]}
                        r = oks_ap(shrunk, {i: drop_in_ignore_regions(est(im), info[i]) for i, im in images.items()})
                        print(f"{set_name:11s} scale {s:4.2f} (median person {median_h:4.0f} px) {name:17s} "
                              f"{side:3d} px crops flip {'on ' if flip else 'off'}: AP {r['AP']:.3f} "
                              f"AR {r['AR']:.3f}", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study", choices=("tiles", "crop-scale", "small-people"))
    ap.add_argument("--crop-models", nargs="+", default=["movenet-lightning", "movenet-thunder"],
                    help="small-people: crop models to compare")
    ap.add_argument("--scales", nargs="+", type=float, default=[1.0, 0.5, 0.3, 0.2],
                    help="small-people: image scales (1.0 = original size)")
    ap.add_argument("--sides", nargs="+", type=int, default=[],
                    help="small-people: crop sides to run every person at, besides the model's native one "
                         "(multiples of 32)")
    ap.add_argument("--flip", choices=("off", "on", "both"), default="both", help="small-people: flip test")
    ap.add_argument("--posetrack", action="store_true", help="small-people: also shrink the PoseTrack18 sample")
    args = ap.parse_args(argv)
    {"tiles": tiles, "crop-scale": crop_scale, "small-people": small_people}[args.study](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
