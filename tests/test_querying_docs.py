"""docs/querying.md and the README's pandas section: every example runs, against the small
synthetic output of tests/query_sample.py, and says what it gives."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
QUERYING = ROOT / "docs" / "querying.md"


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


def _run_python(blocks: list[str], source: str) -> dict:
    namespace: dict = {"print": lambda *a, **k: None}       # the examples print for the reader
    for i, block in enumerate(blocks):
        exec(compile(block, f"{source}, python block {i + 1}", "exec"), namespace)
    return namespace


def test_querying_examples_run_and_give_what_their_comments_say(tag_sample, monkeypatch):
    monkeypatch.chdir(tag_sample.parent)                     # the examples read "tags/"
    blocks = _blocks(QUERYING.read_text(), "python")
    assert len(blocks) >= 8
    ns = _run_python(blocks, "docs/querying.md")

    assert ns["failed"].video_id.tolist() == ["broken"] and "not a video" in ns["failed"].error.iloc[0]
    assert ns["last_failures"] == ["broken: /matches/broken.mp4: not a video"]
    assert ns["per_team"].to_dict() == {"a": 3, "b": 2, "other": 1, np.nan: 1}
    assert ns["ts_ms"].shape == (60,) and ns["kps"].shape == (60, 17, 3) and ns["hips"].shape == (60, 2)
    assert len(ns["throw_ins_a"]) == 4 and set(ns["throw_ins_a"].video_id) == {"match-1", "match-2"}
    assert ns["second_half"].peak.min() == pd.Timedelta("50min")
    home = ns["home_throw_ins"]
    assert len(home) == 4 and set(home[home.video_id == "match-1"].home) == {"Rovers"}

    rows = ns["rows"]                                        # the one-line question
    assert rows.event.nunique() == 2 and rows.groupby("event").size().tolist() == [3, 3]
    assert set(rows.team) == {"a"} and (rows.peak_ms >= (47 * 60 + 30) * 1000).all()
    assert set(rows.event_type) == {"throw_in"} and set(rows.home) == {"Rovers"}
    assert {e: a.shape for e, a in ns["per_event"].items()} == {0: (3, 17, 3), 1: (3, 17, 3)}
    assert ns["arms_up"].tolist() == [True, True]

    assert list(ns["heads"].columns) == ["video_id", "frame_index", "nose_x", "nose_y"]
    assert ns["people_per_frame"].max() == 7
    assert ns["first_half"].frame_index.max() < (47 * 60 + 30) * 25
    assert len(ns["long"]) == 2 * 17


def test_sql_examples_run(tag_sample, monkeypatch, capsys):
    pytest.importorskip("duckdb", reason="duckdb comes with the dev extra: pip install -e '.[dev]'")
    from pipeline.commands import sql

    monkeypatch.chdir(tag_sample.parent)
    lines = [line for block in _blocks(QUERYING.read_text(), "bash") for line in block.splitlines()
             if line.startswith("matchtag sql ")]
    assert len(lines) == 3
    for line in lines:
        assert sql.main(shlex.split(line)[2:]) == 0, line
        out = capsys.readouterr().out
        if "--json" in line:
            rows = json.loads(out)
            assert len(rows) == 7 and {r["team"] for r in rows} == {"a", "b"}
        assert out.strip()


def test_readme_pandas_section_answers_the_three_questions(tag_sample, monkeypatch):
    monkeypatch.chdir(tag_sample.parent)
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### In pandas"):]
    section = section[:section.index("\n## ")]
    blocks = _blocks(section, "python")
    assert blocks, "the README's In pandas section has no python block"
    code = [line for line in blocks[0].splitlines() if line.strip() and not line.startswith(("import", "from"))]
    assert len(code) <= 6, "each of the three questions takes one or two lines"
    ns = _run_python(blocks, "README.md")
    assert set(ns["players"].columns) >= {"video_id", "track_id", "team"} and len(ns["players"]) == 7
    assert ns["kps"].shape == (ns["ts_ms"].shape[0], 17, 3) and ns["ts_ms"].shape == (5700,)
    assert len(ns["throw_ins"]) == 3 and set(ns["throw_ins"].team) == {"a"}
