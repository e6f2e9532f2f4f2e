"""Start `matchtag review` as a real process and talk to it over HTTP, for tests/test_review*.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class Server:
    """``matchtag review --tags DIR --no-browser`` in a subprocess; ``url`` has the token."""

    def __init__(self, tags: Path, *extra: str, timeout: float = 60.0):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "review", "--tags", str(tags),
                                      "--no-browser", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, cwd=ROOT, env=env)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("http://"):
            self.proc.kill()
            raise RuntimeError(f"review did not start: {line!r} {self.proc.stderr.read()}")
        self.url = line
        self.base, self.token = line.split("/?token=")
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                self.get("/api/videos")
                return
            except OSError:
                time.sleep(0.2)

    def request(self, path: str, body=None, token: bool = True, headers: dict | None = None):
        """``(status, bytes)`` of one request; ``token=False`` sends none."""
        sep = "&" if "?" in path else "?"
        url = self.base + path + (f"{sep}token={self.token}" if token else "")
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=120) as res:
                return res.status, res.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def get(self, path: str):
        status, body = self.request(path)
        assert status == 200, (path, status, body[:300])
        return json.loads(body)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
