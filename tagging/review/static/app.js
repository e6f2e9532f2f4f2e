// matchtag review: the page half of tagging/review/app.py. Plain JavaScript, no build step.
"use strict";

const TEAM = { a: "#e62828", b: "#285aff", other: "#ffdc00" };
const UNKNOWN = "#aaaaaa";
const WINDOW_MS = 10000;          // poses are fetched 10 s at a time
const ADD_HALF_MS = 600;          // an added event spans its peak +- 0.6 s until [ and ] say otherwise
const KEYS = [
  ["Space", "play / pause"],
  ["← / →", "one frame back / forward"],
  ["Shift+← / →", "one second back / forward"],
  ["J / K", "next / previous event (jumps to its peak)"],
  ["C or Enter", "confirm the selected event"],
  ["X", "reject the selected event"],
  ["click a skeleton", "pick that player"],
  ["1 … 9", "add an event of that type at this moment, for the picked player"],
  ["N", "new event type (named on the spot), then added like 1 … 9"],
  ["Shift+1 … 9", "change the selected event's type"],
  ["G", "give the selected event to the picked player"],
  ["P", "peak of the selected event = this moment"],
  ["[ / ]", "start / end of the selected event = this moment"],
  ["Delete", "remove the selected event (an added one) or undo its review"],
  ["B / E", "begin / end a reviewed stretch here (unlabelled time inside it is background)"],
  ["W", "mark the whole video reviewed"],
  ["Shift+T", "train a model on the labels"],
  ["?", "this help"], ["Esc", "close help / drop the picked player"],
];

const $ = (sel) => document.querySelector(sel);
const state = {
  videos: [], skeleton: [], types: [], reviewer: "", video: null, offsetMs: 0,
  candidates: [], labels: new Map(), stretches: [], items: [], selected: -1,
  picked: null, poses: new Map(), pending: 0, stretchStart: null, frame: null,
};
const video = $("#video");
const canvas = $("#overlay");
const ctx = canvas.getContext("2d");

function setStatus(text, bad) {
  const s = $("#status");
  s.textContent = text;
  s.style.color = bad ? "#f88" : "";
}

async function api(path, body) {
  const opts = body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" },
                                           body: JSON.stringify(body) };
  const res = await fetch(path, opts);
  const data = await res.json().catch(() => ({}));
  return { status: res.status, data };
}

// -- time ----------------------------------------------------------------------------------------
const tableMs = () => video.currentTime * 1000 + state.offsetMs;
const frameMs = () => 1000 / (state.video && state.video.fps ? state.video.fps : 25);
function seekMs(ms) {
  video.pause();
  video.currentTime = Math.max(0, (ms - state.offsetMs) / 1000);
}
const fmt = (ms) => (ms / 1000).toFixed(2) + " s";

// -- videos ----------------------------------------------------------------------------------------
async function loadVideos() {
  const { status, data } = await api("/api/videos");
  if (status !== 200) { setStatus(data.error || "cannot list videos", true); return; }
  state.videos = data.videos; state.skeleton = data.skeleton;
  state.types = JSON.parse(localStorage.getItem("matchtag.types") || "null") || data.types;
  for (const t of data.types) if (!state.types.includes(t)) state.types.push(t);
  state.reviewer = localStorage.getItem("matchtag.reviewer") || data.reviewer;
  $("#reviewer").value = state.reviewer;
  const nav = $("#videos");
  nav.textContent = "";
  for (const v of state.videos) {
    const a = document.createElement("a");
    a.href = "#" + encodeURIComponent(v.video_id);
    a.textContent = v.video_id;
    a.dataset.video = v.video_id;
    a.title = v.path + " (" + v.status + ")";
    if (v.status === "failed") a.className = "failed";
    a.addEventListener("click", (e) => { e.preventDefault(); openVideo(v.video_id); });
    nav.appendChild(a);
  }
  renderTypes();
  const wanted = decodeURIComponent(location.hash.slice(1));
  const first = state.videos.find((v) => v.video_id === wanted) || state.videos.find((v) => v.status !== "failed");
  if (first) openVideo(first.video_id); else setStatus("no video to review");
}

