# The two commands of the set-up contract: `make demo` and `make test`, on a fresh machine.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

.PHONY: demo test conformance lint typecheck unit bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test]'
	touch $(STAMP)

# Debian packages are installed only when missing (scripts/system-deps.sh; root or sudo).
demo: $(STAMP)
	@bash scripts/system-deps.sh demo
	$(VENV)/bin/turnout demo

lint: $(STAMP)
	$(VENV)/bin/ruff check turnout tests bench tools

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(VENV)/bin/pytest -q -m "not cluster"

test: $(STAMP) lint typecheck
	@bash scripts/system-deps.sh test
	$(VENV)/bin/pytest -q -m "not conformance"

# The peers' slow scenarios (Flagger's e2e scripts, ...): counts per scenario in the output.
conformance: $(STAMP)
	@bash scripts/system-deps.sh test
	$(VENV)/bin/pytest -q -m conformance -rxX -s tests/peers

# Every table of docs/benchmarks.md from one command (wrk comes from system-deps.sh bench).
bench: $(STAMP)
	@bash scripts/system-deps.sh bench
	$(PY) bench/control_plane.py
	$(PY) bench/mesh.py
	$(PY) bench/detection.py --quick
	$(PY) bench/telemetry.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
