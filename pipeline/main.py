"""Beam-style entry point: ``python -m pipeline.main [matchtag run arguments]``.

The same as ``matchtag run``, without the subcommand, for launchers that call a
pipeline file with ``--key=value`` options (Airflow's BeamRunPythonPipelineOperator,
Dataflow Flex Templates).
"""

import sys

from pipeline.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
