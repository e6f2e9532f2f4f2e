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
  (``tagging.tables.queries.pose_teams``) and from its track's ``tracks.team``, also
  apart for the rows the tracker put in a track and those it left untracked;
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

import cv2
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import long_match  # noqa: E402
from long_match import KITS, replay, write_match  # noqa: E402

from schemas.tables import TORSO_COLUMNS  # noqa: E402
from tagging.tables.load import load_poses, load_tracks  # noqa: E402
from tagging.tables.queries import pose_teams  # noqa: E402


def score(rows: pd.DataFrame) -> dict:
    """``rows``: one per pose row with ``kit`` (truth), ``team`` (per row), ``track_team``."""
    out = {"rows": len(rows)}
    players = rows[rows.kit.isin(("a", "b"))]
    tracked = (players.track_id >= 0).to_numpy()
    for name, column in (("per_row", "team"), ("per_track", "track_team")):
        mapping = max(({"a": "a", "b": "b"}, {"a": "b", "b": "a"}),
                      key=lambda m: int((players[column].map(m) == players.kit).sum()))
        right = (players[column].map(mapping) == players.kit).to_numpy()
        out[f"players_{name}"] = float(right.mean()) if len(right) else None
        out[f"players_{name}_tracked"] = float(right[tracked].mean()) if tracked.any() else None
        out[f"players_{name}_untracked"] = float(right[~tracked].mean()) if (~tracked).any() else None
        for role, kit in (("officials", "ref"), ("staff", "staff")):
            g = rows[rows.kit == kit]
            out[f"{role}_other_{name}"] = float((g[column] == "other").mean()) if len(g) else None
    out["player_rows"] = len(players)
    out["untracked_player_rows"] = int((players.track_id < 0).sum())
    for name, column in (("per_row", "team"), ("per_track", "track_team")):
        out[f"teams_by_kit_{name}"] = {kit: {str(t): int(n) for t, n in g[column].value_counts(dropna=False).items()}
                                       for kit, g in rows.groupby("kit")}
    return out


class _DrawnKits:
    """Stands in for ``cv2`` inside bench/long_match.py while it writes the match, to learn
    whose kit each pose row is: it draws one torso rectangle per pose row, in the order it
    writes the rows, in that person's kit colour, and writes one video frame per frame."""

    def __init__(self):
        self.rows: list[tuple[int, str]] = []          # (frame_index, kit) per pose row
        self.frame = 0
        self._kit_of = {tuple(int(v) for v in rgb[::-1]): kit for kit, rgb in KITS.items()}

    def __getattr__(self, name):
        return getattr(cv2, name)

    def rectangle(self, img, pt1, pt2, colour, *args, **kwargs):
        self.rows.append((self.frame, self._kit_of[tuple(int(v) for v in colour)]))
        return cv2.rectangle(img, pt1, pt2, colour, *args, **kwargs)

    def VideoWriter(self, *args, **kwargs):  # noqa: N802  (cv2's name)
        return _CountingWriter(cv2.VideoWriter(*args, **kwargs), self)


class _CountingWriter:
    def __init__(self, writer, drawn: _DrawnKits):
        self._writer, self._drawn = writer, drawn

    def write(self, frame):
        self._drawn.frame += 1
        self._writer.write(frame)

    def release(self):
        self._writer.release()


def synthetic_match(minutes: float, out: Path) -> tuple[Path, Path, pd.DataFrame]:
    """bench/long_match.py's match (video, tags dir) and its pose rows with the drawn ``kit``."""
    drawn = _DrawnKits()
    long_match.cv2 = drawn
    try:
        video, tags, _ = write_match(minutes, out)
    finally:
        long_match.cv2 = cv2
    # the rows in the order they were written (one file per part, parts in order)
    parts = sorted((tags / "poses").glob("video_id=*/*.parquet"))
    rows = pd.concat([pq.read_table(p, columns=["frame_index", "bbox_x1", "bbox_y1"]).to_pandas() for p in parts],
                     ignore_index=True)
    truth = pd.DataFrame(drawn.rows, columns=["frame", "kit"])
    if len(truth) != len(rows) or not (truth.frame.to_numpy() == rows.frame_index.to_numpy()).all():
        raise SystemExit("teams_synthetic: error: bench/long_match.py no longer draws one torso per pose "
                         "row in row order; the kits cannot be told")
    rows["kit"] = truth.kit.to_numpy()
    return video, tags, rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=0.5)
    ap.add_argument("--workdir", help="keep the synthetic inputs and outputs here (default: a temp dir)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="matchtag-teams-synth-")) / f"{args.minutes:g}min"
    video, tags, truth = synthetic_match(args.minutes, work)
    run = replay(video, tags, work / "out")
    if run["rc"] != 0:
        raise SystemExit(f"teams_synthetic: error: the replay run failed: {run['stderr_tail']}")
    poses = load_poses(work / "out", columns=["frame_index", "track_id", "timestamp_ms", "bbox_x1", "bbox_y1",
                                              *TORSO_COLUMNS])
    tracks = load_tracks(work / "out", columns=["track_id", "team"])
    poses["team"] = pose_teams(poses, tracks)
    teams = dict(zip(tracks.track_id.astype(int), tracks.team))
    poses["track_team"] = [teams.get(int(t)) if t >= 0 else None for t in poses.track_id]
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
