# Two commands: `make lab` (set up, then JupyterLab on the lessons) and `make test` (set up, then the suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup lab student test test-fast bench clean

setup:
	$(PYTHON) scripts/setup.py

# Learners work in the student versions (student/, generated; a notebook you edited is never overwritten).
lab: student
	$(BIN)/dockerlab lab student

student: setup
	$(BIN)/dockerlab student --source notebooks --out student

test: setup
	$(BIN)/python -m pytest tests
	$(BIN)/python -m pytest --nbval-lax --sanitize-with tests/notebooks/sanitize.cfg -p no:cacheprovider notebooks

bench: setup
	$(BIN)/python bench/overhead.py

clean: setup
	$(BIN)/dockerlab clean
