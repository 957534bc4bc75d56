# Two commands do all the set-up on a fresh machine: `make plan ENV=dev` and `make test`.
# Each creates or reuses .venv from uv.lock (uv itself is installed with pip if missing).
SHELL := /bin/bash
ENV ?= dev
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
VENV := .venv
STAMP := $(VENV)/.synced

.PHONY: plan test venv clean

$(UV):
	$(PYTHON) -m pip install --user --quiet "uv==0.13.9"

$(STAMP): uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --all-groups
	@touch $@

venv: $(STAMP)

plan: $(STAMP)
	$(VENV)/bin/python -m infra.plan --env $(ENV)

test: $(STAMP)
	$(VENV)/bin/python -m pytest

clean:
	rm -rf build .pytest_cache
