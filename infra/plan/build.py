"""Assemble the offline plan of one environment: run the program under mocks, inventory what
it would create, check tags and policies, estimate the monthly cost, write plan.json and the
manifests."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.plan import cost, inventory, manifests
from infra.plan.mocks import PLACEHOLDER_GENERATED_SECRET, Registration
from infra.plan.runner import PLACEHOLDER_SECRET, ProgramRun, run_program
from infra.policy import rules
from infra.paths import BUILD_DIR, REPO_ROOT
from infra.sizing import size_replica



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
        return found

    @property
    def ok(self) -> bool:
        return not self.failures


def policy_violations(
    registrations: list[Registration], rendered: list[manifests.RenderedRelease], third_party: list[dict]
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
    for release in third_party:
        for message in rules.plaintext_secrets(manifests.RELEASE, {"values": release["values"]}, None):
            found.append(rules.Violation(rules.NO_PLAINTEXT_SECRETS, manifests.RELEASE, release["release"], message))
    stack = [rules.StackResource(r.type, r.name, r.inputs) for r in registrations if r.custom]
    bucket_ids = {r.name: r.resource_id for r in registrations if r.type == rules.BUCKET}
    found += rules.bucket_violations(stack, bucket_ids)
    return found


def plan_warnings(run: ProgramRun, money: dict[str, Any]) -> list[str]:
    """Things worth a look that do not fail the plan."""
    found = []
    budget = run.env.budget.monthly_usd
    if budget < money["max"]:
        found.append(
            f"budget.monthly_usd ${budget:,.2f} is below the estimated maximum ${money['max']:,.2f}: "
            "the budget alerts fire before the pools reach max_nodes"
        )
    found += cost.control_plane_warnings(money)
    if money["assumptions"]["region_prices"] != run.env.region:
        found.append(
            f"prices are {money['assumptions']['region_prices']} list prices; {run.env.region} differs "
            "(add the region to infra/catalog to estimate it exactly)"
        )
    return found


def serving_summary(run: ProgramRun) -> dict[str, Any]:
    env = run.env
    pool = env.serving_pool()
    sizing = size_replica(
        env.model.name, pool.instance_type, env.serving.max_model_len, env.serving.tensor_parallel, env.serving.gpu_memory_utilization
    )
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
    }


def build_plan(env_name: str, out_root: Path = BUILD_DIR, stack_root: Path = REPO_ROOT) -> Plan:
    run = run_program(env_name, stack_root)
    regs = run.registrations
    rendered = manifests.local_releases(regs, run.workdir)
    third_party = manifests.third_party_releases(regs)
    program_docs = manifests.program_objects(regs)

    items = inventory.registered_items(regs) + inventory.launched_items(regs)
    for release in rendered:
        for document in release.documents:
            name = f"{release.name}/{(document.get('metadata') or {}).get('name')}"
            items += inventory.kubernetes_items(document.get("kind", "?"), name, document, via=f"chart {release.chart}")

    by_type = Counter(r.type for r in regs if r.custom and not r.type.startswith("pulumi:providers:"))
    components = Counter(r.type for r in regs if not r.custom)
    data: dict[str, Any] = {
        "environment": run.env.name,
        "stack": run.stack,
        "region": run.env.region,
        "mode": "offline (Pulumi mock engine; no cloud calls)",
        "placeholder_secrets": run.placeholders,
        "serving": serving_summary(run),
        "resource_counts": dict(sorted(by_type.items())),
        "component_counts": dict(sorted(components.items())),
        "resources": [item.as_dict() for item in items],
        "tag_coverage": inventory.coverage(items),
        "monthly_cost_usd": cost.monthly_cost(run.env, regs),
        "policy_violations": [v.as_dict() for v in policy_violations(regs, rendered, third_party)],
        "warnings": [],
        "helm_releases": [
            {"release": r.name, "chart": r.chart, "version": r.version, "namespace": r.namespace, "rendered_objects": len(r.documents)}
            for r in rendered
        ]
        + [{k: v for k, v in t.items() if k != "values"} | {"rendered_objects": None} for t in third_party],
    }
    data["warnings"] = plan_warnings(run, data["monthly_cost_usd"])
    out_dir = out_root / run.env.name
    if out_dir.exists():
        shutil.rmtree(out_dir)
    manifest_dir = out_dir / "manifests"
    written = manifests.write_manifests(manifest_dir, rendered, program_docs, third_party)
    text = json.dumps(data, indent=2, sort_keys=False, default=str)
    # The plan must never carry a secret; the placeholders stand in for every one of them.
    for placeholder in (PLACEHOLDER_SECRET, PLACEHOLDER_GENERATED_SECRET):
        assert placeholder not in text, "a secret value reached plan.json"
    (out_dir / "plan.json").write_text(text + "\n")
    return Plan(data=data, out_dir=out_dir, manifest_count=len(written))

