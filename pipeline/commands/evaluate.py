"""``matchtag evaluate coverage|tracking|pose|events|teams|balls``: score the pipeline's stages.

Each subcommand parses its options and calls the scoring code in ``tagging.evaluate``.
"""

from __future__ import annotations

import logging

from pipeline.args import StrictParser
from pipeline.commands import EXIT_OK, EXIT_USAGE
from pipeline.logs import json_stdout, log
from tagging.pose.detector import DetectorConfig
from tagging.pose.estimators import PoseConfig

SUMMARY = ("score the stages: coverage, tracking (MOT), pose (OKS AP), events (DFL AP, false alarms/h), "
           "teams and balls (against hand labels)")
POSE_BACKENDS = ("topdown", "posenet", "multipose")


def _evaluate_coverage(args) -> int:
    import pandas as pd

    from tagging.tables.queries import coverage

    table = coverage(args.tags)
    if args.json:
        args.emit({"videos": table.to_dict(orient="records")})
    else:
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    return EXIT_OK


SIMULATED_ONLY = ("noise_seed", "noise_protocol", "mode", "chunk_frames", "overlap_frames", "seqs", "max_seqs",
                  "workers", "frame_step")
SIMULATED_DEFAULTS = {"noise_seed": 0, "noise_protocol": "v1", "mode": "offline", "overlap_frames": 50,
                      "workers": 1, "frame_step": 1}


def _tracking_libraries() -> bool:
    logging.getLogger().setLevel(logging.WARNING)   # motmetrics logs timings at INFO on the root logger
    try:
        import motmetrics  # noqa: F401

        from tagging.evaluate.tracking import import_trackeval

        import_trackeval()
    except ImportError as exc:
        log(f"error: {exc.name} is needed for tracking metrics: pip install -e '.[dev]' && "
             "pip install --no-deps 'trackeval>=1.3,<1.4' (docs/tracking.md)")
        return False
    return True


def _evaluate_tracking(args) -> int:
    if args.tags is not None:
        given = [f"--{k.replace('_', '-')}" for k in SIMULATED_ONLY if getattr(args, k) is not None]
        if given:
            log(f"error: {', '.join(given)} belong to the simulated protocol (--gt DIR); "
                "with --tags the run's own detections and ids are scored")
            return EXIT_USAGE
        return _evaluate_tracking_run(args)
    for name, value in (("--video-id", args.video_id), ("--boxes", args.boxes)):
        if value is not None:
            log(f"error: {name} needs --tags (a run's output directory)")
            return EXIT_USAGE
    for k, v in SIMULATED_DEFAULTS.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    return _evaluate_tracking_simulated(args)


def _evaluate_tracking_run(args) -> int:
    from tagging.evaluate.tracking import MotFormatError
    from tagging.evaluate.tracking_real import evaluate_run

    if not _tracking_libraries():
        return EXIT_USAGE
    try:
        result = evaluate_run(args.tags, args.gt, args.video_id, args.boxes or "auto")
    except MotFormatError as exc:
        log(f"error: {exc}")
        return EXIT_USAGE
    if args.json:
        args.emit(result)
        return EXIT_OK
    print(f"{result['video_id']}: {result['frames_scored']} frames scored (stride {result['stride']}); "
          f"{result['frame_mapping']}; {result['gt_frames_not_scored']} GT frames not processed by the run")
    print("  " + "  ".join(f"{k} {result[k]:.3f}" for k in ("IDF1", "HOTA", "MOTA", "DetA", "AssA")))
    print(f"  ID switches {result['id_switches']}, ids out / in GT {result['ids_out']} / {result['ids_in_gt']}, "
          f"misses {result['misses']}, false positives {result['false_positives']}")
    if result["boxes"] == "positions":
        det = result["detections_only"]
        print(f"  scored: the positions table (detections and gaps of up to 1.2 s filled); the poses table's "
              f"tracked detections alone: IDF1 {det['IDF1']:.3f}  HOTA {det['HOTA']:.3f}  MOTA {det['MOTA']:.3f}, "
              f"ID switches {det['id_switches']}")
    else:
        print("  scored: the poses table's tracked detections (the run has no positions table)")
    return EXIT_OK


