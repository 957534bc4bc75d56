# gpt-oss-platform. Two commands do all the set-up on a fresh machine:
#   make plan ENV=dev     offline plan of an environment (ENV=dev|staging|prod|all)
#   make test             the whole test suite
# Each creates or reuses the virtual environment from the lock file; nothing by hand. Every
# target calls the project's one CLI, `gpt-oss-platform` (docs/cli.md); scripts that need its
# exact exit code (0 ok, 1 a check failed, 2 bad input) call it directly: GNU make itself always
# exits 2 when a recipe fails, and prints the CLI's code as "Error <code>".
SHELL := /bin/bash
.DEFAULT_GOAL := help
ENV ?= dev
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .uv/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
CLI := $(VENV)/bin/gpt-oss-platform
# The deploy environment: only what `pulumi up` and the plan import (no test oracles).
DEPLOY_STAMP := $(VENV)/.synced-deploy
# Everything: deploy + gateway + dev (test oracles and gates).
TEST_STAMP := $(VENV)/.synced-test
# Deploy + ops (the operator commands: smoke, drain, cost from Prometheus; CI's post-deploy smoke test).
OPS_STAMP := $(VENV)/.synced-ops
# Deploy + gateway (what `python -m serving.gateway` imports: a local gateway, `make gateway`).
GATEWAY_STAMP := $(VENV)/.synced-gateway
CHECKOV_STAMP := tools/checkov/.venv/.synced
PROMTOOL := tools/promtool/bin/promtool
AMTOOL := tools/alertmanager/bin/amtool
REDIS := tools/redis/bin/redis-server

.PHONY: help plan test check bench plan-time values reference gateway venv deploy-venv ops-venv gateway-venv tools clean

help:
	@echo "make plan ENV=dev|staging|prod|all   offline plan: build/<env>/plan.json + manifests"
	@echo "make test                            all tests (installs what they need)"
	@echo "make check                           lint, format, types, chart and YAML gates"
	@echo "make bench                           gateway vs LiteLLM (and nginx) benchmark -> bench/results/"
	@echo "make plan-time                       time the offline plan of all environments -> bench/results/"
	@echo "make values ENV=dev IMAGE=<repo@sha256:...>   chart values of an environment (GitOps path), from the"
	@echo "                                     stack outputs: IMAGE=gateway_image, and BUCKET=weights_bucket REDIS="
	@echo "                                     gcs_redis_address where the environment uses them (docs/cli.md)"
	@echo "make reference                       regenerate the generated docs (names each file it rewrites)"
	@echo "make gateway CONFIG=<gateway.json>   run the gateway locally (installs its dependency group; docs/gateway.md)"
	@echo "make ops-venv                        operator tools: matplotlib for cost compare/simulate --chart, boto3, httpx"
	@echo "Everything above is a gpt-oss-platform subcommand: $(CLI) --help"

# uv itself, pinned, in its own small venv: works where `pip install --user` is refused. The
# interpreter's own pip installs it into a venv made without pip (pip >= 22.3 has --python),
# which saves the ~5 s of bootstrapping pip into the venv; where that pip is missing or older, the
# venv gets its own pip as before.
$(UV):
	@$(PYTHON) -m venv --without-pip .uv
	@$(PYTHON) -m pip --python .uv/bin/python install --quiet --disable-pip-version-check "uv==$(UV_VERSION)" 2>/dev/null \
	  || { rm -rf .uv && $(PYTHON) -m venv .uv && .uv/bin/pip install --quiet "uv==$(UV_VERSION)"; }
	@$(UV) --version

# No --compile-bytecode: the first run of the plan writes bytecode for what it imports (a few
# hundred modules), instead of compiling all of pulumi_aws up front.
$(DEPLOY_STAMP): uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --inexact
	$(PY) tools/venv/dedupe.py $(VENV)
	@touch $@

