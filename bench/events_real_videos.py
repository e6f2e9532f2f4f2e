"""Events the default model (and the rule baseline) tag on real pipeline output.

    python bench/events_real_videos.py TAGS_DIR [TAGS_DIR ...] [--model MODEL] [--json]

Re-tags the ``poses`` tables of ``matchtag run`` outputs (the same track sequences
the pipeline's TagEvents stage sees) and counts events per class and video.  None
of the real videos in ../shared/data/video contains a throw-in, so every
``throw_in`` here is a false positive.  Note which videos the default model saw
as training negatives (bench/train_default_events_model.py): only
walkers_intel_139s is unseen.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tagging.events.model import resolve_events_model
from tagging.events.synth import EVENT_TYPES
from tagging.events.training_data import read_sequences, tag_sequences


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tags_dirs", nargs="+")
    ap.add_argument("--model", default="default")
    ap.add_argument("--leave-one-out", action="store_true",
                    help="also, for each video the default model saw as a training negative, retrain the "
                         "default recipe without it (about 1 min each) and count that model's events on it")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    model = resolve_events_model(args.model)
    rules = resolve_events_model("rules")
    out = {}
    for d in args.tags_dirs:
        seqs = read_sequences(d)
        for name, m in (("model", model), ("rules", rules)):
            ev = tag_sequences(seqs, m)
            for vid in seqs:
                counts = ev[ev.video_id == vid].event_type.value_counts()
                out.setdefault(vid, {"tracks": len(seqs[vid])})[name] = {c: int(counts.get(c, 0)) for c in EVENT_TYPES}
    training = model.training.get("real_negative_videos", [])
    if args.leave_one_out:
        sys.path.insert(0, str(Path(__file__).parent))
        from train_default_events_model import train_default

        all_seqs = {}
        for d in args.tags_dirs:
            all_seqs.update(read_sequences(d))
        for vid in sorted(set(training) & set(all_seqs)):
            # same negatives as the default model, minus this video
            held, _ = train_default(args.tags_dirs, exclude_videos={vid} | (set(all_seqs) - set(training)))
            ev = tag_sequences({vid: all_seqs[vid]}, held)
            counts = ev.event_type.value_counts()
            out[vid]["leave_one_out"] = {c: int(counts.get(c, 0)) for c in EVENT_TYPES}
    if args.json:
        print(json.dumps({"model": model.name, "videos": out, "trained_on_negatives": training}, indent=1))
    else:
        print(f"model {model.name}; real negatives in its training: {', '.join(training) or 'none'}")
        print(f"{'video':28s} {'tracks':>6s}  " + " ".join(f"{c:>11s}" for c in EVENT_TYPES) + "   rules throw_in")
        for vid, r in sorted(out.items()):
            print(f"{vid:28s} {r['tracks']:6d}  " + " ".join(f"{r['model'][c]:11d}" for c in EVENT_TYPES)
                  + f"   {r['rules']['throw_in']:5d}" + ("" if vid in training else "   (unseen)"))
            if "leave_one_out" in r:
                print(f"{'  ...model trained without it':28s} {'':6s}  "
                      + " ".join(f"{r['leave_one_out'][c]:11d}" for c in EVENT_TYPES))
    return 0 if all(r["model"]["throw_in"] == 0 and r.get("leave_one_out", {}).get("throw_in", 0) == 0
                    for r in out.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
