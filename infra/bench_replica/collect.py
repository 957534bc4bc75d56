"""`bench replica --collect`: vLLM result files -> a measured-throughput file.

Per shape, the figure is the output rate (`output_throughput`) at the highest concurrency whose p99
time to first token stays under the gateway's first-byte timeout for the environment: beyond it the
gateway gives up on the replica and sends the request to the managed API (or fails it), so a rate
reached only there is not one the replica serves. A level with any failed request is not eligible.
The ratio it carries is measured, total_input_tokens / total_output_tokens of that run, and is what
`cost compare` checks the costed profile against (infra/cost/throughput.py RATIO_TOLERANCE).
Field names are vLLM 0.26.0's (vllm_bench_serve.yaml `result_fields`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from infra.bench_replica.job import RESULT_MARKER
from infra.bench_replica.plan import META_ENVIRONMENT, META_IMAGE, META_SHAPE
from infra.capacity import replica_sizing
from infra.catalog import load_catalog
from infra.config.models import EnvironmentConfig
from infra.cost.throughput import MeasuredFile, MeasuredThroughput

# The vLLM result fields read here; each must be listed in vllm_bench_serve.yaml (tested).
FIELDS_READ = (
    "completed",
    "failed",
    "total_input_tokens",
    "total_output_tokens",
    "output_throughput",
    "p99_ttft_ms",
    "max_concurrency",
    "model_id",
)


class CollectError(ValueError):
    """Results that cannot give a figure; the message names the file or shape and the fix."""


@dataclass(frozen=True)
class Level:
    """One `vllm bench serve` run: a shape at one concurrency."""

    source: str  # the file (or log entry) it came from
    shape: str
    concurrency: int
    completed: int
    failed: int
    input_tokens: int
    output_tokens: int
    output_tokens_per_s: float
    p99_ttft_ms: float
    model: str
    environment: str | None
    image: str | None


def _field(data: dict[str, Any], key: str, source: str) -> Any:
    if key not in data:
        hint = " (run with --percentile-metrics ttft,... --metric-percentiles ...,99)" if key == "p99_ttft_ms" else ""
        raise CollectError(f"{source}: no `{key}` in the result{hint}; is it a `vllm bench serve --save-result` file?")
    return data[key]


def parse_result(data: Any, source: str) -> Level:
    if not isinstance(data, dict):
        raise CollectError(f"{source}: a result file holds one JSON object, got {type(data).__name__}")
    shape = data.get(META_SHAPE)
    if not shape:
        raise CollectError(
            f"{source}: no `{META_SHAPE}` in the result: not written by the `bench replica` Job "
            f"(its runs pass --metadata {META_SHAPE}=...)"
        )
    concurrency = _field(data, "max_concurrency", source)
    if not isinstance(concurrency, int) or concurrency < 1:
        raise CollectError(f"{source}: max_concurrency {concurrency!r}: the sweep runs every level with --max-concurrency N")
    try:
        return Level(
            source=source,
            shape=str(shape),
            concurrency=concurrency,
            completed=int(_field(data, "completed", source)),
            failed=int(_field(data, "failed", source)),
            input_tokens=int(_field(data, "total_input_tokens", source)),
            output_tokens=int(_field(data, "total_output_tokens", source)),
            output_tokens_per_s=float(_field(data, "output_throughput", source)),
            p99_ttft_ms=float(_field(data, "p99_ttft_ms", source)),
            model=str(_field(data, "model_id", source)),
            environment=data.get(META_ENVIRONMENT),
            image=data.get(META_IMAGE),
        )
    except (TypeError, ValueError) as error:
        if isinstance(error, CollectError):
            raise
        raise CollectError(f"{source}: a field is not a number ({error})") from None


def _from_log(path: Path) -> list[Level]:
    """Results in a `kubectl logs` capture: the line after each RESULT_MARKER line."""
    lines = path.read_text(errors="replace").splitlines()
    levels = []
    for number, line in enumerate(lines):
        if not line.startswith(RESULT_MARKER):
            continue
        name = line[len(RESULT_MARKER) :].strip()
        source = f"{path}:{number + 2} ({name})"
        if number + 1 >= len(lines):
            raise CollectError(f"{source}: the log ends after the marker; copy the whole log (kubectl logs job/...)")
        try:
            levels.append(parse_result(json.loads(lines[number + 1]), source))
        except json.JSONDecodeError as error:
            raise CollectError(f"{source}: not JSON ({error.msg}); copy the log unchanged") from None
    return levels


def read_results(path: Path) -> list[Level]:
    """Every result in `path`: a directory of result JSON files, or a log of the Job."""
    if path.is_dir():
        levels = []
        for file in sorted(path.glob("*.json")):
            try:
                levels.append(parse_result(json.loads(file.read_text()), str(file)))
            except (OSError, json.JSONDecodeError) as error:
                raise CollectError(f"{file}: cannot read it as JSON ({error})") from None
    elif path.is_file():
        levels = _from_log(path)
    else:
        raise CollectError(f"--collect {path}: no such file or directory (a directory of result JSON files, or the Job's log)")
    if not levels:
        raise CollectError(
            f"--collect {path}: no results in it; give the directory of `vllm bench serve` result files or the Job's log "
            "(`kubectl logs job/gpt-oss-replica-bench`)"
        )
    return levels


def pick(levels: list[Level], first_byte_timeout_s: float) -> Level:
    """The highest eligible concurrency of one shape: no failures, p99 TTFT under the timeout."""
    limit_ms = first_byte_timeout_s * 1000
    eligible = [lv for lv in levels if lv.failed == 0 and lv.completed > 0 and lv.p99_ttft_ms < limit_ms]
    if not eligible:
        seen = ", ".join(
            f"c={lv.concurrency}: p99 TTFT {lv.p99_ttft_ms:,.0f} ms, {lv.failed} failed"
            for lv in sorted(levels, key=lambda lv: lv.concurrency)
        )
        raise CollectError(
            f"shape {levels[0].shape}: no concurrency level kept p99 time to first token under the first-byte timeout "
            f"({limit_ms:,.0f} ms) without failed requests ({seen}). The replica cannot serve this shape within the "
            "gateway's timeout: look at the failures in the Job's log, or raise gateway.first_byte_timeout_s"
        )
    return max(eligible, key=lambda lv: lv.concurrency)


def collect(
    env: EnvironmentConfig, levels: list[Level], first_byte_timeout_s: float, measured_on: date, machine: str | None = None
) -> MeasuredFile:
    """One measured figure per shape, for `env`'s replica (model, GPU, tensor parallel)."""
    others = sorted({lv.environment for lv in levels if lv.environment and lv.environment != env.name})
    if others:
        raise CollectError(
            f"the results were measured on environment {', '.join(others)}, not {env.name}: pass --env {others[0]}"
        )
    models = sorted({lv.model for lv in levels if lv.model != env.model.name})
    if models:
        raise CollectError(f"the results are of model {', '.join(models)}; {env.name} serves {env.model.name}")
    pool = env.serving_pool()
    sizing = replica_sizing(env, load_catalog())
    by_shape: dict[str, list[Level]] = {}
    for level in levels:
        by_shape.setdefault(level.shape, []).append(level)
    entries = []
    for shape in sorted(by_shape):
        best = pick(by_shape[shape], first_byte_timeout_s)
        if best.output_tokens <= 0:
            raise CollectError(f"{best.source}: total_output_tokens is 0; the run generated nothing")
        entries.append(
            MeasuredThroughput(
                model=env.model.name,
                gpu=sizing.gpu,
                tensor_parallel=sizing.tensor_parallel,
                output_tokens_per_s=best.output_tokens_per_s,
                source=f"gpt-oss-platform bench replica --env {env.name}; vllm bench serve result {best.source}",
                measured_on=measured_on,
                machine=machine or f"{pool.instance_type} ({env.name}, {pool.name}), vLLM 0.26.0 via Ray Serve",
                shape=shape,
                input_output_ratio=round(best.input_tokens / best.output_tokens, 3),
                concurrency=best.concurrency,
                p99_ttft_ms=round(best.p99_ttft_ms, 1),
                first_byte_timeout_s=first_byte_timeout_s,
                image=best.image or "not recorded",
            )
        )
    return MeasuredFile(measured=entries)


def measured_yaml(measured: MeasuredFile, env: EnvironmentConfig) -> str:
    header = (
        f'# Measured with `gpt-oss-platform bench replica --env {env.name}` (docs/cost.md "Measure your own replica").\n'
        "# One figure per shape: the output rate at the highest concurrency whose p99 time to first token stayed\n"
        "# under the gateway's first-byte timeout. Use with `cost compare/simulate --throughput FILE` or\n"
        "# `governor.measured_throughput`; a profile whose input:output ratio differs from a figure's is refused.\n"
    )
    data = measured.model_dump(mode="json", exclude_none=True)
    return header + yaml.safe_dump(data, sort_keys=False, width=1000)
