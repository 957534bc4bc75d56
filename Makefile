# gpt-oss-platform. Two commands do all the set-up on a fresh machine:
#   make plan ENV=dev     offline plan of an environment (ENV=dev|staging|prod|all)
#   make test             the whole test suite
# Each creates or reuses the virtual environments from their lock files; nothing by hand.
SHELL := /bin/bash
.DEFAULT_GOAL := help
ENV ?= dev
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .uv/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.synced
CHECKOV_STAMP := tools/checkov/.venv/.synced

.PHONY: help plan plan-time test bench values reference venv tools clean

help:
	@echo "make plan ENV=dev|staging|prod|all   offline plan: build/<env>/plan.json + manifests"
	@echo "make test                            all tests (installs what they need)"
	@echo "make bench                           gateway vs LiteLLM benchmark -> bench/results/"
	@echo "make plan-time                       time the offline plan of all environments -> bench/results/"
	@echo "make values ENV=prod                 write the chart values of an environment (GitOps path)"
	@echo "make reference                       regenerate the generated blocks of README.md"

# uv itself, pinned, in its own small venv: works where `pip install --user` is refused.
$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet "uv==$(UV_VERSION)"

$(STAMP): uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --all-groups
	@touch $@

$(CHECKOV_STAMP): tools/checkov/uv.lock tools/checkov/pyproject.toml | $(UV)
	$(UV) sync --frozen --project tools/checkov
	@touch $@

venv: $(STAMP)
tools: $(CHECKOV_STAMP)

plan: $(STAMP)
	$(PY) -m infra.plan --env $(ENV)

plan-time: $(STAMP)
	$(PY) -m infra.plan.timing

test: $(STAMP) $(CHECKOV_STAMP)
	REQUIRE_ALL_TOOLS=1 $(PY) -m pytest

values: $(STAMP)
	$(PY) -m infra.chart_values --env $(ENV)

reference: $(STAMP)
	$(PY) -m infra.config.reference --write README.md

clean:
	rm -rf build