def _evaluate_tracking_simulated(args) -> int:
    from tagging.evaluate.tracking import NOISE_PROTOCOLS, MotFormatError, evaluate_trackers, matchtag_tracker

    if not _tracking_libraries():
        return EXIT_USAGE
    protocol = NOISE_PROTOCOLS[args.noise_protocol]
    try:
        tracker = matchtag_tracker(args.mode, chunk_frames=args.chunk_frames, overlap_frames=args.overlap_frames)
        result = evaluate_trackers(args.gt, {args.mode: tracker}, seed=args.noise_seed, names=args.seqs,
                                   max_seqs=args.max_seqs, workers=args.workers, protocol=protocol,
                                   frame_step=args.frame_step)[args.mode]
    except MotFormatError as exc:
        log(f"error: {exc}")
        return EXIT_USAGE
    result = {"mode": args.mode, "noise_seed": args.noise_seed, "noise_protocol": protocol.name, "gt": args.gt,
              "frame_step": args.frame_step,
              "chunk_frames": args.chunk_frames, "overlap_frames": args.overlap_frames if args.chunk_frames else None,
              **result}
    if args.json:
        args.emit(result)
        return EXIT_OK
    cols = ("HOTA", "IDF1", "MOTA", "id_switches", "DetA", "AssA", "sequences")
    print(f"{'':12s}" + "".join(f"{c:>12s}" for c in cols))
    rows = [("overall", result["overall"]), *result["per_sport"].items()]
    for name, m in rows:
        print(f"{name:12s}" + "".join(f"{m[c]:12.3f}" if isinstance(m[c], float) else f"{m[c]:12d}" for c in cols))
    return EXIT_OK


def _evaluate_pose(args) -> int:
    from tagging.evaluate.pose import AnnotationError, evaluate, load_dataset
    from tagging.pose.models import ModelFetchError, configure_tensorflow
    from tagging.pose.stage import PoseStageConfig, build_estimator

    try:
        dataset = load_dataset(args.annotations, args.images)
    except AnnotationError as exc:
        log(f"error: {exc}")
        return EXIT_USAGE
    config = PoseStageConfig(backend=args.backend,
                             detector=DetectorConfig(model=args.detector, tile_px=args.tile_px),
                             pose=PoseConfig(crop_model=args.crop_model, flip_test=args.flip_test == "on"))
    try:
        configure_tensorflow(device=args.device)
        estimator = build_estimator(config)
    except (ModelFetchError, ValueError, RuntimeError) as exc:
        log(f"error: {exc}")
        return EXIT_USAGE
    try:
        result = evaluate(dataset, estimator, log=log)
    except AnnotationError as exc:
        log(f"error: {exc}")
        return EXIT_USAGE
    result["backend"] = config.model_id
    if args.json:
        args.emit(result)
        return EXIT_OK
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
    return EXIT_OK


def _events_of(args, video_ids):
    """(events table rows, where they came from): the stored ``events`` table, or the poses
    re-tagged with ``--events-model``."""
    from tagging.events.model import resolve_events_model
    from tagging.events.training_data import read_sequences, tag_sequences
    from tagging.tables.queries import read_table

    if args.events_model:
        model = resolve_events_model(args.events_model)
        return tag_sequences(read_sequences(args.tags, video_ids), model), model.name
    return read_table(args.tags, "events"), f"{args.tags}/events"


