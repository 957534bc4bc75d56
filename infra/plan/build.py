"""Assemble the offline plan of one environment: run the program under mocks, render every Helm
release it registers (ours and the pinned upstream charts), inventory what it would create, run
the checks that model the systems it configures, estimate the monthly cost, and write
build/<env>/plan.json and build/<env>/manifests/.

plan.json is written in a stable order with its provenance (time, git commit, config hash, tool
versions) and a `status`: `passed`, `failed` (a gate failed; the file says which), or `invalid`
(the configuration was refused and nothing was registered). A run that fails never leaves an
older plan looking current.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from infra.capacity import capacity_for, replica_sizing
from infra.config import ConfigError, read_stack_file
from infra.paths import BUILD_DIR, REPO_ROOT
from infra.plan import cost, inventory, manifests
from infra.plan.checks import Finding, Manifest, PlannedStack, run_checks
from infra.plan.mocks import PLACEHOLDER_GENERATED_SECRET, Registration
from infra.plan.runner import PLACEHOLDER_SECRET, ProgramRun, run_program
from infra.plan.strict import strict_findings
from infra.plan.third_party import UpstreamRelease, upstream_releases
from infra.plan.warnings import plan_warnings
from infra.policy import rules

TOOLS = ("pulumi", "pulumi-aws", "pulumi-kubernetes", "helm-python-sdk", "kubernetes-validate")


@dataclass
class Plan:
    data: dict[str, Any]
    out_dir: Path
    manifest_count: int

    @property
    def failures(self) -> list[str]:
        """Why the plan fails, one line per failed gate; empty when it passes."""
        found = []
        coverage = self.data["tag_coverage"]
        if coverage["fully_tagged"] != coverage["taggable"]:
            found.append(f"tag coverage {coverage['fully_tagged']}/{coverage['taggable']}")
        mandatory = [v for v in self.data["policy_violations"] if v["enforcement"] == rules.MANDATORY]
        if mandatory:
            found.append(f"{len(mandatory)} mandatory policy violation(s)")
        checks = Counter(f["check"] for f in self.data["check_findings"])
        found += [f"{count} {check} finding(s)" for check, count in sorted(checks.items())]
        if self.data.get("strict") and self.data.get("strict_findings"):
            found.append(f"{len(self.data['strict_findings'])} strict finding(s)")
        return found

    @property
    def ok(self) -> bool:
        return not self.failures


def policy_violations(
    registrations: list[Registration], rendered: list[manifests.RenderedRelease], upstream: list[UpstreamRelease]
) -> list[rules.Violation]:
    found: list[rules.Violation] = []
    provider_tags = {r.name: rules.provider_default_tags(r.inputs) for r in registrations if r.type == "pulumi:providers:aws"}
    for r in registrations:
        if not r.custom:
            continue
        defaults = provider_tags.get(r.provider_name or "", {})
        for message in rules.required_tags(r.type, r.inputs, defaults):
            found.append(rules.Violation(rules.REQUIRED_TAGS, r.type, r.name, message))
        for message in rules.launched_resource_tags(r.type, r.inputs):
            found.append(rules.Violation(rules.LAUNCHED_TAGS, r.type, r.name, message))
        for message in rules.plaintext_secrets(r.type, r.inputs, r.secret_paths):
            found.append(rules.Violation(rules.NO_PLAINTEXT_SECRETS, r.type, r.name, message))
    for release in rendered:
        for document in release.documents:
            kind = f"kubernetes:{document.get('apiVersion')}:{document.get('kind')}"
            name = f"{release.name}/{(document.get('metadata') or {}).get('name')}"
            for message in rules.plaintext_secrets(kind, document, None):
                found.append(rules.Violation(rules.NO_PLAINTEXT_SECRETS, kind, name, message))
    for release in upstream:
        for message in rules.plaintext_secrets(manifests.RELEASE, {"values": release.values}, None):
            found.append(rules.Violation(rules.NO_PLAINTEXT_SECRETS, manifests.RELEASE, release.name, message))
    stack = [rules.StackResource(r.type, r.name, r.inputs) for r in registrations if r.custom]
    bucket_ids = {r.name: r.resource_id for r in registrations if r.type == rules.BUCKET}
    found += rules.bucket_violations(stack, bucket_ids)
    return found


def serving_summary(run: ProgramRun) -> dict[str, Any]:
    env = run.env
    pool = env.serving_pool()
    sizing = replica_sizing(env)
    return {
        "model": env.model.name,
        "revision": env.model.revision,
        "source": env.model.source,
        "node_pool": pool.name,
        "instance_type": pool.instance_type,
        "gpu": sizing.gpu,
        "tensor_parallel": sizing.tensor_parallel,
        "replicas_per_node": sizing.replicas_per_node,
        "min_replicas": env.serving.min_replicas,
        "max_replicas": env.serving.max_replicas,
        "max_model_len": sizing.max_model_len,
        "gpu_memory_utilization": sizing.gpu_memory_utilization,
        "kv_cache_tokens_per_replica": sizing.kv_cache_tokens_per_replica,
        "upgrade_strategy": env.serving.upgrade_strategy,
        "fallback": env.fallback.model if env.fallback.allowed else None,
        "capacity": capacity_summary(env),
    }


def capacity_summary(env: Any) -> dict[str, Any]:
    """The limits every layer applies, derived from one sizing (infra/sizing.py serving_capacity)."""
    capacity = capacity_for(env)
    return {
        "max_num_seqs": capacity.max_num_seqs,
        "max_ongoing_requests": capacity.max_ongoing_requests,
        "max_queued_requests": capacity.max_queued_requests,
        "floor_requests": capacity.floor_requests,
        "gateway_pods": capacity.gateway_pods,
        "gateway_max_in_flight": capacity.gateway_max_in_flight,
        "max_request_bytes": capacity.max_request_bytes,
        "gateway_max_connections": capacity.gateway_max_connections,
        "gateway_memory_needed_mib": round(capacity.gateway_memory_needed_mib, 1),
        "gateway_memory_limit_mib": capacity.gateway_memory_limit_mib,
    }


def collect_manifests(stack: PlannedStack) -> None:
    """Every object the stack would apply (program objects, both kinds of releases) and every CRD
    it installs, each with the registration that creates it."""
    releases = {str(r.inputs.get("name")): r for r in stack.registrations if r.type == manifests.RELEASE}
    for registration in stack.registrations:
        if registration.custom and registration.type.startswith("kubernetes:") and registration.type != manifests.RELEASE:
            document = manifests.program_object(registration)
            stack.manifests.append(Manifest(document, f"pulumi {registration.name}", registration))
    for local in stack.local:
        for document in local.documents:
            stack.manifests.append(Manifest(document, f"release {local.name}", releases[local.name]))
    for release in stack.upstream:
        for document in release.documents:
            stack.manifests.append(Manifest(document, f"release {release.name}", releases[release.name]))
        for document in release.crds:
            stack.crds.append(Manifest(document, f"release {release.name} crds/", releases[release.name]))
    # A CRD shipped as a template (rather than in crds/) is installed with the release too.
    stack.crds += [m for m in stack.manifests if m.kind == "CustomResourceDefinition"]


def git_commit(root: Path = REPO_ROOT) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, timeout=10).stdout
    return out.stdout.strip() + ("-dirty" if dirty.strip() else "")


def provenance(env_name: str, stack_root: Path) -> dict[str, Any]:
    config = json.dumps(read_stack_file(env_name, stack_root), sort_keys=True)
    versions = {}
    for tool in TOOLS:
        try:
            versions[tool] = metadata.version(tool)
        except metadata.PackageNotFoundError:
            versions[tool] = None
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "config_sha256": hashlib.sha256(config.encode()).hexdigest(),
        "tool_versions": versions,
    }


def _fresh_dir(out_root: Path, env_name: str) -> Path:
    out_dir = out_root / env_name
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    return out_dir


def write_invalid(env_name: str, out_root: Path, error: ConfigError) -> Path:
    """A refused configuration replaces any earlier plan with one that says so."""
    out_dir = _fresh_dir(out_root, env_name)
    path = out_dir / "plan.json"
    path.write_text(
        json.dumps({"environment": env_name, "status": "invalid", "problems": [p.render() for p in error.problems]}, indent=2)
        + "\n"
    )
    return path


def build_plan(env_name: str, out_root: Path = BUILD_DIR, stack_root: Path = REPO_ROOT, *, strict: bool = False) -> Plan:
    """The plan of one environment. `strict` also fails on what infra/plan/strict.py names
    (placeholders, a budget below the estimate, a version outside standard support); the
    findings are recorded either way."""
    try:
        run = run_program(env_name, stack_root)
    except ConfigError as error:
        if (stack_root / f"Pulumi.{env_name}.yaml").exists():
            write_invalid(env_name, out_root, error)
        raise
    regs = run.registrations
    rendered = manifests.local_releases(regs, run.workdir)
    upstream = upstream_releases(regs)
    stack = PlannedStack(run.env, regs, rendered, upstream, run.workdir)
    collect_manifests(stack)
    findings = [Finding("paths", "Helm release", p) for p in manifests.unresolved_chart_paths(regs, run.workdir)]
    findings += run_checks(stack)

    items = inventory.registered_items(regs) + inventory.launched_items(regs, stack.manifests)
    for release in rendered:
        for document in release.documents:
            name = f"{release.name}/{(document.get('metadata') or {}).get('name')}"
            items += inventory.kubernetes_items(document.get("kind", "?"), name, document, via=f"chart {release.chart}")
    items.sort(key=lambda item: (item.type, item.name))

    by_type = Counter(r.type for r in regs if r.custom and not r.type.startswith("pulumi:providers:"))
    components = Counter(r.type for r in regs if not r.custom)
    data: dict[str, Any] = {
        "environment": run.env.name,
        "stack": run.stack,
        "status": "pending",
        **provenance(env_name, stack_root),
        "region": run.env.region,
        "mode": "offline (Pulumi mock engine; no cloud calls)",
        "placeholders": sorted(run.placeholders),
        "serving": serving_summary(run),
        "resource_counts": dict(sorted(by_type.items())),
        "component_counts": dict(sorted(components.items())),
        "resources": [item.as_dict() for item in items],
        "tag_coverage": inventory.coverage(items),
        "monthly_cost_usd": cost.monthly_cost(run.env, regs),
        "policy_violations": [v.as_dict() for v in policy_violations(regs, rendered, upstream)],
        "check_findings": [f.as_dict() for f in sorted(findings, key=lambda f: (f.check, f.subject, f.message))],
        "warnings": [],
        "helm_releases": sorted(
            [
                {
                    "release": r.name,
                    "chart": r.chart,
                    "version": r.version,
                    "namespace": r.namespace,
                    "rendered_objects": len(r.documents),
                }
                for r in rendered
            ]
            + [
                {
                    "release": r.name,
                    "chart": r.chart,
                    "version": r.version,
                    "namespace": r.namespace,
                    "rendered_objects": len(r.documents),
                    "crds": len(r.crds),
                    "not_rendered": r.not_rendered,
                }
                for r in upstream
            ],
            key=lambda r: r["release"],
        ),
    }
    data["warnings"] = plan_warnings(run, data["monthly_cost_usd"], upstream)
    data["strict"] = strict
    data["strict_findings"] = strict_findings(run.env, data["monthly_cost_usd"])
    out_dir = _fresh_dir(out_root, run.env.name)
    program_docs = [manifests.redact_secret_values(m.document) for m in stack.manifests if m.source.startswith("pulumi ")]
    written = manifests.write_manifests(out_dir / "manifests", rendered, program_docs, upstream)
    plan = Plan(data=data, out_dir=out_dir, manifest_count=len(written))
    data["status"] = "passed" if plan.ok else "failed"
    data["failures"] = plan.failures
    text = json.dumps(data, indent=2, sort_keys=False, default=str)
    # The plan must never carry a secret; the placeholders stand in for every one of them.
    for placeholder in (PLACEHOLDER_SECRET, PLACEHOLDER_GENERATED_SECRET):
        if placeholder in text:
            raise RuntimeError("a secret value reached plan.json; nothing was written")
    (out_dir / "plan.json").write_text(text + "\n")
    return plan
