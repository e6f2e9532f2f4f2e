"""The two commands of the README: `make test` and `make demo` (tools/demo.sh)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_test_sets_up_everything_the_suite_needs(tmp_path):
    """Dry run: a venv where asked, the dev extras, trackeval without its GUI OpenCV, models, pytest."""
    venv = tmp_path / "venv"
    out = subprocess.run(["make", "-n", "test", f"VENV={venv}", "PYTEST_ARGS=--junitxml=j.xml"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    steps = [f"-m venv {venv}", f'{venv}/bin/python -m pip install -q -e ".[dev]"',
             f'{venv}/bin/python -m pip install -q --no-deps "trackeval',
             f"{venv}/bin/python -m pipeline.cli models fetch",
             f"{venv}/bin/python -m pytest -q -rs --junitxml=j.xml"]
    positions = [out.find(s) for s in steps]
    assert all(p >= 0 for p in positions), out
    assert positions == sorted(positions), out


def test_ci_runs_make_test():
    assert "make test " in (REPO / ".ci" / "run").read_text()


def test_demo_without_apt_get_says_so_in_one_line(tmp_path):
    """No apt-get (not Debian): one error line, exit 2, nothing downloaded."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "mkdir"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    env = {"PATH": str(bin_dir), "MATCHTAG_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(REPO),
           "HOME": os.environ.get("HOME", str(tmp_path))}
    proc = subprocess.run([str(bin_dir / "bash"), str(REPO / "tools" / "demo.sh"), sys.executable],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "matchtag demo: error: apt-get not found: the demo clip comes from Debian's opencv-doc package; "
        "on this system, tag your own video instead (README, Run)"]
    assert sorted(p.name for p in (tmp_path / "cache").rglob("*")) == ["demo"]
