"""Regenerate pipeline/run_flags.py (the flags `matchtag run` accepts) after a Beam upgrade
or a change to MatchtagOptions: ``python tools/write_run_flags.py``."""

from pathlib import Path

from pipeline.options import run_flags_source

if __name__ == "__main__":
    path = Path(__file__).resolve().parent.parent / "pipeline" / "run_flags.py"
    path.write_text(run_flags_source())
    print(f"wrote {path}")
