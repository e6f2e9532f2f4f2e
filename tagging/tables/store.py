"""Where the tag tables' files are, as pyarrow datasets: the one place readers find them.

Every reader of the tables (``read_table``, the query API, the report) goes through
:func:`table_dataset`, so that how a table is laid out on disk, and which of its files
are committed, is decided here and nowhere else.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds

from schemas.tables import PARTITION_COLUMN, RUNS, TABLE_SCHEMAS, file_schema

RUNS_PARTITION_COLUMN = "run_id"


def _partitioning(column: str) -> ds.Partitioning:
    # The partition value is always a string: an all-digit video id ("12345") must not be
    # read back as an integer (filters on it would fail, and ids would change type).
    return ds.partitioning(pa.schema([pa.field(column, pa.string())]), flavor="hive")


def table_dataset(root: str | Path, table: str) -> ds.Dataset:
    """``root/<table>`` as a dataset: the table's schema plus its partition column (string)
    from the partition directories: ``video_id`` for the four tag tables, ``run_id`` for
    ``runs``.  Raises ``FileNotFoundError`` naming the folder when it is absent."""
    if table not in (*TABLE_SCHEMAS, "runs"):
        raise ValueError(f"unknown table {table!r}: one of {', '.join((*TABLE_SCHEMAS, 'runs'))}")
    path = Path(root) / table
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no {table} table there (is {root} the output of `matchtag run`?)")
    if table == "runs":
        key, files = RUNS_PARTITION_COLUMN, RUNS.remove(RUNS.get_field_index(RUNS_PARTITION_COLUMN))
    else:
        key, files = PARTITION_COLUMN, file_schema(table)
    return ds.dataset(str(path), format="parquet", partitioning=_partitioning(key),
                      schema=files.append(pa.field(key, pa.string())), exclude_invalid_files=False)
