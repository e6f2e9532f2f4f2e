"""matchtag: sports-video tagging on Apache Beam.

This one file both installs the package and ships it to Beam workers
(``--setup_file ./setup.py`` on Dataflow, Flink or Spark).
"""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "tagging" / "__init__.py").read_text()).group(1)

setup(
    name="matchtag",
    version=VERSION,
    description="Tag match videos: pose, tracking and events into Parquet tables, on Apache Beam",
    long_description=(HERE / "README.md").read_text() if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["pipeline", "pipeline.*", "tagging", "tagging.*",
                                    "schemas", "schemas.*"]),
    package_data={"tagging.events": ["data/*.skops"],     # the default event model
                  "tagging.draw": ["report.css", "report.js"]},   # inlined into `matchtag report`
    install_requires=[
        "apache-beam>=2.77,<2.78",
        "tensorflow>=2.21,<2.22",
        "pandas>=3,<4",
        "pyarrow>=17,<26",          # Beam 2.77's bound
        "numpy>=1.26,<3",
        "opencv-python-headless>=5.0,<5.1",
        "scikit-learn>=1.9,<1.10",
        "scipy>=1.11,<2",
        "skops>=0.16,<0.17",         # event model files (no pickle); format pinned with the model
        "pycocotools>=2.0.8,<2.1",   # OKS AP in `matchtag evaluate pose`
        "av>=14,<19",                # `matchtag render` writes H.264 (cv2-headless cannot); wheels bundle FFmpeg
    ],
    extras_require={
        "dev": [
            "pytest>=8,<10",
            "scikit-image>=0.25,<0.27",   # real test images (astronaut)
            "selenium>=4.20,<5",          # browser test of `matchtag report` (Debian chromium + chromium-driver)
            "motmetrics>=1.4,<1.5",       # matchtag evaluate tracking: IDF1, MOTA, ID switches
            "hypothesis>=6.100,<7",       # property tests of the parsers and video ids (seeded, bounded)
            "duckdb>=1.1,<3",             # tests of `matchtag sql` (the "sql" extra)
            # trackeval (HOTA) is installed separately with --no-deps: it requires the
            # GUI opencv-python, which would clash with opencv-python-headless.
            # pip install --no-deps "trackeval>=1.3,<1.4"   (see README, Test)
        ],
        "sql": ["duckdb>=1.1,<3"],        # matchtag sql: DuckDB over the tables (no extensions)
        "bench": [                        # bench/tracking_vs_peers.py: peer trackers, no weights
            "trackers>=2.1,<2.2",
            "norfair>=2.1,<2.2",
            "supervision>=0.26,<0.31",    # 0.31 removed ByteTrack
        ],
    },
    entry_points={"console_scripts": ["matchtag=pipeline.cli:main"]},
)
