"""bench/gpu_check.py on the CPU path: the prepared GPU check runs and reports every figure.

On this CPU machine it must say so (``runs_on`` CPU, placements on the CPU); on a GPU
machine the same script reports the GPU (docs/cluster.md, "GPU check")."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.models
def test_gpu_check_quick_on_cpu(models, astronaut_clip, tmp_path):
    out = tmp_path / "check.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), MATCHTAG_DEVICE="cpu")
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "gpu_check.py"), "--quick", "--frames", "2",
                           "--batches", "1", "4", "--video", str(astronaut_clip), "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)                     # stdout is only the JSON
    assert json.loads(out.read_text()) == result
    assert result["device"]["runs_on"] == "CPU" and result["on_gpu"] is False
    for name in ("movenet-lightning", "movenet-thunder", "centernet"):
        assert result["placement"][name] and all("CPU" in d for d in result["placement"][name])
    for name in ("movenet-lightning", "movenet-thunder"):
        assert set(result["crops_per_s"][name]) == {"1", "4"}
        assert all(v > 0 for v in result["crops_per_s"][name].values())
    assert result["detector"]["calls_per_s_512"] > 0 and result["detector"]["frames_per_s_auto_tiles"] > 0
    fps = result["frames_per_s"]
    assert fps["frames"] == 2 and fps["model_only"] > 0 and fps["end_to_end"] > 0
    assert "gpu_memory_mb" not in result
