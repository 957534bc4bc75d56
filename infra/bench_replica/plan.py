"""What `bench replica` runs for one environment: the request shapes, the concurrency sweep and the
`vllm bench serve` command of every run, from the same config the chart and the gateway get.

Where the requests go: the Ray Serve HTTP proxy (`<release>-serve-svc:8000`, the address the
gateway itself calls, contracts.PRIMARY_BASE_URL), `/v1/chat/completions`, with the model name the
Serve application registers (`model.id`, the environment's model name). Ray Serve LLM runs vLLM's
engine inside the replica actor and exposes no vLLM HTTP port of its own, so the proxy is the only
OpenAI endpoint there is; it is also what the gateway's traffic pays for (proxy, ingress, router),
and its admission limit `max_ongoing_requests` is what the sweep goes up to. The proxy spreads
requests over every running replica: the figure is one replica's only while exactly one runs
(docs/cost.md "Measure your own replica" says how to hold the pool at one).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from contracts import PRIMARY_BASE_URL
from infra.capacity import capacity_for
from infra.config.models import EnvironmentConfig
from infra.gateway_settings import settings_for_environment
from infra.sizing import PLANNING_TOKENS_PER_SEQUENCE

# The cost model's default profile is 3 prompt tokens per completion token (cli/cost.py
# --input-output-ratio); its planned sequence is PLANNING_TOKENS_PER_SEQUENCE tokens (infra/sizing.py).
# 3:1 of 2,048 tokens is 1,536 in and 512 out.
RATIO_3TO1 = 3
LONG_INPUT_TOKENS = 16384
LONG_OUTPUT_TOKENS = 1024
# Room for the chat template around a random prompt (harmony's system and role headers are tens of
# tokens); a long prompt that overflows max_model_len fails every request.
CHAT_TEMPLATE_MARGIN = 512
# The smallest long-context prompt worth calling long: 8x the planned prompt.
LONG_MIN_INPUT_TOKENS = 8 * 1536
# Closed loop at each concurrency: every slot runs this many requests, so the ramp-up and the drain
# (the first and last wave) are a fifth of the run, and at least MIN_PROMPTS requests give the p99
# more than a handful of samples.
PROMPTS_PER_SLOT = 5
MIN_PROMPTS = 20
# ShareGPT as vLLM's own benchmark docs download it (.buildkite nightly-benchmarks scripts:
# `wget https://huggingface.co/datasets/anon8231489123/ShareGPT_Vicuna_unfiltered/...`).
SHAREGPT_URL = (
    "https://huggingface.co/datasets/anon8231489123/ShareGPT_Vicuna_unfiltered/resolve/main/"
    "ShareGPT_V3_unfiltered_cleaned_split.json"
)
SHAREGPT_PATH = "/data/sharegpt.json"
RESULT_DIR = "/results"
# Our keys in each result JSON, set through `--metadata` (vLLM copies KEY=VALUE pairs into the file).
META_SHAPE = "gpt_oss_shape"
META_ENVIRONMENT = "gpt_oss_environment"
META_IMAGE = "gpt_oss_image"
META_CONCURRENCY = "gpt_oss_concurrency"


class BenchPlanError(ValueError):
    """An environment or option `bench replica` cannot plan for; the message names it and the fix."""


@dataclass(frozen=True)
class Shape:
    name: str
    dataset: str  # vLLM --dataset-name
    input_tokens: int | None  # random datasets only
    output_tokens: int | None
    description: str


@dataclass(frozen=True)
class Run:
    shape: str
    concurrency: int
    num_prompts: int
    result_filename: str
    argv: tuple[str, ...]

    @property
    def command(self) -> str:
        return shlex.join(self.argv)


@dataclass(frozen=True)
class ReplicaBenchPlan:
    environment: str
    model: str
    tokenizer: str
    base_url: str
    image: str
    image_pinned: bool  # pulled by digest
    max_ongoing_requests: int
    first_byte_timeout_s: float
    shapes: tuple[Shape, ...]
    sweep: tuple[int, ...]
    runs: tuple[Run, ...]
    sharegpt_url: str

    @property
    def needs_sharegpt(self) -> bool:
        return any(s.dataset == "sharegpt" for s in self.shapes)


def shapes_for(env: EnvironmentConfig) -> dict[str, Shape]:
    """The three shapes of issue #17: 3:1 at the planned sequence, ShareGPT, long context."""
    planned_out = PLANNING_TOKENS_PER_SEQUENCE // (RATIO_3TO1 + 1)
    long_input = min(LONG_INPUT_TOKENS, env.serving.max_model_len - LONG_OUTPUT_TOKENS - CHAT_TEMPLATE_MARGIN)
    shapes = {
        "3to1": Shape(
            "3to1",
            "random",
            planned_out * RATIO_3TO1,
            planned_out,
            f"random prompts, {planned_out * RATIO_3TO1} in / {planned_out} out: the cost model's 3:1 at its "
            f"{PLANNING_TOKENS_PER_SEQUENCE}-token planned sequence",
        ),
        "sharegpt": Shape("sharegpt", "sharegpt", None, None, "ShareGPT conversations, their own prompt and answer lengths"),
    }
    if long_input >= LONG_MIN_INPUT_TOKENS:
        shapes["long"] = Shape(
            "long",
            "random",
            long_input,
            LONG_OUTPUT_TOKENS,
            f"random prompts, {long_input} in / {LONG_OUTPUT_TOKENS} out: long context within serving.max_model_len "
            f"{env.serving.max_model_len}",
        )
    return shapes


