"""A strict, quiet command line: unknown options refused early, Beam's own options kept,
no harmless third-party noise on stderr, nothing but JSON on stdout with --json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import GoogleCloudOptions, StandardOptions

from pipeline.cli import main
from pipeline.commands.run import unknown_flags_fast
from pipeline.options import UsageError, parse_run_args
from tagging.pose.tf_quiet import filter_probe_lines

REPO = Path(__file__).resolve().parent.parent
NOISE = ("apitools", "cuInit", "cudart", "cuda drivers", "Discarding unparseable")


def _env() -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)   # as on a user's machine
    return env


def _cli(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=timeout)


# ------------------------------------------------------------------ unknown options

def test_misspelt_option_exits_2_naming_the_option_before_tensorflow_loads(tmp_path):
    """The issue's example; the wall time is a generous guard only (a few s on an idle 2-core CPU)."""
    code = ("import sys; from pipeline.cli import main; rc = main(sys.argv[1:]); "
            "print('tensorflow' in sys.modules, 'apache_beam' in sys.modules); sys.exit(rc)")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code, "run", "x.avi", "--output", "o", "--max-frmes", "2"],
                          cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - start
    assert proc.returncode == 2, proc.stderr
    assert "unknown option --max-frmes (did you mean --max-frames?)" in proc.stderr
    # Refused from pipeline/run_flags.py, before Beam (3-5 s) or TensorFlow is imported.
    assert proc.stdout.strip() == "False False", proc.stdout
    assert len(proc.stderr.strip().splitlines()) == 2, proc.stderr     # the error and one usage line
    assert not any(n in proc.stderr for n in NOISE), proc.stderr
    assert not (tmp_path / "o").exists()
    assert elapsed < 30, f"took {elapsed:.1f} s"


@pytest.mark.parametrize("flag, suggestion", [
    ("--ouput", "--output"),
    ("--max_frmes=3", "--max-frames"),
    ("--crop-modle", "--crop-model"),
    ("--direct_num_worker", "--direct_num_workers"),     # looks like Beam's, is not
    ("--temp-location", "--temp_location"),
    ("--runer", "--runner"),
])
def test_unknown_options_name_the_closest_known_one(flag, suggestion):
    argv = ["a.mp4", "--output", "o", flag, "2"]
    with pytest.raises(UsageError) as err:
        parse_run_args(argv)
    assert str(err.value) == f"unknown option {flag.split('=')[0]} (did you mean {suggestion}?)"
    assert unknown_flags_fast(argv) == str(err.value)     # the quick check before Beam is imported


def test_run_flags_list_matches_the_installed_beam():
    """pipeline/run_flags.py is what the quick check reads; regenerate it with tools/write_run_flags.py."""
    from pipeline import run_flags
    from pipeline.options import run_flags_source

    assert Path(run_flags.__file__).read_text() == run_flags_source(), \
        "pipeline/run_flags.py is out of date: run python tools/write_run_flags.py"
    assert unknown_flags_fast(["a.mp4", "--output", "o", "--runner", "DataflowRunner", "--max_frames=3"]) is None


def test_unknown_option_without_a_close_match_is_still_refused():
    with pytest.raises(UsageError, match=r"unknown option --frobnicate$"):
        parse_run_args(["a.mp4", "--output", "o", "--frobnicate"])


def test_beam_options_pass_through():
    options, opts = parse_run_args(["a.mp4", "--output", "o", "--runner", "DataflowRunner", "--project", "p",
                                    "--region", "r", "--temp_location", "gs://b/t", "--max-frames", "5",
                                    "b.mp4", "--direct_num_workers=2"])
    gcp = options.view_as(GoogleCloudOptions)
    assert (gcp.project, gcp.region, gcp.temp_location) == ("p", "r", "gs://b/t")
    assert options.view_as(StandardOptions).runner == "DataflowRunner"
    assert opts.inputs == ["a.mp4", "b.mp4"] and opts.max_frames == 5


