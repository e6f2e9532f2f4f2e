"""The ``matchtag`` console script: dispatches to one module per command in ``pipeline.commands``."""

from __future__ import annotations

import difflib
import importlib
import os
import sys

# TensorFlow's C++ start-up chatter (CUDA probing, CPU flags) hides our own messages. Set
# before anything imports TF, here and in every Beam worker process (they inherit the
# launcher's environment); the same level as tagging/pose/tf_quiet.py sets.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pipeline.commands import COMMANDS, EXIT_OK, EXIT_USAGE  # noqa: E402
from pipeline.logs import setup_logging  # noqa: E402


def _command(name: str):
    return importlib.import_module(f"pipeline.commands.{name}")


def usage() -> str:
    lines = ["usage: matchtag COMMAND [options]   (matchtag COMMAND --help for a command's options)", "",
             "commands:"]
    lines += [f"  {name:10s} {_command(name).SUMMARY}" for name in COMMANDS]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), file=sys.stdout if argv else sys.stderr)
        return EXIT_OK if argv else EXIT_USAGE
    name = argv[0]
    if name not in COMMANDS:
        close = difflib.get_close_matches(name, COMMANDS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        print(f"matchtag: unknown command '{name}'{hint}\n\n{usage()}", file=sys.stderr)
        return EXIT_USAGE
    setup_logging()
    return _command(name).main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