async function openVideo(id) {
  state.video = state.videos.find((v) => v.video_id === id);
  state.poses = new Map(); state.picked = null; state.selected = -1; state.stretchStart = null;
  history.replaceState(null, "", "#" + encodeURIComponent(id));
  for (const a of document.querySelectorAll("nav#videos a")) a.classList.toggle("current", a.dataset.video === id);
  setStatus("preparing " + id + " (a video the browser cannot play is converted once)…");
  const info = await api("/api/media_info?video=" + encodeURIComponent(id));
  if (info.status !== 200) { setStatus(info.data.error || "cannot open the video", true); return; }
  state.offsetMs = info.data.offset_ms;
  await reloadEvents();
  video.addEventListener("loadedmetadata", () => {
    canvas.width = video.videoWidth; canvas.height = video.videoHeight;
    setStatus(id + ": " + state.video.width + "×" + state.video.height + ", " +
              (state.video.fps || 0).toFixed(2) + " fps");
    document.body.dataset.ready = id;
    draw();
  }, { once: true });
  video.addEventListener("error", () => {
    setStatus(id + ": the browser cannot play this video (" + (video.error ? video.error.message || video.error.code : "?") +
              ")", true);
  }, { once: true });
  video.src = "/media/" + encodeURIComponent(id);
}

async function reloadEvents() {
  const { status, data } = await api("/api/events?video=" + encodeURIComponent(state.video.video_id));
  if (status !== 200) { setStatus(data.error || "cannot read events", true); return; }
  state.candidates = data.candidates;
  state.labels = new Map(data.labels.map((l) => [l.label_id, l]));
  state.stretches = data.stretches.filter((s) => s.status !== "deleted");
  for (const l of data.labels) if (l.status !== "deleted" && !state.types.includes(l.event_type)) state.types.push(l.event_type);
  renderTypes();
  rebuildItems();
}

// -- events list -----------------------------------------------------------------------------------
const candKey = (c) => [c.model, c.event_type, c.track_id, Number(c.peak_ms).toFixed(1)].join(":");

function rebuildItems() {
  const keep = state.selected >= 0 ? state.items[state.selected] : null;
  const byCand = new Map();
  for (const l of state.labels.values()) if (l.candidate) byCand.set(l.candidate, l);
  const items = state.candidates.map((c) => ({ cand: c, key: candKey(c), label: byCand.get(candKey(c)) || null }));
  for (const l of state.labels.values()) {
    if (!l.candidate && l.status !== "deleted") items.push({ cand: null, key: "label:" + l.label_id, label: l });
  }
  items.sort((a, b) => Number(view(a).peak_ms) - Number(view(b).peak_ms));
  state.items = items;
  state.selected = keep ? items.findIndex((i) => i.key === keep.key) : -1;
  renderEvents();
}

// What the analyst sees of an item: his label when there is one, else the candidate.
function view(item) {
  const l = item.label && item.label.status !== "deleted" ? item.label : null;
  const src = l || item.cand;
  return { event_type: src.event_type, track_id: src.track_id === "" ? null : src.track_id,
           start_ms: Number(src.start_ms), end_ms: Number(src.end_ms), peak_ms: Number(src.peak_ms),
           confidence: item.cand ? item.cand.confidence : null,
           status: l ? (l.status === "rejected" ? "rejected" : (item.cand ? "confirmed" : "added")) : "candidate" };
}

