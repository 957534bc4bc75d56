"""The `vllm bench serve` flags and result-JSON fields this toolkit relies on, each with the file and
line of vLLM 0.26.0 that defines it (vllm_bench_serve.yaml, read from the released wheel)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

DATA_FILE = Path(__file__).with_name("vllm_bench_serve.yaml")


@dataclass(frozen=True)
class VllmBenchReference:
    version: str
    flags: frozenset[str]
    result_fields: frozenset[str]


@cache
def vllm_bench_reference() -> VllmBenchReference:
    data = yaml.safe_load(DATA_FILE.read_text())
    return VllmBenchReference(
        version=str(data["vllm"]["version"]),
        flags=frozenset(data["flags"]),
        result_fields=frozenset(data["result_fields"]),
    )


def flags_of(argv: list[str]) -> list[str]:
    """The `--flag` names of a command line (values that follow a flag are not flags)."""
    return [arg.split("=", 1)[0] for arg in argv if arg.startswith("--")]


def unsourced_flags(argv: list[str]) -> list[str]:
    """Flags of `argv` that vllm_bench_serve.yaml does not list: each one is a flag nobody checked
    against vLLM 0.26.0's source (a renamed flag makes `vllm bench serve` exit with a usage error)."""
    known = vllm_bench_reference().flags
    return [flag for flag in flags_of(argv) if flag not in known]
