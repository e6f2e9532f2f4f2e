"""Draw one frame as the event taggers see it: people, the ball, the grass edge.

    python bench/draw_throw_in_context.py VIDEO --frame N --out docs/img/throw_in_context.png
        [--crop X1,Y1,X2,Y2] [--scale 3]

Runs the pose stage's own estimator (detector with its ball boxes, MoveNet crops) and the
grass model on that frame, and draws what ends up in each person's context
(:data:`tagging.core.types.CONTEXT_COLUMNS`) with :func:`tagging.draw.frame.draw_context`.
``--crop`` keeps a part of the frame (pixels of the full frame), enlarged ``--scale`` times.
"""

from __future__ import annotations

import argparse
import sys

import cv2
import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video")
    ap.add_argument("--frame", type=int, default=0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--crop", help="x1,y1,x2,y2 of the part to draw (default: the whole frame)")
    ap.add_argument("--scale", type=int, default=1, help="enlargement of the drawing")
    args = ap.parse_args(argv)

    from tagging.draw.frame import draw_context
    from tagging.pose.stage import PoseStageConfig, build_estimator
    from tagging.scene.context import fit_grass
    from tagging.video.reader import FrameReader

    image = next((f.image for f in FrameReader(args.video) if f.index == args.frame), None)
    if image is None:
        print(f"{args.video}: has no frame {args.frame}", file=sys.stderr)
        return 1
    poses = build_estimator(PoseStageConfig())(image)
    grass = fit_grass(image)
    drawn = draw_context(image, poses, None if grass is None else grass.mask, args.scale)
    if args.crop:
        x1, y1, x2, y2 = (int(v) * args.scale for v in args.crop.split(","))
        drawn = drawn[y1:y2, x1:x2]
    cv2.imwrite(args.out, np.ascontiguousarray(drawn[..., ::-1]))
    balls = 0 if poses.balls is None else len(poses.balls)
    print(f"{args.out}: frame {args.frame}, {len(poses)} people, {balls} ball box(es), "
          f"{'grass hue %.0f, %.0f %% of the frame' % (grass.hue, 100 * grass.share) if grass else 'no pitch'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