def _evaluate_negatives(args) -> int:
    from tagging.evaluate.events import false_alarms_per_hour, format_negatives
    from tagging.events.model import EventModelError
    from tagging.tables.queries import read_table

    args.tags = args.negatives
    try:
        videos = read_table(args.tags, "videos")
        if videos.empty:
            log(f"error: {args.tags}: no committed videos (is it an output directory of `matchtag run`?)")
            return EXIT_USAGE
        events, source = _events_of(args, sorted(videos.video_id))
    except (EventModelError, FileNotFoundError) as exc:
        log(f"error: {exc}")
        return EXIT_USAGE
    classes = args.classes.split(",") if args.classes else None
    result = false_alarms_per_hour(events, videos, classes)
    result["events_from"] = source
    if args.json:
        args.emit(result)
    else:
        print(format_negatives(result, f"false alarms of events from {source} (every event is one: "
                                       f"{args.tags} has no events of these classes)"))
    return EXIT_OK


def _evaluate_events(args) -> int:
    from tagging.evaluate.events import LabelsError, evaluate_events, format_report, read_labels
    from tagging.events.model import EventModelError

    if args.negatives:
        if args.labels or args.tags:
            log("error: --negatives DIR is scored on its own: give it without --labels and --tags")
            return EXIT_USAGE
        return _evaluate_negatives(args)
    if not (args.labels and args.tags):
        log("error: give --labels CSV and --tags DIR (or --negatives DIR for footage without events)")
        return EXIT_USAGE
    try:
        labels = read_labels(args.labels)
        events, source = _events_of(args, sorted(set(labels.video_id)))
    except (LabelsError, EventModelError, FileNotFoundError) as exc:
        log(f"error: {exc}")
        return EXIT_USAGE
    result = evaluate_events(labels, events)
    if args.json:
        args.emit({"events_from": source, "mAP": result["mAP"],
                   "ap": {c: r["ap"] for c, r in result["classes"].items()},
                   "classes": result["classes"], "confusion": result["confusion"]})
    else:
        print(format_report(result, f"events from {source}"))
    return EXIT_OK


def _evaluate_teams(args) -> int:
    from tagging.evaluate.teams import TeamLabelsError, evaluate_teams, format_report, read_team_labels
    from schemas.tables import TORSO_COLUMNS
    from tagging.tables.load import load_poses, load_tracks
    from tagging.tables.queries import pose_teams

    try:
        labels = read_team_labels(args.labels)
        tracks = load_tracks(args.tags, args.video_id, columns=["track_id", "team"])
    except (TeamLabelsError, FileNotFoundError) as exc:
        log(f"error: {exc}")
        return EXIT_USAGE
    videos = sorted(set(tracks.video_id))
    if not videos:
        which = f"video {args.video_id!r}" if args.video_id else "any video"
        log(f"error: {args.tags}: no tracks of {which}")
        return EXIT_USAGE
    if len(videos) > 1:
        log(f"error: {args.tags} holds {len(videos)} videos ({', '.join(videos)}); choose one with --video-id")
        return EXIT_USAGE
    video_id = videos[0]
    columns = ["frame_index", "track_id", "bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2"]
    if args.teams == "rows":
        columns += ["timestamp_ms", *TORSO_COLUMNS]
    poses = load_poses(args.tags, video_id, columns=columns)
    teams = {int(t): (v if isinstance(v, str) else None) for t, v in zip(tracks.track_id, tracks.team)}
    if args.teams == "rows":
        poses["team"] = pose_teams(poses, tracks)
    result = evaluate_teams(labels, poses, teams, min_iou=args.min_iou)
    result["teams_from"] = args.teams
    source = f"{args.tags} (video {video_id}, team per {args.teams[:-1]})"
    if args.json:
        args.emit({"tags": args.tags, "video_id": video_id, "labels": args.labels, **result})
    else:
        print(format_report(result, source))
    return EXIT_OK


