"""The README stays true: generated blocks are current, examples are real, paths exist."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from infra.config import ConfigError, read_stack_file, validate_environment
from infra.config.load import PROJECT
from infra.paths import REPO_ROOT as ROOT
from cli.docs import stale

README = ROOT / "README.md"

REPO_ROOT = Path(__file__).resolve().parents[1]
TEXT = README.read_text()


def test_generated_blocks_are_current():
    assert stale() == [], "run `make reference`"


def test_the_config_error_example_is_what_the_validator_prints():
    raw = copy.deepcopy(read_stack_file("dev")[f"{PROJECT}:environment"])
    raw["model"].update(name="gpt-oss-120b", revision=read_stack_file("prod")[f"{PROJECT}:environment"]["model"]["revision"])
    raw["node_pools"][0]["instance_typ"] = raw["node_pools"][0].pop("instance_type")
    raw["node_pools"][0]["instance_type"] = "g6.xlarge"
    del raw["tags"]["cost-center"]
    with pytest.raises(ConfigError) as caught:
        validate_environment(raw, stack="dev")
    block = re.search(r"<!-- config-error-example:begin[^>]*-->\n```\n(.*?)```", TEXT, re.DOTALL).group(1)
    assert block.strip() == str(caught.value).strip()


def test_every_make_target_the_readme_names_exists():
    makefile = (REPO_ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.MULTILINE))
    named = set(re.findall(r"`make ([a-z][a-z-]*)", TEXT))
    assert named and named <= targets, named - targets


def test_paths_in_the_layout_table_exist():
    section = TEXT[TEXT.index("## Repository layout") : TEXT.index("## Deploying for real")]
    paths = re.findall(r"^\| `([^`]+)`", section, re.MULTILINE)
    for entry in paths:
        for path in entry.split("`, `"):
            if "<env>" not in path:
                assert (REPO_ROOT / path).exists(), path
