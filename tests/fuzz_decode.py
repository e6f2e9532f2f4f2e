"""Decode each file named on the command line; print one JSON line per file.

    python tests/fuzz_decode.py FILE...

The child side of tests/test_decoder_fuzz.py: the parent runs it in a subprocess so a
crash (a signal in FFmpeg) or a hang of one case is seen as such, and not as a dead
test run.  Each file is probed, read whole (at most MAX_FRAMES frames) and read again
from a seek to frame 2, as the pipeline's ranges do.
"""

import json
import sys

MAX_FRAMES = 500


def decode(path: str) -> dict:
    from tagging.video.reader import FrameReader, VideoError, probe

    try:
        info = probe(path)
        frames = sum(1 for _ in FrameReader(path, max_frames=MAX_FRAMES))
        ranged = sum(1 for _ in FrameReader(path, start_frame=2, stop_frame=2 + MAX_FRAMES))
        return {"file": path, "outcome": "frames", "frames": frames, "ranged": ranged,
                "declared": info.frame_count}
    except VideoError as exc:
        return {"file": path, "outcome": "error", "error": str(exc)}
    except Exception as exc:  # anything else is a finding
        return {"file": path, "outcome": "exception", "error": f"{type(exc).__name__}: {exc}"}


def main() -> None:
    for path in sys.argv[1:]:
        print(json.dumps(decode(path)), flush=True)


if __name__ == "__main__":
    main()
