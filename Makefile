# Two entry points for a fresh Debian machine (as root): `make run` and `make test`.
# Setup is idempotent: each scripts/setup.d/*.sh installs or starts one thing only if it is missing.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
OUT ?= out

.PHONY: setup python system test-setup run test bench clean

setup: python system

python: $(VENV)/.installed

# The C extensions (transforms/reasoning/_linediff.c, transforms/_shingles.c, transforms/_masking.c,
# transforms/_stages.c) are compiled by the install: an edit to one needs one too.
$(VENV)/.installed: pyproject.toml transforms/reasoning/_linediff.c transforms/_shingles.c transforms/_masking.c \
		transforms/_stages.c
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -U pip
	$(VENV)/bin/pip install -q -e '.[dev,collect]'
	touch $@

# Each script of a folder in order, with the venv's absolute path.
run_scripts = @set -e; for script in $(1)/*.sh; do echo "== $$script"; VENV=$(abspath $(VENV)) bash $$script; done

system: python
	$(call run_scripts,scripts/setup.d)

run: setup
	VENV=$(abspath $(VENV)) OUT=$(OUT) bash scripts/run.sh

# What only the tests need (scripts/test-setup.d/), kept out of `make run`: a llama.cpp server takes minutes to
# compile.
test-setup: setup
	$(call run_scripts,scripts/test-setup.d)

# Two workers (the machines have 2 cores; most tests wait on containers, Chromium or subprocesses), a test file
# whole on one worker: module fixtures start once and a file's tests never run beside each other
# (docs/development.md says what a test must do to run beside another file's).
test: test-setup
	$(VENV)/bin/pytest -q -n 2 --dist loadfile --durations=25 tests

bench: setup
	$(PY) -m benchmarks

clean:
	rm -rf $(OUT)
