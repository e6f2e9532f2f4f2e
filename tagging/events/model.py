"""The trained event model: window classifier, peak picking, skops files.

A scikit-learn :class:`~sklearn.pipeline.Pipeline` (median imputer, standard
scaler, multi-layer perceptron) scores every 50 ms grid step of a track (features from
:mod:`tagging.events.features`) with a probability per class.  Events come from the
per-class probability curves by peak picking with temporal non-maximum suppression
(:func:`pick_peaks`): local maxima above the class threshold, strongest first, none
within ``nms_ms`` of a stronger one.  An event's ``start_ms``/``end_ms`` are where
the curve around the peak falls below half the peak (and below the threshold),
``peak_ms`` is the maximum, ``confidence`` its probability.

Training labels frames, not windows: a grid step within ``positive_radius_ms`` of a
labelled event's peak is that event's class, the rest of the labelled
``[start_ms, end_ms]`` is left out of training (neither positive nor background),
everything else is background.  The model then learns to peak at the moment an
analyst would spot.

Model files are skops archives (no pickle): the pipeline, the classes, the
:data:`~tagging.events.features.FEATURE_VERSION`, the feature and peak-picking settings, a
model name (written to ``events.model``) and the library versions it was trained
with.  Loading checks every type in the file against an allow-list, and refuses a
file made for another feature version.
"""

from __future__ import annotations

import hashlib
import platform
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from tagging.core.types import Event
from tagging.events.features import (FEATURE_VERSION, FeatureConfig, TrackFeatures, feature_names,
                                     iter_track_features, track_features)

BACKGROUND = "background"
DEFAULT_MODEL_PATH = Path(__file__).parent / "data" / "events_default.skops"
FORMAT = "matchtag-events-model-1"

# Every type a matchtag event model may contain; anything else in a file is refused.
TRUSTED_TYPES = [
    "sklearn.pipeline.Pipeline",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
    "sklearn.preprocessing._label.LabelBinarizer",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "numpy.dtype",
    "builtins.slice",
    "collections.OrderedDict",
]


