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

from pipeline.commit import write_whole
from schemas.tables import RUNS
from tagging import __version__


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
                  tagging_config: str, options: dict, outcomes: dict[str, tuple[str, str | None]],
                  counters: dict) -> str:
    """Write ``OUTPUT/runs/run_id=<id>/run.parquet``; returns its path.

    ``outcomes``: ``{video_id: (status, error)}`` of this run (``ok``, ``partial``,
    ``failed``, ``skipped``); the counts and failures are this run's only.
    """
    import apache_beam

    tf_version = _tensorflow_version()
    statuses = [status for status, _ in outcomes.values()]
    failures = [f"{vid}: {error}" for vid, (status, error) in sorted(outcomes.items())
                if status in ("partial", "failed")]
    row = {
        "run_id": run_id, "started_at": started, "ended_at": dt.datetime.now(dt.timezone.utc),
        "state": state, "runner": runner, "matchtag_version": __version__,
        "beam_version": apache_beam.__version__, "tensorflow_version": tf_version,
        "tagging_config": tagging_config,
        "options_json": json.dumps(options, sort_keys=True, default=str),
        "videos_total": len(outcomes),
        **{f"videos_{s}": statuses.count(s) for s in ("ok", "partial", "failed", "skipped")},
        "frames_decoded": int(counters.get("frames_decoded", 0)),
        "people_detected": int(counters.get("people_detected", 0)),
        "events": int(counters.get("events", 0)),
        "failures": failures,
    }
    table = pa.Table.from_pylist([row], schema=RUNS).drop_columns(["run_id"])
    rel = f"runs/run_id={run_id}/run.parquet"
    buf = io.BytesIO()
    pq.write_table(table, buf)
    write_whole(output, rel, buf.getvalue(), run_id)
    return FileSystems.join(output, rel)
