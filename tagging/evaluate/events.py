"""Labels files and DFL-style evaluation of event spotting.

**Labels CSV** (one row per event; what ``matchtag train`` and ``matchtag evaluate
events`` read): ``video_id, event_type, start_ms, end_ms`` and optionally
``track_id`` (the poses table's track of the player) and ``peak_ms`` (the moment to
spot; default the midpoint of start and end).

**Average precision**, as in the Kaggle DFL Bundesliga competition: for one class
and one tolerance, predictions are taken in order of falling confidence; each is a
true positive if an unmatched labelled event of the same class and video has its
``peak_ms`` within the tolerance (the nearest one is taken), else a false positive.
AP is the area under the resulting precision-recall steps,
``sum_k (R_k - R_{k-1}) P_k``, with recall over all labelled events of the class.
A class's AP is the mean over its tolerances (:data:`TOLERANCES_S`); mAP is the mean
over classes that have labels.  A label with a ``track_id`` is only matched by
events of that track (the player matters to an analyst); a label without one is
matched by time alone, as in DFL.

Throw-in tolerances are DFL's.  ``kick`` uses DFL's "play" tolerances (a pass or
shot is spotted at ball contact, as sharp as a throw-in's release).  ``jump`` and
``fall`` use DFL's "challenge" tolerances (0.3-0.7 s): an apex or a ground contact
is less sharply defined.  ``celebration`` is a posture held for seconds whose
"moment" (arms first fully up) is vague, so 0.5-2.0 s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

TOLERANCES_S: dict[str, tuple[float, ...]] = {
    "throw_in": (0.15, 0.20, 0.25, 0.30, 0.35),
    "kick": (0.15, 0.20, 0.25, 0.30, 0.35),
    "jump": (0.30, 0.40, 0.50, 0.60, 0.70),
    "fall": (0.30, 0.40, 0.50, 0.60, 0.70),
    "celebration": (0.50, 0.75, 1.00, 1.50, 2.00),
}
DEFAULT_TOLERANCES_S = (0.30, 0.40, 0.50, 0.60, 0.70)
LABEL_COLUMNS = ("video_id", "event_type", "start_ms", "end_ms")


class LabelsError(ValueError):
    """A labels file that cannot be used; the message names the file and the problem."""


def tolerances(event_type: str) -> tuple[float, ...]:
    return TOLERANCES_S.get(event_type, DEFAULT_TOLERANCES_S)


REVIEW_STATUSES = ("confirmed", "rejected", "deleted")


def read_labels(path: str | Path, with_status: bool = False) -> pd.DataFrame:
    """Read and check a labels CSV (see the module docstring).

    A ``status`` column (written by ``matchtag review``, tagging/review/labels.py) keeps only
    the ``confirmed`` rows; ``with_status=True`` keeps ``rejected`` ones too (hard negatives
    for training) and returns the column.  ``deleted`` rows are always dropped."""
    path = Path(path)
    if not path.is_file():
        raise LabelsError(f"{path}: labels file not found")
    try:
        df = pd.read_csv(path, dtype={"video_id": str, "event_type": str})
    except Exception as exc:
        detail = " ".join(str(exc).split())  # pandas' parser messages end in a newline
        raise LabelsError(f"{path}: not a readable CSV ({type(exc).__name__}: {detail})") from None
    missing = [c for c in LABEL_COLUMNS if c not in df.columns]
    if missing:
        raise LabelsError(f"{path}: missing column(s) {', '.join(missing)}; "
                          f"a labels CSV needs {', '.join(LABEL_COLUMNS)} [, track_id, peak_ms]")
    for c in ("start_ms", "end_ms") + (("peak_ms",) if "peak_ms" in df.columns else ()):
        vals = pd.to_numeric(df[c], errors="coerce")
        if c != "peak_ms" and vals.isna().any():
            row = int(np.nonzero(vals.isna().to_numpy())[0][0]) + 2
            raise LabelsError(f"{path}: line {row}: {c} is not a number")
        df[c] = vals.astype(float)
    if "peak_ms" not in df.columns:
        df["peak_ms"] = np.nan
    df["peak_ms"] = df["peak_ms"].fillna((df.start_ms + df.end_ms) / 2)
    bad = df.end_ms < df.start_ms
    if bad.any():
        row = int(np.nonzero(bad.to_numpy())[0][0]) + 2
        raise LabelsError(f"{path}: line {row}: end_ms is before start_ms")
    if df.video_id.isna().any() or df.event_type.isna().any():
        raise LabelsError(f"{path}: empty video_id or event_type")
    if "track_id" in df.columns:
        df["track_id"] = pd.to_numeric(df["track_id"], errors="coerce").astype("Int64")
    else:
        df["track_id"] = pd.array([pd.NA] * len(df), dtype="Int64")
    status = df["status"].fillna("confirmed").astype(str) if "status" in df.columns else None
    if status is not None:
        bad = ~status.isin(REVIEW_STATUSES)
        if bad.any():
            row = int(np.nonzero(bad.to_numpy())[0][0]) + 2
            raise LabelsError(f"{path}: line {row}: status {status[bad].iloc[0]!r} is not one of "
                              f"{', '.join(REVIEW_STATUSES)}")
        df["status"] = status
        df = df[status.isin(("confirmed", "rejected") if with_status else ("confirmed",))]
    elif with_status:
        df["status"] = "confirmed"
    cols = ["video_id", "event_type", "start_ms", "end_ms", "peak_ms", "track_id"] + (["status"] if with_status else [])
    return df[cols].reset_index(drop=True)


def _match(gt: pd.DataFrame, pred: pd.DataFrame, tol_ms: float) -> np.ndarray:
    """True-positive flags of ``pred`` (sorted by falling confidence) against ``gt`` peaks.

    A label with a ``track_id`` only matches events of that track; one without
    matches any track (time-only, as DFL)."""
    tp = np.zeros(len(pred), bool)
    by_video = {}
    for v, g in gt.groupby("video_id"):
        tr = g.track_id.to_numpy(dtype=float, na_value=np.nan) if "track_id" in g else np.full(len(g), np.nan)
        by_video[v] = (g.peak_ms.to_numpy(), tr, np.zeros(len(g), bool))
    ptr = pred.track_id.to_numpy(dtype=float) if "track_id" in pred else np.full(len(pred), np.nan)
    for i, (vid, t) in enumerate(zip(pred.video_id.to_numpy(), pred.peak_ms.to_numpy())):
        if vid not in by_video:
            continue
        peaks, tracks, used = by_video[vid]
        ok = ~used & (np.isnan(tracks) | (tracks == ptr[i]))
        d = np.where(ok, np.abs(peaks - t), np.inf)
        j = int(np.argmin(d)) if len(d) else -1
        if j >= 0 and d[j] <= tol_ms:
            used[j] = True
            tp[i] = True
    return tp


def average_precision(gt: pd.DataFrame, pred: pd.DataFrame, tol_s: float) -> float:
    """AP of one class at one tolerance; ``gt``: video_id, peak_ms; ``pred``: + confidence."""
    if len(gt) == 0:
        return float("nan")
    pred = pred.sort_values("confidence", ascending=False, kind="stable")
    tp = _match(gt, pred, tol_s * 1000.0)
    if len(tp) == 0:
        return 0.0
    ctp = np.cumsum(tp)
    precision = ctp / np.arange(1, len(tp) + 1)
    recall = ctp / len(gt)
    prev = np.concatenate([[0.0], recall[:-1]])
    return float(np.sum((recall - prev) * precision))


def evaluate_events(labels: pd.DataFrame, events: pd.DataFrame, classes: list[str] | None = None) -> dict:
    """Per-class AP (mean over tolerances), precision and recall at the middle tolerance,
    mAP and a confusion table, over the videos that appear in ``labels``.

    ``labels``: :func:`read_labels` output; ``events``: rows of the events table
    (video_id, event_type, peak_ms, confidence).  Only videos present in ``labels``
    are scored (an unlabelled video would count every event as false).
    """
    videos = set(labels.video_id)
    events = events[events.video_id.astype(str).isin(videos)].copy()
    events["video_id"] = events.video_id.astype(str)
    classes = sorted(set(labels.event_type) if classes is None else classes)
    per_class = {}
    for c in classes:
        gt = labels[labels.event_type == c]
        pr = events[events.event_type == c]
        tols = tolerances(c)
        aps = [average_precision(gt, pr, t) for t in tols]
        mid = tols[len(tols) // 2]
        tp = _match(gt, pr.sort_values("confidence", ascending=False, kind="stable"), mid * 1000).sum()
        per_class[c] = {
            "labels": int(len(gt)), "events": int(len(pr)), "tolerances_s": list(tols),
            "ap": float(np.mean(aps)) if len(gt) else float("nan"), "ap_per_tolerance": aps,
            "precision": float(tp / len(pr)) if len(pr) else float("nan"),
            "recall": float(tp / len(gt)) if len(gt) else float("nan"), "at_tolerance_s": mid,
        }
    scored = [v["ap"] for v in per_class.values() if v["labels"]]
    return {"classes": per_class, "mAP": float(np.mean(scored)) if scored else float("nan"),
            "confusion": confusion_table(labels, events, classes)}


def confusion_table(labels: pd.DataFrame, events: pd.DataFrame, classes: list[str]) -> dict:
    """``{true: {predicted: count}}``.  Each labelled event gets the class of the most
    confident event of any class whose peak lies within the label class's largest
    tolerance (``none`` if there is none); each event near no label of any class is
    counted under true ``background``."""
    cols = list(dict.fromkeys(list(classes) + sorted(set(events.event_type)))) + ["none"]
    table = {c: {p: 0 for p in cols} for c in list(classes) + ["background"]}
    near_any = np.zeros(len(events), bool)
    ev_v = events.video_id.to_numpy()
    ev_t = events.peak_ms.to_numpy()
    ev_c = events.confidence.to_numpy()
    ev_k = events.event_type.to_numpy()
    ev_tr = events.track_id.to_numpy() if "track_id" in events else np.full(len(events), -1)
    for row in labels.itertuples():
        if row.event_type not in table:
            continue
        tol = max(tolerances(row.event_type)) * 1000
        near = (ev_v == row.video_id) & (np.abs(ev_t - row.peak_ms) <= tol)
        if not pd.isna(row.track_id):
            near &= ev_tr == int(row.track_id)
        near_any |= near
        if near.any():
            j = np.nonzero(near)[0][np.argmax(ev_c[near])]
            table[row.event_type][ev_k[j]] += 1
        else:
            table[row.event_type]["none"] += 1
    for k in ev_k[~near_any]:
        table["background"][k] += 1
    return table


def format_report(result: dict, title: str = "") -> str:
    """Human-readable report of :func:`evaluate_events` output."""
    lines = [title] if title else []
    lines.append(f"{'class':12s} {'labels':>6s} {'events':>6s} {'AP':>6s} {'prec':>6s} {'recall':>6s}  tolerances (s)")
    for c, r in result["classes"].items():
        lines.append(f"{c:12s} {r['labels']:6d} {r['events']:6d} {r['ap']:6.3f} {r['precision']:6.3f} "
                     f"{r['recall']:6.3f}  {', '.join(f'{t:.2f}' for t in r['tolerances_s'])} "
                     f"(P/R at {r['at_tolerance_s']:.2f})")
    lines.append(f"mAP {result['mAP']:.3f}")
    conf = pd.DataFrame(result["confusion"]).T
    lines.append("confusion (rows: labelled class, or background for events near no label; "
                 "columns: tagged class, none = missed)")
    lines.append(conf.to_string())
    return "\n".join(lines)


def false_alarms_per_hour(events: pd.DataFrame, videos: pd.DataFrame, classes: list[str] | None = None,
                          min_confidence: float = 0.0) -> dict:
    """False alarms per hour per class on footage that has **no** event of those classes.

    ``events``: events table rows (``video_id``, ``event_type``, ``confidence``); every one
    of them is a false alarm.  ``videos``: the videos table (``video_id``, ``duration_ms``,
    ``status``); the hours are the summed ``duration_ms`` of the videos that were tagged
    (status ok or partial), and only their events count.  ``classes``: the classes to
    report (default: the event model's five plus any class that occurs).
    Returns ``{"hours", "videos", "classes": {class: {"false_alarms", "per_hour",
    "per_video": {video_id: n}}}}``.
    """
    tagged = videos[videos["status"].isin(["ok", "partial"])]
    vids = sorted(str(v) for v in tagged["video_id"])
    hours = float(pd.to_numeric(tagged["duration_ms"], errors="coerce").fillna(0).sum()) / 3_600_000.0
    ev = events[events["video_id"].astype(str).isin(vids) & (events["confidence"] >= min_confidence)]
    names = list(classes) if classes else sorted(set(TOLERANCES_S) | set(ev["event_type"]))
    out = {}
    for c in names:
        mine = ev[ev["event_type"] == c]
        per_video = {v: int((mine["video_id"].astype(str) == v).sum()) for v in vids}
        n = int(len(mine))
        out[c] = {"false_alarms": n, "per_hour": n / hours if hours > 0 else float("nan"), "per_video": per_video}
    return {"hours": hours, "videos": vids, "min_confidence": float(min_confidence), "classes": out}


def format_negatives(result: dict, title: str = "") -> str:
    """Text table of :func:`false_alarms_per_hour`."""
    lines = [title] if title else []
    lines.append(f"{len(result['videos'])} video(s), {result['hours'] * 60:.2f} min of event-free footage")
    lines.append(f"{'class':14s}{'false alarms':>14s}{'per hour':>12s}")
    for c, r in result["classes"].items():
        lines.append(f"{c:14s}{r['false_alarms']:14d}{r['per_hour']:12.1f}")
    return "\n".join(lines)
