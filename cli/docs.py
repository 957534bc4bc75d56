"""Everything in the docs that a command produces, so no table is kept in step by hand.

Two kinds of generated text:
- whole files (`GENERATED_FILES`), e.g. docs/contracts.md from contracts/__init__.py, or the serving
  chart's values.yaml and values.schema.json from its values model (infra/chart_values/model/);
- blocks inside a hand-written page, between `<!-- <name>:begin ... -->` and `<!-- <name>:end -->`
  (`BLOCKS`), e.g. the configuration reference, the latest benchmark results or the chart's values table.

`gpt-oss-platform reference --write` refreshes them all and names each file it rewrote;
`--check` (and a test) lists what is stale without writing anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from infra.paths import REPO_ROOT

RESULTS = REPO_ROOT / "bench" / "results"


def _config_reference() -> str:
    from infra.reference.config_reference import reference

    return reference()


def _sizing_table() -> str:
    from infra.reference.sizing_table import sizing_table

    return sizing_table().rstrip("\n")


def _capacity_table() -> str:
    from infra.reference.capacity_table import capacity_table

    return capacity_table().rstrip("\n")


def _contracts() -> str:
    from infra.reference.contracts_doc import contracts_doc

    return contracts_doc()


def _throughput() -> str:
    from infra.catalog import load_catalog
    from infra.cost.throughput import throughput_table

    return throughput_table(load_catalog()).rstrip("\n")


def _governor_week() -> str:
    """`cost simulate --env prod --traffic docs/traces/diurnal-week.csv`: the table docs/cost.md quotes."""
    from infra.catalog import load_catalog
    from infra.config import environment_from_stack_file
    from infra.cost.governor.build import cost_model
    from infra.cost.governor.report import render_simulation_table
    from infra.cost.governor.simulate import simulate
    from infra.cost.governor.trace import load_trace
    from infra.cost.prices import priced_catalog

    env = environment_from_stack_file("prod")
    model = cost_model(env, priced_catalog(load_catalog()))
    return render_simulation_table(simulate(model, env.governor, load_trace(REPO_ROOT / "docs/traces/diurnal-week.csv")))


def _compare_example() -> str:
    """`cost compare --env dev --tokens-per-month 400M --api o4-mini`, priced on a fixed day (the
    control plane's price follows its support window): the output docs/cost.md quotes."""
    from datetime import date

    from infra.catalog import load_catalog
    from infra.config import environment_from_stack_file
    from infra.cost.compare import compare
    from infra.cost.environment import surroundings
    from infra.cost.prices import priced_catalog
    from infra.cost.profile import TrafficProfile
    from infra.cost.table import render_comparison

    priced = priced_catalog(load_catalog())
    around = surroundings("dev", priced.catalog, date(2026, 12, 7))
    comparison = compare(
        environment_from_stack_file("dev"),
        TrafficProfile(400e6),
        priced,
        api_model="o4-mini",
        scope="environment",
        surroundings=around,
    )
    return f"```\n{render_comparison(comparison)}\n```"


def _config_error_example() -> str:
    """The message a stack file with three mistakes gets: the validator's own output."""
    import copy

    from infra.config import ConfigError, read_stack_file, validate_environment

    raw = copy.deepcopy(read_stack_file("dev")["gpt-oss-platform:environment"])
    raw["model"].update(
        name="gpt-oss-120b", revision=read_stack_file("prod")["gpt-oss-platform:environment"]["model"]["revision"]
    )
    raw["node_pools"][0]["instance_typ"] = raw["node_pools"][0].pop("instance_type")
    raw["node_pools"][0]["instance_type"] = "g6.xlarge"
    del raw["tags"]["cost-center"]
    try:
        validate_environment(raw, stack="dev")
    except ConfigError as error:
        return f"```\n{error}\n```"
    raise AssertionError("the example config was accepted")


def _chart_values_file() -> str:
    from infra.chart_values.defaults_file import defaults_file

    return defaults_file()


def _chart_values_schema() -> str:
    from infra.chart_values.schema import values_schema_text

    return values_schema_text()


def _chart_values_table() -> str:
    from infra.chart_values.values_table import values_table

    return values_table()


def _cli() -> str:
    from cli.cli_doc import cli_doc

    return cli_doc()


def _results(name: str) -> Callable[[], str]:
    def read() -> str:
        path = RESULTS / name
        if not path.exists():
            return f"_No results yet: run the command above to produce `bench/results/{name}`._"
        # The file's own title is replaced by the page's heading.
        lines = path.read_text().rstrip("\n").splitlines()
        return "\n".join(lines[1:] if lines and lines[0].startswith("# ") else lines).strip("\n")

    return read


@dataclass(frozen=True)
class Block:
    path: str  # relative to the repository root
    name: str
    produce: Callable[[], str]


GENERATED_FILES: dict[str, Callable[[], str]] = {
    "docs/contracts.md": _contracts,
    "docs/cli.md": _cli,
    # The serving chart's defaults and schema, from its values model (infra/chart_values/model/).
    "charts/gpt-oss-serving/values.yaml": _chart_values_file,
    "charts/gpt-oss-serving/values.schema.json": _chart_values_schema,
}
BLOCKS: list[Block] = [
    Block("docs/configuration.md", "config-error-example", _config_error_example),
    Block("docs/configuration.md", "config-reference", _config_reference),
    Block("docs/serving.md", "sizing-table", _sizing_table),
    Block("docs/serving.md", "capacity-table", _capacity_table),
    Block("docs/offline-plan.md", "plan-time", _results("plan-time.md")),
    Block("README.md", "first-run", _results("first-run.md")),
    Block("README.md", "gateway-bench", _results("gateway.md")),
    Block("docs/gateway.md", "cancellation-bench", _results("cancellation.md")),
    Block("docs/gateway.md", "hang-bench", _results("hang.md")),
    Block("docs/cost.md", "compare-example", _compare_example),
    Block("docs/cost.md", "throughput-table", _throughput),
    Block("docs/cost.md", "governor-week", _governor_week),
    Block("charts/gpt-oss-serving/README.md", "values-table", _chart_values_table),
]


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- {re.escape(name)}:begin[^>]*-->\n)(.*?)(<!-- {re.escape(name)}:end -->)", re.DOTALL)


def _refreshed(path: str, text: str) -> str:
    for block in (b for b in BLOCKS if b.path == path):
        pattern = _pattern(block.name)
        if not pattern.search(text):
            raise ValueError(f"{path} has no `{block.name}` block (<!-- {block.name}:begin --> ... <!-- {block.name}:end -->)")
        body = block.produce()
        text = pattern.sub(lambda m, body=body: f"{m.group(1)}{body}\n{m.group(3)}", text)
    return text


def expected(root: Path = REPO_ROOT) -> dict[str, str]:
    """The text every generated file and every page with blocks should have."""
    out = {path: produce() for path, produce in GENERATED_FILES.items()}
    for path in sorted({b.path for b in BLOCKS}):
        out[path] = _refreshed(path, (root / path).read_text())
    return out


def stale(root: Path = REPO_ROOT) -> list[str]:
    """Paths whose committed text differs from what the commands produce."""
    return [path for path, text in expected(root).items() if not (root / path).exists() or (root / path).read_text() != text]


def write(root: Path = REPO_ROOT) -> list[str]:
    """Rewrite what is stale; the paths rewritten."""
    changed = []
    for path, text in expected(root).items():
        target = root / path
        if not target.exists() or target.read_text() != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            changed.append(path)
    return changed
