"""Team assignment scored against hand labels of who wears which kit.

Labels CSV (one row per person on a labelled frame; ``tests/data/dfl_teams/labels.csv``)::

    frame_index,x1,y1,x2,y2,label

``frame_index`` is the 0-based decoded frame, the box is in pixels (xyxy), and ``label`` is
one of :data:`LABELS`: ``kit_1`` / ``kit_2`` (the two outfield kits), ``goalkeeper``,
``referee`` (and assistant referees), ``other`` (staff, bench, ball boys) or ``unknown``
(left out of every figure).  Extra columns (a note, a person number) are ignored.

Scoring (:func:`evaluate_teams`):

1. On each labelled frame, labelled boxes are matched one-to-one to the run's pose rows by
   IoU (Hungarian assignment on IoU, pairs below ``min_iou`` dropped).
2. Each matched pose row carries its team: its own (a ``team`` column of the pose rows,
   ``tagging.tables.queries.pose_teams``) where given, else its track's (``tracks.team``):
   ``a``, ``b``, ``other``, or none.  The pipeline's ``a``/``b`` are names, not kits, so
   the two ways of mapping them onto ``kit_1``/``kit_2`` are both tried and the one with
   more correct players is used (and reported).
3. A kit-labelled player (``kit_1``/``kit_2``) is right when its row's team maps to its
   kit; ``other`` or no team for a player is wrong (a row the tracker left without a
   track has none from ``tracks.team``).  ``untracked`` counts the players on such rows
   and ``accuracy_tracked`` leaves them out.  Players with no matching row are counted
   apart (``unmatched``) and, in ``accuracy_all_labelled``, as wrong.
4. Per track: the kit most of its matched players wear (its majority label); the track
   is right when its ``tracks.team`` maps to that kit.  Tracks that matched players of both kits
   are counted as ``mixed`` (two people under one id, or a box holding two players).
5. Goalkeepers, referees and ``other`` people are reported as the team values they got,
   not scored against the kits.

The labelled frames are split in two, alternately in frame order (first, third, ...
labelled frame = ``tune``; second, fourth, ... = ``held_out``), so that anything tuned
on one half can be reported on the other; :func:`evaluate_teams` scores all three.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from tagging.core.boxes import iou_matrix

KITS = ("kit_1", "kit_2")
LABELS = (*KITS, "goalkeeper", "referee", "other", "unknown")
LABEL_COLUMNS = ("frame_index", "x1", "y1", "x2", "y2", "label")
TEAMS = ("a", "b")
NO_TEAM = "none"                      # a pose row without a track, or a track without a team
MAPPINGS = ({"a": "kit_1", "b": "kit_2"}, {"a": "kit_2", "b": "kit_1"})


class TeamLabelsError(ValueError):
    """A team labels file that cannot be used; the message names the file and the problem."""


def read_team_labels(path: str | Path) -> pd.DataFrame:
    """Read and check a team labels CSV (module doc): columns ``frame_index`` (int),
    ``x1, y1, x2, y2`` (float pixels), ``label`` (str), in file order."""
    path = Path(path)
    if not path.is_file():
        raise TeamLabelsError(f"{path}: labels file not found")
    try:
        df = pd.read_csv(path, dtype={"label": str}, comment="#")
    except Exception as exc:
        detail = " ".join(str(exc).split())
        raise TeamLabelsError(f"{path}: not a readable CSV ({type(exc).__name__}: {detail})") from None
    missing = [c for c in LABEL_COLUMNS if c not in df.columns]
    if missing:
        raise TeamLabelsError(f"{path}: missing column(s) {', '.join(missing)}; "
                              f"a team labels CSV needs {', '.join(LABEL_COLUMNS)}")
    for c in LABEL_COLUMNS[:5]:
        vals = pd.to_numeric(df[c], errors="coerce")
        if vals.isna().any():
            line = int(np.nonzero(vals.isna().to_numpy())[0][0]) + 2
            raise TeamLabelsError(f"{path}: line {line}: {c} is not a number")
        df[c] = vals
    if (df.frame_index != df.frame_index.round()).any() or (df.frame_index < 0).any():
        line = int(np.nonzero(((df.frame_index != df.frame_index.round()) | (df.frame_index < 0)).to_numpy())[0][0]) + 2
        raise TeamLabelsError(f"{path}: line {line}: frame_index must be a whole number >= 0")
    bad = ~df.label.isin(LABELS)
    if bad.any():
        line = int(np.nonzero(bad.to_numpy())[0][0]) + 2
        raise TeamLabelsError(f"{path}: line {line}: label {df.label[bad].iloc[0]!r} is not one of "
                              f"{', '.join(LABELS)}")
    empty = (df.x2 <= df.x1) | (df.y2 <= df.y1)
    if empty.any():
        line = int(np.nonzero(empty.to_numpy())[0][0]) + 2
        raise TeamLabelsError(f"{path}: line {line}: empty box (x2 <= x1 or y2 <= y1)")
    df["frame_index"] = df.frame_index.astype(np.int64)
    return df[list(LABEL_COLUMNS)].reset_index(drop=True)


def match_boxes(labelled: np.ndarray, detected: np.ndarray, min_iou: float = 0.5) -> list[tuple[int, int]]:
    """One-to-one ``(label index, detection index)`` pairs of one frame: Hungarian
    assignment maximising total IoU, pairs under ``min_iou`` dropped.  Boxes (N, 4) xyxy."""
    from scipy.optimize import linear_sum_assignment

    labelled = np.asarray(labelled, np.float32).reshape(-1, 4)
    detected = np.asarray(detected, np.float32).reshape(-1, 4)
    if len(labelled) == 0 or len(detected) == 0:
        return []
    iou = iou_matrix(labelled, detected)
    rows, cols = linear_sum_assignment(-iou)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if iou[r, c] >= min_iou]


def match_labels(labels: pd.DataFrame, poses: pd.DataFrame, teams: dict[int, str | None],
                 min_iou: float = 0.5) -> pd.DataFrame:
    """The labels (from :func:`read_team_labels`) with ``track_id`` (-1: no match or no
    track), ``team`` (``a``/``b``/``other``/``none``; None where no row matched) of the
    pose row each label matched, and ``track_team``, its track's team.  ``poses``: one
    video's rows with ``frame_index``, ``track_id``, ``bbox_x1..bbox_y2`` and optionally
    ``team`` (per row; without it a row has its track's team); ``teams``:
    ``{track_id: team or None}``."""
    out = labels.copy()
    out["matched"] = False
    out["track_id"] = -1
    out["team"] = pd.Series([None] * len(out), dtype=object)
    out["track_team"] = pd.Series([None] * len(out), dtype=object)
    per_row = "team" in poses.columns
    by_frame = {f: g for f, g in poses.groupby("frame_index")}
    for frame, lab in labels.groupby("frame_index"):
        rows = by_frame.get(frame)
        if rows is None:
            continue
        pairs = match_boxes(lab[["x1", "y1", "x2", "y2"]].to_numpy(),
                            rows[["bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2"]].to_numpy(), min_iou)
        for li, di in pairs:
            idx = lab.index[li]
            tid = int(rows.track_id.iloc[di])
            out.at[idx, "matched"] = True
            out.at[idx, "track_id"] = tid
            team = teams.get(tid) if tid >= 0 else None
            out.at[idx, "track_team"] = team if isinstance(team, str) else NO_TEAM
            if per_row:
                team = rows.team.iloc[di]
            out.at[idx, "team"] = team if isinstance(team, str) else NO_TEAM
    return out


def best_mapping(matched: pd.DataFrame) -> dict[str, str]:
    """Of the two ways to map ``a``/``b`` onto ``kit_1``/``kit_2``, the one that gets more
    matched kit-labelled players right (the first, ``a`` = ``kit_1``, on a tie)."""
    players = matched[matched.matched & matched.label.isin(KITS)]
    scores = [int((players.team.map(m) == players.label).sum()) for m in MAPPINGS]
    return dict(MAPPINGS[int(np.argmax(scores))])


def split_frames(labels: pd.DataFrame) -> dict[str, list[int]]:
    """``{"all", "tune", "held_out"}`` -> labelled frame indices; tune/held-out alternate in
    frame order (module doc)."""
    frames = sorted(int(f) for f in labels.frame_index.unique())
    return {"all": frames, "tune": frames[0::2], "held_out": frames[1::2]}


def _rate(right: int, total: int) -> float | None:
    return right / total if total else None


def score(matched: pd.DataFrame, mapping: dict[str, str]) -> dict:
    """Figures of :func:`match_labels` output under one a/b -> kit mapping (module doc)."""
    kits = matched[matched.label.isin(KITS)]
    hit = kits[kits.matched]
    right = hit.team.map(mapping) == hit.label
    per_frame = []
    for frame, g in kits.groupby("frame_index"):
        h = g[g.matched]
        r = int((h.team.map(mapping) == h.label).sum())
        per_frame.append({"frame_index": int(frame), "players": len(g), "matched": len(h), "right": r,
                          "accuracy": _rate(r, len(h))})
    tracks = []
    for tid, g in hit[hit.track_id >= 0].groupby("track_id"):
        votes = Counter(g.label)
        kit, n = votes.most_common(1)[0]
        team = g.track_team.iloc[0]
        tracks.append({"track_id": int(tid), "team": team, "majority": kit, "labelled_frames": len(g),
                       "purity": n / len(g), "mixed": len(votes) > 1, "right": mapping.get(team) == kit})
    roles = {}
    for role in ("goalkeeper", "referee", "other"):
        g = matched[matched.label == role]
        roles[role] = {"labelled": len(g), "matched": int(g.matched.sum()),
                       "teams": dict(sorted(Counter(g.team[g.matched]).items()))}
    wrong = Counter(hit.team[~right.to_numpy()])
    tracked = (hit.track_id >= 0).to_numpy()
    return {
        "players": len(kits),
        "matched": len(hit),
        "unmatched": len(kits) - len(hit),
        "untracked": int((~tracked).sum()),
        "right": int(right.sum()),
        "accuracy": _rate(int(right.sum()), len(hit)),
        "accuracy_tracked": _rate(int(right.to_numpy()[tracked].sum()), int(tracked.sum())),
        "accuracy_all_labelled": _rate(int(right.sum()), len(kits)),
        "wrong_as": dict(sorted(wrong.items())),
        "frames": len(per_frame),
        "frame_accuracy_mean": float(np.mean([f["accuracy"] for f in per_frame if f["accuracy"] is not None]))
        if any(f["accuracy"] is not None for f in per_frame) else None,
        "frame_accuracy_min": min((f["accuracy"] for f in per_frame if f["accuracy"] is not None), default=None),
        "per_frame": per_frame,
        "tracks": len(tracks),
        "tracks_right": sum(t["right"] for t in tracks),
        "track_accuracy": _rate(sum(t["right"] for t in tracks), len(tracks)),
        "tracks_mixed": sum(t["mixed"] for t in tracks),
        "per_track": tracks,
        "roles": roles,
    }


def evaluate_teams(labels: pd.DataFrame, poses: pd.DataFrame, teams: dict[int, str | None],
                   min_iou: float = 0.5) -> dict:
    """Score one video's team values against its labels: ``mapping`` (pipeline team ->
    kit, chosen on all labelled frames), ``labelled`` counts per label, and one
    :func:`score` block per frame split (``all``, ``tune``, ``held_out``)."""
    matched = match_labels(labels, poses, teams, min_iou)
    mapping = best_mapping(matched)
    splits = split_frames(labels)
    result = {"min_iou": min_iou, "mapping": mapping,
              "labelled": dict(sorted(Counter(labels.label).items())),
              "frames": splits}
    for name, frames in splits.items():
        result[name] = score(matched[matched.frame_index.isin(frames)], mapping)
    return result


def format_report(result: dict, source: str) -> str:
    """Plain-text summary of :func:`evaluate_teams` output."""
    def pct(v):
        return "-" if v is None else f"{100 * v:.1f}%"

    lines = [f"teams from {source}; labels matched at IoU >= {result['min_iou']}",
             "mapping: " + ", ".join(f"{t} = {k}" for t, k in result["mapping"].items()),
             "labelled: " + ", ".join(f"{k} {v}" for k, v in result["labelled"].items()),
             f"{'':10s}{'frames':>7s}{'players':>8s}{'matched':>8s}{'right':>6s}{'accuracy':>9s}"
             f"{'tracked':>9s}{'all lab.':>9s}{'frame min':>10s}{'tracks':>7s}{'trk acc':>8s}{'mixed':>6s}"]
    for name in ("all", "tune", "held_out"):
        s = result[name]
        lines.append(f"{name:10s}{s['frames']:7d}{s['players']:8d}{s['matched']:8d}{s['right']:6d}"
                     f"{pct(s['accuracy']):>9s}{pct(s['accuracy_tracked']):>9s}{pct(s['accuracy_all_labelled']):>9s}"
                     f"{pct(s['frame_accuracy_min']):>10s}{s['tracks']:7d}{pct(s['track_accuracy']):>8s}"
                     f"{s['tracks_mixed']:6d}")
    s = result["all"]
    if s["wrong_as"]:
        lines.append("wrong players got: " + ", ".join(f"{t} {n}" for t, n in s["wrong_as"].items()))
    lines.append("accuracy: matched players; tracked: leaving out rows without a track; "
                 "all lab.: players without a matching row count as wrong")
    lines.append("per frame: " + "  ".join(f"{f['frame_index']}:{f['right']}/{f['matched']}"
                                          for f in s["per_frame"]))
    for role, r in s["roles"].items():
        if r["labelled"]:
            got = ", ".join(f"{t} {n}" for t, n in r["teams"].items()) or "-"
            lines.append(f"{role}: {r['labelled']} labelled, {r['matched']} matched; teams: {got}")
    return "\n".join(lines)
