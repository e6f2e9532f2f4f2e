"""Run ``matchtag`` and die like ``kill -9`` at the Nth mutating filesystem call under the output.

    python tests/crash_run.py N matchtag-arguments...
    python tests/crash_run.py --sweep SEEDED_OUTPUT|- DEST N1,N2,... matchtag-arguments-but-output

The fault is injected here, from the test side: production code has no crash hooks.
Every call that changes the output folder is counted: opening a file for writing,
``rename``/``replace`` (data files and commit records going into place), ``unlink``,
``rmdir`` and ``mkdir``.  Dying just before call N (1, 2, ...) stops a run at each step
of its write and commit phase in turn.  The local FnApiRunner runs the writes and
commits in this process, so the patch reaches them.  With ``MATCHTAG_CRASH_COUNT=FILE``
the number of calls a complete run made is written to FILE (N past the end: exit 3).
"""

from __future__ import annotations

import builtins
import io
import os
import sys

_WRITE_MODES = set("wax+")


def install(output: str, n: int) -> dict:
    """Patch the process so that it ``os._exit(137)``s at mutating call ``n`` under ``output``.
    Returns a dict whose ``"count"`` is the number of calls so far."""
    output = os.path.abspath(output)
    state = {"count": 0}

    def hit(*paths) -> None:
        if any(os.path.abspath(os.fspath(p)).startswith(output + os.sep) for p in paths
               if isinstance(p, (str, bytes, os.PathLike))):
            state["count"] += 1
            if state["count"] == n:
                os._exit(137)

    def wrap(fn, n_paths=1):
        def patched(*args, **kwargs):
            hit(*args[:n_paths])
            return fn(*args, **kwargs)
        return patched

    real_open = io.open

    def open_(file, mode="r", *args, **kwargs):
        if _WRITE_MODES & set(mode):
            hit(file)
        return real_open(file, mode, *args, **kwargs)

    builtins.open = io.open = open_
    os.rename = wrap(os.rename, 2)
    os.replace = wrap(os.replace, 2)
    os.unlink = wrap(os.unlink)
    os.remove = wrap(os.remove)
    os.rmdir = wrap(os.rmdir)
    os.mkdir = wrap(os.mkdir)
    return state


def sweep(seeded: str | None, dest: str, points: list[int], args: list[str]) -> dict[int, int]:
    """For each point: copy ``seeded`` (an earlier output; None: start empty) to
    ``dest/k<point>``, run ``matchtag args --output`` there in a forked child that dies at
    that point, and collect ``{point: exit code}``.  Point 0 runs to the end and writes the
    number of mutating calls to ``dest/k0.count``.

    The children are forked from this process before it runs any pipeline, so each
    run pays for the imports once in all, not once per point.
    """
    import shutil

    from apache_beam.runners.portability import fn_api_runner  # noqa: F401

    import pipeline.commands.run  # noqa: F401  (imports paid before forking)
    import pipeline.graph  # noqa: F401
    import pipeline.replay  # noqa: F401
    from pipeline.cli import main as cli_main

    codes = {}
    for point in points:
        out = os.path.join(dest, f"k{point}")
        if seeded:
            shutil.copytree(seeded, out)
        pid = os.fork()
        if pid == 0:
            code = 99
            try:
                state = install(out, point or 10 ** 9)
                code = cli_main([*args, "--output", out])
                if point == 0:
                    with io.FileIO(out + ".count", "w") as fh:
                        fh.write(str(state["count"]).encode())
                    code = 0 if code == 0 else code
                else:
                    code = 3 if code == 0 else code
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        codes[point] = os.waitstatus_to_exitcode(status)
    return codes


def main() -> None:
    if sys.argv[1] == "--sweep":  # --sweep SEEDED|- DEST 1,2,3 matchtag-arguments...
        import json

        seeded, dest, points = sys.argv[2], sys.argv[3], [int(p) for p in sys.argv[4].split(",")]
        codes = sweep(None if seeded == "-" else seeded, dest, points, sys.argv[5:])
        print(json.dumps(codes))
        return
    n = int(sys.argv[1])
    argv = sys.argv[2:]
    state = install(argv[argv.index("--output") + 1], n)
    from pipeline.cli import main as cli_main

    code = cli_main(argv)
    if os.environ.get("MATCHTAG_CRASH_COUNT"):
        with io.FileIO(os.environ["MATCHTAG_CRASH_COUNT"], "w") as fh:
            fh.write(str(state["count"]).encode())
    # the run ended before call N: the test asked for a point past the end
    sys.exit(3 if code == 0 else code)


if __name__ == "__main__":
    main()
