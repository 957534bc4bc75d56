"""The capacity limits of every stack as a Markdown table (docs/serving.md embeds it): each
derived from one sizing (infra/sizing.py serving_capacity), as the plan prints them."""

from __future__ import annotations

from infra.capacity import capacity_for, replica_sizing
from infra.config import environment_from_stack_file, stack_names


def capacity_table(stacks: list[str] | None = None) -> str:
    rows = [
        "| env | KV cache tokens/replica | vLLM max_num_seqs | Serve max_ongoing_requests | Serve max_queued_requests | "
        "replicas at the floor take | gateway pods x max_in_flight | request body limit | connections/pod | "
        "gateway memory, worst case |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in stacks or stack_names():
        env = environment_from_stack_file(name)
        sizing = replica_sizing(env)
        c = capacity_for(env)
        rows.append(
            f"| {env.name} | {sizing.kv_cache_tokens_per_replica:,} | {c.max_num_seqs} | {c.max_ongoing_requests} | "
            f"{c.max_queued_requests} | {c.floor_requests} ({c.floor_replicas} x {c.per_replica}) | "
            f"{c.gateway_pods} x {c.gateway_max_in_flight} = {c.gateway_pods * c.gateway_max_in_flight} | "
            f"{c.max_request_bytes // 1024} KiB | {c.gateway_max_connections} | "
            f"{c.gateway_memory_needed_mib:.0f} of {c.gateway_memory_limit_mib}Mi |"
        )
    return "\n".join(rows) + "\n"
