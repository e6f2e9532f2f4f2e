"""Draw one frame of a tagged video with the poses and track ids from its tables.

    python bench/draw_frame.py VIDEO TAGS_DIR --frame N --out frame.png

The drawing uses what the pipeline wrote (the poses table), not a fresh inference,
so the picture shows exactly what an analyst gets.
"""

from __future__ import annotations

import argparse
import sys

import cv2
import pandas as pd

from pipeline.main import stored_video_ids
from tagging.draw.frame import draw_poses
from tagging.tables.queries import frame_poses, read_table
from tagging.video.ids import assign_video_ids
from tagging.video.inputs import expand_inputs
from tagging.video.reader import FrameReader


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video")
    ap.add_argument("tags_dir")
    ap.add_argument("--frame", type=int, default=0, help="frame index to draw")
    ap.add_argument("--out", required=True, help="PNG or JPEG to write")
    ap.add_argument("--teams", action="store_true",
                    help="colour people by the tracks table's team (a red, b blue, other yellow)")
    args = ap.parse_args(argv)
    path = expand_inputs([args.video])[0]
    video_id = assign_video_ids([path], stored_video_ids(args.tags_dir))[path]  # the id the run stored
    poses = read_table(args.tags_dir, "poses", video_id)
    rows = poses[poses["frame_index"] == args.frame]
    for frame in FrameReader(path):
        if frame.index == args.frame:
            teams = None
            if args.teams:
                tracks = read_table(args.tags_dir, "tracks", video_id)
                teams = {int(t): (None if pd.isna(v) else v) for t, v in zip(tracks.track_id, tracks.team)}
            image = draw_poses(frame.image, frame_poses(rows), teams=teams)
            cv2.imwrite(args.out, image[..., ::-1])
            print(f"{args.out}: frame {args.frame} of {video_id}, {len(rows)} people drawn")
            return 0
    print(f"{path}: has no frame {args.frame}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
