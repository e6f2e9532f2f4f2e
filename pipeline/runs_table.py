"""The ``runs`` table: one row per ``matchtag run``, written by the launcher at the end."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import io
import json
import sys

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from pipeline.commit import read_committed_video
from schemas.tables import RUNS
from tagging import __version__


def _videos_of_run(output: str, video_ids: list[str]) -> list[dict]:
    rows = []
    for vid in video_ids:
        row = read_committed_video(output, vid)
        if row is not None:
            rows.append({**row, "video_id": vid})
    return rows


def _tensorflow_version() -> str | None:
    """TF's version, without importing TF into a launcher that did not load it (slow, noisy)."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"].__version__
    for dist in ("tensorflow", "tensorflow-cpu"):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None   # launcher without TF (remote runners)


def write_run_row(output: str, *, run_id: str, started: dt.datetime, state: str, runner: str,
                  tagging_config: str, options: dict, video_ids: list[str], counters: dict) -> str:
    """Write ``OUTPUT/runs/run_id=<id>/run.parquet``; returns its path."""
    import apache_beam
    tf_version = _tensorflow_version()
    rows = _videos_of_run(output, video_ids)
    mine = [r for r in rows if r.get("run_id") == run_id]
    failures = [f"{r['video_id']}: {r.get('error')}" for r in mine if r.get("status") != "ok"]
    row = {
        "run_id": run_id, "started_at": started, "ended_at": dt.datetime.now(dt.timezone.utc),
        "state": state, "runner": runner, "matchtag_version": __version__,
        "beam_version": apache_beam.__version__, "tensorflow_version": tf_version,
        "tagging_config": tagging_config,
        "options_json": json.dumps(options, sort_keys=True, default=str),
        "videos_total": len(video_ids),
        "videos_ok": sum(r.get("status") == "ok" for r in mine),
        "videos_partial": sum(r.get("status") == "partial" for r in mine),
        "videos_failed": sum(r.get("status") == "failed" for r in mine),
        "videos_skipped": int(counters.get("videos_skipped", 0)),
        "frames_decoded": int(counters.get("frames_decoded", 0)),
        "people_detected": int(counters.get("people_detected", 0)),
        "events": int(counters.get("events", 0)),
        "failures": failures,
    }
    table = pa.Table.from_pylist([row], schema=RUNS).drop_columns(["run_id"])
    path = FileSystems.join(output, "runs", f"run_id={run_id}", "run.parquet")
    buf = io.BytesIO()
    pq.write_table(table, buf)
    with FileSystems.create(path) as fh:
        fh.write(buf.getvalue())
    return path
