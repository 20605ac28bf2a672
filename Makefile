# The two commands of the set-up contract: `make demo` and `make test`, on a fresh machine.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench clean system-deps

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test]'
	touch $(STAMP)

# Debian packages some features need (installed only when missing; we may be root or have sudo).
system-deps:
	@bash scripts/system-deps.sh

demo: $(STAMP) system-deps
	$(VENV)/bin/turnout demo

lint: $(STAMP)
	$(VENV)/bin/ruff check turnout tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(VENV)/bin/pytest -q -m "not cluster"

test: $(STAMP) system-deps lint typecheck
	$(VENV)/bin/pytest -q

bench: $(STAMP)
	$(PY) bench/control_plane.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
