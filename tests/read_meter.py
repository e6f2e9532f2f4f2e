"""What the query API reads: bytes and files, through a filesystem that counts them.

Used by tests/test_load.py (the proof that filters are pushed down) and by
bench/query_pushdown.py (the figures).  While :func:`metered_reads` is active, every dataset
``tagging.tables.load`` opens is the one ``table_dataset`` found (same files, same
partitioning), read through the counting filesystem.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Callable, Iterator

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

import tagging.tables.load as load


class _CountingFile:
    """A read-only file that adds every byte it returns to ``counter["bytes"]``."""

    def __init__(self, path: str, counter: dict):
        self._f = open(path, "rb")
        self._counter = counter
        self.closed = False

    def read(self, n=-1):
        data = self._f.read(n)
        self._counter["bytes"] += len(data)
        return data

    def seek(self, offset, whence=0):
        return self._f.seek(offset, whence)

    def tell(self):
        return self._f.tell()

    def close(self):
        self._f.close()
        self.closed = True


class CountingHandler(pafs.FileSystemHandler):
    """The local filesystem, read-only, counting the bytes read and the files opened."""

    def __init__(self):
        self.local = pafs.LocalFileSystem()
        self.counter = {"bytes": 0, "files": 0}

    def get_type_name(self):
        return "counting-local"

    def normalize_path(self, path):
        return path

    def equals(self, other):
        return other is self

    def get_file_info(self, paths):
        return self.local.get_file_info(paths)

    def get_file_info_selector(self, selector):
        return self.local.get_file_info(selector)

    def open_input_file(self, path):
        self.counter["files"] += 1
        return pa.PythonFile(_CountingFile(path, self.counter), mode="r")

    open_input_stream = open_input_file

    def _read_only(self, *args):
        raise OSError("the counting filesystem is read-only")

    create_dir = delete_dir = delete_dir_contents = delete_root_dir_contents = delete_file = _read_only
    move = copy_file = open_output_stream = open_append_stream = _read_only


@contextlib.contextmanager
def metered_reads() -> Iterator[Callable]:
    """Yields ``measure(call) -> (call's result, {"bytes": n, "files": n})``."""
    handler = CountingHandler()
    real = load.table_dataset

    def counting_dataset(root, table, records=None):
        found = real(root, table, records)
        return ds.dataset(found.files, schema=found.schema, format="parquet",
                          filesystem=pafs.PyFileSystem(handler), partitioning=found.partitioning,
                          partition_base_dir=str(Path(root) / table))

    def measure(call):
        before = dict(handler.counter)
        result = call()
        return result, {k: handler.counter[k] - before[k] for k in before}

    load.table_dataset = counting_dataset
    try:
        yield measure
    finally:
        load.table_dataset = real
