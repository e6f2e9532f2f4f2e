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
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import StandardOptions

from pipeline.commit import StagingLock, cleanup_staging
from pipeline.graph import build
from pipeline.options import UsageError, parse_run_args, tagging_config, validate
from schemas.tables import PARTITION_COLUMN
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
    import pyarrow.parquet as pq

    pattern = FileSystems.join(output, "videos", f"{PARTITION_COLUMN}=*", "*.parquet")
    ids: dict[str, str] = {}
    for path in sorted(_match_uri(pattern)):
        video_id = path.rsplit("/", 2)[-2].split("=", 1)[1]
        try:
            with FileSystems.open(path) as fh:
                stored = pq.read_table(fh, columns=["path"]).column("path").to_pylist()
        except Exception:  # a damaged file is skipped (its video counts as new), not a crash
            continue
        for p in stored:
            # An output written before ids were stable may hold a path under two ids:
            # keep the first in sorted order, the plain name before its hashed variants.
            if p is not None and (p not in ids or video_id < ids[p]):
                ids[p] = video_id
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


def run(argv: list[str]) -> RunResult:
    """Run the pipeline for ``argv`` (``matchtag run`` arguments), wait, record the run."""
    options, opts = parse_run_args(argv)
    validate(opts)
    jobs = jobs_for(opts)
    run_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
    runner = options.view_as(StandardOptions).runner
    LOG.info("run %s: %d video(s) -> %s on %s", run_id, len(jobs), opts.output, runner)
    started = dt.datetime.now(dt.timezone.utc)
    with StagingLock(opts.output, run_id):
        pipeline = beam.Pipeline(options=options)
        build(pipeline, opts, jobs, run_id)
        result = pipeline.run()
        state = str(result.wait_until_finish())
        counters = _counters(result)
        cleanup_staging(opts.output, run_id)
    if counters:
        LOG.info("counters: %s", ", ".join(f"{k}={v}" for k, v in sorted(counters.items())))
    from pipeline.runs_table import write_run_row  # pyarrow only; kept out of worker imports

    write_run_row(opts.output, run_id=run_id, started=started, state=state, runner=runner,
                  tagging_config=tagging_config(opts), options=options.get_all_options(drop_default=True),
                  video_ids=[j.video_id for j in jobs], counters=counters)
    return RunResult(run_id, opts.output, [j.video_id for j in jobs], state, counters)


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
