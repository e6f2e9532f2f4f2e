"""One module per ``matchtag`` command; each has ``SUMMARY`` (one line) and ``main(argv) -> exit code``."""

EXIT_OK, EXIT_VIDEO_FAILED, EXIT_USAGE = 0, 1, 2

# Command name -> module under pipeline.commands, in the order `matchtag --help` lists them.
COMMANDS = ("run", "models", "evaluate", "train", "sql", "render", "report", "review")
