"""The chart values of an environment as a commented YAML file (jinja2, values.yaml.j2): what a
GitOps repository commits for Argo CD or Flux."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import yaml

from infra.capacity import replica_sizing
from infra.chart_values import StackOutputs, chart_values
from infra.config.models import EnvironmentConfig

TEMPLATE_DIR = Path(__file__).resolve().parent


def _yaml_block(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, default_flow_style=False, width=120, allow_unicode=True).rstrip("\n")


def render_values_file(env: EnvironmentConfig, stack: str, outputs: StackOutputs) -> str:
    values = chart_values(env, stack, outputs)
    sizing = replica_sizing(env)
    template = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    ).get_template("values.yaml.j2")
    return template.render(
        env=env,
        stack=stack,
        pool=env.serving_pool(),
        sizing=sizing,
        values=values,
        section=lambda key: _yaml_block({key: values[key]}),
        kv_tokens=f"{sizing.kv_cache_tokens_per_replica:,}",
    )
