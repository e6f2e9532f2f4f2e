"""The review app's HTTP server: one output root, on 127.0.0.1, behind a random token.

Routes (every one needs the token: ``?token=`` once, then the cookie it sets):

- ``GET /``: the app (``static/index.html``, ``app.js``, ``app.css`` beside this file);
- ``GET /api/videos``: the ``videos`` table's rows, the skeleton edges and the labels' types;
- ``GET /api/poses?video=ID&start_ms=A&end_ms=B``: that window's poses (at most
  :data:`MAX_WINDOW_MS`) as JSON, with each track's team, for drawing on a canvas;
- ``GET /api/events?video=ID``: the run's events (candidates), the video's labels and its
  reviewed stretches;
- ``POST /api/labels``, ``POST /api/stretches``: ``{"changes": [...]}`` merged into
  ``DIR/labels`` (tagging/review/labels.py); 409 with the stored rows for stale changes;
- ``GET /media/ID``: the video named by the ``videos`` table (or its H.264 copy from the
  cache), with HTTP Range requests for seeking;
- ``POST /api/train``, ``GET /api/train``: train in a background thread, and its progress
  and held-out AP (tagging/review/training.py).

Nothing else is served: ids are looked up in the ``videos`` table and static files in a
fixed list, never joined to a path, so ``..`` and absolute paths reach nothing.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import re
import secrets
import threading
import traceback
from dataclasses import asdict
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np

from schemas.tables import KEYPOINT_COLUMNS, PARTITION_COLUMN
from tagging.core.keypoints import SKELETON
from tagging.review.labels import LABELS, STRETCHES, LabelError, LabelStore

LOG = logging.getLogger("matchtag")
STATIC = Path(__file__).parent / "static"
STATIC_FILES = {"/": ("index.html", "text/html; charset=utf-8"),
                "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
                "/static/app.css": ("app.css", "text/css; charset=utf-8")}
COOKIE = "matchtag_review"
MAX_WINDOW_MS = 60_000.0
MAX_BODY = 8 * 1024 * 1024
CHUNK = 256 * 1024
DEFAULT_TYPES = ("throw_in", "kick", "jump", "fall", "celebration")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class HttpError(Exception):
    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


def _clean(value):
    """JSON-safe: NaN/NA -> None, numpy scalars -> Python."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return _clean(value.item())
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:
        pass
    return value


def _records(df) -> list[dict]:
    return [{k: _clean(v) for k, v in row.items()} for row in df.to_dict("records")]


