# Two commands: `make lab` (set up, then JupyterLab on the lessons) and `make test` (set up, then the suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup lab student test bench clean

setup:
	$(PYTHON) scripts/setup.py

# Learners work in the student versions (student/, generated; a notebook you edited is never overwritten).
lab: student
	$(BIN)/dockerlab lab student

student: setup
	$(BIN)/dockerlab student --source notebooks --out student

# One pytest run: unit and integration tests (tests/), then every lesson under nbval (notebooks/).
test: setup
	$(BIN)/python -m pytest --nbval-lax --nbval-sanitize-with tests/notebooks/sanitize.cfg tests notebooks

bench: setup
	$(BIN)/python bench/overhead.py
	$(BIN)/python bench/registry.py
	$(BIN)/python bench/layers.py
	$(BIN)/python bench/course.py

clean: setup
	$(BIN)/dockerlab clean
