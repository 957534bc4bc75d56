"""The serving shape of every stack as a Markdown table (docs/serving.md embeds it)."""

from __future__ import annotations

from infra.capacity import replica_sizing
from infra.chart_values.ray import upgrade_gpu_headroom
from infra.config import environment_from_stack_file, stack_names


def sizing_table(stacks: list[str] | None = None) -> str:
    rows = [
        "| env | model | weights | node pool | capacity | TP (GPUs/replica) | replicas/node | replicas | "
        "gpu_memory_utilization | max_model_len | KV cache tokens/replica | upgrade | upgrade GPU headroom | "
        "GCS FT | $/replica-hour |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in stacks or stack_names():
        env = environment_from_stack_file(name)
        pool = env.serving_pool()
        sizing = replica_sizing(env)
        capacity = pool.capacity_type.replace("_", "-")
        if pool.capacity_type == "spot" and pool.on_demand_floor:
            capacity += f" ({pool.on_demand_floor} on-demand)"
        rows.append(
            f"| {env.name} | {env.model.name} | {env.model.source} | {pool.name}: {pool.min_nodes}-{pool.max_nodes}x "
            f"{pool.instance_type} ({pool.gpus_per_node}x {sizing.gpu}) | {capacity} | {sizing.tensor_parallel} | "
            f"{sizing.replicas_per_node} | {env.serving.min_replicas}-{env.serving.max_replicas} | "
            f"{sizing.gpu_memory_utilization} | {sizing.max_model_len} | {sizing.kv_cache_tokens_per_replica:,} | "
            f"{env.serving.upgrade_strategy} | {upgrade_gpu_headroom(env, sizing)} | "
            f"{'on' if env.serving.gcs_fault_tolerance.enabled else 'off'} | {sizing.usd_per_replica_hour:.4f} |"
        )
    return "\n".join(rows) + "\n"
