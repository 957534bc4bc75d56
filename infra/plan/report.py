"""The human-readable plan printed by `make plan`."""

from __future__ import annotations

from typing import Any


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _control_plane_label(plane: dict[str, Any]) -> str:
    """`EKS control plane (1.33, extended)`: the window decides the price ($0.10 or $0.60/h)."""
    return f"EKS control plane ({plane['kubernetes_version']}, {plane['support']})"


def render_report(data: dict[str, Any], out_dir: str, manifest_count: int) -> str:
    lines: list[str] = []
    add = lines.append
    serving = data["serving"]
    add(f"Plan for stack {data['stack']!r}: {serving['model']} in {data['region']} ({data['mode']})")
    add("")
    counts = data["resource_counts"]
    aws_count = sum(n for t, n in counts.items() if t.startswith("aws:"))
    k8s_count = sum(n for t, n in counts.items() if t.startswith("kubernetes:"))
    rendered = sum(r["rendered_objects"] or 0 for r in data["helm_releases"])
    add(f"Resources the program registers: {sum(counts.values())} (AWS {aws_count}, Kubernetes {k8s_count}),")
    add(f"plus {rendered} objects rendered from the Helm releases")
    width = max(len(t) for t in counts) if counts else 0
    for resource_type, count in counts.items():
        add(f"  {resource_type:<{width}}  {count:>3}")
    add("")
    add("GPU node pools")
    for pool in data["monthly_cost_usd"]["breakdown"]["gpu_nodes"]["pools"]:
        for group in pool["groups"]:
            add(
                f"  {pool['pool']:<12} {pool['instance_type']:<13} {pool['gpu']:<10} {pool['provisioner']:<19} "
                f"{group['capacity']:<9} {group['min_nodes']}-{group['max_nodes']} nodes  "
                f"${group['usd_per_node_hour']}/h per node"
            )
    add("")
    add(
        f"Serving: {serving['model']} @ {serving['revision'][:12]} from {serving['source']}, TP={serving['tensor_parallel']} "
        f"on {serving['gpu']}, {serving['min_replicas']}-{serving['max_replicas']} replicas, "
        f"max_model_len {serving['max_model_len']}, KV cache {serving['kv_cache_tokens_per_replica']:,} tokens/replica, "
        f"upgrades: {serving['upgrade_strategy']}, fallback: {serving['fallback'] or 'none'}"
    )
    cap = serving["capacity"]
    add(
        f"Capacity (derived, docs/serving.md): vLLM max_num_seqs {cap['max_num_seqs']}/replica; Serve "
        f"max_ongoing_requests {cap['max_ongoing_requests']} + max_queued_requests {cap['max_queued_requests']}/replica "
        f"(503 beyond); gateway {cap['gateway_pods']} pods x {cap['gateway_max_in_flight']} in flight "
        f"(>= {cap['floor_requests']} the replicas take at the floor), bodies <= {cap['max_request_bytes'] // 1024} KiB, "
        f"{cap['gateway_max_connections']} connections/pod ({cap['gateway_memory_needed_mib']:g} of "
        f"{cap['gateway_memory_limit_mib']}Mi)"
    )
    add("")
    coverage = data["tag_coverage"]
    percent = 100.0 * coverage["fully_tagged"] / coverage["taggable"] if coverage["taggable"] else 100.0
    add(f"Tag coverage: {percent:.1f}% ({coverage['fully_tagged']}/{coverage['taggable']} taggable things fully tagged)")
    for missing in coverage["missing"]:
        add(f"  MISSING {missing['type']} {missing['name']}: {', '.join(missing['missing_keys'])}")
    findings = data["check_findings"]
    add(
        f"Checks of the systems the stack configures (kubelet, Kubernetes API, Helm, Pulumi engine, cluster-autoscaler, EKS, IAM): {len(findings)} finding(s)"
    )
    for finding in findings:
        add(f"  [{finding['check']}] {finding['subject']}: {finding['message']}")
    releases = data["helm_releases"]
    add("Helm releases, rendered with Helm's engine at the pinned versions:")
    for release in releases:
        crds = f", {release['crds']} CRDs" if release.get("crds") else ""
        add(f"  {release['release']:<24} {release['chart']} {release['version']}: {release['rendered_objects']} objects{crds}")
    violations = data["policy_violations"]
    add(f"Policy violations: {len(violations)}")
    for violation in violations:
        add(
            f"  [{violation['enforcement']}] {violation['policy']}: {violation['type']} {violation['name']}: {violation['message']}"
        )
    add("")
    money = data["monthly_cost_usd"]
    assumptions = money["assumptions"]
    add(
        f"Monthly cost estimate, USD ({assumptions['region_prices']} list prices as of {assumptions['prices_as_of']}, "
        f"{assumptions['hours_per_month']} h; spot {assumptions['spot']})"
    )
    breakdown = money["breakdown"]
    rows = [
        ("GPU nodes", breakdown["gpu_nodes"]["floor"], breakdown["gpu_nodes"]["max"]),
        (
            f"System nodes ({breakdown['system_nodes']['instance_type']})",
            breakdown["system_nodes"]["floor"],
            breakdown["system_nodes"]["max"],
        ),
        ("EBS volumes", breakdown["ebs_volumes"]["floor"], breakdown["ebs_volumes"]["max"]),
        (_control_plane_label(money["eks_control_plane"]), breakdown["eks_control_plane"], breakdown["eks_control_plane"]),
        ("NAT gateways", breakdown["nat_gateways"], breakdown["nat_gateways"]),
        ("Secrets Manager", breakdown["secrets_manager"], breakdown["secrets_manager"]),
        ("ElastiCache (Ray GCS)", breakdown["elasticache_gcs"], breakdown["elasticache_gcs"]),
        ("S3 weights", breakdown["s3_weights"], breakdown["s3_weights"]),
    ]
    add(f"  {'':<36} {'floor':>12} {'max':>12}")
    for label, floor, peak in rows:
        add(f"  {label:<36} {_usd(floor):>12} {_usd(peak):>12}")
    add(f"  {'Total':<36} {_usd(money['floor']):>12} {_usd(money['max']):>12}")
    add(f"  not estimated: {'; '.join(assumptions['not_estimated'])}")
    add("  Per served model (a split of the GPU nodes line, docs/models.md):")
    for row in money.get("models", []):
        adapters = f"; adapters on its replicas: {', '.join(row['adapters'])}" if row["adapters"] else ""
        add(
            f"    {row['model']:<34} {_usd(row['monthly']['floor']):>12} {_usd(row['monthly']['max']):>12}  "
            f"({row['replicas']['min']}-{row['replicas']['max']} x TP={row['tensor_parallel']} on {row['instance_type']}, "
            f"{row['quantisation']}, fallback {row['fallback'] or 'none'}{adapters})"
        )
    for warning in data["warnings"]:
        add(f"WARNING: {warning}")
    if data.get("strict"):
        for finding in data.get("strict_findings") or []:
            add(f"STRICT: {finding}")
    add("")
    if data["placeholders"]:
        add(f"Offline placeholders (values only the real stack has): {', '.join(data['placeholders'])}")
    add(f"Status: {data['status'].upper()}" + (f" ({'; '.join(data['failures'])})" if data.get("failures") else ""))
    add(f"Wrote {out_dir}/plan.json and {manifest_count} manifest files under {out_dir}/manifests/ (a preview: do not commit)")
    return "\n".join(lines)
