"""infra/chart_values/schema.py: values.schema.json from the values model."""

from __future__ import annotations

import json

import jsonschema

from cli.docs import GENERATED_FILES
from infra.chart_values.model import ChartValues, dump
from infra.chart_values.schema import values_schema, values_schema_text
from infra.paths import CHART_DIR


def test_the_chart_ships_the_generated_schema():
    assert GENERATED_FILES["charts/gpt-oss-serving/values.schema.json"]() == values_schema_text()
    assert json.loads((CHART_DIR / "values.schema.json").read_text()) == values_schema()


def test_the_schema_is_a_self_contained_draft_07_document():
    schema = values_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    text = json.dumps(schema)
    assert "$ref" not in text and "$defs" not in text and '"anyOf"' not in text
    assert '"title"' not in json.dumps(schema["properties"])


def test_every_object_that_lists_its_keys_forbids_others():
    loose = []

    def walk(node, path):
        if isinstance(node, dict):
            if "properties" in node and node.get("additionalProperties") is not False and not path.endswith(("/if", "/then")):
                loose.append(path or "<root>")
            for key, child in node.items():
                walk(child, f"{path}/{key}")
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, f"{path}/{index}")

    walk(values_schema(), "")
    assert not loose, f"objects that accept unknown keys: {loose}"


def test_section_keys_are_required_and_optional_kubernetes_fields_are_not():
    """Helm validates values merged with values.yaml, so a section key is always there; an ipBlock's
    `except` or a toleration's `tolerationSeconds` may be absent."""
    props = values_schema()["properties"]
    assert props["serve"]["required"] == list(props["serve"]["properties"])
    ip_block = props["networkPolicy"]["properties"]["kubeApiServer"]["items"]
    assert ip_block["required"] == ["cidr"] and ip_block["properties"]["except"]["type"] == "array"
    toleration = props["ray"]["properties"]["workerGroups"]["items"]["properties"]["tolerations"]["items"]
    assert "required" not in toleration and toleration["properties"]["effect"]["enum"][-1] == ""


def test_constrained_map_keys_become_property_names():
    """A key pattern as patternProperties would let keys that do not match through."""
    alerts = values_schema()["properties"]["alerts"]["properties"]
    floors = alerts["gpuNodePoolFloors"]
    assert floors["propertyNames"]["pattern"] == "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
    assert floors["additionalProperties"] == {"type": "integer", "minimum": 0, "maximum": 100}
    assert alerts["ruleLabels"]["propertyNames"]["not"] == {"enum": ["severity", "environment"]}
    assert "patternProperties" not in json.dumps(values_schema())
    validator = jsonschema.Draft7Validator(values_schema())
    values = dump(ChartValues())
    values["alerts"]["gpuNodePoolFloors"] = {"GPU_Pool": 1}
    assert any("GPU_Pool" in e.message for e in validator.iter_errors(values))


def test_the_charts_defaults_and_helms_global_key_pass():
    validator = jsonschema.Draft7Validator(values_schema())
    assert not list(validator.iter_errors({**dump(ChartValues()), "global": {"imageRegistry": "mirror.example"}}))
