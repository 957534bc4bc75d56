"""charts/gpt-oss-serving/values.yaml, generated from the values model: the chart's defaults, each
value under a helm-docs `# --` description (https://github.com/norwoodj/helm-docs#valuesyaml-metadata),
each section under a plain comment that helm-docs leaves alone."""

from __future__ import annotations

import textwrap

import yaml

from infra.chart_values.documented import documented_keys

WIDTH = 120
HEADER = """\
# Default values of gpt-oss-serving: gpt-oss-20b on one L4 (g6.xlarge) from Hugging Face, scaling
# between zero and one replica, gateway off.
#
# GENERATED from infra/chart_values/model/ by `gpt-oss-platform reference --write`: do not edit.
# Every key, its default and its description are declared once there; values.schema.json and the
# README's values table come from the same model, and a test fails when any of them is stale.
# This repository's environments are not configured here either: `gpt-oss-platform values --env <env>`
# derives their complete values from Pulumi.<env>.yaml.
"""


def _comment(text: str, indent: str, lead: str) -> list[str]:
    lines = textwrap.wrap(text, width=WIDTH - len(indent) - 2, initial_indent=lead, break_on_hyphens=False)
    return [f"{indent}# {line}" for line in lines]


def _value(key: str, value: object, indent: str) -> list[str]:
    text = yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=False, width=WIDTH, allow_unicode=True)
    return [f"{indent}{line}" for line in text.rstrip("\n").splitlines()]


def defaults_file() -> str:
    lines = [HEADER.rstrip("\n")]
    for key in documented_keys():
        indent = "  " * (len(key.path) - 1)
        if len(key.path) == 1:
            lines.append("")
        if key.section:
            lines += _comment(key.description, indent, "")
            lines.append(f"{indent}{key.path[-1]}:")
        else:
            lines += _comment(key.description, indent, "-- ")
            lines += _value(key.path[-1], key.default, indent)
    return "\n".join(lines) + "\n"
