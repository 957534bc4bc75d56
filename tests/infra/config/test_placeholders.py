"""The placeholder scanner (infra/config/placeholders.py): each kind of example value is found with
its key path, real values are not."""

from __future__ import annotations

import pytest

from infra.config.placeholders import documentation_range, placeholder_problems


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("203.0.113.0/24", "documentation range 203.0.113.0/24"),
        ("198.51.100.10", "documentation range 198.51.100.0/24"),
        ("2001:db8::/48", "documentation range 2001:db8::/32"),
        ("arn:aws:iam::123456789012:role/ci", "placeholder AWS account"),
        ("arn:aws:iam::000000000000:role/ci", "placeholder AWS account"),
        ("123456789012", "placeholder AWS account"),
        ("arn:aws:acm:us-east-1:210987654321:certificate/00000000-0000-0000-0000-000000000000", "all-zero resource id"),
        ("ops@example.com", "example e-mail address"),
        ("Lead (lead@example.org)", "example e-mail address"),
        ("https://grafana.example.net/d/x", "example domain"),
        ("smtp.example.com:587", "example domain"),
    ],
)
def test_each_kind_of_placeholder_is_found_at_its_key_path(value, kind):
    (found,) = placeholder_problems({"a": {"b": [value]}})
    assert found.path == "a.b[0]" and kind in found.message and found.value == value


@pytest.mark.parametrize(
    "value",
    [
        "10.0.0.0/8",
        "2a00:1450::/32",
        "ops@corp.example.company",
        "https://examples.com",
        "arn:aws:iam::210987654321:role/ci",
        "sha256:" + "0" * 64,  # a digest is not an account
        "1234567890123",
    ],
)
def test_real_values_are_not_placeholders(value):
    assert placeholder_problems({"k": value}) == []


def test_documentation_range_ignores_what_is_not_an_address():
    assert documentation_range("not-an-ip") is None and documentation_range("203.0.113.5") == "203.0.113.0/24"
