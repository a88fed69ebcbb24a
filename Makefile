# Two commands: `make lab` (set up, then JupyterLab on the lessons) and `make test` (set up, then the suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup lab student test bench clean test-engine test-engines bench-engine

setup:
	$(PYTHON) scripts/setup.py

# Learners work in the student versions (student/, generated; a notebook you edited is never overwritten).
lab: student
	$(BIN)/dockerlab lab student

student: setup
	$(BIN)/dockerlab student --source notebooks --out student

# One pytest run: unit and integration tests (tests/), then every lesson under nbval (notebooks/).
# TESTS="..." runs only those files.
TESTS ?= tests notebooks
test: setup
	$(BIN)/python -m pytest --nbval-lax --nbval-sanitize-with tests/notebooks/sanitize.cfg $(TESTS)

bench: setup
	$(BIN)/python bench/overhead.py
	$(BIN)/python bench/registry.py
	$(BIN)/python bench/layers.py
	$(BIN)/python bench/course.py

clean: setup
	$(BIN)/dockerlab clean

# The suite on other engines: a bare Debian 13 container with its own engine inside (never this host's
# socket), a clone of REPO (its committed HEAD), the README's `make test` there. Root and a running host
# engine needed. Logs: /var/tmp/dockerlab-engines/NAME.log; the last line is the result and wall time.
# docker-26-remote: the engine in that container, the kit on this host (lessons 01, 02, 09 sharing and the remote tests).
ENGINES := docker-26 docker-26-containerd podman-5
ALL_ENGINES := $(ENGINES) docker-26-remote
REPO ?= $(CURDIR)

test-engine:
	@test -n "$(ENGINE)" || { echo "usage: make test-engine ENGINE=name (one of: $(ALL_ENGINES))"; exit 2; }
	REPO=$(REPO) bash scripts/engines/run.sh $(ENGINE)

test-engines:
	REPO=$(REPO) bash scripts/engines/run.sh $(ALL_ENGINES)

# The benchmarks on one of those engines: their ratios (measured inside, against that engine's CLI).
bench-engine:
	@test -n "$(ENGINE)" || { echo "usage: make bench-engine ENGINE=name (one of: $(ENGINES))"; exit 2; }
	TARGET=bench REPO=$(REPO) bash scripts/engines/run.sh $(ENGINE)