def test_bad_value_gives_one_short_usage(capsys, tmp_path):
    assert main(["run", "a.mp4", "--output", str(tmp_path / "o"), "--max-frames", "many"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "invalid int value: 'many'" in err[0] and err[1].startswith("usage: matchtag run")


def test_help_lists_matchtag_options_and_help_beam_lists_beams(capsys):
    assert main(["run", "--help"]) == 0
    own = capsys.readouterr().out
    assert "--max-frames" in own and "--help-beam" in own and "--temp_location" not in own
    assert len(own.splitlines()) < 120
    assert main(["run", "--help-beam"]) == 0
    beam = capsys.readouterr().out
    assert "--temp_location" in beam and "--direct_num_workers" in beam and "--max-frames" not in beam


def test_top_level_help_lists_every_command(capsys):
    from pipeline.commands import COMMANDS

    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(f"  {name} " in out for name in COMMANDS)
    assert main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["evaluate", "coverage", "--tag", "x"], "unknown option --tag (did you mean --tags?)"),
    (["evaluate", "tracking", "--gt", "g", "--noise-sed", "3"], "unknown option --noise-sed (did you mean --noise-seed?)"),
    (["evaluate", "tracking", "--g", "g"], "unknown option --g (did you mean --gt?)"),   # no abbreviations
    (["models", "fetch", "--forse"], "unknown option --forse (did you mean --force?)"),
    (["train", "--labels", "a", "--tags", "b", "--ot", "c"], "unknown option --ot (did you mean --out?)"),
])
def test_other_commands_are_strict_too(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == f"matchtag: error: {message}" and len(err) == 2
    assert err[1].startswith(f"usage: matchtag {argv[0]} {argv[1] if argv[0] != 'train' else ''}".rstrip())


# ------------------------------------------------------------------ quiet stderr

def test_probe_lines_dropped_only_without_a_gpu():
    captured = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
                "I0000 00:00:1.0  15 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.\n"
                "E0000 00:00:2.0  15 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error\n"
                "E0000 00:00:3.0  15 some_op.cc:9] a real error\n")
    kept = filter_probe_lines(captured, gpu_found=False)
    assert kept == "E0000 00:00:3.0  15 some_op.cc:9] a real error\n"
    assert filter_probe_lines(captured, gpu_found=True) == captured


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, astronaut, models):
    """``matchtag run`` of a 2-frame real-pixel clip, as a user would start it."""
    from conftest import astronaut_clip_frames, write_clip

    root = tmp_path_factory.mktemp("tiny_run")
    clip = write_clip(root / "astro2.avi", astronaut_clip_frames(astronaut, n=2))
    proc = _cli(["run", str(clip), "--output", str(root / "tags"), "--max-frames", "2"], cwd=root)
    assert proc.returncode == 0, proc.stderr
    return root, proc


def test_run_prints_no_apitools_or_cuda_lines_and_names_the_device(tiny_run):
    _, proc = tiny_run
    assert not any(n in proc.stderr for n in NOISE), proc.stderr
    device = [line for line in proc.stderr.splitlines() if "TensorFlow" in line and "computes on" in line]
    assert len(device) == 1, proc.stderr
    assert "GPU" in device[0] or "the CPU" in device[0]


# ------------------------------------------------------------------ --json

def test_evaluate_coverage_json_is_alone_on_stdout(tiny_run):
    root, _ = tiny_run
    proc = _cli(["evaluate", "coverage", "--tags", str(root / "tags"), "--json"], cwd=root)
    assert proc.returncode == 0, proc.stderr
    videos = json.loads(proc.stdout)["videos"]
    assert [v["video_id"] for v in videos] == ["astro2"] and videos[0]["frames"] == 2


def test_evaluate_tracking_json_is_alone_on_stdout(tmp_path):
    """trackeval prints an import notice on stdout; it must land on stderr."""
    from test_mot_eval import _write_seq

    rows = [[f, i, 150 * i + 2 * f, 100, 40, 100, 1, 1, 1] for f in range(1, 41) for i in range(1, 4)]
    _write_seq(tmp_path, "seq_a", rows, length=40)
    proc = _cli(["evaluate", "tracking", "--gt", str(tmp_path), "--json", "--mode", "online"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["mode"] == "online" and "HOTA" in out["overall"]