function renderEvents() {
  const body = $("#events tbody");
  body.textContent = "";
  let done = 0;
  state.items.forEach((item, i) => {
    const v = view(item);
    if (v.status !== "candidate") done++;
    const tr = document.createElement("tr");
    tr.className = (v.status === "added" ? "confirmed" : v.status) + (i === state.selected ? " selected" : "");
    tr.dataset.index = i;
    tr.dataset.status = v.status;
    tr.dataset.type = v.event_type;
    for (const text of [fmt(v.peak_ms), v.event_type, v.track_id === null ? "?" : "#" + v.track_id,
                        v.confidence === null ? "" : Number(v.confidence).toFixed(2), v.status]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    }
    tr.addEventListener("click", () => select(i, true));
    body.appendChild(tr);
  });
  $("#counts").textContent = done + " of " + state.items.length + " reviewed";
  const row = body.querySelector("tr.selected");
  if (row) row.scrollIntoView({ block: "nearest" });
  const s = state.stretches.map((x) => fmt(Number(x.start_ms)) + "–" + fmt(Number(x.end_ms))).join(", ");
  $("#stretch").textContent = (state.stretchStart !== null ? "stretch from " + fmt(state.stretchStart) + "… " : "") +
    (s ? "reviewed: " + s : "");
  draw();
}

function select(i, seek) {
  if (i < 0 || i >= state.items.length) return;
  state.selected = i;
  if (seek) seekMs(view(state.items[i]).peak_ms);
  renderEvents();
}

// -- saving ----------------------------------------------------------------------------------------
async function save(table, changes) {
  state.pending++;
  setStatus("saving…");
  try {
    const { status, data } = await api("/api/" + table, { changes, reviewer: state.reviewer });
    if (status === 409) {
      setStatus("changed in another tab or by another reviewer: reloaded, please redo", true);
      await reloadEvents();
      return null;
    }
    if (status !== 200) { setStatus("not saved: " + (data.error || status), true); return null; }
    if (table === "labels") for (const l of data.saved) state.labels.set(l.label_id, l);
    else await reloadEvents();
    setStatus("saved " + data.saved.length + " change(s) at " + new Date().toLocaleTimeString());
    document.body.dataset.saved = String(Number(document.body.dataset.saved || 0) + 1);
    rebuildItems();
    return data.saved;
  } catch (e) {
    setStatus("not saved (server unreachable): " + e, true);
    return null;
  } finally {
    state.pending--;
  }
}

// A change to an item: its label updated, or a new label made from its candidate.
function labelChange(item, fields) {
  const v = view(item);
  const base = item.label ? { label_id: item.label.label_id, revision: item.label.revision } : {};
  return Object.assign(base, { video_id: state.video.video_id, event_type: v.event_type,
    start_ms: v.start_ms, end_ms: v.end_ms, peak_ms: v.peak_ms, track_id: v.track_id === null ? "" : v.track_id,
    status: "confirmed", candidate: item.cand ? candKey(item.cand) : "" }, fields);
}

function current() { return state.selected >= 0 ? state.items[state.selected] : null; }

function edit(fields) {
  const item = current();
  if (!item) { setStatus("select an event first (J/K or click one)", true); return; }
  const change = labelChange(item, fields);
  if (Number(change.start_ms) > Number(change.peak_ms)) change.start_ms = change.peak_ms;
  if (Number(change.end_ms) < Number(change.peak_ms)) change.end_ms = change.peak_ms;
  save("labels", [change]);
}

function addEvent(type) {
  if (state.picked === null) { setStatus("pause, then click a skeleton to pick the player first", true); return; }
  video.pause();
  const peak = tableMs();
  const start = Math.max(0, peak - ADD_HALF_MS);
  save("labels", [{ video_id: state.video.video_id, event_type: type, start_ms: start, end_ms: peak + ADD_HALF_MS,
                    peak_ms: peak, track_id: state.picked, status: "confirmed", candidate: "" }]).then((saved) => {
    if (saved && saved.length) {
      const i = state.items.findIndex((it) => it.key === "label:" + saved[0].label_id);
      if (i >= 0) { state.selected = i; renderEvents(); }
    }
  });
}

