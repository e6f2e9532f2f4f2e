"""Team assignment on a real video, from a `matchtag run` output, and a drawn frame.

    python bench/teams_frame.py VIDEO TAGS_DIR --frame 80 --out docs/img/teams_dfl_frame80.jpg

Reads the video's poses (boxes, keypoints) from TAGS_DIR, tracks them again with the
current tracker (tagging/track/sequences.py), takes each person's torso colour from the
decoded frames (tagging/track/teams.py), clusters the tracks into teams and draws one frame:
box colour = team (a: red, b: blue, other: yellow, unknown: grey), label = track id.
Prints the team of every track and how many tracks got each label.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.main import stored_video_ids  # noqa: E402
from tagging.core.keypoints import KEYPOINT_NAMES  # noqa: E402
from tagging.core.types import FramePoses  # noqa: E402
from tagging.tables.queries import read_table  # noqa: E402
from tagging.track.sequences import track_frames  # noqa: E402
from tagging.track.teams import assign_teams, colour_per_track, torso_colours  # noqa: E402
from tagging.video.ids import assign_video_ids  # noqa: E402
from tagging.video.inputs import expand_inputs  # noqa: E402
from tagging.video.reader import FrameReader  # noqa: E402

TEAM_RGB = {"a": (230, 40, 40), "b": (40, 90, 255), "other": (255, 220, 0), None: (170, 170, 170)}


def load_frames(tags: str, video_id: str):

    poses = read_table(tags, "poses")
    poses = poses[poses["video_id"].astype(str) == video_id]
    if poses.empty:
        raise SystemExit(f"{tags}: no poses for video {video_id}")
    frames = []
    for f, g in poses.groupby("frame_index", sort=True):
        kps = np.stack([g[[f"{n}_x", f"{n}_y", f"{n}_score"]].to_numpy(np.float32) for n in KEYPOINT_NAMES], axis=1)
        fp = FramePoses(g[["bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2"]].to_numpy(np.float32),
                        g["box_score"].to_numpy(np.float32), kps, g["score"].to_numpy(np.float32))
        frames.append((int(f), float(g["timestamp_ms"].iloc[0]), fp))
    return frames


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("video")
    ap.add_argument("tags")
    ap.add_argument("--frame", type=int, default=80)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    path = expand_inputs([args.video])[0]
    video_id = assign_video_ids([path], stored_video_ids(args.tags))[path]  # the id the run stored
    tracked = track_frames(load_frames(args.tags, video_id))
    by_index = {f: p for f, _, p in tracked}
    colours: dict[int, list] = {}
    picture = None
    for fr in FrameReader(args.video):
        poses = by_index.get(fr.index)
        if poses is None:
            continue
        cols = torso_colours(fr.image, poses.xyxy, poses.keypoints)
        for tid, c in zip(poses.track_id.tolist(), cols):
            if tid >= 0:
                colours.setdefault(tid, []).append(c)
        if fr.index == args.frame:
            picture = fr.image.copy()
    teams = assign_teams(colour_per_track(colours))
    if picture is None:
        raise SystemExit(f"frame {args.frame} has no poses")
    poses = by_index[args.frame]
    for box, tid in zip(poses.xyxy, poses.track_id.tolist()):
        team = teams.get(tid)
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(picture, (x1, y1), (x2, y2), TEAM_RGB[team], 1)
        cv2.putText(picture, str(tid), (x1, max(8, y1 - 2)), cv2.FONT_HERSHEY_SIMPLEX, 0.3, TEAM_RGB[team], 1,
                    cv2.LINE_AA)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(args.out, cv2.cvtColor(picture, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
    counts = {str(k): sum(1 for v in teams.values() if v == k) for k in ("a", "b", "other", None)}
    in_frame = {tid: teams.get(tid) for tid in poses.track_id.tolist() if tid >= 0}
    print(json.dumps({"video_id": video_id, "tracks": len(teams), "label_counts": counts,
                      "frame": args.frame, "teams_in_frame": in_frame}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
