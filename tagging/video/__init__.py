"""Stage 1, video: which files to tag (inputs, manifests, ids) and reading their frames."""

from tagging.video.ids import assign_video_ids, video_id_for
from tagging.video.inputs import ManifestError, VideoJob, expand_inputs, read_manifest, video_jobs
from tagging.video.reader import Frame, FrameReader, VideoError, VideoInfo, plan_ranges, probe

__all__ = ["assign_video_ids", "video_id_for", "ManifestError", "VideoJob", "expand_inputs", "read_manifest",
           "video_jobs", "Frame", "FrameReader", "VideoError", "VideoInfo", "plan_ranges", "probe"]
