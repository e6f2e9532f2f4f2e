"""Import TensorFlow once per process without its harmless start-up lines on stderr.

On a machine without CUDA, every process that imports TensorFlow gets
``cudart_stub.cc ... Could not find cuda drivers`` and, at the first GPU probe,
``cuda_platform.cc ... failed call to cuInit: ... CUDA error``. TensorFlow's C++ code
writes them straight to file descriptor 2, before its log settings apply.
``TF_CPP_MIN_LOG_LEVEL`` does not drop the first one, and it drops the second only at
level 3, which would hide real errors as well. So the import and the first GPU probe
run with fd 2 redirected to a temporary file. Afterwards every captured line is written
back to stderr except the CUDA probe lines, and those are dropped only when TensorFlow
found no GPU: with a GPU present they would point to a broken driver.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading

# C++ INFO and WARNING lines off, ERROR kept; set before the first import in every
# process (Beam workers inherit it from the launcher's environment, and set it here too).
TF_LOG_LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
TF_LOG_LEVEL = "2"

# Lines that only say "there is no CUDA here". The absl line is a notice printed ahead of
# any early C++ log line; the lines it announces are kept when they are not probe lines.
CUDA_PROBE_LINE = re.compile(r"cudart_stub\.cc|cuda_platform\.cc.*cuInit|cuda_executor\.cc.*(no CUDA|cuInit)"
                             r"|All log messages before absl::InitializeLog\(\) is called")

_LOCK = threading.Lock()
_STATE: dict = {}


def quiet_tf_environment() -> None:
    """Set TensorFlow's C++ log level unless the user chose one."""
    os.environ.setdefault(TF_LOG_LEVEL_ENV, TF_LOG_LEVEL)


def filter_probe_lines(text: str, gpu_found: bool) -> str:
    """``text`` (captured stderr) without the CUDA probe lines, when no GPU was found."""
    if gpu_found:
        return text
    return "".join(line for line in text.splitlines(keepends=True) if not CUDA_PROBE_LINE.search(line))


def import_tensorflow():
    """``(tensorflow module, list of GPU devices)``, importing and probing once per process."""
    with _LOCK:
        if "tf" in _STATE:
            return _STATE["tf"], _STATE["gpus"]
        quiet_tf_environment()
        sys.stderr.flush()
        saved = os.dup(2)
        gpus = None
        with tempfile.TemporaryFile() as captured:
            os.dup2(captured.fileno(), 2)
            try:
                import tensorflow as tf

                gpus = tf.config.list_physical_devices("GPU")
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                captured.seek(0)
                # Unknown GPU state (the import failed): drop nothing.
                text = filter_probe_lines(captured.read().decode("utf-8", "replace"), gpu_found=gpus != [])
                if text:
                    sys.stderr.write(text)
                    sys.stderr.flush()
        _STATE["tf"], _STATE["gpus"] = tf, gpus
        return tf, gpus


def device_description(tf, gpus: list, device: str) -> str:
    """Which device TensorFlow computes on, in words: ``GPU 0 (NVIDIA H200)`` or ``the CPU (...)``."""
    if device == "cpu":
        return "the CPU (device set to cpu)" + (f"; {len(gpus)} GPU(s) hidden" if gpus else "")
    if not gpus:
        return "the CPU (no GPU found)"
    names = []
    for i, gpu in enumerate(gpus):
        try:
            name = tf.config.experimental.get_device_details(gpu).get("device_name") or gpu.name
        except Exception:  # details are best effort; the device is used either way
            name = gpu.name
        names.append(f"GPU {i} ({name})")
    return ", ".join(names)
