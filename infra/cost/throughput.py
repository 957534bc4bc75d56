"""Saturation throughput of one replica: published, estimated from memory bandwidth, or measured.

`throughput_for` answers for any model x GPU x tensor-parallel size the sizing accepts. A
measured figure (your benchmark, `--throughput FILE`) overrides; otherwise a published figure
for exactly that combination; otherwise the bandwidth estimate of infra/catalog/throughput.yaml,
capped by the replica's KV-cache room, which names the published figure it scaled, the
bandwidths and the KV room it used.

Published figures are ShareGPT bursts at ~1.1 prompt tokens per output token; `prompt_cost` and
`ThroughputFigure.at_ratio` convert them to a profile's mix (the method is in throughput.yaml).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from infra.catalog import Catalog, PublishedThroughput
from infra.cost.errors import CostInputError
from infra.sizing import replica_kv_cache_gb

Basis = Literal["published", "estimated", "measured"]
# The prompt mix `cost throughput` converts every figure to, beside the published ~1.1:1: the
# default of `cost compare` (3 prompt tokens per completion token).
TABLE_RATIO = 3.0

# A measured figure is used for a traffic profile whose input:output ratio is within this factor of
# the ratio it was measured at (3:1 measured serves profiles from 2.4:1 to 3.75:1). Prompt tokens
# are cheap prefill and output tokens expensive decode, so a replica's output rate falls as the
# ratio rises (docs/cost.md "Measure your own replica"); beyond 25% the figure answers another
# question, and using it silently would move the break-even by as much.
RATIO_TOLERANCE = 1.25


@dataclass(frozen=True)
class ThroughputFigure:
    model: str
    gpu: str
    tensor_parallel: int
    output_tokens_per_s: float
    basis: Basis
    source: str
    date: date
    method: str
    # Prompt tokens per generated token of the run the figure comes from, and what a prompt
    # token costs against an output token (`prompt_cost`). None for a measured figure: it was
    # measured at your own mix and is used as it is.
    input_output_ratio: float | None = None
    prompt_cost: float | None = None

    def at_ratio(self, generated_ratio: float) -> float:
        """The output rate at `generated_ratio` prompt tokens per generated token: an estimate,
        rate x (1 + r x c) / (1 + R x c) with r the figure's own ratio and c the prompt cost."""
        if self.input_output_ratio is None or self.prompt_cost is None:
            return self.output_tokens_per_s
        c = self.prompt_cost
        return self.output_tokens_per_s * (1 + self.input_output_ratio * c) / (1 + generated_ratio * c)

    def as_dict(self) -> dict:
        out = {
            "model": self.model,
            "gpu": self.gpu,
            "tensor_parallel": self.tensor_parallel,
            "output_tokens_per_s": round(self.output_tokens_per_s, 1),
            "basis": self.basis,
            "source": self.source,
            "date": self.date.isoformat(),
            "method": self.method,
        }
        if self.input_output_ratio is not None and self.prompt_cost is not None:
            out["input_output_ratio"] = round(self.input_output_ratio, 3)
            out["prompt_cost"] = round(self.prompt_cost, 3)
        return out


