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
PROMTOOL := tools/promtool/bin/promtool

.PHONY: help plan plan-time test bench values reference venv tools clean

help:
	@echo "make plan ENV=dev|staging|prod|all   offline plan: build/<env>/plan.json + manifests"
	@echo "make test                            all tests (installs what they need)"
	@echo "make bench                           gateway vs LiteLLM benchmark -> bench/results/"
	@echo "make plan-time                       time the offline plan of all environments -> bench/results/"
	@echo "make values ENV=prod                 write the chart values of an environment (GitOps path)"
	@echo "make reference                       regenerate the generated blocks of README.md (reference, sizing, results)"

# uv itself, pinned, in its own small venv: works where `pip install --user` is refused.
$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet "uv==$(UV_VERSION)"

$(STAMP): uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --all-groups --compile-bytecode
	@touch $@

$(CHECKOV_STAMP): tools/checkov/uv.lock tools/checkov/pyproject.toml | $(UV)
	$(UV) sync --frozen --project tools/checkov --compile-bytecode
	@touch $@

# promtool from Debian's prometheus package, pinned, extracted without root.
$(PROMTOOL): tools/promtool/fetch.sh
	tools/promtool/fetch.sh

venv: $(STAMP)
tools: $(CHECKOV_STAMP) $(PROMTOOL)

plan: $(STAMP)
	$(PY) -m infra.plan --env $(ENV)

plan-time: $(STAMP)
	$(PY) -m bench.plan_time

test: $(STAMP) $(CHECKOV_STAMP) $(PROMTOOL)
	REQUIRE_ALL_TOOLS=1 $(PY) -m pytest

bench: $(STAMP)
	$(PY) -m bench.gateway_bench --out bench/results

# The values of an environment for the GitOps path; S3 and managed-Redis environments need the
# stack's outputs: make values ENV=prod BUCKET=$$(pulumi stack output weights_bucket --stack prod) \
#   REDIS=$$(pulumi stack output gcs_redis_address --stack prod)
values: $(STAMP)
	$(PY) -m infra.chart_values --env $(ENV) $(if $(BUCKET),--weights-bucket $(BUCKET)) $(if $(REDIS),--gcs-redis-address $(REDIS))

reference: $(STAMP)
	$(PY) -m infra.readme_blocks --write

clean:
	rm -rf build