class EventModelError(ValueError):
    """A model file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class PeakConfig:
    """Peak picking per class: emission threshold, NMS radius and smoothing."""

    threshold: dict = field(default_factory=lambda: {"throw_in": 0.5, "kick": 0.5, "jump": 0.5,
                                                     "fall": 0.5, "celebration": 0.5})
    nms_ms: dict = field(default_factory=lambda: {"throw_in": 2000.0, "kick": 1000.0, "jump": 1000.0,
                                                  "fall": 2000.0, "celebration": 3000.0})
    default_threshold: float = 0.5
    default_nms_ms: float = 1500.0
    smooth_steps: int = 3          # moving average over grid steps before peak picking
    # half-width (grid steps) of the plateau whose centre is the peak time; 8 (400 ms)
    # chosen over 4 and 12 on a validation set of training views (seed 31337), see docs/events.md
    plateau_steps: int = 8

    def thr(self, c: str) -> float:
        return float(self.threshold.get(c, self.default_threshold))

    def nms(self, c: str) -> float:
        return float(self.nms_ms.get(c, self.default_nms_ms))


@dataclass(frozen=True)
class TrainConfig:
    positive_radius_ms: float = 200.0
    background_keep: float = 0.35      # share of background grid steps kept (they are plentiful)
    hidden_layers: tuple = (128, 64)
    alpha: float = 1e-3
    max_iter: int = 300
    seed: int = 0
    # "mlp", or "few-shot": class-balanced logistic regression over the same window
    # features, for classes with tens of labelled examples (docs/review.md: the curve)
    classifier: str = "mlp"
    few_shot_c: float = 0.1            # inverse L2 strength: strong, as few examples overfit


@dataclass
class EventModel:
    pipeline: object
    classes: list[str]
    name: str
    feature_config: FeatureConfig = field(default_factory=FeatureConfig)
    peak_config: PeakConfig = field(default_factory=PeakConfig)
    feature_version: str = FEATURE_VERSION
    versions: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ scoring
    def score_track(self, timestamps_ms: np.ndarray, keypoints: np.ndarray, context: np.ndarray | None = None
                    ) -> tuple[TrackFeatures, np.ndarray]:
        """(features, probabilities (G, n_classes)) of one track on the feature grid;
        ``context`` (T, CONTEXT_DIM) ball and pitch context, None = unknown."""
        tf = track_features(timestamps_ms, keypoints, self.feature_config, context)
        if len(tf.grid_ms) == 0:
            return tf, np.zeros((0, len(self.classes)))
        return tf, self.pipeline.predict_proba(tf.X)

    def score_grid(self, timestamps_ms: np.ndarray, keypoints: np.ndarray, context: np.ndarray | None = None,
                   max_rows: int = 2048) -> tuple[TrackFeatures, np.ndarray]:
        """:meth:`score_track` without keeping the features (``X`` is empty): they are made
        and scored ``max_rows`` grid steps at a time, so a full-match track costs the same
        memory as a short one; the probabilities are identical."""
        grid, seg, proba = [], [], []
        for chunk in iter_track_features(timestamps_ms, keypoints, self.feature_config, context, max_rows):
            grid.append(chunk.grid_ms)
            seg.append(chunk.segment)
            proba.append(self.pipeline.predict_proba(chunk.X))
        no_x = np.empty((0, len(feature_names())), np.float32)
        if not grid:
            return TrackFeatures(np.empty(0), no_x, np.empty(0, np.int64)), np.zeros((0, len(self.classes)))
        return TrackFeatures(np.concatenate(grid), no_x, np.concatenate(seg)), np.concatenate(proba)

    def detect(self, track_id: int, timestamps_ms: np.ndarray, keypoints: np.ndarray,
               context: np.ndarray | None = None) -> list[Event]:
        tf, proba = self.score_grid(timestamps_ms, keypoints, context)
        events = []
        for ci, c in enumerate(self.classes):
            if c == BACKGROUND:
                continue
            for s in np.unique(tf.segment):
                m = tf.segment == s
                for pk, st, en, conf in pick_peaks(tf.grid_ms[m], proba[m, ci], self.peak_config.thr(c),
                                                   self.peak_config.nms(c), self.peak_config.smooth_steps,
                                                   self.peak_config.plateau_steps):
                    events.append(Event(c, int(track_id), st, en, pk, float(conf), self.name))
        return events

    def tag_events(self, sequences: dict[int, tuple]) -> list[Event]:
        """Events of every track (``{track_id: (timestamps_ms, keypoints[, context])}``), sorted by time."""
        events: list[Event] = []
        for tid, seq in sorted(sequences.items()):
            events.extend(self.detect(tid, *seq))
        return sorted(events, key=lambda e: (e.start_ms, e.track_id, e.event_type))

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path) -> Path:
        import skops.io as sio

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"format": FORMAT, "pipeline": self.pipeline, "classes": list(self.classes), "name": self.name,
               "feature_version": self.feature_version, "feature_config": asdict(self.feature_config),
               "peak_config": {"threshold": dict(self.peak_config.threshold),
                               "nms_ms": dict(self.peak_config.nms_ms),
                               "default_threshold": self.peak_config.default_threshold,
                               "default_nms_ms": self.peak_config.default_nms_ms,
                               "smooth_steps": self.peak_config.smooth_steps,
                               "plateau_steps": self.peak_config.plateau_steps},
               "versions": dict(self.versions), "training": dict(self.training)}
        sio.dump(doc, path, compression=zipfile.ZIP_DEFLATED, compresslevel=9)
        return path


def library_versions() -> dict[str, str]:
    import scipy
    import sklearn
    import skops

    from tagging import __version__
    return {"matchtag": __version__, "scikit-learn": sklearn.__version__, "numpy": np.__version__,
            "scipy": scipy.__version__, "skops": skops.__version__, "python": platform.python_version()}


def load_event_model(path: str | Path) -> EventModel:
    """Load a skops event model file; :class:`EventModelError` naming ``path`` if unusable."""
    import skops.io as sio

    path = Path(path)
    if not path.is_file():
        raise EventModelError(f"{path}: event model file not found")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:
        raise EventModelError(f"{path}: not a readable skops model file ({type(exc).__name__}: {exc})") from None
    bad = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if bad:
        raise EventModelError(f"{path}: refusing to load: the file contains types that a matchtag event model "
                              f"never contains (tampered or not a matchtag model): {', '.join(bad)}")
    try:
        doc = sio.load(path, trusted=[t for t in untrusted])
    except Exception as exc:
        raise EventModelError(f"{path}: cannot load the model ({type(exc).__name__}: {exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise EventModelError(f"{path}: not a matchtag event model (expected format {FORMAT!r})")
    missing = [k for k in ("pipeline", "classes", "name", "feature_version") if k not in doc]
    if missing:
        raise EventModelError(f"{path}: damaged matchtag event model: missing {', '.join(missing)}")
    fv = doc.get("feature_version")
    if fv != FEATURE_VERSION:
        raise EventModelError(
            f"{path}: model was trained on features {fv!r} but this matchtag computes {FEATURE_VERSION!r}; "
            "retrain it with `matchtag train` (or python bench/train_default_events_model.py for the default)")
    pc = doc.get("peak_config", {})
    model = EventModel(pipeline=doc["pipeline"], classes=list(doc["classes"]), name=str(doc["name"]),
                       feature_config=FeatureConfig(**doc.get("feature_config", {})),
                       peak_config=PeakConfig(**pc), feature_version=fv, versions=dict(doc.get("versions", {})),
                       training=dict(doc.get("training", {})))
    est_classes = [str(c) for c in getattr(model.pipeline, "classes_", [])]
    if est_classes != model.classes:
        raise EventModelError(f"{path}: classes {model.classes} do not match the classifier's {est_classes}")
    return model


def resolve_events_model(spec: str | None):
    """The event tagger named by ``spec``: ``rules`` -> the Law-15 throw-in rule;
    ``default``/None -> the shipped model; else a model file.  Each has ``name`` and
    ``tag_events(sequences)``."""
    if spec == "rules":
        from tagging.events.law15_rule import ThrowInRule

        return ThrowInRule()
    if spec in (None, "", "default"):
        return load_event_model(DEFAULT_MODEL_PATH)
    return load_event_model(spec)


# ---------------------------------------------------------------------- peaks

def pick_peaks(grid_ms: np.ndarray, score: np.ndarray, threshold: float, nms_ms: float,
               smooth_steps: int = 1, plateau_steps: int = 8) -> list[tuple[float, float, float, float]]:
    """Events ``(peak_ms, start_ms, end_ms, confidence)`` from one score curve.

    Local maxima of the (moving-average smoothed) curve at or above ``threshold``,
    taken strongest first; a maximum within ``nms_ms`` of an accepted one is
    suppressed.  The extent runs out from the peak while the curve stays at or above
    ``min(threshold, peak / 2)``; the peak time is the score-weighted centre of the
    samples around the maximum within 10 % of it and ``plateau_steps`` of it (a
    saturated plateau's centre).
    """
    s = np.asarray(score, np.float64)
    t = np.asarray(grid_ms, np.float64)
    if len(s) == 0:
        return []
    if smooth_steps > 1 and len(s) >= smooth_steps:
        s = np.convolve(np.pad(s, (smooth_steps // 2, smooth_steps - 1 - smooth_steps // 2), mode="edge"),
                        np.ones(smooth_steps) / smooth_steps, mode="valid")
    left = np.concatenate([[-np.inf], s[:-1]])
    right = np.concatenate([s[1:], [-np.inf]])
    cand = np.nonzero((s >= threshold) & (s >= left) & (s > right))[0]
    out, taken = [], []
    for i in sorted(cand, key=lambda j: -s[j]):
        if any(abs(t[i] - t[j]) < nms_ms for j in taken):
            continue
        taken.append(i)
        floor = min(threshold, s[i] / 2)
        a = i
        while a > 0 and s[a - 1] >= floor:
            a -= 1
        b = i
        while b < len(s) - 1 and s[b + 1] >= floor:
            b += 1
        # a confident model saturates near 1 over a plateau as wide as its training
        # positives; the plateau's centre, not its first sample, is the moment
        c0, c1 = i, i
        while c0 > max(a, i - plateau_steps) and s[c0 - 1] >= 0.9 * s[i]:
            c0 -= 1
        while c1 < min(b, i + plateau_steps) and s[c1 + 1] >= 0.9 * s[i]:
            c1 += 1
        w = s[c0:c1 + 1]
        peak = float((t[c0:c1 + 1] * w).sum() / w.sum())
        out.append((peak, float(t[a]), float(t[b]), float(s[i])))
    return sorted(out)


# ---------------------------------------------------------------------- training

def frame_labels(grid_ms: np.ndarray, events: list[tuple[str, float, float, float]],
                 classes: list[str], radius_ms: float) -> np.ndarray:
    """(G,) class index per grid step, -1 = left out; ``events``: (type, start, end, peak) ms.

    An event of type :data:`BACKGROUND` (a rejected candidate: a hard negative) makes its
    whole window background, even inside a left-out span; positives still win near their peaks."""
    bg = classes.index(BACKGROUND)
    y = np.full(len(grid_ms), bg, np.int64)
    for et, st, en, pk in events:
        y[(grid_ms >= min(st, pk - radius_ms)) & (grid_ms <= max(en, pk + radius_ms))] = -1
    for et, st, en, pk in events:
        if et == BACKGROUND:
            y[(grid_ms >= st) & (grid_ms <= en)] = bg
    for et, st, en, pk in events:
        if et == BACKGROUND:
            continue
        if et in classes:  # other types (e.g. "__ignore__") only mark frames to leave out
            y[np.abs(grid_ms - pk) <= radius_ms] = classes.index(et)
    return y


def build_training_set(tracks, classes: list[str], feature_config: FeatureConfig = FeatureConfig(),
                       train_config: TrainConfig = TrainConfig()) -> tuple[np.ndarray, np.ndarray]:
    """``tracks``: iterable of (timestamps_ms, keypoints, events[, context (T, CONTEXT_DIM)]) -> (X, y)
    with background subsampled."""
    rng = np.random.default_rng(train_config.seed)
    Xs, ys = [], []
    for track in tracks:
        ts, kps, events = track[:3]
        tf = track_features(ts, kps, feature_config, track[3] if len(track) > 3 else None)
        if len(tf.grid_ms) == 0:
            continue
        y = frame_labels(tf.grid_ms, events, classes, train_config.positive_radius_ms)
        bg = y == classes.index(BACKGROUND)
        # hard negatives are few and informative: all of them are kept
        hard = np.zeros(len(y), bool)
        for et, st, en, _ in events:
            if et == BACKGROUND:
                hard |= (tf.grid_ms >= st) & (tf.grid_ms <= en)
        keep = (y >= 0) & (~bg | hard | (rng.random(len(y)) < train_config.background_keep))
        Xs.append(tf.X[keep])
        ys.append(y[keep])
    if not Xs:
        return np.empty((0, len(feature_names())), np.float32), np.empty(0, np.int64)
    return np.concatenate(Xs), np.concatenate(ys)


CLASSIFIERS = ("mlp", "few-shot")


def make_pipeline(train_config: TrainConfig = TrainConfig()):
    """Median imputer (belt and braces: features are finite by construction), standard
    scaling and a classifier: a small multi-layer perceptron (``mlp``: trains in seconds on
    a laptop and saves to under 1 MB, the shipped default is 0.48 MB, so analysts can
    retrain it often), or for a handful of examples per class (``few-shot``) a logistic
    regression with class-balanced weights, whose few parameters per class do not memorise
    20 examples the way the MLP's hidden layers do."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if train_config.classifier == "few-shot":
        from sklearn.linear_model import LogisticRegression

        classify = LogisticRegression(C=train_config.few_shot_c, class_weight="balanced", max_iter=2000)
    elif train_config.classifier == "mlp":
        from sklearn.neural_network import MLPClassifier

        classify = MLPClassifier(hidden_layer_sizes=train_config.hidden_layers, alpha=train_config.alpha,
                                 max_iter=train_config.max_iter, early_stopping=True,
                                 n_iter_no_change=15, random_state=train_config.seed)
    else:
        raise ValueError(f"classifier {train_config.classifier!r}: one of {', '.join(CLASSIFIERS)}")
    return Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler()),
                     ("classify", classify)])


