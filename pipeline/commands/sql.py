"""``matchtag sql "SELECT ..." --tags DIR [--json|--csv]``: DuckDB SQL over the tag tables.

Each table of DIR (``videos``, ``poses``, ``tracks``, ``events``, ``runs``) is a view over
its committed files, found by :func:`tagging.tables.store.table_dataset` and handed to
DuckDB as a pyarrow dataset, so DuckDB pushes its filters and column lists down to the
Parquet scan. DuckDB is an optional extra (``pip install -e ".[sql]"``); no DuckDB
extension is used or downloaded.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import os
import sys
from decimal import Decimal

import numpy as np
import pyarrow as pa

from pipeline.args import StrictParser
from pipeline.commands import EXIT_OK, EXIT_USAGE
from pipeline.logs import log
from schemas.tables import PARTITION_COLUMN, TABLES
from tagging.tables.store import RUNS_PARTITION_COLUMN, table_dataset

SUMMARY = "SQL over the tables with DuckDB (optional extra: pip install -e '.[sql]')"
INSTALL = "pip install -e '.[sql]' (or: pip install 'duckdb>=1.1,<3')"
BATCH_ROWS = 10_000   # rows per batch when streaming --json/--csv: bounded memory on any result


def _parser() -> StrictParser:
    parser = StrictParser(
        prog="matchtag sql", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run one DuckDB SQL query over the tables of a matchtag output.\n"
        f"Views: {', '.join((*TABLES, 'runs'))} (video_id, or run_id for runs, first).",
        epilog="example:\n  matchtag sql \"SELECT event_type, count(*) AS n FROM events GROUP BY 1\" --tags tags/\n"
               "more: docs/querying.md")
    parser.add_argument("query", help="the SQL query (quote it)")
    parser.add_argument("--tags", required=True, metavar="DIR", help="output directory of `matchtag run`")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="a JSON array of row objects on stdout")
    out.add_argument("--csv", action="store_true", help="CSV with a header row on stdout")
    return parser


def connect(tags: str):
    """A DuckDB connection with one view per table present under ``tags``; raises
    ``FileNotFoundError`` when there is none."""
    import duckdb

    # Extensions would be downloaded at run time: none is needed, none may load.
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    con.execute("SET enable_progress_bar = false")   # it would draw on stdout, among the results
    found = []
    for table in (*TABLES, "runs"):
        try:
            dataset = table_dataset(tags, table)
        except FileNotFoundError:
            continue
        key = RUNS_PARTITION_COLUMN if table == "runs" else PARTITION_COLUMN
        con.register(f"_{table}_files", dataset)
        con.execute(f'CREATE VIEW {table} AS SELECT "{key}", * EXCLUDE ("{key}") FROM _{table}_files')
        found.append(table)
    if not found:
        raise FileNotFoundError(f"{tags}: no tables there (is it the output of `matchtag run`?)")
    return con


def _plain(value):
    """A value as JSON can hold it: times as ISO 8601, NaN as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.hex()
    return value


def _rows(reader):
    """Each row of each batch as a list of plain values.  float32 columns (keypoints, scores)
    are written with the digits float32 holds: 0.8, not 0.800000011920929."""
    for batch in reader:
        columns = []
        for field, column in zip(batch.schema, batch.columns):
            values = column.to_pylist()
            if field.type == pa.float32():
                values = [v if v is None else float(str(np.float32(v))) for v in values]
            columns.append([_plain(v) for v in values])
        yield from zip(*columns)


def _write_json(reader) -> None:
    names = reader.schema.names
    out = sys.stdout
    out.write("[")
    sep = "\n"
    for row in _rows(reader):
        out.write(sep + json.dumps(dict(zip(names, row))))
        sep = ",\n"
    out.write("]\n" if sep == "\n" else "\n]\n")


def _write_csv(reader) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(reader.schema.names)
    for row in _rows(reader):
        writer.writerow(["" if v is None else json.dumps(v) if isinstance(v, (list, dict)) else v for v in row])


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        import duckdb
    except ImportError:
        log(f"error: `matchtag sql` needs DuckDB, which is not installed: {INSTALL}")
        return EXIT_USAGE
    try:
        con = connect(args.tags)
    except FileNotFoundError as exc:
        log(f"error: {exc}")
        return EXIT_USAGE
    try:
        result = con.sql(args.query)
        if result is None:          # a statement without rows (SET, CREATE ...)
            return EXIT_OK
        if args.json or args.csv:
            # DuckDB 2 renamed the relation's fetch_arrow_reader (1.x) to_arrow_reader.
            to_reader = getattr(result, "to_arrow_reader", None) or result.fetch_arrow_reader
            (_write_json if args.json else _write_csv)(to_reader(BATCH_ROWS))
        else:
            import pandas as pd

            with pd.option_context("display.width", 200, "display.max_columns", 50):
                print(result.df().to_string(index=False))
        sys.stdout.flush()
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        log(f"error: {args.tags}: the query failed: {first}")
        return EXIT_USAGE
    except BrokenPipeError:
        # the reader (head, less) stopped early: not an error; keep Python's exit-time flush quiet
        sys.stdout = open(os.devnull, "w")
    return EXIT_OK