class MeasuredThroughput(BaseModel):
    """One figure of your own, as `gpt-oss-platform bench` or any vLLM benchmark produced it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    gpu: str
    tensor_parallel: int = Field(ge=1, le=8)
    output_tokens_per_s: float = Field(gt=0)
    source: str = Field(min_length=1, description="The command and the file it wrote.")
    measured_on: date
    machine: str = Field(min_length=1, description="The machine it ran on (instance type, driver, vLLM version).")
    # Written by `bench replica --collect`; optional so that figures written by hand (or before
    # the collector existed) still load. A figure without input_output_ratio is used for any
    # profile, as before, and says so in its method.
    shape: str | None = Field(default=None, min_length=1, description="The request shape measured: 3to1, sharegpt, long.")
    input_output_ratio: float | None = Field(
        default=None, gt=0, description="Prompt tokens per output token of the run (total_input_tokens / total_output_tokens)."
    )
    concurrency: int | None = Field(default=None, ge=1, description="The --max-concurrency the figure was measured at.")
    p99_ttft_ms: float | None = Field(default=None, ge=0, description="p99 time to first token at that concurrency.")
    first_byte_timeout_s: float | None = Field(
        default=None, gt=0, description="The gateway's first-byte timeout the p99 TTFT was held under."
    )
    image: str | None = Field(default=None, min_length=1, description="The image (engine) the replica and the client ran.")
    _file: str = PrivateAttr(default="")

    @property
    def label(self) -> str:
        """How an error names this entry: its file, index and shape."""
        return self._file or "measured figure"


class MeasuredFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    measured: list[MeasuredThroughput] = Field(min_length=1)


def load_measured(path: Path, origin: str = "--throughput") -> list[MeasuredThroughput]:
    """The figures of a measured-throughput file, or CostInputError naming the bad entry; `origin`
    is where the path was given (the flag, or the config key), for the messages."""
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise CostInputError(f"{origin} {path}: cannot read it as YAML ({error.__class__.__name__}: {error})") from None
    try:
        entries = list(MeasuredFile.model_validate(raw).measured)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "<root>"
        raise CostInputError(
            f"{origin} {path}: {where}: {first['msg']} (got {first.get('input')!r}); "
            "each entry needs model, gpu, tensor_parallel, output_tokens_per_s, source, measured_on, machine"
        ) from None
    for index, entry in enumerate(entries):
        shape = f" ({entry.shape})" if entry.shape else ""
        entry._file = f"{origin} {path}: measured.{index}{shape}"
    return entries


def ratio_matches(measured: float, profile: float) -> bool:
    """Whether a figure measured at `measured` prompt tokens per output token may cost `profile`."""
    return abs(math.log(measured / profile)) <= math.log(RATIO_TOLERANCE) + 1e-12


def _measured_for(
    catalog: Catalog, model: str, gpu: str, tensor_parallel: int, measured: list[MeasuredThroughput], ratio: float | None
) -> MeasuredThroughput | None:
    """The measured figure for this replica and profile: the one whose ratio is closest to the
    profile's within RATIO_TOLERANCE, else one that records no ratio; CostInputError when every
    figure for the replica was measured at another ratio (a figure for another shape must not
    price this one)."""
    same = [f for f in measured if (f.model, catalog.normalise_gpu(f.gpu), f.tensor_parallel) == (model, gpu, tensor_parallel)]
    if not same:
        return None
    if ratio is None:
        return same[0]
    with_ratio = [f for f in same if f.input_output_ratio is not None]
    fitting = [f for f in with_ratio if ratio_matches(f.input_output_ratio or 0.0, ratio)]
    if fitting:
        return min(fitting, key=lambda f: abs(math.log((f.input_output_ratio or 1.0) / ratio)))
    unrecorded = [f for f in same if f.input_output_ratio is None]
    if unrecorded:
        return unrecorded[0]
    entries = "; ".join(f"{f.label} measured at {f.input_output_ratio:.2f}:1" for f in with_ratio)
    raise CostInputError(
        f"{entries}: the profile being costed is {ratio:.2f}:1, more than {RATIO_TOLERANCE - 1:.0%} away, so the "
        "figure would price another traffic shape. Measure this shape (`gpt-oss-platform bench replica --shapes ...`, "
        'docs/cost.md "Measure your own replica"), or cost the profile the figure was measured at: '
        "--input-output-ratio in `cost compare`/`cost simulate` (the governor costs 3:1)"
    )


@dataclass(frozen=True)
class PromptCost:
    """duration = a x input tokens + b x output tokens, fitted on one serving command's runs."""

    model: str
    seconds_per_input_token: float
    seconds_per_output_token: float
    worst_fit: float  # the largest relative miss of a run's duration

    @property
    def ratio(self) -> float:
        """What a prompt token costs, in output tokens."""
        return self.seconds_per_input_token / self.seconds_per_output_token


