"""From tag tables to event-model inputs: track sequences, labelled tracks, re-tagging.

Training and evaluation read the ``poses`` table that ``matchtag run`` wrote, so an
analyst labels events against videos already processed, and a new model can be
scored without running pose inference again.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from schemas.tables import CONTEXT_COLUMNS, KEYPOINT_COLUMNS
from tagging.tables.load import load_poses
from tagging.tables.queries import context_array, keypoints_array

LOG = logging.getLogger("matchtag")


def sequences_from_poses(poses: pd.DataFrame) -> dict[str, dict[int, tuple]]:
    """``{video_id: {track_id: (timestamps_ms (T,), keypoints (T, 17, 3), context (T, CONTEXT_DIM))}}``;
    untracked rows dropped.  ``context`` is None when no row of the track has any (output
    written before the context existed)."""
    out: dict[str, dict] = {}
    poses = poses[poses.track_id >= 0].sort_values(["video_id", "track_id", "timestamp_ms"], kind="stable")
    kps = keypoints_array(poses)
    ctx = context_array(poses)
    ts = poses.timestamp_ms.to_numpy(np.float64)
    for (vid, tid), idx in poses.groupby(["video_id", "track_id"], sort=False).indices.items():
        c = ctx[idx]
        out.setdefault(str(vid), {})[int(tid)] = (ts[idx], kps[idx], None if np.isnan(c).all() else c)
    return out


def read_sequences(tags_dir: str | Path, video_ids=None) -> dict[str, dict[int, tuple]]:
    """Every track of ``video_ids`` (all videos when None) as :func:`sequences_from_poses` gives it;
    only those videos' poses are read."""
    columns = ["timestamp_ms", "track_id", *KEYPOINT_COLUMNS, *CONTEXT_COLUMNS]
    return sequences_from_poses(load_poses(tags_dir, video_ids, columns=columns))


def labelled_tracks(labels: pd.DataFrame, sequences: dict, source: str = "labels",
                    extra: dict | None = None) -> tuple[list, dict]:
    """Training tracks ``[(timestamps_ms, keypoints, [(type, start, end, peak)])]`` and a report.

    A label with ``track_id`` belongs to that track.  Without one, it belongs to the
    only track that has poses during the event; if several do, the label is
    skipped (and their frames in the event window are left out of training, so
    they are not taught as background): say which player with ``track_id``.
    ``extra``: ``{(video_id, track_id or None): [(type, start, end, peak)]}`` added to that
    track (None: to every track of the video), e.g. hard negatives and unreviewed spans.
    """
    report = {"labels": int(len(labels)), "used": 0, "skipped": []}
    per_track: dict[tuple[str, int], list] = {}
    ignore: dict[tuple[str, int], list] = {}
    missing_videos = sorted(set(labels.video_id) - set(sequences))
    for v in missing_videos:
        report["skipped"].append(f"video {v}: not in the poses table")
    for row in labels.itertuples():
        seqs = sequences.get(row.video_id)
        if not seqs:
            continue
        ev = (row.event_type, float(row.start_ms), float(row.end_ms), float(row.peak_ms))
        if not pd.isna(row.track_id):
            tid = int(row.track_id)
            if tid not in seqs:
                report["skipped"].append(f"video {row.video_id}: track {tid} not in the poses table")
                continue
            per_track.setdefault((row.video_id, tid), []).append(ev)
            report["used"] += 1
            continue
        during = [tid for tid, (ts, *_) in seqs.items() if ((ts >= row.start_ms) & (ts <= row.end_ms)).any()]
        if len(during) == 1:
            per_track.setdefault((row.video_id, during[0]), []).append(ev)
            report["used"] += 1
        else:
            for tid in during:
                ignore.setdefault((row.video_id, tid), []).append(ev)
            report["skipped"].append(f"video {row.video_id}: {row.event_type} at {row.peak_ms:.0f} ms has no "
                                     f"track_id and {len(during)} tracks have poses then")
    tracks = []
    for vid, seqs in sequences.items():
        for tid, (ts, kps, ctx) in seqs.items():
            evs = per_track.get((vid, tid), [])
            ign = [("__ignore__", s, e, p) for _, s, e, p in ignore.get((vid, tid), [])]
            more = (extra or {}).get((vid, tid), []) + (extra or {}).get((vid, None), [])
            tracks.append((ts, kps, evs + ign + more, ctx))
    return tracks, report


