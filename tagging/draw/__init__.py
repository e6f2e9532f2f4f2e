"""Drawing the tags on frames, for people to look at (docs images, spot checks)."""

from tagging.draw.frame import draw_poses

__all__ = ["draw_poses"]
