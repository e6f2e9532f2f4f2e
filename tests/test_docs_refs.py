"""Every code reference in the README and docs/ still points at something that exists:
file paths (``tagging/track/offline.py``, ``bench/x.py``, ``docs/x.md``) and dotted names
(``tagging.pose.stage``, ``tagging.tables.smoothing.smooth_poses``)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PATH_RE = re.compile(r"(?<![\w/.])((?:tagging|pipeline|schemas|bench|tests|docs|tools)/[\w/.-]*\w)")
NAME_RE = re.compile(r"(?<![\w./])((?:tagging|pipeline|schemas)(?:\.\w+)+)")


def _resolve(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_paths_in_docs_exist(doc):
    missing = sorted({p for p in PATH_RE.findall(doc.read_text())
                      if not (ROOT / p).exists() and "*" not in p and "<" not in p})
    assert missing == [], f"{doc.name} names paths that do not exist: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_dotted_names_in_docs_resolve(doc):
    missing = sorted({n for n in NAME_RE.findall(doc.read_text()) if not _resolve(n.rstrip("."))})
    assert missing == [], f"{doc.name} names modules or functions that do not exist: {missing}"
