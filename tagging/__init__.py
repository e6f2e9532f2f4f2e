"""matchtag domain logic, one sub-package per stage: video, pose, track, events; evaluate scores
them, tables reads and writes the tag tables, draw draws them.  Nothing here imports Beam;
see docs/architecture.md."""

__version__ = "0.1.0"