def prompt_cost(catalog: Catalog, model: str) -> PromptCost:
    """The least-squares fit (through the origin) of the model's runs in throughput.yaml `prompt_cost`."""
    evidence = catalog.throughput.prompt_cost.get(model)
    if evidence is None:
        raise CostInputError(f"no prompt-cost runs for {model} in infra/catalog/throughput.yaml (prompt_cost)")
    runs = evidence.runs
    # Normal equations of min sum (d - a x i - b x o)^2.
    sii = sum(r.input_tokens**2 for r in runs)
    soo = sum(r.output_tokens**2 for r in runs)
    sio = sum(r.input_tokens * r.output_tokens for r in runs)
    sid = sum(r.input_tokens * r.duration_s for r in runs)
    sod = sum(r.output_tokens * r.duration_s for r in runs)
    det = sii * soo - sio * sio
    a = (sid * soo - sod * sio) / det
    b = (sod * sii - sid * sio) / det
    worst = max(abs((a * r.input_tokens + b * r.output_tokens) / r.duration_s - 1) for r in runs)
    return PromptCost(model, a, b, worst)


def _published(catalog: Catalog, model: str, gpu: str, tp: int) -> PublishedThroughput | None:
    return next((p for p in catalog.throughput.published if (p.model, p.gpu, p.tensor_parallel) == (model, gpu, tp)), None)


def _kv_tokens(catalog: Catalog, model: str, gpu: str, tp: int, utilization: float | None = None) -> float:
    gb = replica_kv_cache_gb(catalog, model, gpu, tp, utilization)
    return max(0.0, gb) * 1e9 / catalog.models[model].kv_bytes_per_token


def kv_working_set_tokens(catalog: Catalog, published: PublishedThroughput) -> float:
    """KV-cache tokens the published run could use: its whole burst (every request in flight at
    once) or what its replica held at vLLM's default utilization, whichever is less."""
    held = _kv_tokens(
        catalog,
        published.model,
        published.gpu,
        published.tensor_parallel,
        catalog.throughput.estimate.reference_gpu_memory_utilization,
    )
    return min(held, published.input_tokens + published.output_tokens)


def throughput_for(
    catalog: Catalog,
    model: str,
    gpu: str,
    tensor_parallel: int,
    measured: list[MeasuredThroughput] | None = None,
    input_output_ratio: float | None = None,
) -> ThroughputFigure:
    """The saturation output rate of one replica, with its basis, source and date. With
    `input_output_ratio` (the profile being costed), a measured figure must have been measured at
    a ratio within RATIO_TOLERANCE of it (or record none); a measured figure is used as it is,
    a published or estimated one carries the ratio and prompt cost `ThroughputFigure.at_ratio` needs."""
    figure = _measured_for(catalog, model, gpu, tensor_parallel, measured or [], input_output_ratio)
    if figure is not None:
        return ThroughputFigure(
            model,
            gpu,
            tensor_parallel,
            figure.output_tokens_per_s,
            "measured",
            figure.source,
            figure.measured_on,
            _measured_method(figure),
        )
    cost = prompt_cost(catalog, model).ratio if model in catalog.throughput.prompt_cost else None
    exact = _published(catalog, model, gpu, tensor_parallel)
    if exact:
        return ThroughputFigure(
            model,
            gpu,
            tensor_parallel,
            exact.output_tokens_per_s,
            "published",
            exact.source,
            exact.read,
            f"{exact.metric}; {exact.conditions}",
            exact.input_output_ratio,
            cost,
        )
    estimate = catalog.throughput.estimate
    reference = estimate.reference_gpu
    bases = sorted(
        (
            p
            for p in catalog.throughput.published
            if p.model == model and p.gpu == reference and p.tensor_parallel <= tensor_parallel
        ),
        key=lambda p: p.tensor_parallel,
    )
    if not bases:
        raise CostInputError(
            f"no throughput figure for {model} on {gpu} at TP={tensor_parallel} and no published {reference} figure to "
            "estimate from; give a measured one with --throughput FILE"
        )
    base = bases[-1]
    bandwidth = estimate.memory_bandwidth_gb_per_s
    if gpu not in bandwidth:
        raise CostInputError(
            f"no memory bandwidth for {gpu} in infra/catalog/throughput.yaml; give a measured figure with --throughput FILE"
        )
    room = _kv_tokens(catalog, model, gpu, tensor_parallel)
    if room <= 0:
        raise CostInputError(f"{model} leaves no KV-cache room on {gpu} at TP={tensor_parallel}: the sizing refuses it")
    working = kv_working_set_tokens(catalog, base)
    kv_factor = min(1.0, room / working)
    scale = (tensor_parallel / base.tensor_parallel) * bandwidth[gpu] / bandwidth[reference] * kv_factor
    method = (
        f"{base.output_tokens_per_s:,.0f} tok/s ({model}, {reference}, TP={base.tensor_parallel}, published) x "
        f"{tensor_parallel}/{base.tensor_parallel} GPUs x {bandwidth[gpu]:,.0f}/{bandwidth[reference]:,.0f} GB/s memory bandwidth"
    )
    if kv_factor < 1:
        method += (
            f" x {kv_factor:.2f} KV room ({room / 1e3:,.0f}k tokens against the {working / 1e3:,.0f}k the published run held)"
        )
    # An estimate answers in the metric of the figure it scales.
    method += f"; metric: the published run's ({base.metric.split(';')[0]})"
    return ThroughputFigure(
        model,
        gpu,
        tensor_parallel,
        base.output_tokens_per_s * scale,
        "estimated",
        f"{base.source}; bandwidth: {estimate.bandwidth_source}",
        estimate.read,
        method,
        base.input_output_ratio,
        cost,
    )