function remove() {
  const item = current();
  if (!item || !item.label) return;
  save("labels", [labelChange(item, { status: "deleted", event_type: item.label.event_type })]);
}

function newType(andAdd) {
  const name = (prompt("New event type (letters, digits, _):") || "").trim().replace(/\s+/g, "_");
  if (!name) return;
  if (!/^[A-Za-z0-9_\-]+$/.test(name)) { setStatus("type names: letters, digits, _ and -", true); return; }
  if (!state.types.includes(name)) state.types.push(name);
  localStorage.setItem("matchtag.types", JSON.stringify(state.types));
  renderTypes();
  if (andAdd) addEvent(name);
}

function renderTypes() {
  const box = $("#types");
  box.textContent = "";
  state.types.slice(0, 9).forEach((t, i) => {
    const s = document.createElement("span");
    s.innerHTML = "<kbd>" + (i + 1) + "</kbd> ";
    s.appendChild(document.createTextNode(t));
    box.appendChild(s);
  });
  const n = document.createElement("span");
  n.innerHTML = "<kbd>N</kbd> new type";
  box.appendChild(n);
}

function markStretch(start, end) {
  if (end <= start) { setStatus("a reviewed stretch must end after it starts", true); return; }
  save("stretches", [{ video_id: state.video.video_id, start_ms: start, end_ms: end }]);
}

// -- poses and drawing ----------------------------------------------------------------------------
async function posesAt(ms) {
  const w = Math.floor(Math.max(0, ms) / WINDOW_MS);
  if (!state.poses.has(w)) {
    const id = state.video.video_id;
    state.poses.set(w, api("/api/poses?video=" + encodeURIComponent(id) + "&start_ms=" + w * WINDOW_MS +
                           "&end_ms=" + (w + 1) * WINDOW_MS).then((r) => (r.status === 200 ? r.data.frames : [])));
    if (state.poses.size > 12) state.poses.delete(state.poses.keys().next().value);
  }
  const frames = await state.poses.get(w);
  let best = null;
  for (const f of frames) if (!best || Math.abs(f.t - ms) < Math.abs(best.t - ms)) best = f;
  return best && Math.abs(best.t - ms) <= 0.6 * frameMs() ? best : null;
}

async function draw() {
  if (!state.video || !canvas.width) return;
  const ms = tableMs();
  const frame = await posesAt(ms);
  state.frame = frame;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const lw = Math.max(1.5, canvas.width / 640);
  const sel = current() ? view(current()) : null;
  ctx.font = Math.round(11 * lw) + "px sans-serif";
  for (const p of frame ? frame.people : []) {
    const colour = p.track < 0 ? UNKNOWN : (TEAM[p.team] || UNKNOWN);
    const picked = state.picked !== null && p.track === state.picked;
    const inEvent = sel && sel.track_id !== null && Number(sel.track_id) === p.track &&
      ms >= sel.start_ms - 1000 && ms <= sel.end_ms + 1000;
    ctx.strokeStyle = colour;
    ctx.lineWidth = picked ? 3 * lw : lw;
    for (const [a, b] of state.skeleton) {
      const ka = p.kps.slice(3 * a, 3 * a + 3), kb = p.kps.slice(3 * b, 3 * b + 3);
      if (ka[2] < 0.2 || kb[2] < 0.2) continue;
      ctx.beginPath(); ctx.moveTo(ka[0], ka[1]); ctx.lineTo(kb[0], kb[1]); ctx.stroke();
    }
    const [x1, y1, x2, y2] = p.box;
    ctx.setLineDash(inEvent ? [6, 4] : []);
    ctx.lineWidth = picked || inEvent ? 2 * lw : 0.7 * lw;
    ctx.strokeStyle = picked ? "#ffffff" : colour;
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    ctx.setLineDash([]);
    if (p.track >= 0) {
      const text = "#" + p.track + (inEvent ? " " + sel.event_type : "");
      ctx.fillStyle = colour;
      ctx.fillRect(x1, y1 - 14 * lw, ctx.measureText(text).width + 6, 14 * lw);
      ctx.fillStyle = colour === TEAM.b || colour === TEAM.a ? "#fff" : "#000";
      ctx.fillText(text, x1 + 3, y1 - 3 * lw);
    }
  }
  const f = Math.round(video.currentTime * (state.video.fps || 25));
  $("#clock").textContent = fmt(ms) + "  frame ≈ " + f + (frame ? "  (" + frame.people.length + " people)" : "");
}

