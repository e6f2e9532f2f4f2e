"""Memory of tagging one long track's events: a chunk at a time against all at once.

    python bench/event_track_memory.py [--minutes 55] [--fps 25] [--json]

Builds one **synthetic** track (a random walk of a 17-keypoint figure with noisy scores,
no events in it: memory, not accuracy, is measured) of ``--minutes`` at ``--fps``, and
tags it with the default event model in a fresh process each way:

- ``chunked``: what the pipeline does (``EventModel.detect`` -> ``score_grid``, features
  made and scored 2,048 grid steps at a time);
- ``whole``: the features of the whole track at once (``EventModel.score_track``), as
  before.

Reports, for each, the rise of the process's peak RSS over its peak before tagging (MB)
and the CPU seconds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

_CHILD = r"""
import json, resource, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
from tagging.core.types import CONTEXT_DIM
from tagging.events.model import resolve_events_model

way, minutes, fps = sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
model = resolve_events_model("default")
T = int(minutes * 60 * fps)
rng = np.random.default_rng(0)
ts = np.arange(T) * 1000.0 / fps
xy = np.cumsum(rng.normal(0, 1, (T, 1, 2)), 0) + rng.uniform(-20, 20, (1, 17, 2)) + rng.normal(0, 1.5, (T, 17, 2))
kps = np.concatenate([xy, rng.uniform(0.2, 1, (T, 17, 1))], -1).astype(np.float32)
ctx = np.full((T, CONTEXT_DIM), np.nan, np.float32)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.process_time()
if way == "chunked":
    model.detect(1, ts, kps, ctx)
else:
    model.score_track(ts, kps, ctx)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"observations": T, "peak_rss_rise_mb": round((after - before) / 1024, 1),
                  "cpu_s": round(time.process_time() - t, 1)}))
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=55.0, help="track length (default %(default)s)")
    ap.add_argument("--fps", type=float, default=25.0, help="observations per second (default %(default)s)")
    ap.add_argument("--json", action="store_true", help="JSON only")
    args = ap.parse_args(argv)
    if args.minutes <= 0 or args.fps <= 0:
        ap.error("--minutes and --fps must be > 0")
    out = {"minutes": args.minutes, "fps": args.fps, "synthetic": True}
    for way in ("chunked", "whole"):
        res = subprocess.run([sys.executable, "-c", _CHILD, str(REPO), way, str(args.minutes), str(args.fps)],
                             capture_output=True, text=True, check=True)
        out[way] = json.loads(res.stdout.strip().splitlines()[-1])
    print(json.dumps(out, indent=None if args.json else 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
