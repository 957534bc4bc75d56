"""Saturation throughput of one replica: published, estimated from memory bandwidth, or measured.

`throughput_for` answers for any model x GPU x tensor-parallel size the sizing accepts. A
measured figure (your benchmark, `--throughput FILE`) overrides; otherwise a published figure
for exactly that combination; otherwise the bandwidth estimate of infra/catalog/throughput.yaml,
which names the published figure it scaled and the bandwidths it used.
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

Basis = Literal["published", "estimated", "measured"]

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


def _published(catalog: Catalog, model: str, gpu: str, tp: int) -> PublishedThroughput | None:
    return next((p for p in catalog.throughput.published if (p.model, p.gpu, p.tensor_parallel) == (model, gpu, tp)), None)


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
    a ratio within RATIO_TOLERANCE of it (or record none)."""
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
