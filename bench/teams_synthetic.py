"""Teams per row and per track on the synthetic match of bench/long_match.py, against the
kits it drew.

    python bench/teams_synthetic.py [--minutes 0.5] [--workdir DIR] [--json]

**The match is synthetic** (bench/long_match.py): flat-coloured shirts (red, white), a
black-clad referee and assistants, blue-clad staff beside the pitch, on flat grass, with
ids the tracker has to find again as players leave and re-enter the picture.  It checks
that the team rules hold on kits other than the labelled clip's, not how they do on real
footage (docs/tracking.md, "Measured against hand labels", does that).

Runs ``matchtag run VIDEO --pose replay`` on it (as long_match.py does), then reads the
output's ``poses`` and ``tracks`` and scores, per pose row matched to the person drawn
there (same frame and box corner):

- ``players``: rows of the two kits whose team maps to their kit (``a``/``b`` mapped onto
  the kits by the better of the two ways), from each row's own team
  (``tagging.tables.queries.pose_teams``) and from its track's ``tracks.team``;
- ``officials_other``: referee and assistant rows that got ``other``, and ``staff_other``
  the same for the staff;
- ``teams_by_kit``: how many rows of each drawn kit got each team value.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from long_match import replay, write_match  # noqa: E402

from schemas.tables import TORSO_COLUMNS  # noqa: E402
from tagging.tables.load import load_poses, load_tracks  # noqa: E402
from tagging.tables.queries import pose_teams  # noqa: E402


def score(rows: pd.DataFrame) -> dict:
    """``rows``: one per pose row with ``kit`` (truth), ``team`` (per row), ``track_team``."""
    out = {"rows": len(rows)}
    players = rows[rows.kit.isin(("a", "b"))]
    for name, column in (("per_row", "team"), ("per_track", "track_team")):
        right = max(int((players[column].map(m) == players.kit).sum())
                    for m in ({"a": "a", "b": "b"}, {"a": "b", "b": "a"}))
        out[f"players_{name}"] = right / max(len(players), 1)
        for role, kit in (("officials", "ref"), ("staff", "staff")):
            g = rows[rows.kit == kit]
            out[f"{role}_other_{name}"] = float((g[column] == "other").mean()) if len(g) else None
    out["player_rows"] = len(players)
    out["untracked_player_rows"] = int((players.track_id < 0).sum())
    for name, column in (("per_row", "team"), ("per_track", "track_team")):
        out[f"teams_by_kit_{name}"] = {kit: {str(t): int(n) for t, n in g[column].value_counts(dropna=False).items()}
                                       for kit, g in rows.groupby("kit")}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=0.5)
    ap.add_argument("--workdir", help="keep the synthetic inputs and outputs here (default: a temp dir)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="matchtag-teams-synth-")) / f"{args.minutes:g}min"
    kits: list = []
    video, tags, _ = write_match(args.minutes, work, kits=kits)
    run = replay(video, tags, work / "out")
    if run["rc"] != 0:
        raise SystemExit(f"teams_synthetic: error: the replay run failed: {run['stderr_tail']}")
    poses = load_poses(work / "out", columns=["frame_index", "track_id", "timestamp_ms", "bbox_x1", "bbox_y1",
                                              *TORSO_COLUMNS])
    tracks = load_tracks(work / "out", columns=["track_id", "team"])
    poses["team"] = pose_teams(poses, tracks)
    teams = dict(zip(tracks.track_id.astype(int), tracks.team))
    poses["track_team"] = [teams.get(int(t)) if t >= 0 else None for t in poses.track_id]
    truth = pd.DataFrame(kits, columns=["frame_index", "bbox_x1", "bbox_y1", "kit"])
    # the output holds the synthetic boxes as written (float32): match on the box corner
    for df in (poses, truth):
        df["x"] = np.round(df.bbox_x1.astype(np.float32).astype(float), 2)
        df["y"] = np.round(df.bbox_y1.astype(np.float32).astype(float), 2)
    rows = poses.merge(truth[["frame_index", "x", "y", "kit"]], on=["frame_index", "x", "y"], how="inner")
    result = {"minutes": args.minutes, "pose_rows": len(poses), "matched_rows": len(rows), **score(rows)}
    if args.json:
        print(json.dumps(result))
    else:
        print("\n".join(f"{k}: {round(v, 4) if isinstance(v, float) else v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
