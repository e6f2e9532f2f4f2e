"""The match report of ``matchtag report``: one self-contained HTML file over a run's output.

The file needs no network: CSS and JavaScript are inline, plots are inline SVG, and
thumbnails are JPEG ``data:`` URIs.  Per video it shows the event timeline (one plot per
event type, one row per team), the events (a paged, sortable table with a thumbnail of
each event's peak frame, skeletons drawn), the tracks (time on screen, team), people per
frame over time, and what failed (the ``videos`` row's status and error, and the
``runs`` table's failures).

Size: the rows of the events and tracks tables are embedded as JSON and paged in the
browser; thumbnails are capped (:data:`THUMBS_PER_VIDEO` per video, :data:`THUMBS_TOTAL`
in all, each at most :data:`THUMB_MAX_BYTES`), and the people-per-frame plot has at most
:data:`SERIES_BINS` points, so the file grows only by about 100 bytes per event and per
track beyond a fixed bound (docs/review.md).
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pandas as pd
import pyarrow.compute as pc

from schemas.tables import PARTITION_COLUMN
from tagging import __version__
from tagging.core.hashing import sha256_file
from tagging.draw.frame import TEAM_RGB, UNKNOWN_TEAM_RGB, draw_poses
from tagging.tables.queries import frame_poses, read_table
from tagging.tables.store import table_dataset
from tagging.video.reader import VideoError, frames_at

THUMBS_PER_VIDEO = 100
THUMBS_TOTAL = 500
THUMB_W, THUMB_H = 160, 120           # pixels
THUMB_MAX_BYTES = 8000                # JPEG bytes, before base64
SERIES_BINS = 600
TIMELINE_W = 900                      # SVG user units (pixels at 100 %)
TEAMS = ("a", "b", "other", None)


def _team_name(team: str | None) -> str:
    return "unknown" if team is None else team


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#%02x%02x%02x" % rgb


TEAM_HEX = {**{t: _hex(c) for t, c in TEAM_RGB.items()}, None: _hex(UNKNOWN_TEAM_RGB)}


@dataclass
class VideoReport:
    """What the report holds for one video (for the command's summary and for tests)."""

    video_id: str
    status: str
    events: int = 0
    tracks: int = 0
    thumbnails: int = 0
    note: str | None = None        # why thumbnails are missing, when they are


@dataclass
class ReportResult:
    out: str
    bytes: int
    videos: list[VideoReport] = field(default_factory=list)
    runs: int = 0


def _frame_stats(tags_dir: str | Path, video_id: str, frame_count: int) -> tuple[np.ndarray, np.ndarray]:
    """People per frame (int64) and each frame's timestamp in ms (NaN for frames without
    poses), indexed by frame, streamed from the poses table in record batches."""
    counts = np.zeros(max(frame_count, 1), np.int64)
    stamps = np.full(len(counts), np.nan)
    scanner = table_dataset(tags_dir, "poses").scanner(
        columns=["frame_index", "timestamp_ms"], filter=pc.field(PARTITION_COLUMN) == video_id)
    for batch in scanner.to_batches():
        if batch.num_rows == 0:
            continue
        idx = batch.column(0).to_numpy()
        if idx.max() >= len(counts):   # more frames than the videos row says: grow
            grow = int(idx.max()) + 1 - len(counts)
            counts = np.concatenate([counts, np.zeros(grow, np.int64)])
            stamps = np.concatenate([stamps, np.full(grow, np.nan)])
        counts += np.bincount(idx, minlength=len(counts))
        stamps[idx] = batch.column(1).to_numpy()
    return counts, stamps


def _frame_at(stamps: np.ndarray, ms: float, fps: float) -> int:
    """The frame (with poses) nearest to ``ms``; from the frame rate when none has poses."""
    have = np.flatnonzero(~np.isnan(stamps))
    if len(have) == 0:
        return max(0, round(ms * (fps or 25) / 1000))
    return int(have[np.argmin(np.abs(stamps[have] - ms))])


def _crop_box(xyxy: np.ndarray | None, width: int, height: int) -> tuple[int, int, int, int]:
    """A THUMB_W:THUMB_H region around a player's box (1.6 times the box, for context),
    inside the frame; the whole frame without a box."""
    if xyxy is None:
        return 0, 0, width, height
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    h = max(1.6 * (y2 - y1), 1.6 * (x2 - x1) * THUMB_H / THUMB_W, 96.0)
    h = min(h, height, width * THUMB_H / THUMB_W)
    w = h * THUMB_W / THUMB_H
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left = int(round(min(max(0, cx - w / 2), width - w)))
    top = int(round(min(max(0, cy - h / 2), height - h)))
    return left, top, left + int(round(w)), top + int(round(h))


def _jpeg_uri(image_rgb: np.ndarray) -> str:
    """``image_rgb`` as a ``data:image/jpeg`` URI of at most THUMB_MAX_BYTES bytes of JPEG."""
    small = cv2.resize(image_rgb, (THUMB_W, THUMB_H), interpolation=cv2.INTER_AREA)
    for quality in (75, 60, 45, 30, 15):
        ok, buf = cv2.imencode(".jpg", small[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok and len(buf) <= THUMB_MAX_BYTES:
            return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode()
    return ""


def _thumbnails(tags_dir, video: dict, events: pd.DataFrame, stamps: np.ndarray, teams: dict,
                budget: int) -> dict[int, str]:
    """Thumbnails of the peak frames of the ``budget`` most confident events, keyed by the
    events' row positions.  Only those frames are decoded (seeking between them)."""
    chosen = events.sort_values(["confidence", "peak_ms"], ascending=[False, True]).head(budget)
    if chosen.empty:
        return {}
    peak_frames = {i: _frame_at(stamps, ms, video["fps"]) for i, ms in zip(chosen.index, chosen.peak_ms)}
    wanted = sorted(set(peak_frames.values()))
    rows = table_dataset(tags_dir, "poses").to_table(
        filter=(pc.field(PARTITION_COLUMN) == video[PARTITION_COLUMN]) & pc.field("frame_index").isin(wanted)
    ).to_pandas()
    by_frame = {f: frame_poses(g) for f, g in rows.groupby("frame_index")}
    drawn: dict[int, np.ndarray] = {}
    for frame in frames_at(video["path"], wanted):
        poses = by_frame.get(frame.index)
        drawn[frame.index] = frame.image if poses is None else draw_poses(frame.image, poses, teams=teams)
    out = {}
    for i, f in peak_frames.items():
        if f not in drawn:
            continue
        image = drawn[f]
        poses = by_frame.get(f)
        box = None
        if poses is not None:
            hit = np.flatnonzero(poses.track_id == int(events.loc[i, "track_id"]))
            box = poses.xyxy[hit[0]] if len(hit) else None
        x1, y1, x2, y2 = _crop_box(box, image.shape[1], image.shape[0])
        uri = _jpeg_uri(image[y1:y2, x1:x2])
        if uri:
            out[i] = uri
    return out


def _video_file_note(video: dict) -> str | None:
    """Why this video's frames cannot be shown, or None when its file is there unchanged."""
    path = video.get("path")
    if video["status"] == "failed":
        return "the video failed: no frames to show"
    if not path or not os.path.isfile(path):
        return f"video file not found at {path}: no thumbnails"
    if video.get("sha256") and sha256_file(path) != video["sha256"]:
        return f"{path} has changed since it was tagged (sha256 differs): no thumbnails"
    return None


def _nice_step(span: float, ticks: int = 8) -> float:
    raw = span / ticks
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    return next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)


def _clock(ms: float) -> str:
    s = ms / 1000
    return f"{int(s // 60)}:{s % 60:04.1f}" if s >= 60 else f"{s:.1f}s"


def _axis(t_end_ms: float, x0: float, width: float, y: float) -> str:
    """Time ticks along ``y``, from 0 to ``t_end_ms``."""
    step = _nice_step(max(t_end_ms, 1.0))
    parts = [f'<line x1="{x0}" y1="{y}" x2="{x0 + width}" y2="{y}" class="ax"/>']
    t = 0.0
    while t <= t_end_ms + 1e-9:
        x = x0 + width * t / max(t_end_ms, 1.0)
        parts.append(f'<line x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + 4}" class="ax"/>'
                     f'<text x="{x:.1f}" y="{y + 15}" class="tick">{_clock(t)}</text>')
        t += step
    return "".join(parts)


def timeline_svg(events: pd.DataFrame, teams: dict, t_end_ms: float, event_type: str) -> str:
    """One event type's timeline: a row per team; each event a bar from start to end and a
    tick at its peak.  One SVG path per row, so thousands of events stay small."""
    rows = [t for t in TEAMS if any(teams.get(int(k)) == t for k in events.track_id)]
    x0, width, row_h = 130.0, TIMELINE_W - 140.0, 18

    def x(ms):
        return x0 + width * min(max(float(ms), 0.0), t_end_ms) / max(t_end_ms, 1.0)

    parts = []
    for r, team in enumerate(rows):
        y = 6 + r * row_h
        sel = events[[teams.get(int(k)) == team for k in events.track_id]]
        d = "".join(f"M{x(s):.1f} {y + 9}H{max(x(e), x(s) + 1):.1f}M{x(p):.1f} {y + 2}v14"
                    for s, e, p in zip(sel.start_ms, sel.end_ms, sel.peak_ms))
        parts.append(f'<text x="0" y="{y + 13}" class="lab">team {_team_name(team)} ({len(sel)})</text>'
                     f'<path d="{d}" stroke="{TEAM_HEX[team]}" class="ev"/>')
    height = 6 + len(rows) * row_h
    parts.append(_axis(t_end_ms, x0, width, height + 2))
    return (f'<svg class="plot" viewBox="0 0 {TIMELINE_W} {height + 22}" role="img" '
            f'aria-label="{html.escape(event_type)} timeline">{"".join(parts)}</svg>')


def _stride(video: dict) -> int:
    """The run's ``--stride`` (frames processed: every stride-th from frame 0), from tagging_config."""
    try:
        return max(1, int(json.loads(video.get("tagging_config") or "{}").get("options", {}).get("stride") or 1))
    except (ValueError, TypeError, AttributeError):
        return 1


def processed_frames(counts: np.ndarray, stamps: np.ndarray, stride: int) -> np.ndarray:
    """Indices of the frames that went through pose inference, up to the last one with a
    pose: every ``stride``-th frame, plus any frame with a pose (so a wrong stride cannot
    hide one)."""
    have = ~np.isnan(stamps)
    if not have.any():
        return np.zeros(0, np.int64)
    last = int(np.flatnonzero(have).max())
    idx = np.arange(last + 1)
    return idx[(idx % stride == 0) | have[: last + 1]]


def people_svg(counts: np.ndarray, stamps: np.ndarray, frames: np.ndarray, fps: float, t_end_ms: float) -> str:
    """People per processed frame (``frames``) over time: the mean per time bin, and its
    min-max band."""
    if len(frames) == 0:
        return '<p class="muted">No poses.</p>'
    # Processed frames where nobody was found have no timestamp: it comes from the frame rate.
    times = np.where(np.isnan(stamps[frames]), frames * 1000.0 / (fps or 25), stamps[frames])
    values = counts[frames]
    bins = np.minimum((times / max(t_end_ms, 1.0) * SERIES_BINS).astype(int), SERIES_BINS - 1)
    n = np.bincount(bins, minlength=SERIES_BINS)
    used = np.flatnonzero(n)
    mean = (np.bincount(bins, weights=values, minlength=SERIES_BINS) / np.maximum(n, 1))[used]
    lo = np.full(SERIES_BINS, np.iinfo(np.int64).max)
    hi = np.zeros(SERIES_BINS, np.int64)
    np.minimum.at(lo, bins, values)
    np.maximum.at(hi, bins, values)
    lo, hi = lo[used], hi[used]
    x0, width, height = 130.0, TIMELINE_W - 140.0, 120.0
    top = max(1, int(hi.max()))
    xs = x0 + (used + 0.5) * width / SERIES_BINS

    def y(v):
        return 6 + height * (1 - v / top)

    band = " ".join(f"{x:.1f},{y(v):.1f}" for x, v in zip(xs, hi))
    band += " " + " ".join(f"{x:.1f},{y(v):.1f}" for x, v in zip(xs[::-1], lo[::-1]))
    line = " ".join(f"{x:.1f},{y(v):.1f}" for x, v in zip(xs, mean))
    return (f'<svg class="plot" viewBox="0 0 {TIMELINE_W} {height + 30}" role="img" aria-label="people per frame">'
            f'<polygon points="{band}" class="band"/><polyline points="{line}" class="line"/>'
            f'<text x="{x0 - 6}" y="12" class="lab" text-anchor="end">{top}</text>'
            f'<text x="{x0 - 6}" y="{height + 6}" class="lab" text-anchor="end">0</text>'
            f'{_axis(t_end_ms, x0, width, height + 8)}</svg>')


def _json_script(element_id: str, data) -> str:
    text = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def _fmt(v, digits: int = 2):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return round(float(v), digits) if isinstance(v, (float, np.floating)) else v


def _video_section(n: int, tags_dir, video: dict, budget: int, log) -> tuple[str, VideoReport]:
    vid = video[PARTITION_COLUMN]
    esc = html.escape
    in_video = pc.field(PARTITION_COLUMN) == vid
    events = table_dataset(tags_dir, "events").to_table(filter=in_video).to_pandas()
    events = events.sort_values(["peak_ms", "event_type"], kind="stable").reset_index(drop=True)
    tracks = table_dataset(tags_dir, "tracks").to_table(filter=in_video).to_pandas().sort_values("track_id")
    teams = {int(t): (None if pd.isna(v) else v) for t, v in zip(tracks.track_id, tracks.team)}
    fps = float(video["fps"] or 0.0)
    counts, stamps = _frame_stats(tags_dir, vid, int(video["frame_count"] or 0))
    report = VideoReport(vid, video["status"], events=len(events), tracks=len(tracks))
    thumbs: dict[int, str] = {}
    # Hashing the file costs a full read: only for videos that get thumbnails.
    report.note = _video_file_note(video) if budget > 0 and len(events) else None
    if report.note is None and budget > 0 and len(events):
        try:
            thumbs = _thumbnails(tags_dir, video, events, stamps, teams, budget)
        except VideoError as exc:
            report.note = f"{exc}: no thumbnails"
    report.thumbnails = len(thumbs)
    if len(events) > len(thumbs) and report.note is None and len(events):
        report.note = (f"thumbnails for the {len(thumbs)} most confident of {len(events)} events "
                       f"(at most {THUMBS_PER_VIDEO} per video, {THUMBS_TOTAL} per report)")
    if log is not None:
        log(f"report: {vid}: {len(events)} events, {len(tracks)} tracks, {len(thumbs)} thumbnails")

    have = ~np.isnan(stamps)
    t_end = max(float(video["duration_ms"] or 0.0), float(np.nanmax(stamps)) if have.any() else 0.0,
                float(events.end_ms.max()) if len(events) else 0.0)
    dt = float(np.median(np.diff(stamps[have]))) if have.sum() > 1 else (1000.0 / fps if fps else 0.0)

    status_cls = "ok" if video["status"] == "ok" else "bad"
    meta = [("status", f'<span class="{status_cls}">{esc(video["status"])}</span>'),
            ("file", esc(str(video["path"]))),
            ("size", f'{video["width"]}×{video["height"]}' if video["width"] else "–"),
            ("fps", f"{fps:.3g}" if fps else "–"),
            ("frames", f'{video["frames_processed"] or 0} processed of {video["frame_count"] or 0}'),
            ("duration", _clock(float(video["duration_ms"] or 0.0))),
            ("pose model", esc(str(video.get("pose_backend") or "–"))),
            ("run", esc(str(video.get("run_id") or "–")))]
    parts = [f'<section class="video" id="v{n}"><h2>{esc(vid)}</h2><dl>']
    parts += [f"<dt>{k}</dt><dd>{v}</dd>" for k, v in meta]
    parts.append("</dl>")
    if video.get("error"):
        parts.append(f'<p class="bad">Error: {esc(video["error"])}</p>')

    parts.append("<h3>Event timeline</h3>")
    if events.empty:
        parts.append('<p class="muted">No events tagged.</p>')
    for etype, group in events.groupby("event_type", sort=True):
        parts.append(f"<h4>{esc(str(etype))} ({len(group)})</h4>{timeline_svg(group, teams, t_end, str(etype))}")

    parts.append("<h3>Events</h3>")
    if report.note:
        parts.append(f'<p class="muted">{esc(report.note)}</p>')
    event_rows = [[_fmt(r.peak_ms / 1000), r.event_type, int(r.track_id), _team_name(teams.get(int(r.track_id))),
                   _fmt(r.confidence), _fmt(r.start_ms / 1000), _fmt(r.end_ms / 1000), r.model, thumbs.get(i, "")]
                  for i, r in enumerate(events.itertuples())]
    parts.append(f'<div class="pager" data-kind="events" data-rows="ev{n}"></div>{_json_script(f"ev{n}", event_rows)}')

    parts.append("<h3>Tracks</h3>")
    if not tracks.empty:
        team_rows = []
        for team in TEAMS:
            sel = tracks[[teams.get(int(k)) == team for k in tracks.track_id]]
            if len(sel):
                team_rows.append(f'<tr><td><span class="sw" style="background:{TEAM_HEX[team]}"></span>'
                                 f"{_team_name(team)}</td><td>{len(sel)}</td>"
                                 f"<td>{sel.frame_count.sum() * dt / 1000:.1f}</td></tr>")
        parts.append('<table class="small"><tr><th>team</th><th>tracks</th><th>player-seconds on screen</th></tr>'
                     + "".join(team_rows) + "</table>")
    track_rows = [[int(r.track_id), _team_name(teams.get(int(r.track_id))), _fmt(r.frame_count * dt / 1000, 1),
                   _fmt(r.first_ms / 1000), _fmt(r.last_ms / 1000), int(r.frame_count), _fmt(r.mean_score)]
                  for r in tracks.itertuples()]
    parts.append(f'<div class="pager" data-kind="tracks" data-rows="tr{n}"></div>{_json_script(f"tr{n}", track_rows)}')

    parts.append("<h3>People per frame</h3>")
    frames = processed_frames(counts, stamps, _stride(video))
    shown = counts[frames]
    if len(shown):
        parts.append(f'<p class="muted">mean {shown.mean():.1f}, median {np.median(shown):.0f}, '
                     f"max {shown.max()} over {len(shown)} processed frames; line: mean per time bin, "
                     "band: min to max</p>")
    parts.append(people_svg(counts, stamps, frames, fps, t_end))
    parts.append("</section>")
    return "".join(parts), report


def _runs_section(tags_dir) -> tuple[str, int]:
    if not (Path(tags_dir) / "runs").is_dir():
        return '<p class="muted">No runs table.</p>', 0
    runs = read_table(tags_dir, "runs").sort_values("started_at")
    esc = html.escape
    rows = []
    for r in runs.itertuples():
        failures = list(r.failures) if r.failures is not None else []
        fail = "<br>".join(esc(str(f)) for f in failures) or "none"
        rows.append(f"<tr><td>{esc(str(r.run_id))}</td><td>{esc(str(r.started_at))[:19]}</td><td>{esc(str(r.state))}</td>"
                    f"<td>{r.videos_ok}/{r.videos_partial}/{r.videos_failed}/{r.videos_skipped}</td>"
                    f"<td>{r.frames_decoded}</td><td>{r.events}</td>"
                    f'<td class="{"bad" if failures else ""}">{fail}</td></tr>')
    return ('<table class="small"><tr><th>run</th><th>started (UTC)</th><th>state</th>'
            "<th>videos ok/partial/failed/skipped</th><th>frames</th><th>events</th><th>failures</th></tr>"
            + "".join(rows) + "</table>"), len(runs)


def _asset(name: str) -> str:
    return resources.files("tagging.draw").joinpath(name).read_text()


def build_report(tags_dir: str | Path, out_path: str | Path, *, video_ids: list[str] | None = None,
                 log: Callable[[str], None] | None = None) -> ReportResult:
    """Write the HTML report of ``tags_dir`` (every video, or ``video_ids``) to ``out_path``.

    Raises ``FileNotFoundError`` naming the folder when ``tags_dir`` has no videos table,
    and ``ValueError`` for a ``video_ids`` entry that is not in it.
    """
    videos = table_dataset(tags_dir, "videos").to_table().to_pandas()
    videos = videos.sort_values(PARTITION_COLUMN).reset_index(drop=True)
    if video_ids:
        unknown = sorted(set(video_ids) - set(videos[PARTITION_COLUMN]))
        if unknown:
            raise ValueError(f"{tags_dir}: no video {', '.join(unknown)} in the videos table")
        videos = videos[videos[PARTITION_COLUMN].isin(video_ids)]
    esc = html.escape
    runs_html, n_runs = _runs_section(tags_dir)
    sections, reports, budget = [], [], THUMBS_TOTAL
    for n, video in enumerate(videos.to_dict("records")):
        video = {k: (None if not isinstance(v, str) and pd.isna(v) else v) for k, v in video.items()}
        section, rep = _video_section(n, tags_dir, video, min(THUMBS_PER_VIDEO, budget), log)
        budget -= rep.thumbnails
        sections.append(section)
        reports.append(rep)
    nav = "".join(f'<li><a href="#v{n}">{esc(r.video_id)}</a> <span class="{"ok" if r.status == "ok" else "bad"}">'
                  f"{esc(r.status)}</span> · {r.events} events · {r.tracks} tracks</li>"
                  for n, r in enumerate(reports))
    title = f"matchtag report: {Path(tags_dir).resolve().name}"
    page = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<link rel="icon" href="data:,">'
            f"<title>{esc(title)}</title><style>{_asset('report.css')}</style></head><body>"
            f"<header><h1>{esc(title)}</h1><p class=\"muted\">{esc(str(Path(tags_dir).resolve()))} · "
            f"{len(reports)} video(s) · matchtag {esc(__version__)} · events are candidates "
            "(the default event model learned from synthetic positives)</p></header>"
            f"<nav><ul>{nav}</ul></nav><section><h2>Runs and failures</h2>{runs_html}</section>"
            + "".join(sections)
            + f"<script>{_asset('report.js')}</script></body></html>")
    out_path = Path(out_path)
    tmp = out_path.with_name(f".{out_path.name}.partial-{os.getpid()}")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out_path)
    return ReportResult(out=str(out_path), bytes=out_path.stat().st_size, videos=reports, runs=n_runs)
