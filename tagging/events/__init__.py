"""Stage 4, events: player actions from one track's keypoint sequence.

``features`` (sliding-window features) feed ``model`` (the trained tagger, skops files);
``law15_rule`` is the interpretable throw-in baseline; ``synth`` generates labelled
synthetic sequences; ``training_data`` turns tag tables and labels into training sets.
Every tagger has ``name`` and ``tag_events(sequences) -> [Event]``.
"""

from tagging.core.types import Event
from tagging.events.law15_rule import ThrowInRule, tag_throw_ins
from tagging.events.model import EventModel, EventModelError, load_event_model, resolve_events_model

__all__ = ["Event", "ThrowInRule", "tag_throw_ins", "EventModel", "EventModelError", "load_event_model",
           "resolve_events_model"]
