"""Saturation throughput of one replica: published, estimated from memory bandwidth, or measured.

`throughput_for` answers for any model x GPU x tensor-parallel size the sizing accepts. A
measured figure (your benchmark, `--throughput FILE`) overrides; otherwise a published figure
for exactly that combination; otherwise the bandwidth estimate of infra/catalog/throughput.yaml,
which names the published figure it scaled and the bandwidths it used.
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

Basis = Literal["published", "estimated", "measured"]


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

    def as_dict(self) -> dict:
        return {
            "model": self.model,
            "gpu": self.gpu,
            "tensor_parallel": self.tensor_parallel,
            "output_tokens_per_s": round(self.output_tokens_per_s, 1),
            "basis": self.basis,
            "source": self.source,
            "date": self.date.isoformat(),
            "method": self.method,
        }


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


def _published(catalog: Catalog, model: str, gpu: str, tp: int) -> PublishedThroughput | None:
    return next((p for p in catalog.throughput.published if (p.model, p.gpu, p.tensor_parallel) == (model, gpu, tp)), None)


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
    scale = (tensor_parallel / base.tensor_parallel) * bandwidth[gpu] / bandwidth[reference]
    method = (
        f"{base.output_tokens_per_s:,.0f} tok/s ({model}, {reference}, TP={base.tensor_parallel}, published) x "
        f"{tensor_parallel}/{base.tensor_parallel} GPUs x {bandwidth[gpu]:,.0f}/{bandwidth[reference]:,.0f} GB/s memory bandwidth"
    )
    return ThroughputFigure(
        model,
        gpu,
        tensor_parallel,
        base.output_tokens_per_s * scale,
        "estimated",
        f"{base.source}; bandwidth: {estimate.bandwidth_source}",
        estimate.read,
        method,
    )


def throughput_table(catalog: Catalog, measured: list[MeasuredThroughput] | None = None) -> str:
    """Markdown table of the figure for every model x GPU x TP the sizing accepts (docs/cost.md)."""
    from infra.sizing import TENSOR_PARALLEL_DEGREES, SizingError, size_replica

    rows = [
        "| model | GPU | TP | output tok/s per replica | basis | method | source, date |",
        "|---|---|---|---|---|---|---|",
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
                    f"| {model} | {instance.gpu} | {tp} | {figure.output_tokens_per_s:,.0f} | {figure.basis} | "
                    f"{figure.method} | {source}, {figure.date.isoformat()} |"
                )
    return "\n".join(rows) + "\n"
