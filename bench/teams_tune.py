"""Team assignment on a stored run, re-clustered in memory, scored against hand labels.

    python bench/teams_tune.py TAGS_DIR VIDEO --labels tests/data/dfl_teams/labels.csv \
        [--colours box|keypoints] [--teams tracks|rows] [--set field=value ...] [--grid F=V1,V2] [--json]

Reads the video's pose rows and stored track ids from TAGS_DIR (no pose inference), takes
every person's torso colour from the decoded frames with ``tagging.track.teams`` under the
given ``TeamConfig`` fields, clusters the tracks as ``tracks.team`` is made, and scores the
result with ``tagging.evaluate.teams``: each row's track's team (``--teams tracks``), or each
row's own team (``--teams rows``, ``tagging.track.teams.row_teams``, as ``matchtag evaluate
teams`` scores by default).  ``--colours box`` is what a default run computes
(the box band, before keypoints exist); ``keypoints`` is what ``--pose replay`` computes.
It is the loop used to tune ``TeamConfig``: tune on ``--split tune``, report ``held_out``.
The figure to quote comes from ``matchtag evaluate teams`` on a real run, not from here.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tagging.evaluate.teams import evaluate_teams, format_report, read_team_labels  # noqa: E402
from tagging.tables.load import load_tracks  # noqa: E402
from tagging.tables.queries import poses_by_frame  # noqa: E402
from tagging.track.teams import TeamConfig, assign_teams, row_teams, torso_colours, track_colour  # noqa: E402


def _config(pairs: list[str]) -> TeamConfig:
    fields = {f.name: f.type for f in dataclasses.fields(TeamConfig)}
    values = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if name not in fields:
            raise SystemExit(f"teams_tune: error: --set {name}: not a TeamConfig field ({', '.join(fields)})")
        values[name] = int(value) if fields[name] in ("int", int) else float(value)
    return TeamConfig(**values)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tags")
    ap.add_argument("video")
    ap.add_argument("--labels", required=True)
    ap.add_argument("--video-id", dest="video_id", help="default: the only video in TAGS")
    ap.add_argument("--colours", choices=("box", "keypoints"), default="box")
    ap.add_argument("--teams", choices=("tracks", "rows"), default="tracks",
                    help="score each row's track's team or each row's own team (row_teams)")
    ap.add_argument("--set", dest="fields", action="append", default=[], metavar="FIELD=VALUE")
    ap.add_argument("--grid", metavar="FIELD=V1,V2,...",
                    help="re-cluster once per value of a clustering field (colours are computed once) "
                         "and print one line per value: accuracy on all, tune and held-out frames")
    ap.add_argument("--show-tracks", dest="show_tracks", action="store_true",
                    help="also print each labelled track: colour (L*a*b*), pitch share, team, labels")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    config = _config(args.fields)
    labels = read_team_labels(args.labels)
    tracks = load_tracks(args.tags, args.video_id, columns=["track_id"])
    video_id = args.video_id or sorted(set(tracks.video_id))[0]

    cap = cv2.VideoCapture(args.video)
    by_track: dict[int, list] = {}
    rows, row_colours = [], []
    index = 0
    frame_count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0       # timestamps only space a track's row votes
    for frame_index, poses in poses_by_frame(args.tags, video_id, 0, frame_count):
        while index <= frame_index:
            ok, bgr = cap.read()
            if not ok:
                raise SystemExit(f"teams_tune: error: {args.video}: ends before frame {frame_index}")
            index += 1
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        kps = poses.keypoints if args.colours == "keypoints" else None
        colours = torso_colours(rgb, poses.xyxy, kps, config)
        for tid, box, colour in zip(poses.track_id.tolist(), poses.xyxy, colours):
            if tid >= 0:
                by_track.setdefault(tid, []).append(colour)
            rows.append((frame_index, 1000.0 * frame_index / fps, tid, *box.tolist()))
            row_colours.append(colour)
    per_track = {t: c for t, cols in by_track.items() if (c := track_colour(cols, config)) is not None}

    import pandas as pd

    pose_rows = pd.DataFrame(rows, columns=["frame_index", "timestamp_ms", "track_id",
                                            "bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2"])

    def scored(cfg):
        track_teams = assign_teams(per_track, cfg) if per_track else {}
        if args.teams == "rows":
            pose_rows["team"] = row_teams(pose_rows.track_id.to_numpy(), pose_rows.timestamp_ms.to_numpy(),
                                          np.asarray(row_colours, np.float32), track_teams, cfg)
        return evaluate_teams(labels, pose_rows, track_teams), track_teams

    if args.grid:
        name, _, values = args.grid.partition("=")
        for value in values.split(","):
            r, _ = scored(_config([*args.fields, f"{name}={value}"]))
            print(f"{name}={value}: " + "  ".join(
                f"{split} {r[split]['right']}/{r[split]['matched']} = {100 * (r[split]['accuracy'] or 0):.1f}%"
                for split in ("all", "tune", "held_out")))
        return 0
    result, teams = scored(config)
    result["teams_from"] = args.teams
    result["config"] = dataclasses.asdict(config)
    result["colours"] = args.colours
    if args.show_tracks:
        from collections import Counter

        from tagging.evaluate.teams import match_labels

        matched = match_labels(labels, pose_rows, teams)
        for tid, g in matched[matched.track_id >= 0].groupby("track_id"):
            c = per_track.get(tid)
            colour = "no colour" if c is None else "Lab %5.1f %5.1f %5.1f pitch %.2f" % tuple(c)
            print(f"track {tid:4d} {colour}  team {teams.get(tid)!s:6s} labels {dict(Counter(g.label))}",
                  file=sys.stderr)
    if args.json:
        print(json.dumps(result))
    else:
        print(format_report(result, f"{args.tags} re-clustered ({args.colours} colours)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