function pick(ev) {
  const r = canvas.getBoundingClientRect();
  const x = (ev.clientX - r.left) * canvas.width / r.width, y = (ev.clientY - r.top) * canvas.height / r.height;
  let best = null, bestD = Infinity;
  for (const p of state.frame ? state.frame.people : []) {
    if (p.track < 0) continue;
    const [x1, y1, x2, y2] = p.box;
    const pad = 0.15 * (x2 - x1);
    const inside = x >= x1 - pad && x <= x2 + pad && y >= y1 - pad && y <= y2 + pad;
    const d = Math.hypot(x - (x1 + x2) / 2, y - (y1 + y2) / 2);
    if (inside && d < bestD) { best = p; bestD = d; }
  }
  state.picked = best ? best.track : null;
  const el = $("#picked");
  el.textContent = best ? "player #" + best.track + " picked: press 1–9 or N to add an event, G to give the selected one"
                        : "no player picked (click a skeleton)";
  el.classList.toggle("on", !!best);
  el.dataset.track = best ? best.track : "";
  draw();
}

// -- training -------------------------------------------------------------------------------------
async function train() {
  const box = $("#train");
  box.hidden = false;
  const { status, data } = await api("/api/train", { classifier: "auto" });
  if (status !== 202) { box.textContent = "training not started: " + (data.error || status); return; }
  const poll = async () => {
    const r = await api("/api/train");
    showTraining(r.data);
    if (r.data.state === "running") setTimeout(poll, 1000);
  };
  poll();
}

function showTraining(s) {
  const box = $("#train");
  box.textContent = "";
  box.dataset.state = s.state;
  const head = document.createElement("div");
  head.textContent = "training: " + s.state + (s.error ? " – " + s.error : "");
  box.appendChild(head);
  const last = document.createElement("div");
  last.textContent = (s.progress || []).slice(-1)[0] || "";
  box.appendChild(last);
  const r = s.result;
  if (!r) return;
  const p = document.createElement("div");
  p.textContent = "model " + r.model_name + " (" + r.classifier + ", " + r.classes.join(", ") + ") → " +
    r.model_path + "; trained on " + r.train_videos.join(", ") + (r.note ? "; " + r.note : "");
  box.appendChild(p);
  const classes = [...new Set([...Object.keys(r.ap_new), ...Object.keys(r.ap_old)])].sort();
  if (!classes.length) return;
  const t = document.createElement("table");
  t.innerHTML = "<tr><th>held-out AP (" + r.heldout_videos.join(", ") + ")</th><th>new</th><th>old: " +
    r.old_model + "</th></tr>";
  for (const c of classes) {
    const tr = document.createElement("tr");
    for (const text of [c, r.ap_new[c], r.ap_old[c]]) {
      const td = document.createElement("td");
      td.textContent = typeof text === "number" ? text.toFixed(3) : (text === undefined ? "–" : text);
      tr.appendChild(td);
    }
    t.appendChild(tr);
  }
  box.appendChild(t);
}

// -- keyboard -------------------------------------------------------------------------------------
function help(show) {
  $("#help").hidden = !show;
}