def _evaluate_balls(args) -> int:
    from tagging.evaluate.balls import BallLabelError, read_detections_csv, read_labels, score_balls
    from tagging.pose.detector import DetectorConfig

    if bool(args.tags) == bool(args.detections):
        log("error: give exactly one of --tags DIR (its balls table) and --detections CSV")
        return EXIT_USAGE
    try:
        labels = read_labels(args.labels)
        if args.detections:
            detections = read_detections_csv(args.detections)
            source = args.detections
        else:
            from tagging.tables.load import load_balls

            detections = load_balls(args.tags, args.video_id)
            source = f"{args.tags}/balls"
            if args.video_id is None and detections["video_id"].nunique() > 1:
                log(f"error: {args.tags} holds balls of several videos; say which with --video-id")
                return EXIT_USAGE
    except (BallLabelError, FileNotFoundError) as exc:
        log(f"error: {exc}")
        return EXIT_USAGE
    min_score = DetectorConfig.ball_score_threshold if args.min_score is None else args.min_score
    result = score_balls(labels, detections, iou=args.iou, centre_px=args.centre_px, min_score=min_score).to_dict()
    result["detections_from"] = source
    if args.json:
        args.emit(result)
        return EXIT_OK
    print(f"balls from {source} (score >= {min_score:g}) against {args.labels}: "
          f"{result['frames']} labelled frames, ball visible in {result['visible']}")
    print(f"  recall at IoU {args.iou:g}:        {result['recall_iou']:.3f} (top-scoring ball of the frame: "
          f"{result['top1_recall_iou']:.3f})")
    print(f"  recall within {args.centre_px:g} px:     {result['recall_centre']:.3f} (top-scoring ball of the "
          f"frame: {result['top1_recall_centre']:.3f})")
    print(f"  false detections per frame: {result['false_per_frame']:.2f} "
          f"({result['detections_per_frame']:.2f} detections per frame)")
    return EXIT_OK


