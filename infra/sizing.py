"""gpt-oss-aware sizing: how one serving replica maps onto one GPU instance type.

Pure functions over the catalog, no Pulumi. The rule is vLLM's own start-up check: the
weights (split across tensor-parallel ranks) plus a working overhead must leave enough of
`gpu_memory_utilization` x GPU memory for the KV cache of at least one sequence of
`max_model_len` tokens. The smallest tensor-parallel degree that passes wins, because TP=1
gives the best throughput per GPU (vLLM gpt-oss recipe). Not always on a full multi-GPU node:
gpt-oss-120b on 8x H100 serves more per GPU as 4 replicas of TP=2 (GPUStack's published runs);
`cost compare` and the plan's warnings suggest the wider size there (infra/cost/compare.py
`wider_tensor_parallel_note`) and this default stays, as a suggestion is safer than a silent
change of every plan.

Prices are node-true: the node is what one buys, so replicas cost the nodes they need
(`ReplicaSizing.usd_per_hour(replicas)`), never a fraction of a node that nobody else fills.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from infra.catalog import Catalog, InstanceSpec, ModelSpec, load_catalog

TENSOR_PARALLEL_DEGREES = (1, 2, 4, 8)
# CUDA context, activations and CUDA graphs per GPU, GB. vLLM profiles the real figure at
# start-up; 2.5 GB is what gpt-oss leaves outside weights + KV on L4 and H100 in practice.
RUNTIME_OVERHEAD_GB = 2.5
# Hopper at TP=1 can give vLLM 95% of memory (vLLM gpt-oss recipe); elsewhere keep 10% free
# for the CUDA allocator and NCCL buffers.
DEFAULT_GPU_MEMORY_UTILIZATION = 0.90
HOPPER_TP1_GPU_MEMORY_UTILIZATION = 0.95
# Host share kept back on every GPU node for the kubelet, system daemons and DaemonSets.
NODE_RESERVED_VCPU = 1
NODE_RESERVED_MEMORY_FRACTION = 0.15
NODE_RESERVED_MEMORY_GIB = 1.0


class SizingError(ValueError):
    """A model cannot be served on the chosen hardware; the message says why and what would work."""


@dataclass(frozen=True)
class ReplicaSizing:
    model: str
    instance_type: str
    gpu: str
    gpu_generation: str
    ray_accelerator: str
    tensor_parallel: int
    gpus_per_replica: int
    replicas_per_node: int
    gpu_memory_utilization: float
    max_model_len: int
    kv_cache_gb_per_replica: float
    kv_cache_tokens_per_replica: int
    attention_backend: str | None
    worker_cpu: int
    worker_memory_gib: int
    gpus_per_node: int
    usd_per_node_hour: float

    @property
    def concurrent_full_length_sequences(self) -> int:
        return self.kv_cache_tokens_per_replica // self.max_model_len

    def nodes_for(self, replicas: int) -> int:
        """Nodes that `replicas` replicas occupy (a replica never spans nodes)."""
        return math.ceil(replicas / self.replicas_per_node) if replicas > 0 else 0

    def usd_per_hour(self, replicas: int) -> float:
        """What `replicas` replicas cost per hour: the nodes they need x the node's price."""
        return round(self.nodes_for(replicas) * self.usd_per_node_hour, 6)

    @property
    def usd_per_replica_hour(self) -> float:
        """One node's price shared by the replicas it holds: what a replica costs only when every
        slot of its node is filled. For what an environment pays use `usd_per_hour(replicas)`."""
        return round(self.usd_per_node_hour / self.replicas_per_node, 6)


def _utilization(generation: str, tp: int, override: float | None) -> float:
    if override is not None:
        return override
    if generation == "hopper" and tp == 1:
        return HOPPER_TP1_GPU_MEMORY_UTILIZATION
    return DEFAULT_GPU_MEMORY_UTILIZATION


def _kv_cache_gb(model: ModelSpec, gpu_memory_gb: float, tp: int, utilization: float) -> float:
    per_gpu = gpu_memory_gb * utilization - model.weights_gb / tp - RUNTIME_OVERHEAD_GB
    return per_gpu * tp


def replica_kv_cache_gb(
    catalog: Catalog, model_name: str, gpu_name: str, tensor_parallel: int, gpu_memory_utilization: float | None = None
) -> float:
    """KV-cache room of one replica (all its GPUs), GB, by the rule `size_replica` applies; the
    utilization is the sizing's default for the GPU and TP unless given. Negative: it does not fit."""
    gpu = catalog.gpus[gpu_name]
    utilization = _utilization(gpu.generation, tensor_parallel, gpu_memory_utilization)
    return _kv_cache_gb(catalog.models[model_name], gpu.memory_gb, tensor_parallel, utilization)


