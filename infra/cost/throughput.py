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

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from infra.catalog import Catalog, PublishedThroughput
from infra.cost.errors import CostInputError
from infra.sizing import replica_kv_cache_gb

Basis = Literal["published", "estimated", "measured"]
# The prompt mix `cost throughput` converts every figure to, beside the published ~1.1:1: the
# default of `cost compare` (3 prompt tokens per completion token).
TABLE_RATIO = 3.0


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


class MeasuredFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    measured: list[MeasuredThroughput] = Field(min_length=1)


def load_measured(path: Path) -> list[MeasuredThroughput]:
    """The figures of a measured-throughput file, or CostInputError naming the bad entry."""
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise CostInputError(f"--throughput {path}: cannot read it as YAML ({error.__class__.__name__}: {error})") from None
    try:
        return list(MeasuredFile.model_validate(raw).measured)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "<root>"
        raise CostInputError(
            f"--throughput {path}: {where}: {first['msg']} (got {first.get('input')!r}); "
            "each entry needs model, gpu, tensor_parallel, output_tokens_per_s, source, measured_on, machine"
        ) from None


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
    catalog: Catalog, model: str, gpu: str, tensor_parallel: int, measured: list[MeasuredThroughput] | None = None
) -> ThroughputFigure:
    """The saturation output rate of one replica, with its basis, source and date."""
    for figure in measured or []:
        if (figure.model, catalog.normalise_gpu(figure.gpu), figure.tensor_parallel) == (model, gpu, tensor_parallel):
            return ThroughputFigure(
                model,
                gpu,
                tensor_parallel,
                figure.output_tokens_per_s,
                "measured",
                figure.source,
                figure.measured_on,
                f"measured on {figure.machine}",
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
                    f"{figure.at_ratio(TABLE_RATIO):,.0f} | {figure.basis} | {figure.method} | {source}, {figure.date.isoformat()} |"
                )
    return "\n".join(rows) + "\n"