class ReviewApp:
    """State shared by the request threads: the root, its videos, the label store, training."""

    def __init__(self, tags_dir: str | Path, token: str | None = None, cache_dir: str | Path | None = None,
                 reviewer: str = "analyst"):
        from tagging.tables.load import load_videos

        self.root = Path(tags_dir)
        self.videos = {r[PARTITION_COLUMN]: r for r in _records(load_videos(self.root))}
        self.token = token or secrets.token_urlsafe(24)
        self.cache_dir = Path(cache_dir) if cache_dir else self.root / "_review_cache"
        self.reviewer = reviewer
        self.store = LabelStore.of_output(self.root)
        self.train_state: dict = {"state": "idle"}
        self._train_lock = threading.Lock()

    # -- data -------------------------------------------------------------------------------
    def video(self, video_id: str) -> dict:
        row = self.videos.get(video_id)
        if row is None:
            raise HttpError(HTTPStatus.NOT_FOUND, f"no video {video_id!r} in {self.root}/videos")
        return row

    def media(self, video_id: str) -> tuple[Path, float]:
        """The file to stream for a video and its offset (ms) to the tables' time."""
        from tagging.review.transcode import browser_plays, cached_h264

        row = self.video(video_id)
        path = Path(row["path"] or "")
        if not path.is_file():
            raise HttpError(HTTPStatus.NOT_FOUND, f"{path}: video file not found (moved or deleted since tagging)")
        if browser_plays(path):
            return path, 0.0
        return cached_h264(path, self.cache_dir, row["sha256"] or video_id)

    def videos_json(self) -> dict:
        types = sorted({r["event_type"] for r in self.store.read() if r["status"] != "deleted"} | set(DEFAULT_TYPES))
        keep = ("video_id", "path", "fps", "frame_count", "width", "height", "duration_ms", "status",
                "frames_processed")
        return {"videos": [{k: v.get(k) for k in keep} for v in self.videos.values()],
                "skeleton": [list(e) for e in SKELETON], "types": types, "reviewer": self.reviewer}

    def poses_json(self, video_id: str, start_ms: float, end_ms: float) -> dict:
        from tagging.tables.load import load_poses, load_tracks

        self.video(video_id)
        end_ms = min(end_ms, start_ms + MAX_WINDOW_MS)
        poses = load_poses(self.root, video_id, start_ms=start_ms, end_ms=end_ms,
                           columns=["frame_index", "timestamp_ms", "track_id", "bbox_x1", "bbox_y1", "bbox_x2",
                                    "bbox_y2", *KEYPOINT_COLUMNS])
        teams = {int(t): _clean(team) for t, team in
                 load_tracks(self.root, video_id, columns=["track_id", "team"])[["track_id", "team"]].itertuples(
                     index=False)}
        frames = []
        if len(poses):
            kps = np.round(poses[list(KEYPOINT_COLUMNS)].to_numpy(np.float64), 1)
            box = np.round(poses[["bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2"]].to_numpy(np.float64), 1)
            fi, ts, tr = (poses[c].to_numpy() for c in ("frame_index", "timestamp_ms", "track_id"))
            for i in range(len(poses)):
                if not frames or frames[-1]["f"] != int(fi[i]):
                    frames.append({"f": int(fi[i]), "t": float(ts[i]), "people": []})
                frames[-1]["people"].append({"track": int(tr[i]), "team": teams.get(int(tr[i])),
                                             "box": box[i].tolist(), "kps": kps[i].tolist()})
        return {"video_id": video_id, "start_ms": start_ms, "end_ms": end_ms, "frames": frames}

    def events_json(self, video_id: str) -> dict:
        from tagging.tables.load import load_events

        self.video(video_id)
        events = load_events(self.root, video_id, columns=["event_type", "track_id", "start_ms", "end_ms", "peak_ms",
                                                           "confidence", "model"])
        return {"video_id": video_id, "candidates": _records(events.drop(columns=[PARTITION_COLUMN])),
                "labels": self.store.read(LABELS, video_id), "stretches": self.store.read(STRETCHES, video_id)}

    def save(self, table, body: dict) -> tuple[HTTPStatus, dict]:
        changes = body.get("changes")
        if not isinstance(changes, list) or not all(isinstance(c, dict) for c in changes):
            raise HttpError(HTTPStatus.BAD_REQUEST, 'expected {"changes": [{...}, ...]}')
        for c in changes:
            self.video(str(c.get("video_id")))
        reviewer = str(body.get("reviewer") or self.reviewer)[:80]
        try:
            result = self.store.save(changes, reviewer, table)
        except LabelError as exc:
            raise HttpError(HTTPStatus.BAD_REQUEST, str(exc)) from None
        return (HTTPStatus.CONFLICT if result["conflicts"] else HTTPStatus.OK), result

    # -- training ---------------------------------------------------------------------------
    def start_training(self, classifier: str) -> dict:
        if classifier not in ("auto", "mlp", "few-shot"):
            raise HttpError(HTTPStatus.BAD_REQUEST, f"classifier {classifier!r}: auto, mlp or few-shot")
        with self._train_lock:
            if self.train_state["state"] == "running":
                raise HttpError(HTTPStatus.CONFLICT, "a training is already running")
            self.train_state = {"state": "running", "progress": ["starting"]}
        threading.Thread(target=self._train, args=(classifier,), daemon=True, name="review-train").start()
        return self.train_state

    def _train(self, classifier: str) -> None:
        from tagging.review.training import train_and_evaluate

        def progress(message: str) -> None:
            LOG.info("train: %s", message)
            self.train_state["progress"].append(message)

        try:
            result = train_and_evaluate(self.root, self.store.folder, classifier=classifier, progress=progress)
            self.train_state = {**self.train_state, "state": "done", "result": asdict(result)}
        except Exception as exc:  # reported to the page; the server carries on
            LOG.debug("training failed: %s", traceback.format_exc())
            self.train_state = {**self.train_state, "state": "failed", "error": f"{type(exc).__name__}: {exc}"}


