"""Run ``matchtag`` and die like ``kill -9`` at the Nth rename under the output directory.

    python tests/crash_run.py N matchtag-arguments...

The fault is injected here, from the test side: production code has no crash hooks.
Every commit step that changes what readers see is a rename, so dying before rename
N (1, 2, ...) stops a run at each step of the commit phase in turn.  The local
FnApiRunner runs the commit in this process, so the patch reaches it.
"""

import os
import sys


def main() -> None:
    n = int(sys.argv[1])
    argv = sys.argv[2:]
    output = os.path.abspath(argv[argv.index("--output") + 1])
    real_rename = os.rename
    count = 0

    def rename(src, dst, *args, **kwargs):
        nonlocal count
        if os.path.abspath(str(dst)).startswith(output + os.sep):
            count += 1
            if count == n:
                os._exit(137)
        return real_rename(src, dst, *args, **kwargs)

    os.rename = rename
    from pipeline.cli import main as cli_main

    code = cli_main(argv)
    # the run ended before rename N: the test asked for a point past the commit
    sys.exit(3 if code == 0 else code)


if __name__ == "__main__":
    main()