def train_model(X: np.ndarray, y: np.ndarray, classes: list[str], name: str,
                feature_config: FeatureConfig = FeatureConfig(), train_config: TrainConfig = TrainConfig(),
                peak_config: PeakConfig = PeakConfig(), training_info: dict | None = None) -> EventModel:
    """Fit the pipeline on window features ``X`` and class indices ``y`` (into ``classes``)."""
    present = sorted(set(int(v) for v in np.unique(y)))
    if classes.index(BACKGROUND) not in present or len(present) < 2:
        raise ValueError("training needs background and at least one event class with labelled frames; "
                         f"got classes {[classes[i] for i in present]}")
    labels = np.array([classes[i] for i in y], dtype=object)
    from threadpoolctl import threadpool_limits

    pipe = make_pipeline(train_config)
    # one BLAS thread: a small MLP gains nothing from more, and oversubscribed
    # shared CPUs (Beam workers, CI) made multi-threaded fits 10x slower here
    with threadpool_limits(1):
        pipe.fit(X, labels)
    used = [str(c) for c in pipe.classes_]
    info = {"frames_per_class": {c: int((labels == c).sum()) for c in used},
            "classifier": train_config.classifier, **(training_info or {})}
    h = hashlib.sha256(np.ascontiguousarray(X).tobytes() + np.ascontiguousarray(y).tobytes()).hexdigest()[:8]
    return EventModel(pipeline=pipe, classes=used, name=f"{name}-{h}",
                      feature_config=feature_config, peak_config=peak_config,
                      versions=library_versions(), training=info)
