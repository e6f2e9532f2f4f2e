"""Compare a `matchtag render` output with its source, decoding both with PyAV.

    python bench/render_check.py SOURCE RENDERED [--save-frame N --out frame.jpg]

Prints each file's codec, size, frame rate, frame count (frames decoded, not the
container's claim) and duration, and whether frame count and size match.  With
``--save-frame`` it also writes frame N of RENDERED as a JPEG (quality 85, halved until
under ``--max-kb``).  Exit 1 when they do not match.
"""

from __future__ import annotations

import argparse
import json
import sys

import av
import cv2


def describe(path: str, keep: int | None = None) -> tuple[dict, object]:
    kept = None
    with av.open(path) as container:
        stream = container.streams.video[0]
        n, last = 0, 0.0
        for frame in container.decode(stream):
            if n == keep:
                kept = frame.to_ndarray(format="rgb24")
            last = float(frame.pts * frame.time_base) if frame.pts is not None else last
            n += 1
        info = {"path": path, "codec": stream.codec_context.name, "width": stream.codec_context.width,
                "height": stream.codec_context.height, "fps": float(stream.average_rate or 0),
                "frames": n, "last_frame_s": round(last, 3)}
    return info, kept


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source")
    ap.add_argument("rendered")
    ap.add_argument("--save-frame", type=int)
    ap.add_argument("--out", help="JPEG for --save-frame")
    ap.add_argument("--max-kb", type=int, default=300)
    args = ap.parse_args(argv)
    src, _ = describe(args.source)
    out, frame = describe(args.rendered, args.save_frame)
    same = {k: src[k] == out[k] for k in ("frames", "width", "height")}
    print(json.dumps({"source": src, "rendered": out, "match": same}, indent=1))
    if args.save_frame is not None and args.out:
        if frame is None:
            print(f"{args.rendered}: has no frame {args.save_frame}", file=sys.stderr)
            return 1
        image = frame[..., ::-1]
        while True:
            ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
            if len(buf) <= args.max_kb * 1024 or image.shape[1] < 200:
                break
            image = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)
        with open(args.out, "wb") as fh:
            fh.write(buf.tobytes())
        print(f"{args.out}: frame {args.save_frame}, {image.shape[1]}x{image.shape[0]}, {len(buf) // 1024} KB")
    return 0 if all(same.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
