"""Launch ``matchtag run``: parse, list the videos, run the graph, record the run.

Also the Beam-style entry point: ``python -m pipeline.main [matchtag run arguments]``, the
same as ``matchtag run`` without the subcommand, for launchers that call a pipeline file
with ``--key=value`` options (Airflow's BeamRunPythonPipelineOperator, Dataflow Flex
Templates).
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import uuid
from dataclasses import dataclass, field

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import StandardOptions

from pipeline.commit import RunLock, already_tagged, read_notes
from pipeline.graph import build
from pipeline.options import UsageError, parse_run_args, tagging_config, validate
from tagging.tables.store import read_commit
from tagging.video.inputs import ManifestError, VideoJob, video_jobs

LOG = logging.getLogger("matchtag")


def _match_uri(pattern: str) -> list[str]:
    try:
        return [m.path for r in FileSystems.match([pattern]) for m in r.metadata_list]
    except Exception:  # BeamIOError when nothing matches
        return []


def _open_uri(path: str) -> bytes:
    with FileSystems.open(path) as fh:
        return fh.read()


def stored_video_ids(output: str) -> dict[str, str]:
    """path -> video_id of every video committed in ``output`` (its ``videos`` table): the
    registry that keeps a path on one id across batches.  Local or remote outputs."""
    from tagging.tables.queries import read_table

    try:
        videos = read_table(output, "videos", columns=["path"])
    except FileNotFoundError:  # a new output
        return {}
    ids: dict[str, str] = {}
    for video_id, path in sorted(zip(videos["video_id"], videos["path"])):
        # An output written before ids were stable may hold a path under two ids: keep
        # the first in sorted order, the plain name before its hashed variants.
        if isinstance(path, str) and path not in ids:
            ids[path] = video_id
    return ids


def jobs_for(opts) -> list[VideoJob]:
    """The videos of ``opts`` (inputs and manifest); :class:`UsageError` when they cannot be listed."""
    try:
        return video_jobs(opts.inputs, opts.manifest, match_uri=_match_uri, open_uri=_open_uri,
                          known_ids=stored_video_ids(opts.output))
    except ManifestError as exc:
        raise UsageError(str(exc)) from None


@dataclass
class RunResult:
    run_id: str
    output: str
    video_ids: list[str]
    state: str
    counters: dict
    # video_id -> (status, error) of this run: ok, partial, failed or skipped
    outcomes: dict = field(default_factory=dict)

    @property
    def not_ok(self) -> list[str]:
        """Videos this run tried and did not fully tag (skipped ones are not among them)."""
        return [v for v, (status, _) in self.outcomes.items() if status not in ("ok", "skipped")]


def new_run_id() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def run(argv: list[str]) -> RunResult:
    """Run the pipeline for ``argv`` (``matchtag run`` arguments), wait, record the run.

    The ``runs`` row is written even when the pipeline fails, unless the output itself
    cannot be written.
    """
    options, opts = parse_run_args(argv)
    validate(opts)
    jobs = jobs_for(opts)
    video_ids = [j.video_id for j in jobs]
    run_id = new_run_id()
    runner = options.view_as(StandardOptions).runner
    LOG.info("run %s: %d video(s) -> %s on %s", run_id, len(jobs), opts.output, runner)
    started = dt.datetime.now(dt.timezone.utc)
    counters: dict = {}
    with RunLock(opts.output, run_id) as lock:
        try:
            pipeline = beam.Pipeline(options=options)
            build(pipeline, opts, jobs, run_id)
            result = pipeline.run()
            state = str(result.wait_until_finish())
            counters = _counters(result)
            why = f"the pipeline ended in state {state}"
        except Exception as exc:  # record what did land, then report
            LOG.exception("the pipeline failed")
            state, why = "FAILED", f"the pipeline failed: {type(exc).__name__}: {exc}"
        outcomes = video_outcomes(opts.output, run_id, video_ids, why)
        lock.finish(video_ids)
    if counters:
        LOG.info("counters: %s", ", ".join(f"{k}={v}" for k, v in sorted(counters.items())))
    from pipeline.runs_table import write_run_row  # pyarrow only; kept out of worker imports

    try:
        write_run_row(opts.output, run_id=run_id, started=started, state=state, runner=runner,
                      tagging_config=tagging_config(opts), options=options.get_all_options(drop_default=True),
                      outcomes=outcomes, counters=counters)
    except Exception as exc:  # e.g. a full disk: the videos committed above stay committed
        LOG.error("could not write the runs row under %s: %s", opts.output, exc)
    return RunResult(run_id, opts.output, video_ids, state, counters, outcomes)


def video_outcomes(output: str, run_id: str, video_ids: list[str], why: str) -> dict[str, tuple[str, str | None]]:
    """What this run did to each video: its committed status, ``skipped``, or ``failed``
    (with why) when it committed nothing.  ``why``: the reason given to uncommitted videos
    that have no note (the pipeline's end state)."""
    notes = read_notes(output, run_id)
    out = {}
    for vid in video_ids:
        note = notes.get(vid)
        record = read_commit(output, vid)
        if record is not None and record.run_id == run_id:
            out[vid] = (record.status or "failed", _committed_error(output, record))
        elif note is not None:
            out[vid] = (note["outcome"], note.get("error"))
        else:
            out[vid] = ("failed", f"not committed: {why}")
    return out


def _committed_error(output: str, record) -> str | None:
    if record.status == "ok":
        return None
    import pyarrow.parquet as pq

    for rel in record.files["videos"]:
        with FileSystems.open(FileSystems.join(output, rel)) as fh:
            rows = pq.read_table(fh, columns=["error"]).to_pylist()
        if rows:
            return rows[0]["error"]
    return None


def dry_run(argv: list[str]) -> dict:
    """``matchtag run --dry-run``: list the videos, decide the skips, build the graph
    without running it; what a run would do, as a JSON-able dict."""
    import time

    t0 = time.perf_counter()
    options, opts = parse_run_args(argv)
    validate(opts)
    jobs = jobs_for(opts)
    config = tagging_config(opts)
    to_skip, hashed = [], 0
    if opts.skip_existing:
        for job in jobs:
            if read_commit(opts.output, job.video_id) is None:
                continue  # never committed: tagged without reading the file
            hashed += 1
            try:
                digest = _sha256_uri(job.path)
            except Exception:  # unreadable now: the run will say why
                continue
            if already_tagged(opts.output, job.video_id, digest, config, opts.retry_failed):
                to_skip.append(job.video_id)
    listed_s = time.perf_counter() - t0
    pipeline = beam.Pipeline(options=options)
    build(pipeline, opts, jobs, "dry-run")
    transforms = len(pipeline.to_runner_api().components.transforms)
    skip = set(to_skip)
    return {"dry_run": True, "output": opts.output, "videos_total": len(jobs),
            "to_tag": [j.video_id for j in jobs if j.video_id not in skip], "to_skip": to_skip,
            "inputs_hashed": hashed, "transforms": transforms,
            "check_s": round(listed_s, 3), "build_s": round(time.perf_counter() - t0 - listed_s, 3)}


def _sha256_uri(path: str) -> str:
    import hashlib

    h = hashlib.sha256()
    with FileSystems.open(path, compression_type="uncompressed") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _counters(result) -> dict:
    try:
        counters = result.metrics().query()["counters"]
    except Exception:  # some runners do not report metrics
        return {}
    totals: dict[str, int] = {}
    for c in counters:
        if c.key.metric.namespace == "matchtag":
            totals[c.key.metric.name] = totals.get(c.key.metric.name, 0) + c.committed
    return totals


if __name__ == "__main__":
    from pipeline.cli import main

    sys.exit(main(["run", *sys.argv[1:]]))
