"""values.yaml, values.schema.json and infra/chart_values.py describe the same values.

- every key of values.yaml the schema names carries a `# --` description (helm-docs style);
- the schema is strict: every object that lists properties forbids others;
- values.yaml and the values of every environment and scenario validate against it;
- chart_values produces the complete key tree of values.yaml (no key left to a chart default).
"""

from __future__ import annotations

import json

import jsonschema
import yaml

from infra.paths import CHART_DIR

VALUES = CHART_DIR / "values.yaml"
SCHEMA = json.loads((CHART_DIR / "values.schema.json").read_text())


def _documented_keys() -> list[tuple[str, int, dict]]:
    """(dotted path, line, schema node) of every values.yaml key the schema declares, outside lists."""
    root = yaml.compose(VALUES.read_text())
    found = []

    def walk(node, schema, path):
        if not isinstance(node, yaml.MappingNode):
            return
        for key_node, value_node in node.value:
            key = key_node.value
            child = (schema.get("properties") or {}).get(key)
            if child is None:
                continue  # a pass-through map's data (labels, selectors...), not a documented key
            dotted = f"{path}.{key}" if path else key
            found.append((dotted, key_node.start_mark.line, child))
            walk(value_node, child, dotted)

    walk(root, SCHEMA, "")
    return found


def test_every_key_in_values_yaml_is_documented():
    """Every value has a `# --` line above it, or sits in a block whose key has one (helm-docs:
    documenting `resources:` documents its cpu and memory). Section keys (`ray:`) need none."""
    lines = VALUES.read_text().splitlines()

    def has_description(line: int) -> bool:
        index = line - 1
        while index >= 0 and lines[index].strip().startswith("#"):
            if lines[index].strip().startswith("# --"):
                return True
            index -= 1
        return False

    keys = _documented_keys()
    described = {dotted for dotted, line, _ in keys if has_description(line)}
    undocumented = []
    for dotted, line, schema in keys:
        parts = dotted.split(".")
        ancestors = {".".join(parts[:i]) for i in range(1, len(parts))}
        if schema.get("properties") and schema.get("type") == "object" and dotted not in described:
            continue  # a section: its keys carry the descriptions
        if dotted not in described and not ancestors & described:
            undocumented.append(f"{dotted} (line {line + 1})")
    assert not undocumented, "keys without a `# --` description:\n" + "\n".join(undocumented)


def test_every_schema_property_is_in_values_yaml():
    documented = {d for d, _, _ in _documented_keys()}

    def walk(schema, path):
        for key, child in (schema.get("properties") or {}).items():
            dotted = f"{path}.{key}" if path else key
            if dotted == "global":
                continue
            yield dotted
            if child.get("type") == "object":
                yield from walk(child, dotted)

    missing = sorted(set(walk(SCHEMA, "")) - documented)
    assert not missing, f"in the schema but not in values.yaml: {missing}"


def test_the_schema_is_strict():
    loose = []

    def walk(schema, path):
        if isinstance(schema, dict):
            conditional = path.endswith(("/if", "/then", "/else"))  # constraints, not object shapes
            if "properties" in schema and schema.get("additionalProperties") is not False and not conditional:
                loose.append(path or "<root>")
            for key, child in schema.items():
                walk(child, f"{path}/{key}")
        elif isinstance(schema, list):
            for index, child in enumerate(schema):
                walk(child, f"{path}/{index}")

    walk(SCHEMA, "")
    assert not loose, f"objects that accept unknown keys: {loose}"
    jsonschema.Draft7Validator.check_schema(SCHEMA)


def test_values_yaml_and_every_environment_validate_against_the_schema(kit, case):
    validator = jsonschema.Draft7Validator(SCHEMA)
    for name, values in (("values.yaml", yaml.safe_load(VALUES.read_text())), (case, kit.values(case))):
        errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(values)]
        assert not errors, f"{name}: {errors}"


def test_chart_values_sets_every_key_of_values_yaml(kit, case):
    """Helm deep-merges maps with the chart defaults: a key chart_values does not set would come
    from values.yaml unnoticed. Both trees must hold the same documented keys."""
    defaults = yaml.safe_load(VALUES.read_text())

    def keys(values, schema, path=""):
        out = set()
        for key, child in (schema.get("properties") or {}).items():
            if key not in values:
                continue
            dotted = f"{path}.{key}" if path else key
            out.add(dotted)
            if isinstance(values[key], dict) and child.get("properties"):
                out |= keys(values[key], child, dotted)
        return out

    produced = keys(kit.values(case), SCHEMA)
    expected = keys(defaults, SCHEMA)
    assert produced == expected, f"missing: {sorted(expected - produced)}; extra: {sorted(produced - expected)}"


def test_a_typo_in_values_is_refused_by_the_schema():
    validator = jsonschema.Draft7Validator(SCHEMA)
    values = yaml.safe_load(VALUES.read_text())
    values["serve"]["autoscaling"]["maxReplica"] = 3
    assert any("maxReplica" in e.message for e in validator.iter_errors(values))
