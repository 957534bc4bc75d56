"""`model`, `serve` (Ray Serve LLM and its vLLM engine arguments), `tiktoken` and `probes` of the
chart values. The chart's defaults serve gpt-oss-20b from Hugging Face on one L4."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from contracts import SERVE_APPLICATION
from infra.catalog import load_catalog
from infra.chart_values.model.base import AcceleratorType, Section
from infra.versions import TIKTOKEN_FILES, TIKTOKEN_PUBLIC_BASE

# The model of the chart's standalone default install.
EXAMPLE_MODEL = "gpt-oss-20b"


class Model(Section):
    id: str = Field(
        default=EXAMPLE_MODEL, min_length=1, description='Model id clients send (`"model": ...`) and `/v1/models` lists.'
    )
    source: str = Field(
        default_factory=lambda: load_catalog().models[EXAMPLE_MODEL].hf_repo,
        pattern=r"^(s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+|[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*)$",
        description="Where the weights come from: a Hugging Face repository id, or the `s3://` prefix of staged weights "
        "(`s3://<bucket>/models/<repo>/<revision>`). S3 is read with the worker service account's credentials.",
    )
    offline: bool = Field(
        default=False,
        description="No Hugging Face access at all (HF_HUB_OFFLINE=1): set it with an `s3://` source in clusters without egress.",
    )


class Engine(Section):
    """vLLM engine arguments as typed keys (the chart maps them back to vLLM's names). Not a free-form
    map: Helm deep-merges maps with the chart's defaults, so a key left out of an override would
    silently survive from values.yaml (e.g. TRITON_ATTN on Hopper)."""

    maxModelLen: int = Field(
        default=32768,
        ge=1024,
        le=131072,
        description="Longest prompt + completion in tokens (vLLM `max_model_len`); set it to the real need: it bounds "
        "the KV cache one sequence may take.",
    )
    tensorParallelSize: Literal[1, 2, 4, 8] = Field(
        default=1,
        description="GPUs one replica spans (vLLM `tensor_parallel_size`); must equal the worker group's `gpus`. "
        "TP=1 gives the best throughput per GPU where the model fits.",
    )
    gpuMemoryUtilization: float = Field(
        default=0.9,
        gt=0,
        le=0.98,
        description="Fraction of GPU memory vLLM takes (`gpu_memory_utilization`). Above 0.95 the CUDA allocator and NCCL "
        "can run out of room; 0.95 is the recipe for Hopper at TP=1, 0.90 elsewhere.",
    )
    toolCallParser: str = Field(
        default="openai",
        min_length=1,
        description="Tool-call parser (`tool_call_parser`); gpt-oss needs `openai` (vLLM >= 0.10.2).",
    )
    enableAutoToolChoice: bool = Field(
        default=True, description="Let the model decide to call tools (`enable_auto_tool_choice`)."
    )
    attentionBackend: Literal["", "TRITON_ATTN", "FLASH_ATTN", "FLASHINFER"] = Field(
        default="TRITON_ATTN",
        description="Attention backend (`attention_backend`); `TRITON_ATTN` is required for gpt-oss on Ampere and Ada, "
        "empty leaves vLLM's choice (FlashAttention 3 on Hopper).",
    )
    maxNumBatchedTokens: int = Field(
        default=0,
        ge=0,
        description="Token budget of one scheduler step (`max_num_batched_tokens`); 8192 is the Hopper recipe, 0 leaves vLLM's default.",
    )
    revision: str = Field(
        default_factory=lambda: load_catalog().models[EXAMPLE_MODEL].default_revision,
        pattern=r"^([0-9a-f]{40})?$",
        description="Hugging Face commit of weights and tokenizer (`revision`, `tokenizer_revision`); empty for `s3://` "
        "sources, which are pinned by their prefix.",
    )
    maxNumSeqs: int = Field(
        default=101,
        ge=0,
        description="Sequences one replica's engine runs at once (vLLM `max_num_seqs`); 0 leaves vLLM's default. The "
        "plan derives it from the replica's KV cache (docs/serving.md 'Capacity'); `serve.maxOngoingRequests` may not "
        "exceed it, or requests would wait inside vLLM where Ray Serve cannot see them.",
    )
    extraArgs: dict[str, Any] = Field(
        default_factory=dict,
        description="More vLLM engine arguments, passed verbatim under vLLM's own names; Ray refuses unknown names when "
        "the replica starts.",
    )


class ServeAutoscaling(Section):
    minReplicas: int = Field(
        default=0,
        ge=0,
        description="Replicas kept warm; 0 lets the pool scale to zero (the first request then waits for a GPU node).",
    )
    maxReplicas: int = Field(
        default=1, ge=1, description="Upper bound of Ray Serve autoscaling; the worker group's maxReplicas must allow it."
    )
    targetOngoingRequests: int = Field(
        default=32, ge=1, description="Ongoing requests per replica Ray Serve autoscaling aims for."
    )
    upscaleDelayS: int = Field(default=30, ge=0, description="Seconds of sustained load before a replica is added.")
    # Ray Serve's default: ten idle minutes before the last replica of a min_replicas=0 pool goes.
    downscaleDelayS: int = Field(
        default=600,
        ge=0,
        description="Seconds of low load before a replica is removed (the last one too, when minReplicas is 0).",
    )


class Lora(Section):
    """Ray Serve LLM multi-LoRA on the default model (`lora_config`); docs/models.md."""

    enabled: bool = Field(
        default=False, description="Serve LoRA adapters as `<model id>:<adapter>` on the default model's replicas."
    )
    dynamicLoraLoadingPath: str = Field(
        default="",
        pattern=r"^(s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+)?$",
        description="`s3://<bucket>/adapters/<model id>`: one folder per adapter, loaded on first use.",
    )
    maxNumAdaptersPerReplica: int = Field(
        default=4, ge=1, le=32, description="Adapters one replica holds at once (`max_num_adapters_per_replica`)."
    )


class Checkpoint(Section):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$", description="Served model id of the fine-tune.")
    source: str = Field(
        pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+$",
        description="`s3://<bucket>/<prefix>` holding the checkpoint and its manifest.json.",
    )


class Serve(Section):
    applicationName: str = Field(
        default=SERVE_APPLICATION, pattern=r"^[a-z][a-z0-9-]*$", description="Ray Serve application name."
    )
    acceleratorType: AcceleratorType = Field(
        default="L4",
        description="Ray accelerator type of the replicas (L4, A10G, L40S, A100-40G, H100, H200); must be the "
        "`acceleratorType` of a worker group, or no pod can ever host a replica (the chart refuses to render).",
    )
    engine: Engine = Field(default_factory=Engine, description="vLLM engine arguments (Ray Serve LLM `engine_kwargs`).")
    autoscaling: ServeAutoscaling = Field(
        default_factory=ServeAutoscaling, description="Ray Serve autoscaling of the replicas (`autoscaling_config`)."
    )
    maxOngoingRequests: int = Field(
        default=101,
        ge=1,
        description="Requests one replica runs at once (Serve `max_ongoing_requests`); beyond it Ray Serve queues up to "
        "`maxQueuedRequests`, then answers 503 (backpressure). The plan sets it to `serve.engine.maxNumSeqs`.",
    )
    maxQueuedRequests: int = Field(
        default=13,
        ge=1,
        description="Requests a caller may queue for the replicas (Serve `max_queued_requests`; Ray's default -1 is "
        "unbounded). Small, so overload is a 503 at once and the gateway falls back at once instead of waiting its "
        "first-byte timeout and paying the managed API anyway; the plan sets maxOngoingRequests / 8.",
    )
    healthCheckPeriodS: int = Field(
        default=10, ge=1, description="Seconds between Ray Serve's health checks of a replica (vLLM's engine check)."
    )
    healthCheckTimeoutS: int = Field(
        default=30, ge=1, description="Seconds a health check may take before Ray Serve restarts the replica."
    )
    lora: Lora = Field(default_factory=Lora, description="LoRA adapters on the default model.")
    additionalLlmConfigs: list[dict[str, Any]] = Field(
        default_factory=list,
        description="More models in the same Serve application: complete Ray Serve LLM `llm_configs` entries "
        "(`gpt-oss-platform values` writes them from `served_models`; tests validate each with Ray's LLMConfig).",
    )
    checkpoints: list[Checkpoint] = Field(
        default_factory=list,
        description="Fine-tuned checkpoints every worker fetches and verifies against their manifest "
        "(files/verify_checkpoint.py) into `/home/ray/.cache/checkpoints/<name>` before Ray starts.",
    )


TiktokenFile = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+\.tiktoken$")]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class Tiktoken(Section):
    enabled: bool = Field(
        default=True,
        description="Stage harmony's tiktoken files into the worker pods before Ray starts and point TIKTOKEN_ENCODINGS_BASE "
        "at them, so gpt-oss starts without internet egress. Off, harmony downloads them at start-up.",
    )
    source: str = Field(
        default=TIKTOKEN_PUBLIC_BASE,
        pattern=r"^(s3|https)://.+$",
        description="Base the files are fetched from: `https://...` or `s3://<bucket>/<prefix>` (read with the worker service account).",
    )
    files: dict[TiktokenFile, Sha256] = Field(
        default_factory=lambda: dict(TIKTOKEN_FILES),
        min_length=1,
        description="File name -> SHA-256 of each staged file; a file whose digest differs is refused.",
    )


class Readiness(Section):
    periodSeconds: int = Field(
        default=5,
        ge=1,
        description="Seconds between readiness checks of a GPU worker (raylet and Serve proxy answer). Never a "
        "generation: under saturation it would queue behind user traffic and unready every worker at once.",
    )
    failureThreshold: int = Field(default=3, ge=1, description="Consecutive failures before the worker leaves the Serve Service.")


class Liveness(Section):
    # Two minutes without a token while requests wait: far above a decode step (milliseconds) and a
    # chunked prefill step (max_num_batched_tokens per step), so only a hung engine gets there.
    stallSeconds: int = Field(
        default=120,
        ge=30,
        description="Seconds without a single token, while requests are pending, after which the engine counts as hung "
        "and the worker is restarted. Keep it above the longest prefill of a max_model_len prompt.",
    )
    periodSeconds: int = Field(default=15, ge=5, description="Seconds between liveness checks.")
    timeoutSeconds: int = Field(
        default=10, ge=2, description="Seconds one check may take (each of its two HTTP calls gets half)."
    )
    failureThreshold: int = Field(default=3, ge=1, description="Consecutive failed checks before the container is restarted.")


class Probes(Section):
    readiness: Readiness = Field(default_factory=Readiness, description="Readiness of a GPU worker: cheap, never a generation.")
    liveness: Liveness = Field(
        default_factory=Liveness,
        description="Liveness of a GPU worker: restarts a hung engine only (files/probe_liveness.py).",
    )