$(OPS_STAMP): uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --inexact --group ops
	$(PY) tools/venv/dedupe.py $(VENV)
	@touch $@ $(DEPLOY_STAMP)

$(GATEWAY_STAMP): uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --inexact --group gateway
	$(PY) tools/venv/dedupe.py $(VENV)
	@touch $@ $(DEPLOY_STAMP)

$(TEST_STAMP): uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --all-groups
	$(PY) tools/venv/dedupe.py $(VENV)
	@touch $@ $(DEPLOY_STAMP) $(OPS_STAMP) $(GATEWAY_STAMP)

$(CHECKOV_STAMP): tools/checkov/uv.lock tools/checkov/pyproject.toml | $(UV)
	$(UV) sync --frozen --project tools/checkov
	@touch $@

# promtool from Debian's prometheus package, pinned, extracted without root.
$(PROMTOOL): tools/promtool/fetch.sh
	tools/promtool/fetch.sh

# Alertmanager and amtool, the same way (alert routing and inhibition tests).
$(AMTOOL): tools/alertmanager/fetch.sh
	tools/alertmanager/fetch.sh

# redis-server, the same way (the gateway's shared-store tests).
$(REDIS): tools/redis/fetch.sh
	tools/redis/fetch.sh

venv: $(TEST_STAMP)
# Only what `pulumi up`, the plan and the environment commands need (CI deploy jobs).
deploy-venv: $(DEPLOY_STAMP)
# Deploy + the operator commands (smoke, drain): CI's post-deploy smoke test.
ops-venv: $(OPS_STAMP)
# Deploy + the gateway's own dependencies (a local gateway and the fake upstream).
gateway-venv: $(GATEWAY_STAMP)
tools: $(CHECKOV_STAMP) $(PROMTOOL) $(AMTOOL) $(REDIS)

# PYTHONDONTWRITEBYTECODE (set on some machines) is lifted so that later runs reuse the bytecode.
# The upstream charts the plan renders come from ../shared/reference when it is there, otherwise
# they are downloaded once (pinned and verified: gpt-oss-platform upstream fetch).
plan: $(DEPLOY_STAMP)
	$(CLI) upstream fetch --if-missing
	env -u PYTHONDONTWRITEBYTECODE $(CLI) plan --env $(ENV)

# -n auto: one pytest-xdist worker per core (the tests are independent of each other; --dist loadgroup
# keeps each xdist_group, e.g. the Ray cluster tests, on one worker); its time
# from a clean clone is measured by `gpt-oss-platform bench first-run --tests` (README). TEST_ARGS
# narrows a run: make test TEST_ARGS=tests/cli
TEST_ARGS ?=
test: $(TEST_STAMP) tools
	$(CLI) upstream fetch --if-missing
	env -u PYTHONDONTWRITEBYTECODE REQUIRE_ALL_TOOLS=1 $(PY) -m pytest -n auto --dist loadgroup $(TEST_ARGS)

check: $(TEST_STAMP)
	$(CLI) check

bench: $(TEST_STAMP)
	$(CLI) bench gateway --out bench/results

plan-time: $(DEPLOY_STAMP)
	$(CLI) bench plan-time

values: $(DEPLOY_STAMP)
	$(CLI) values --env $(ENV) $(if $(IMAGE),--gateway-image $(IMAGE)) $(if $(BUCKET),--weights-bucket $(BUCKET)) $(if $(REDIS),--gcs-redis-address $(REDIS))

reference: $(TEST_STAMP)
	$(CLI) reference --write

# The gateway on this machine, from a settings file (docs/gateway.md "Settings and running it locally").
gateway: $(GATEWAY_STAMP)
	@test -n "$(CONFIG)" || { echo "make gateway: set CONFIG=<the gateway's settings file>, e.g. CONFIG=/tmp/gw/gateway.json" >&2; exit 2; }
	$(CLI) gateway --config $(CONFIG)

clean:
	rm -rf build