function onKey(e) {
  if (e.target.tagName === "INPUT" || e.ctrlKey || e.metaKey || e.altKey) return;
  if (!state.video) return;
  const k = e.key;
  const digit = /^Digit[1-9]$/.test(e.code) ? Number(e.code.slice(5)) : 0;
  let handled = true;
  if (k === " ") { if (video.paused) video.play(); else video.pause(); }
  else if (k === "ArrowRight" || k === "ArrowLeft") {
    video.pause();
    const step = e.shiftKey ? 1 : 1 / (state.video.fps || 25);
    video.currentTime = Math.max(0, video.currentTime + (k === "ArrowRight" ? step : -step));
  }
  else if (digit && e.shiftKey) { const t = state.types[digit - 1]; if (t) edit({ event_type: t }); }
  else if (digit) { const t = state.types[digit - 1]; if (t) addEvent(t); }
  else if (k === "j" || k === "J") select(Math.min(state.items.length - 1, state.selected + 1), true);
  else if (k === "k" || k === "K") select(Math.max(0, state.selected - 1), true);
  else if (k === "c" || k === "C" || k === "Enter") edit({ status: "confirmed" });
  else if (k === "x" || k === "X") edit({ status: "rejected" });
  else if (k === "g" || k === "G") {
    if (state.picked === null) setStatus("click a skeleton to pick the player first", true);
    else edit({ track_id: state.picked });
  }
  else if (k === "p" || k === "P") edit({ peak_ms: tableMs() });
  else if (k === "[") edit({ start_ms: tableMs() });
  else if (k === "]") edit({ end_ms: tableMs() });
  else if (k === "Delete" || k === "Backspace") remove();
  else if (k === "n" || k === "N") newType(true);
  else if (k === "b" || k === "B") { state.stretchStart = tableMs(); renderEvents(); }
  else if (k === "e" || k === "E") {
    if (state.stretchStart === null) setStatus("press B where the stretch begins first", true);
    else { markStretch(state.stretchStart, tableMs()); state.stretchStart = null; }
  }
  else if (k === "w" || k === "W") {
    markStretch(state.offsetMs, state.offsetMs + Math.max(video.duration * 1000, Number(state.video.duration_ms) || 0));
  }
  else if (k === "T" && e.shiftKey) train();
  else if (k === "?") help(true);
  else if (k === "Escape") { help(false); state.picked = null; pick({ clientX: -1e9, clientY: -1e9 }); }
  else handled = false;
  if (handled) e.preventDefault();
}

function init() {
  const keys = $("#help-keys");
  for (const [k, what] of KEYS) {
    const tr = document.createElement("tr");
    const a = document.createElement("td"), b = document.createElement("td");
    a.innerHTML = "<kbd></kbd>"; a.firstChild.textContent = k; b.textContent = what;
    tr.append(a, b); keys.appendChild(tr);
  }
  document.addEventListener("keydown", onKey);
  canvas.addEventListener("click", pick);
  $("#play").addEventListener("click", () => (video.paused ? video.play() : video.pause()));
  $("#back").addEventListener("click", () => onKey({ key: "ArrowLeft", target: document.body, code: "", preventDefault() {} }));
  $("#fwd").addEventListener("click", () => onKey({ key: "ArrowRight", target: document.body, code: "", preventDefault() {} }));
  $("#train-btn").addEventListener("click", train);
  $("#help-btn").addEventListener("click", () => help(true));
  $("#help-close").addEventListener("click", () => help(false));
  $("#reviewer").addEventListener("change", (e) => {
    state.reviewer = e.target.value.trim();
    localStorage.setItem("matchtag.reviewer", state.reviewer);
  });
  window.addEventListener("beforeunload", (e) => { if (state.pending) { e.preventDefault(); e.returnValue = ""; } });
  for (const ev of ["seeked", "timeupdate", "pause"]) video.addEventListener(ev, draw);
  const tick = () => { if (!video.paused) draw(); requestAnimationFrame(tick); };
  if ("requestVideoFrameCallback" in HTMLVideoElement.prototype) {
    const onFrame = () => { draw(); video.requestVideoFrameCallback(onFrame); };
    video.requestVideoFrameCallback(onFrame);
  } else requestAnimationFrame(tick);
  loadVideos();
}

init();
