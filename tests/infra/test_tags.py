"""One tag set, one spelling, on AWS and in Kubernetes."""

import pytest

from infra.config import ConfigError, environment_from_stack_file, read_stack_file, validate_environment
from infra.tags import REQUIRED_TAG_KEYS, cost_tags, k8s_labels, missing_tag_keys


def test_cost_tags_hold_every_required_key_in_one_case():
    tags = cost_tags(environment_from_stack_file("prod"), "prod")
    assert set(REQUIRED_TAG_KEYS) <= set(tags)
    assert all(key == key.lower() for key in tags)
    assert tags["environment"] == "prod" and tags["model"] == "gpt-oss-120b" and tags["cost-center"] == "cc-ml-prod"


def test_extras_never_override_required_tags():
    env = environment_from_stack_file("dev")
    env = env.model_copy(update={"tags": env.tags.model_copy(update={"extra": {"environment": "prod", "project": "x"}})})
    tags = cost_tags(env, "dev")
    assert tags["environment"] == "dev" and tags["project"] == "x"


def test_too_many_tags_are_refused_at_the_config_boundary():
    raw = read_stack_file("dev")["gpt-oss-platform:environment"]
    raw["tags"]["extra"] = {f"k{i}": "v" for i in range(40)}
    with pytest.raises(ConfigError, match=r"tags.extra: 48 tags with the 8 required ones exceed the limit of 40"):
        validate_environment(raw, stack="dev")


def test_labels_are_the_tags_plus_recommended_app_labels():
    env = environment_from_stack_file("dev")
    labels = k8s_labels(env, "dev", "gateway")
    assert {k: labels[k] for k in REQUIRED_TAG_KEYS} == dict(cost_tags(env, "dev").items())
    assert labels["app.kubernetes.io/name"] == "gateway"


def test_missing_keys_are_listed_in_canonical_order():
    assert missing_tag_keys({"team": "x", "owner": ""}) == [k for k in REQUIRED_TAG_KEYS if k != "team"]
    assert missing_tag_keys(None) == list(REQUIRED_TAG_KEYS)