def concurrency_sweep(max_ongoing_requests: int) -> tuple[int, ...]:
    """1, 2, 4, ... below the replica's admission limit, then the limit itself: beyond it Serve
    queues, and the queue is not the replica's throughput."""
    levels = []
    level = 1
    while level < max_ongoing_requests:
        levels.append(level)
        level *= 2
    levels.append(max_ongoing_requests)
    return tuple(levels)


def num_prompts(concurrency: int) -> int:
    return max(MIN_PROMPTS, PROMPTS_PER_SLOT * concurrency)


def first_byte_timeout_s(env: EnvironmentConfig) -> float:
    """The self-hosted upstream's first-byte timeout, from the settings the gateway is given."""
    for upstream in settings_for_environment(env)["upstreams"]:
        if upstream["adapter"] == "self_hosted":
            return float(upstream["first_byte_timeout_s"])
    raise BenchPlanError(f"{env.name}: the gateway settings have no self-hosted upstream")


def ray_image(env: EnvironmentConfig, repository: str | None = None) -> tuple[str, bool]:
    """The Ray image reference the chart deploys (tag, and digest when the release pins one) and
    whether it is pinned by digest."""
    from infra.chart_values.model.ray import RayImage
    from infra.versions import RAY_VERSION

    default = RayImage()
    repo = repository or default.repository
    tag = f"{RAY_VERSION}-{default.variant}"
    digest = env.account.ray_image_digest
    return (f"{repo}:{tag}@{digest}" if digest else f"{repo}:{tag}"), digest is not None


def _run(plan_base: dict[str, str], shape: Shape, concurrency: int, env_name: str, image: str) -> Run:
    filename = f"{shape.name}-c{concurrency:04d}.json"
    prompts = num_prompts(concurrency)
    argv = [
        "vllm",
        "bench",
        "serve",
        "--backend",
        "openai-chat",
        "--base-url",
        plan_base["base_url"],
        "--endpoint",
        "/v1/chat/completions",
        "--model",
        plan_base["model"],
        "--tokenizer",
        plan_base["tokenizer"],
        "--dataset-name",
        shape.dataset,
    ]
    if shape.dataset == "sharegpt":
        argv += ["--dataset-path", SHAREGPT_PATH]
    else:
        assert shape.input_tokens is not None and shape.output_tokens is not None
        argv += [
            "--random-input-len",
            str(shape.input_tokens),
            "--random-output-len",
            str(shape.output_tokens),
            "--random-range-ratio",
            "0",
        ]
    argv += [
        "--num-prompts",
        str(prompts),
        "--max-concurrency",
        str(concurrency),
        "--request-rate",
        "inf",
        "--num-warmups",
        str(concurrency),
        "--seed",
        "0",
        "--percentile-metrics",
        "ttft,tpot,itl,e2el",
        "--metric-percentiles",
        "50,99",
        "--disable-tqdm",
        "--save-result",
        "--result-dir",
        RESULT_DIR,
        "--result-filename",
        filename,
        "--metadata",
        f"{META_SHAPE}={shape.name}",
        f"{META_CONCURRENCY}={concurrency}",
        f"{META_ENVIRONMENT}={env_name}",
        f"{META_IMAGE}={image}",
    ]
    return Run(shape.name, concurrency, prompts, filename, tuple(argv))


def plan_for(
    env: EnvironmentConfig,
    shapes: list[str] | None = None,
    *,
    image_repository: str | None = None,
    sharegpt_url: str = SHAREGPT_URL,
) -> ReplicaBenchPlan:
    """The runs of `bench replica --env ENV`; BenchPlanError naming a shape the environment cannot run."""
    available = shapes_for(env)
    wanted = shapes or list(available)
    unknown = [s for s in wanted if s not in ("3to1", "sharegpt", "long")]
    if unknown:
        raise BenchPlanError(f"--shapes {','.join(wanted)}: unknown shape {unknown[0]!r}; choose from 3to1, sharegpt, long")
    if "long" in wanted and "long" not in available:
        raise BenchPlanError(
            f"--shapes long: {env.name}'s serving.max_model_len {env.serving.max_model_len} leaves no room for a long-context "
            f"prompt of at least {LONG_MIN_INPUT_TOKENS} tokens plus {LONG_OUTPUT_TOKENS} out; raise serving.max_model_len "
            "or leave `long` out of --shapes"
        )
    capacity = capacity_for(env)
    image, pinned = ray_image(env, image_repository)
    base = {"base_url": PRIMARY_BASE_URL.removesuffix("/v1"), "model": env.model.name, "tokenizer": env.model.hf_repo}
    sweep = concurrency_sweep(capacity.max_ongoing_requests)
    chosen = tuple(available[name] for name in dict.fromkeys(wanted))
    runs = tuple(_run(base, shape, c, env.name, image) for shape in chosen for c in sweep)
    return ReplicaBenchPlan(
        environment=env.name,
        model=env.model.name,
        tokenizer=env.model.hf_repo,
        base_url=base["base_url"],
        image=image,
        image_pinned=pinned,
        max_ongoing_requests=capacity.max_ongoing_requests,
        first_byte_timeout_s=first_byte_timeout_s(env),
        shapes=chosen,
        sweep=sweep,
        runs=runs,
        sharegpt_url=sharegpt_url,
    )
