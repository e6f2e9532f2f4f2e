"""``matchtag evaluate pose``: our detector + pose stage on annotated images, scored.

    matchtag evaluate pose --annotations COCO_JSON --images DIR [--backend topdown|posenet|multipose]
                           [--detector centernet|nanodet] [--crop-model NAME] [--tile-px N]
                           [--device auto|cpu|gpu] [--json]

COCO-17 and PoseTrack18 files get OKS AP/AR (pycocotools); PoseTrack18 and
MPII/JHMDB-style files get PCKh@0.5 (see tagging/evaluate/pose.py for the joint mapping,
head joints and ignore regions).
"""

from __future__ import annotations

import json
import sys

from tagging.pose.detector import DetectorConfig
from tagging.pose.estimators import PoseConfig

BACKENDS = ("topdown", "posenet", "multipose")


def register(sub) -> None:
    """Add the ``pose`` subcommand to ``matchtag evaluate``'s subparsers."""
    p = sub.add_parser("pose", help="OKS AP / PCKh of our detector + pose stage on annotated images")
    p.add_argument("--annotations", required=True, help="COCO-style keypoint JSON (COCO-17, PoseTrack18, JHMDB/MPII)")
    p.add_argument("--images", required=True, help="directory the annotations' file_name entries are relative to")
    p.add_argument("--backend", choices=BACKENDS, default="topdown",
                   help="topdown: detector + MoveNet crops (default); posenet: detector + PoseNet crops; "
                        "multipose: MoveNet MultiPose")
    p.add_argument("--detector", choices=("centernet", "nanodet"), default=DetectorConfig.model)
    p.add_argument("--flip-test", dest="flip_test", choices=("on", "off"), default="on",
                   help="average each crop's pose with its mirrored crop's (default on, as in `matchtag run`)")
    p.add_argument("--crop-model", dest="crop_model", choices=("movenet-lightning", "movenet-thunder"),
                   default=PoseConfig.crop_model, help="MoveNet model on the crops (topdown backend)")
    p.add_argument("--tile-px", dest="tile_px", type=int, default=DetectorConfig.tile_px,
                   help="detector tiles: -1 automatic (default), 0 whole frame only, N tiles of N px")
    p.add_argument("--device", choices=("auto", "cpu", "gpu"), default=None,
                   help="TensorFlow device (default: $MATCHTAG_DEVICE, else auto)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=evaluate_pose_cmd)


def _log(msg: str) -> None:
    print(f"matchtag: {msg}", file=sys.stderr, flush=True)


def evaluate_pose_cmd(args) -> int:
    from pipeline.model_handler import PoseStageConfig, build_estimator
    from tagging.pose.models import ModelFetchError, configure_tensorflow
    from tagging.evaluate.pose import AnnotationError, evaluate, load_dataset

    try:
        dataset = load_dataset(args.annotations, args.images)
    except AnnotationError as exc:
        _log(f"error: {exc}")
        return 2
    config = PoseStageConfig(backend=args.backend,
                             detector=DetectorConfig(model=args.detector, tile_px=args.tile_px),
                             pose=PoseConfig(crop_model=args.crop_model, flip_test=args.flip_test == "on"))
    try:
        configure_tensorflow(device=args.device)
        estimator = build_estimator(config)
    except (ModelFetchError, ValueError, RuntimeError) as exc:
        _log(f"error: {exc}")
        return 2
    try:
        result = evaluate(dataset, estimator, log=_log)
    except AnnotationError as exc:
        _log(f"error: {exc}")
        return 2
    result["backend"] = config.model_id
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{dataset.path.name} ({result['format']}): {result['images']} images, {result['people']} people, "
          f"backend {config.model_id}, {result['predicted_people']} people predicted")
    for key in ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75"):
        if key in result:
            print(f"  OKS {key:5s} {result[key]:.3f}")
    if "PCKh" in result:
        print(f"  PCKh@{result['PCKh_threshold']} {result['PCKh']:.3f} over {result['PCKh_people']} people; "
              f"joints scored: {', '.join(result['scored_joints'])}")
    if "ignored_joints" in result:
        print(f"  (PoseTrack18: not scored: {', '.join(result['ignored_joints'])}; "
              "people in ignore regions dropped)")
    return 0
