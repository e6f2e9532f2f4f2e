"""Where the tag tables' files are, as pyarrow datasets: the one place readers find them.

Every reader of the tables (``read_table``, the query API, the report) goes through
:func:`table_dataset`, so that how a table is laid out on disk, and which of its files
are committed, is decided here and nowhere else.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds

from schemas.tables import PARTITION_COLUMN, TABLE_SCHEMAS, file_schema

# The partition value is always a string: an all-digit video id ("12345") must not be
# read back as an integer (filters on it would fail, and ids would change type).
_PARTITIONING = ds.partitioning(pa.schema([pa.field(PARTITION_COLUMN, pa.string())]), flavor="hive")


def table_dataset(root: str | Path, table: str) -> ds.Dataset:
    """``root/<table>`` as a dataset: the table's schema plus ``video_id`` (string) from the
    partition directories.  Raises ``FileNotFoundError`` naming the folder when it is absent."""
    if table not in TABLE_SCHEMAS:
        raise ValueError(f"unknown table {table!r}: one of {', '.join(TABLE_SCHEMAS)}")
    path = Path(root) / table
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no {table} table there (is {root} the output of `matchtag run`?)")
    schema = file_schema(table).append(pa.field(PARTITION_COLUMN, pa.string()))
    return ds.dataset(str(path), format="parquet", partitioning=_PARTITIONING, schema=schema,
                      exclude_invalid_files=False)