class Handler(BaseHTTPRequestHandler):
    server_version = "matchtag-review"
    app: ReviewApp   # set on the subclass that serve() makes

    def log_message(self, fmt, *args):
        LOG.debug("review: %s", fmt % args)

    # -- plumbing ---------------------------------------------------------------------------
    def _send(self, status: HTTPStatus, body: bytes, ctype: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: HTTPStatus, obj) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json")

    def _authorised(self, query: dict) -> bool:
        given = (query.get("token") or [""])[0]
        if not given:
            cookie = SimpleCookie(self.headers.get("Cookie", ""))
            given = cookie[COOKIE].value if COOKIE in cookie else ""
        return bool(given) and hmac.compare_digest(given.encode(), self.app.token.encode())

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        try:
            if not self._authorised(query):
                raise HttpError(HTTPStatus.FORBIDDEN, "forbidden: open the URL with its token that "
                                                      "`matchtag review` printed")
            self._dispatch(method, url.path, query)
        except HttpError as exc:
            self._json(exc.status, {"error": str(exc)})
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:
            LOG.warning("review: %s %s failed: %s", method, url.path, exc)
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"{type(exc).__name__}: {exc}"})

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY} bytes")
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            raise HttpError(HTTPStatus.BAD_REQUEST, "body is not JSON") from None
        if not isinstance(body, dict):
            raise HttpError(HTTPStatus.BAD_REQUEST, "body must be a JSON object")
        return body

    @staticmethod
    def _arg(query: dict, name: str, cast=str):
        if name not in query:
            raise HttpError(HTTPStatus.BAD_REQUEST, f"missing ?{name}=")
        try:
            return cast(query[name][0])
        except ValueError:
            raise HttpError(HTTPStatus.BAD_REQUEST, f"?{name}={query[name][0]!r} is not valid") from None

    def _dispatch(self, method: str, path: str, query: dict) -> None:
        app = self.app
        if method in ("GET", "HEAD"):
            if path in STATIC_FILES:
                name, ctype = STATIC_FILES[path]
                headers = {}
                if "token" in query:   # first visit: the cookie carries the token from now on
                    headers["Set-Cookie"] = f"{COOKIE}={app.token}; Path=/; HttpOnly; SameSite=Strict"
                self._send(HTTPStatus.OK, (STATIC / name).read_bytes(), ctype, headers)
            elif path == "/api/videos":
                self._json(HTTPStatus.OK, app.videos_json())
            elif path == "/api/poses":
                start, end = self._arg(query, "start_ms", float), self._arg(query, "end_ms", float)
                if not (math.isfinite(start) and math.isfinite(end)) or end < start:
                    raise HttpError(HTTPStatus.BAD_REQUEST, "start_ms and end_ms: finite, start <= end")
                self._json(HTTPStatus.OK, app.poses_json(self._arg(query, "video"), start, end))
            elif path == "/api/events":
                self._json(HTTPStatus.OK, app.events_json(self._arg(query, "video")))
            elif path == "/api/media_info":
                _, offset = app.media(self._arg(query, "video"))
                self._json(HTTPStatus.OK, {"offset_ms": offset})
            elif path.startswith("/media/"):
                self._media(path[len("/media/"):])
            elif path == "/api/train":
                self._json(HTTPStatus.OK, app.train_state)
            else:
                raise HttpError(HTTPStatus.NOT_FOUND, "not found")
        elif method == "POST":
            if path == "/api/labels":
                self._json(*app.save(LABELS, self._body()))
            elif path == "/api/stretches":
                self._json(*app.save(STRETCHES, self._body()))
            elif path == "/api/train":
                self._json(HTTPStatus.ACCEPTED, app.start_training(str(self._body().get("classifier", "auto"))))
            else:
                raise HttpError(HTTPStatus.NOT_FOUND, "not found")
        else:
            raise HttpError(HTTPStatus.METHOD_NOT_ALLOWED, f"{method} not allowed")

    def _media(self, video_id: str) -> None:
        from urllib.parse import unquote

        path, _ = self.app.media(unquote(video_id))
        size = path.stat().st_size
        start, end = 0, size - 1
        status = HTTPStatus.OK
        wanted = self.headers.get("Range")
        if wanted:
            m = _RANGE.match(wanted.strip())
            if not m or (not m.group(1) and not m.group(2)):
                raise HttpError(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, f"bad Range {wanted!r}")
            if m.group(1):
                start = int(m.group(1))
                end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
            else:   # the last N bytes
                start = max(0, size - int(m.group(2)))
            if start >= size or end < start:
                self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = HTTPStatus.PARTIAL_CONTENT
        self.send_response(status)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        if status == HTTPStatus.PARTIAL_CONTENT:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if self.command == "HEAD":
            return
        with open(path, "rb") as f:
            f.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = f.read(min(CHUNK, left))
                if not chunk:
                    break
                self.wfile.write(chunk)
                left -= len(chunk)

    def do_GET(self):
        self._route("GET")

    def do_HEAD(self):
        self._route("HEAD")

    def do_POST(self):
        self._route("POST")

    def do_PUT(self):
        self._route("PUT")

    def do_DELETE(self):
        self._route("DELETE")


def make_server(app: ReviewApp, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A server bound to ``host:port`` (0: any free port), not yet serving."""
    handler = type("ReviewHandler", (Handler,), {"app": app})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def app_url(server: ThreadingHTTPServer, app: ReviewApp) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/?token={app.token}"