def main(argv: list[str]) -> int:
    parser = StrictParser(prog="matchtag evaluate")
    sub = parser.add_subparsers(dest="what", required=True)

    cov = sub.add_parser("coverage", help="frames with poses, people per frame, tracks, events per video")
    cov.add_argument("--tags", required=True, help="output directory of `matchtag run`")
    cov.add_argument("--json", action="store_true", help="print one JSON object")
    cov.set_defaults(handler=_evaluate_coverage)

    p = sub.add_parser("pose", help="OKS AP / PCKh of our detector + pose stage on annotated images")
    p.add_argument("--annotations", required=True, help="COCO-style keypoint JSON (COCO-17, PoseTrack18, JHMDB/MPII)")
    p.add_argument("--images", required=True, help="directory the annotations' file_name entries are relative to")
    p.add_argument("--backend", choices=POSE_BACKENDS, default="topdown",
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
    p.set_defaults(handler=_evaluate_pose)

    trk = sub.add_parser("tracking", help="tracker against MOT ground truth: a run's poses table (--tags) or "
                                          "seeded simulated detections (--gt DIR) (docs/tracking.md)")
    trk.add_argument("--gt", required=True,
                     help="with --tags: one MOT gt.txt (frame, id, left, top, width, height, conf, ...); "
                          "without: a MOT directory <seq>/gt/gt.txt + <seq>/seqinfo.ini (simulated detections)")
    trk.add_argument("--tags", help="output directory of `matchtag run`: score its tracks' boxes and ids "
                                    "(--boxes; video frame_index 0 = GT frame 1)")
    trk.add_argument("--video-id", dest="video_id", help="with --tags: the video to score (needed if the run "
                                                         "holds several)")
    trk.add_argument("--boxes", choices=("auto", "positions", "poses"),
                     help="with --tags: positions = every box the tracker output, short gaps filled; poses = "
                          "tracked detections only; auto (default) = positions when the run has that table")
    sim = trk.add_argument_group("simulated protocol (--gt DIR only)")
    sim.add_argument("--noise-seed", type=int, help="seed of the detection noise (default 0)")
    sim.add_argument("--noise-protocol", choices=("v1", "v2"),
                     help="v1: random misses (default); v2: occlusion and burst misses, correlated jitter")
    sim.add_argument("--mode", choices=("offline", "online"),
                     help="offline: whole-video association (default); online: frame by frame only")
    sim.add_argument("--chunk-frames", type=int, help="track in segments of this many frames, then stitch")
    sim.add_argument("--overlap-frames", type=int, help="overlap of the segments (default 50 = 2 s)")
    sim.add_argument("--seqs", nargs="+", help="only these sequences")
    sim.add_argument("--max-seqs", type=int, help="only the first N sequences (quick runs)")
    sim.add_argument("--workers", type=int, help="processes (default 1)")
    sim.add_argument("--frame-step", dest="frame_step", type=int,
                     help="keep every K-th frame: the same footage at fps / K (default 1)")
    trk.add_argument("--json", action="store_true", help="print one JSON object")
    trk.set_defaults(handler=_evaluate_tracking)

    ev = sub.add_parser("events", help="DFL-style AP of tagged events against a labels CSV (docs/events.md)")
    ev.add_argument("--labels", help="labels CSV: video_id, event_type, start_ms, end_ms [, track_id, peak_ms]")
    ev.add_argument("--tags", help="output directory of `matchtag run`")
    negatives = ev.add_argument_group("footage without events (instead of --labels/--tags)")
    negatives.add_argument("--negatives", metavar="DIR",
                           help="output directory of `matchtag run` on footage WITHOUT events of the classes: "
                                "reports false alarms per hour per class")
    negatives.add_argument("--classes", help="comma-separated classes to report (default: all)")
    ev.add_argument("--events-model", dest="events_model",
                    help="re-tag the poses table with this model (default|rules|FILE) instead of "
                         "reading the events table")
    ev.add_argument("--json", action="store_true", help="print per-class AP and mAP as one JSON object")
    ev.set_defaults(handler=_evaluate_events)

    tm = sub.add_parser("teams", help="team per player against hand-labelled kits (docs/tracking.md, Teams)")
    tm.add_argument("--tags", required=True, help="output directory of `matchtag run`")
    tm.add_argument("--labels", required=True, help="labels CSV: frame_index, x1, y1, x2, y2, label "
                                                     "(kit_1|kit_2|goalkeeper|referee|other|unknown)")
    tm.add_argument("--video-id", dest="video_id", help="the labelled video (needed when the run holds several)")
    tm.add_argument("--min-iou", dest="min_iou", type=float, default=0.5,
                    help="IoU a label and a pose box need to match (default 0.5)")
    tm.add_argument("--teams", choices=("rows", "tracks"), default="rows",
                    help="score each pose row's own team (tagging.tables.queries.pose_teams; default) "
                         "or its track's tracks.team")
    tm.add_argument("--json", action="store_true", help="print one JSON object")
    tm.set_defaults(handler=_evaluate_teams)

    b = sub.add_parser("balls", help="ball detections against hand-labelled ball boxes: recall, false detections")
    b.add_argument("--labels", required=True, help="CSV frame_index,visible,x1,y1,x2,y2 (frame pixels)")
    b.add_argument("--tags", help="output directory of `matchtag run`: its balls table")
    b.add_argument("--video-id", dest="video_id", help="with --tags: the labelled video's id")
    b.add_argument("--detections", help="CSV frame_index,x1,y1,x2,y2,score instead of --tags "
                                         "(bench/ball_detections.py writes it)")
    b.add_argument("--iou", type=float, default=0.3, help="IoU for a hit (default 0.3)")
    b.add_argument("--centre-px", dest="centre_px", type=float, default=10.0,
                   help="centre distance for a hit, px (default 10)")
    b.add_argument("--min-score", dest="min_score", type=float,
                   help="score balls at or above this only (default: the detector's ball threshold)")
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.set_defaults(handler=_evaluate_balls)

    args = parser.parse_args(argv)
    with json_stdout(enabled=args.json) as emit:
        args.emit = emit
        return args.handler(args)