def _worker_resources(instance: InstanceSpec, gpus_per_replica: int) -> tuple[int, int]:
    share = gpus_per_replica / instance.gpu_count
    cpu = max(1, math.floor((instance.vcpu - NODE_RESERVED_VCPU) * share))
    usable_gib = instance.memory_gib * (1 - NODE_RESERVED_MEMORY_FRACTION) - NODE_RESERVED_MEMORY_GIB
    memory = max(1, math.floor(usable_gib * share))
    return cpu, memory


def _try_size(
    catalog: Catalog,
    model_name: str,
    instance_type: str,
    max_model_len: int,
    tensor_parallel: int | None,
    gpu_memory_utilization: float | None,
) -> tuple[ReplicaSizing | None, str]:
    """The sizing, or None and the reason it does not fit."""
    model = catalog.models[model_name]
    instance = catalog.instances[instance_type]
    if instance.gpu is None:
        return None, f"{instance_type} has no GPU"
    gpu = catalog.gpus[instance.gpu]
    if gpu.compute_capability < model.min_compute_capability:
        return None, (
            f"{instance.gpu} has compute capability {gpu.compute_capability}; vLLM's MXFP4 kernels "
            f"for {model_name} need {model.min_compute_capability} or newer"
        )
    if max_model_len > model.max_context_tokens:
        return None, f"max_model_len {max_model_len} exceeds {model_name}'s context of {model.max_context_tokens}"
    degrees = [tensor_parallel] if tensor_parallel else list(TENSOR_PARALLEL_DEGREES)
    reasons = []
    too_wide = [tp for tp in degrees if tp > instance.gpu_count]
    for tp in degrees:
        if tp > instance.gpu_count:
            continue
        if model.num_kv_heads % tp:
            reasons.append(f"TP={tp} does not divide {model_name}'s {model.num_kv_heads} KV heads")
            continue
        utilization = _utilization(gpu.generation, tp, gpu_memory_utilization)
        kv_gb = _kv_cache_gb(model, gpu.memory_gb, tp, utilization)
        kv_tokens = int(kv_gb * 1e9 // model.kv_bytes_per_token) if kv_gb > 0 else 0
        if kv_tokens < max_model_len:
            need_gb = model.weights_gb / tp + RUNTIME_OVERHEAD_GB + max_model_len * model.kv_bytes_per_token / 1e9 / tp
            reasons.append(
                f"at TP={tp} each {instance.gpu} needs {need_gb:.1f} GB for weights, runtime and one "
                f"{max_model_len}-token sequence but offers {gpu.memory_gb * utilization:.1f} GB "
                f"({gpu.memory_gb:g} GB x {utilization})"
            )
            continue
        replicas_per_node = instance.gpu_count // tp
        cpu, memory = _worker_resources(instance, tp)
        return (
            ReplicaSizing(
                model=model_name,
                instance_type=instance_type,
                gpu=instance.gpu,
                gpu_generation=gpu.generation,
                ray_accelerator=gpu.ray_accelerator,
                tensor_parallel=tp,
                gpus_per_replica=tp,
                replicas_per_node=replicas_per_node,
                gpu_memory_utilization=utilization,
                max_model_len=max_model_len,
                kv_cache_gb_per_replica=round(kv_gb, 2),
                kv_cache_tokens_per_replica=kv_tokens,
                # Ampere and Ada run gpt-oss's attention sinks on vLLM's Triton backend; Hopper
                # uses vLLM's default (FlashAttention 3). (vLLM gpt-oss recipe)
                attention_backend=None if gpu.generation == "hopper" else "TRITON_ATTN",
                worker_cpu=cpu,
                worker_memory_gib=memory,
                gpus_per_node=instance.gpu_count,
                usd_per_node_hour=instance.usd_per_hour,
            ),
            "",
        )
    if too_wide:
        listed = "/".join(str(tp) for tp in too_wide)
        reasons.append(f"TP={listed} needs more GPUs on one node than {instance_type} has ({instance.gpu_count})")
    return None, "; ".join(reasons)


def suggestions(
    model_name: str, max_model_len: int, catalog: Catalog | None = None, limit: int = 3, replicas: int = 1
) -> list[str]:
    """Instance types that can serve the model, cheapest for `replicas` replicas first.

    Ranked by what the environment pays: the nodes the replicas need x the node price. A
    p4d.24xlarge holds two 120b replicas, but one replica still buys the whole node.
    """
    catalog = catalog or load_catalog()
    replicas = max(1, replicas)
    fits = []
    for instance_type in catalog.instances:
        sizing, _ = _try_size(catalog, model_name, instance_type, max_model_len, None, None)
        if sizing:
            fits.append(sizing)
    # Ties go to the smaller node: a lost node takes fewer replicas with it.
    fits.sort(key=lambda s: (s.usd_per_hour(replicas), s.gpus_per_node, s.instance_type))
    noun = "replica" if replicas == 1 else "replicas"
    return [
        f"{s.instance_type} ({s.gpus_per_node}x {s.gpu} per node, TP={s.tensor_parallel}; {replicas} {noun} on "
        f"{s.nodes_for(replicas)} node(s): ${s.usd_per_hour(replicas):.2f}/h)"
        for s in fits[:limit]
    ]


def size_replica(
    model_name: str,
    instance_type: str,
    max_model_len: int,
    tensor_parallel: int | None = None,
    gpu_memory_utilization: float | None = None,
    catalog: Catalog | None = None,
    replicas: int = 1,
) -> ReplicaSizing:
    """Size one replica of `model_name` on `instance_type`, or raise SizingError with suggestions
    ranked by what `replicas` replicas would cost on each instance type."""
    catalog = catalog or load_catalog()
    if model_name not in catalog.models:
        raise SizingError(f"unknown model {model_name!r}; known: {', '.join(sorted(catalog.models))}")
    if instance_type not in catalog.instances:
        raise SizingError(f"unknown instance type {instance_type!r}; known: {', '.join(sorted(catalog.instances))}")
    if tensor_parallel is not None and tensor_parallel not in TENSOR_PARALLEL_DEGREES:
        raise SizingError(f"tensor_parallel {tensor_parallel} is not one of {TENSOR_PARALLEL_DEGREES}")
    sizing, reason = _try_size(catalog, model_name, instance_type, max_model_len, tensor_parallel, gpu_memory_utilization)
    if sizing:
        return sizing
    instance = catalog.instances[instance_type]
    hardware = f"{instance.gpu_count}x {instance.gpu}" if instance.gpu else "no GPU"
    options = suggestions(model_name, max_model_len, catalog, replicas=replicas)
    hint = f"; it fits on: {', '.join(options)}" if options else ""
    raise SizingError(f"{model_name} cannot be served on {instance_type} ({hardware}): {reason}{hint}")


# -- capacity: one sizing feeds every limit that must agree ------------------------------------------
#
# The replica's KV cache decides how many sequences its engine runs at once; everything in front of
# it is derived from that, so the layers agree by construction (docs/serving.md "Capacity"):
#   vLLM max_num_seqs      = KV cache tokens / PLANNING_TOKENS_PER_SEQUENCE, at most ENGINE_MAX_NUM_SEQS
#   Serve max_ongoing      = max_num_seqs: Serve hands a replica no more than its engine runs, so a
#                            request never waits inside vLLM where Serve cannot see it
#   Serve max_queued       = max_ongoing / QUEUE_DIVISOR: a short, bounded wait; beyond it Serve answers
#                            503 at once and the gateway falls back at once (no first-byte timeout)
#   gateway max_in_flight  = what the replicas take at max_replicas (running + queued), spread over the
#                            gateway's minimum pods, at most the pod's connection cap and never below what
#                            the replicas take at the floor: pods x in-flight >= the floor, so the gateway
#                            never sends traffic to the paid API while the GPUs have room
# A sequence's KV cache is its current length; a replica planned for 2,048 tokens per sequence (a
# 1k-token prompt plus 1k tokens of reasoning and answer so far) keeps every running sequence in
# memory; vLLM preempts (recomputes) sequences when longer ones fill the cache, it does not fail.
PLANNING_TOKENS_PER_SEQUENCE = 2048
# A ceiling on the batch of one replica: beyond a few hundred sequences, per-token latency grows with
# the batch while the throughput of one GPU barely does.
ENGINE_MAX_NUM_SEQS = 256
# A queued request waits for a running one to finish: with N running requests of mean duration D,
# a queue of N/8 waits about D/8, well inside the first-byte timeout for requests shorter than
# 8 x that timeout; longer waits are better spent on the fallback.
QUEUE_DIVISOR = 8

# The gateway pod's memory (the chart's gateway.resources.limits.memory default, infra/chart_values/
# model/gateway.py, takes it from here) and what the server may hold in it.
GATEWAY_MEMORY_LIMIT_MIB = 512
# The gateway's own memory: an idle gateway with prod's settings holds 75 MiB resident (VmRSS of
# `python -m serving.gateway`, CPython 3.11, unchanged after 300 requests; measured 2026-12-07), and
# about as much again is kept for the upstream pools and the JSON answers being relayed.
GATEWAY_BASELINE_MIB = 160
# Bodies one client connection can make the server hold at once: the request its handler runs and the
# pipelined one read behind it (serving/gateway/server.py).
PIPELINED_BODIES_PER_CONNECTION = 2
# Read and write buffers and parser state per client connection.
CONNECTION_BUFFER_BYTES = 64 * 1024
# A request body larger than this many bytes per token of context cannot fit the context: o200k
# averages about 4 bytes of text per token, JSON escaping makes a character at most 6 bytes.
REQUEST_BYTES_PER_CONTEXT_TOKEN = 16
MIB = 1024 * 1024


@dataclass(frozen=True)
class ServingCapacity:
    """The limits every layer applies, derived from one replica's sizing and the replica counts."""

    max_num_seqs: int  # vLLM, per replica
    max_ongoing_requests: int  # Ray Serve, per replica
    max_queued_requests: int  # Ray Serve, per caller (bounded: overload is a 503 at once)
    floor_replicas: int
    max_replicas: int
    gateway_pods: int  # the gateway's minimum pods
    gateway_max_in_flight: int  # per gateway pod
    max_request_bytes: int  # per request body, from the context length
    gateway_max_connections: int  # per gateway pod, from its memory limit
    gateway_memory_limit_mib: int

    @property
    def per_replica(self) -> int:
        """Requests one replica takes before Serve answers 503: running plus queued."""
        return self.max_ongoing_requests + self.max_queued_requests

    @property
    def floor_requests(self) -> int:
        """What the replicas take at the floor (at least one replica: a pool at zero wakes to one)."""
        return self.floor_replicas * self.per_replica

    @property
    def gateway_memory_needed_mib(self) -> float:
        """The gateway pod's worst case: every connection holding its pipelined bodies, plus buffers."""
        per_connection = PIPELINED_BODIES_PER_CONNECTION * self.max_request_bytes + CONNECTION_BUFFER_BYTES
        return GATEWAY_BASELINE_MIB + self.gateway_max_connections * per_connection / MIB


def request_bytes_limit(max_model_len: int) -> int:
    """The largest request body worth reading: the context in bytes, rounded up to 64 KiB."""
    raw = max_model_len * REQUEST_BYTES_PER_CONTEXT_TOKEN
    return -(-raw // (64 * 1024)) * 64 * 1024


def connections_for_memory(memory_limit_mib: int, max_request_bytes: int) -> int:
    """Client connections a gateway pod can hold within its memory limit, bodies and buffers included."""
    per_connection = PIPELINED_BODIES_PER_CONNECTION * max_request_bytes + CONNECTION_BUFFER_BYTES
    return max(0, int((memory_limit_mib - GATEWAY_BASELINE_MIB) * MIB // per_connection))


def serving_capacity(
    sizing: ReplicaSizing,
    min_replicas: int,
    max_replicas: int,
    gateway_pods: int,
    gateway_memory_limit_mib: int = GATEWAY_MEMORY_LIMIT_MIB,
) -> ServingCapacity:
    """Every capacity limit from one sizing: the engine's batch, Serve's admission and queue, the
    gateway's in-flight ceiling and its connection cap (module comment above for the rules)."""
    max_num_seqs = max(1, min(ENGINE_MAX_NUM_SEQS, sizing.kv_cache_tokens_per_replica // PLANNING_TOKENS_PER_SEQUENCE))
    queued = max(1, -(-max_num_seqs // QUEUE_DIVISOR))
    pods = max(1, gateway_pods)
    per_replica = max_num_seqs + queued
    request_bytes = request_bytes_limit(sizing.max_model_len)
    connections = connections_for_memory(gateway_memory_limit_mib, request_bytes)
    # What the replicas take at max_replicas, as far as the pod's connections allow, and never less
    # than what they take at the floor (the plan refuses a sizing where even that does not fit).
    at_max = -(-max(1, max_replicas) * per_replica // pods)
    at_floor = -(-max(1, min_replicas) * per_replica // pods)
    in_flight = max(at_floor, min(at_max, connections))
    return ServingCapacity(
        max_num_seqs=max_num_seqs,
        max_ongoing_requests=max_num_seqs,
        max_queued_requests=queued,
        floor_replicas=max(1, min_replicas),
        max_replicas=max(1, max_replicas),
        gateway_pods=pods,
        gateway_max_in_flight=in_flight,
        max_request_bytes=request_bytes,
        gateway_max_connections=connections,
        gateway_memory_limit_mib=gateway_memory_limit_mib,
    )
