"""matchtag domain logic: pure, Beam-free stages (video, models, pose, tracking, events)."""

__version__ = "0.1.0"
