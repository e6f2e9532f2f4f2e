"""Property tests (hypothesis) of the parsers that take user files, and of video-id derivation.

Seeded and bounded: ``derandomize=True`` makes every CI run try the same cases, and
``max_examples`` keeps the whole file to a few seconds.  Each test prints nothing;
``python -m pytest tests/test_properties.py --hypothesis-show-statistics`` shows the
number of cases run.
"""

from __future__ import annotations

import os
import re
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tagging.evaluate.events import LabelsError, read_labels
from tagging.video.ids import assign_video_ids, manifest_id_problem, reader_safe, video_id_for
from tagging.video.inputs import ManifestError, read_manifest

EXAMPLES = 200
BOUNDED = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
PATH_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

# Cells a spreadsheet export or a hand-edited file could hold: CSV specials, unicode, NUL,
# digits-only ids, path-escaping ids, globs.
CELL = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", "a.mp4", "../x.mp4", "m[1].mp4", "*.mp4", "12345", "1e5", "nan", "2024-08-23",
                     "bl-2024-01", '"', '""', ",", "\n", "\r\n", "\x00", "video_id", "path", "é.mp4",
                     "gs://bucket/a.mp4", "-1", "inf", "12.5"]),
)
HEADER_NAME = st.one_of(st.sampled_from(["path", "video_id", "competition", "season", "match_date", "home",
                                         "away", "", " path ", "PATH", "extra"]), st.text(max_size=6))


def _csv_line(cells: list[str], quote: bool) -> str:
    if quote:
        return ",".join('"' + c.replace('"', '""') + '"' for c in cells)
    return ",".join(cells)


@st.composite
def csv_texts(draw, header_names=HEADER_NAME, cell=CELL):
    header = draw(st.lists(header_names, min_size=0, max_size=5))
    rows = draw(st.lists(st.lists(cell, min_size=0, max_size=7), max_size=5))
    quote = draw(st.booleans())
    text = "\n".join([_csv_line(header, quote)] + [_csv_line(r, quote and draw(st.booleans())) for r in rows])
    return text + draw(st.sampled_from(["", "\n", "\r\n", "\n\n"]))


@pytest.fixture(scope="module")
def scratch():
    with tempfile.TemporaryDirectory(prefix="matchtag-prop-") as d:
        yield d


def _write(scratch: str, name: str, text: str) -> str:
    path = os.path.join(scratch, name)
    with open(path, "w", encoding="utf-8", newline="", errors="surrogatepass") as fh:
        fh.write(text)
    return path


def _parse(parser, error_type, path: str):
    """``parser(path)``, or None when it raised ``error_type`` in one line naming the file.

    Any other exception propagates and fails the property."""
    try:
        return parser(path)
    except error_type as exc:
        message = str(exc)
        assert path in message, message
        assert "\n" not in message.replace(path, ""), message
        return None


# --- manifests ----------------------------------------------------------------------------

@BOUNDED
@given(text=csv_texts())
def test_manifest_parser_returns_clean_rows_or_one_documented_error(scratch, text):
    entries = _parse(read_manifest, ManifestError, _write(scratch, "manifest.csv", text))
    if entries is None:
        return
    assert entries
    for video, video_id, metadata in entries:
        assert video and "\x00" not in video
        assert "://" in video or os.path.isabs(video)
        assert video_id is None or (PATH_SAFE.match(video_id) and reader_safe(video_id))
        assert set(metadata) <= {"competition", "season", "match_date", "home", "away"}


@BOUNDED
@given(data=st.binary(max_size=200))
def test_manifest_parser_on_arbitrary_bytes(scratch, data):
    path = os.path.join(scratch, "bytes.csv")
    with open(path, "wb") as fh:
        fh.write(data)
    _parse(read_manifest, ManifestError, path)


# --- labels -------------------------------------------------------------------------------

LABEL_CELL = st.one_of(CELL, st.integers(-10**20, 10**20).map(str),
                       st.floats(allow_nan=True, allow_infinity=True).map(repr))
LABEL_HEADER = st.sampled_from(["video_id", "event_type", "start_ms", "end_ms", "track_id", "peak_ms", "x", ""])


@BOUNDED
@given(text=csv_texts(header_names=LABEL_HEADER, cell=LABEL_CELL))
def test_labels_parser_returns_a_clean_frame_or_one_documented_error(scratch, text):
    df = _parse(read_labels, LabelsError, _write(scratch, "labels.csv", text))
    if df is None:
        return
    assert list(df.columns) == ["video_id", "event_type", "start_ms", "end_ms", "peak_ms", "track_id"]
    assert (df.end_ms >= df.start_ms).all()
    assert df.video_id.notna().all() and df.event_type.notna().all()
    assert str(df.track_id.dtype) == "Int64"


# --- video ids ------------------------------------------------------------------------------

PATHS = st.one_of(
    st.text(min_size=1, max_size=60),
    st.builds(lambda d, n, e: f"/{d}/{n}{e}", st.text(max_size=8).map(lambda s: s.replace("/", "_")),
              st.text(max_size=20).map(lambda s: s.replace("/", "_")),
              st.sampled_from([".mp4", ".MOV", "", ".tar.gz", "."])),
    st.from_regex(r"/[0-9]{1,6}(\.[0-9]{1,3})?(e[0-9])?\.mp4", fullmatch=True),
    st.from_regex(r"/data/[0-9]{4}-[0-9]{2}-[0-9]{2}\.mkv", fullmatch=True),
)


def _check_id(vid: str) -> None:
    assert PATH_SAFE.match(vid), vid
    assert vid not in (".", "..") and not vid.startswith(".")
    assert reader_safe(vid), vid                  # never read back as a number or a date
    assert len(vid) <= 6 + 80 + 9


@BOUNDED
@given(path=PATHS)
def test_derived_ids_are_path_safe_and_never_numeric(path):
    vid = video_id_for(path)
    _check_id(vid)
    assert video_id_for(path) == vid
    assert manifest_id_problem(vid) is None or len(vid) > 100   # a derived id is a valid manifest id


@BOUNDED
@given(batch=st.lists(PATHS, min_size=1, max_size=8), later=st.lists(PATHS, max_size=6))
def test_assigned_ids_are_distinct_and_stable_across_batches(batch, later):
    first = assign_video_ids(batch)
    assert len(set(first.values())) == len(first)            # distinct within a batch
    for vid in first.values():
        _check_id(vid)
    assert assign_video_ids(list(reversed(batch))) == first  # argument order does not matter
    # A later batch into the same output, with any batch mates: known paths keep their ids.
    second = assign_video_ids(batch + later, known=first)
    assert {p: second[p] for p in first} == first
    assert len(set(second.values())) == len(second)
    assert not (set(second.values()) - set(first.values())) & set(first.values())
