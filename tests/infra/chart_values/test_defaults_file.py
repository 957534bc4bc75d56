"""infra/chart_values/defaults_file.py and values_table.py: the chart's values.yaml and README table."""

from __future__ import annotations

import yaml

from cli.docs import BLOCKS, GENERATED_FILES
from infra.chart_values.defaults_file import defaults_file
from infra.chart_values.documented import documented_keys
from infra.chart_values.model import ChartValues, dump
from infra.chart_values.values_table import values_table
from infra.paths import CHART_DIR


def test_values_yaml_is_the_models_defaults():
    assert yaml.safe_load(defaults_file()) == dump(ChartValues())
    assert GENERATED_FILES["charts/gpt-oss-serving/values.yaml"]() == defaults_file()
    assert (CHART_DIR / "values.yaml").read_text() == defaults_file()


def _description_above(lines: list[str], index: int) -> str | None:
    """helm-docs' reading: the `# --` comment right above a key, with its continuation lines."""
    comment = []
    index -= 1
    while index >= 0 and lines[index].lstrip().startswith("#"):
        comment.insert(0, lines[index].strip())
        index -= 1
    if not comment or not comment[0].startswith("# --"):
        return None
    return " ".join([comment[0].removeprefix("# --").strip(), *(c.removeprefix("#").strip() for c in comment[1:])])


def test_every_value_carries_its_description_as_helm_docs_reads_it():
    lines = defaults_file().splitlines()
    node = yaml.compose(defaults_file())
    lines_of = {}

    def walk(mapping, path):
        for key, value in mapping.value:
            dotted = f"{path}.{key.value}" if path else key.value
            lines_of[dotted] = key.start_mark.line
            if isinstance(value, yaml.MappingNode) and any(k.dotted.startswith(dotted + ".") for k in keys):
                walk(value, dotted)

    keys = documented_keys()
    walk(node, "")
    for key in keys:
        found = _description_above(lines, lines_of[key.dotted])
        if key.section:
            assert found is None, f"{key.dotted} is a section: helm-docs would document it as one value"
        else:
            assert found == key.description, key.dotted


def test_the_readme_lists_every_value_with_its_default():
    table = values_table()
    rows = table.splitlines()[2:]
    values = [k for k in documented_keys() if not k.section]
    assert len(rows) == len(values)
    assert "| `serve.engine.maxModelLen` | int | `32768` | Longest prompt + completion" in table
    assert '| `ray.workerGroups` | list | `[{"name": "gpu-l4"' in table
    assert any(b.path == "charts/gpt-oss-serving/README.md" and b.name == "values-table" for b in BLOCKS)
    assert table in (CHART_DIR / "README.md").read_text()
