# make demo: set up and run the demo scan on a generated, benign case.
# make test: set up and run every check (ruff, mypy, pytest).
# make test-fast: the same checks without the tests marked slow (real servers and processes).
# make bench: set up and run the benchmarks against python-threatexchange.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps

.PHONY: demo test test-fast lint typecheck pytest bench system clean

$(STAMPS)/venv: pyproject.toml
	@mkdir -p $(STAMPS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	-git config core.hooksPath .githooks
	@touch $@

$(STAMPS)/system: deps/apt.txt scripts/install-system-deps.sh
	@mkdir -p $(STAMPS)
	scripts/install-system-deps.sh
	@touch $@

$(STAMPS)/bench: $(STAMPS)/venv $(STAMPS)/system benchmarks/requirements.txt benchmarks/apt.txt
	$(BIN)/python -m pip install -q -r benchmarks/requirements.txt
	APT_LIST=benchmarks/apt.txt scripts/install-system-deps.sh
	@touch $@

system: $(STAMPS)/system

demo: $(STAMPS)/venv
	$(BIN)/hashwarden demo --out demo-output

lint: $(STAMPS)/venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMPS)/venv
	$(BIN)/mypy

pytest: $(STAMPS)/venv $(STAMPS)/system
	$(BIN)/pytest

test: lint typecheck pytest

test-fast: lint typecheck $(STAMPS)/venv
	$(BIN)/pytest -m 'not slow'

bench: $(STAMPS)/bench
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(STAMPS) demo-output bench-output
