"""Values of the committed examples that a real deployment must replace: documentation CIDRs,
example domains and e-mail addresses, placeholder AWS accounts and ARNs.

The committed environments are a template: they carry such values on purpose, and the offline
plan warns about each. `plan --strict` (CI of staging- and prod-tier environments) fails on them,
and `pulumi up` refuses them in a tier whose `refuse_placeholders` is true (infra/config/tiers.yaml).
Every string of the resolved environment is scanned, so a new key cannot slip past a list.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from infra.config.errors import Problem, problem

# RFC 5737 (IPv4) and RFC 3849 (IPv6) documentation ranges: never a real runner, client or VPN.
DOCUMENTATION_RANGES = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
# RFC 2606 reserved example domains: nobody receives mail there, no host answers.
EXAMPLE_DOMAIN = re.compile(r"(?:^|[@./])example\.(?:com|org|net)(?=$|[/:.>\s,)])", re.IGNORECASE)
# AWS's documentation account and the all-zero account: not an account anyone deploys into.
# Matched where an account stands: a field of an ARN, or the whole value.
PLACEHOLDER_ACCOUNT = re.compile(r"(?:^|:)(?:123456789012|000000000000)(?=:|$)")
# An all-zero UUID (e.g. `certificate/00000000-0000-...`) names no real resource.
ZERO_UUID = re.compile(r"00000000-0000-0000-0000-000000000000")


def _networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(r) for r in DOCUMENTATION_RANGES]


def documentation_range(value: str) -> str | None:
    """The documentation range `value` (an address or CIDR) lies in, or None."""
    try:
        network = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return None
    for outer in _networks():
        if network.version == outer.version and network.subnet_of(outer):  # type: ignore[arg-type]
            return str(outer)
    return None


def _why(value: str) -> str | None:
    outer = documentation_range(value)
    if outer is not None:
        return f"is in the documentation range {outer} (RFC 5737/3849): list the real CIDRs"
    if PLACEHOLDER_ACCOUNT.search(value):
        return "names a placeholder AWS account (123456789012 or 000000000000): use your account's ARN"
    if ZERO_UUID.search(value):
        return "names an all-zero resource id, a placeholder: use the real resource's ARN"
    if EXAMPLE_DOMAIN.search(value):
        kind = "an example e-mail address" if "@" in value else "an example domain"
        return f"is {kind} (RFC 2606): nobody receives or answers there; use a real one"
    return None


def _walk(node: Any, path: str) -> list[tuple[str, str]]:
    if isinstance(node, dict):
        out = []
        for key in sorted(node, key=str):
            out += _walk(node[key], f"{path}.{key}" if path else str(key))
        return out
    if isinstance(node, list):
        out = []
        for index, item in enumerate(node):
            out += _walk(item, f"{path}[{index}]")
        return out
    return [(path, node)] if isinstance(node, str) else []


def placeholder_problems(environment: dict[str, Any]) -> list[Problem]:
    """One problem per placeholder value in `environment` (the resolved config as a dict), with
    its key path, the value and what to do."""
    found = []
    for path, value in _walk(environment, ""):
        why = _why(value)
        if why:
            found.append(problem(path, why, value))
    return found