def _measured_method(figure: MeasuredThroughput) -> str:
    method = f"measured on {figure.machine}"
    if figure.input_output_ratio is None:
        return method + "; input:output ratio not recorded (used for any profile)"
    parts = [f"{figure.shape or 'shape not named'} at {figure.input_output_ratio:.2f}:1"]
    if figure.concurrency is not None:
        parts.append(f"concurrency {figure.concurrency}")
    if figure.p99_ttft_ms is not None and figure.first_byte_timeout_s is not None:
        parts.append(f"p99 TTFT {figure.p99_ttft_ms:,.0f} ms under the {figure.first_byte_timeout_s:g} s first-byte timeout")
    if figure.image:
        parts.append(figure.image)
    return f"{method}; " + ", ".join(parts)


def _at_table_ratio(catalog: Catalog, figure: ThroughputFigure, measured: list[MeasuredThroughput] | None) -> str:
    """The 3:1 column: a measured figure counts only where it was measured at (about) 3:1, the way
    `cost compare` would take it for a 3:1 profile; a figure measured at another shape is not
    converted (no prompt cost is fitted on it)."""
    if figure.basis != "measured":
        return f"{figure.at_ratio(TABLE_RATIO):,.0f}"
    try:
        at = throughput_for(catalog, figure.model, figure.gpu, figure.tensor_parallel, measured, TABLE_RATIO)
    except CostInputError:
        return f"not measured at {TABLE_RATIO:g}:1"
    return f"{at.output_tokens_per_s:,.0f}"


def throughput_table(catalog: Catalog, measured: list[MeasuredThroughput] | None = None) -> str:
    """Markdown table of the figure for every model x GPU x TP the sizing accepts (docs/cost.md)."""
    from infra.sizing import TENSOR_PARALLEL_DEGREES, SizingError, size_replica

    rows = [
        "| model | GPU | TP | output tok/s per replica | at 3:1 (estimated) | basis | method | source, date |",
        "|---|---|---|---|---|---|---|---|",
    ]
    seen = set()
    for model in catalog.models:
        for instance_type, instance in catalog.instances.items():
            if instance.gpu is None:
                continue
            for tp in TENSOR_PARALLEL_DEGREES:
                if tp > instance.gpu_count or (model, instance.gpu, tp) in seen:
                    continue
                try:
                    size_replica(model, instance_type, 32768, tp, catalog=catalog)
                except SizingError:
                    continue
                seen.add((model, instance.gpu, tp))
                figure = throughput_for(catalog, model, instance.gpu, tp, measured)
                source = figure.source.split(" (")[0]
                rows.append(
                    f"| {model} | {instance.gpu} | {tp} | {figure.output_tokens_per_s:,.0f} | "
                    f"{_at_table_ratio(catalog, figure, measured)} | {figure.basis} | {figure.method} | {source}, {figure.date.isoformat()} |"
                )
    return "\n".join(rows) + "\n"
