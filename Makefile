# Two entry points: `make demo` (main job on bundled real data) and `make test` (the whole suite).
# Both do every setup step first: system packages (when root), the virtualenv, database migrations.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: setup system-packages venv migrate demo test lint typecheck unit bench clean

setup: system-packages venv migrate

system-packages:
	@bash scripts/install-system-packages.sh

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

migrate: venv
	@$(VENV)/bin/exportcenter db upgrade >/dev/null

demo: setup
	@bash scripts/demo.sh

lint: venv
	$(VENV)/bin/ruff check src tests bench

typecheck: venv
	$(VENV)/bin/mypy

test: setup
	@bash scripts/ensure-services.sh
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -q

clean:
	rm -rf $(VENV) demo-out .pytest_cache .mypy_cache .ruff_cache