def tag_sequences(sequences: dict, model) -> pd.DataFrame:
    """Events table rows (with ``video_id``) from sequences, tagged by ``model``
    (:func:`tagging.events.model.resolve_events_model`)."""
    rows = []
    for vid, seqs in sorted(sequences.items()):
        events = model.tag_events(seqs)
        rows.extend({"video_id": vid, **asdict(e)} for e in events)
    cols = ["video_id", "event_type", "track_id", "start_ms", "end_ms", "peak_ms", "confidence", "model"]
    return pd.DataFrame(rows, columns=cols)


# Below this many labelled events in some class, ``classifier="auto"`` picks the few-shot
# classifier (bench/few_shot_curve.py: it matches the MLP from 5 to 50 examples).
FEW_SHOT_BELOW = 50
UNREVIEWED_END_MS = 1e12   # "to the end of the video", for the span after the last stretch


def review_extras(labels: pd.DataFrame, stretches: pd.DataFrame | None, report: dict) -> dict:
    """:func:`labelled_tracks` ``extra`` events from reviewed labels: each rejected candidate's
    window is background on its track (a hard negative); where a video has reviewed
    stretches (``video_id, start_ms, end_ms``), time outside them is left out of training.
    A video without stretches counts as reviewed throughout."""
    from tagging.events.model import BACKGROUND

    extra: dict = {}
    if "status" in labels.columns:
        for row in labels[labels.status == "rejected"].itertuples():
            if pd.isna(row.track_id):
                report["skipped"].append(f"video {row.video_id}: rejected {row.event_type} at "
                                         f"{row.peak_ms:.0f} ms has no track_id")
                continue
            extra.setdefault((row.video_id, int(row.track_id)), []).append(
                (BACKGROUND, float(row.start_ms), float(row.end_ms), float(row.peak_ms)))
    if stretches is not None and len(stretches):
        for vid, group in stretches.groupby("video_id"):
            edge = 0.0
            for a, b in sorted(zip(group.start_ms.astype(float), group.end_ms.astype(float))):
                if a > edge:
                    extra.setdefault((str(vid), None), []).append(("__ignore__", edge, a, (edge + a) / 2))
                edge = max(edge, b)
            extra.setdefault((str(vid), None), []).append(
                ("__ignore__", edge, UNREVIEWED_END_MS, edge))
    return extra


def choose_classifier(labels: pd.DataFrame, classifier: str = "auto") -> str:
    """``classifier`` itself, or for ``auto``: ``few-shot`` when some class has fewer than
    :data:`FEW_SHOT_BELOW` labelled events, else ``mlp``."""
    if classifier != "auto":
        return classifier
    counts = labels.event_type.value_counts()
    return "few-shot" if len(counts) and int(counts.min()) < FEW_SHOT_BELOW else "mlp"


def train_from_tables(labels: pd.DataFrame, tags_dir: str | Path, name: str, train_config=None,
                      log=LOG.info, stretches: pd.DataFrame | None = None):
    """Train an event model on the labelled videos of ``tags_dir``.  Returns ``(model, report)``.

    ``labels`` as :func:`tagging.evaluate.events.read_labels` gives them; with a ``status``
    column (reviewed labels), ``confirmed`` rows are positives and ``rejected`` ones hard
    negatives.  Every other frame of a video is background, or, when ``stretches`` names
    reviewed stretches of it, every other frame inside them (:func:`review_extras`)."""
    from tagging.events.model import BACKGROUND, TrainConfig, build_training_set, train_model

    train_config = train_config or TrainConfig()
    positives = labels[labels.status == "confirmed"] if "status" in labels.columns else labels
    if positives.empty:
        raise ValueError("no confirmed label to learn from: confirm or add events first")
    sequences = read_sequences(tags_dir, sorted(set(labels.video_id)))
    report = {"skipped": []}
    extra = review_extras(labels, stretches, report)
    tracks, found = labelled_tracks(positives, sequences, extra=extra)
    report = {**found, "skipped": report["skipped"] + found["skipped"],
              "hard_negatives": sum(1 for evs in extra.values() for e in evs if e[0] == BACKGROUND)}
    for msg in report["skipped"]:
        log(f"skipped: {msg}")
    classes = [BACKGROUND] + sorted(set(positives.event_type) - {BACKGROUND})
    X, y = build_training_set(tracks, classes, train_config=train_config)
    log(f"{report['used']} of {report['labels']} labels used, {report['hard_negatives']} hard negatives; "
        f"{len(X)} training windows; classifier {train_config.classifier}")
    model = train_model(X, y, classes, name, train_config=train_config,
                        training_info={"source": str(tags_dir), "labels_used": report["used"],
                                       "labels": report["labels"], "hard_negatives": report["hard_negatives"]})
    return model, report
