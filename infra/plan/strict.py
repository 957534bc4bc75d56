"""`plan --strict`: what the plan only warns about in an example, and a real environment must not
carry. CI runs it for staging- and prod-tier environments (docs/deploy.md); `pulumi up` refuses
the placeholders themselves in a tier with `refuse_placeholders` (infra/config/tiers.yaml).

Fails on: documentation CIDRs, example domains and e-mail addresses, placeholder accounts and
ARNs (infra/config/placeholders.py, every string of the resolved config); a budget below the
estimated maximum monthly cost (its alerts would fire before the pools reach max_nodes); a
Kubernetes version outside EKS standard support on the day of the plan (EKS version calendar in
infra/catalog/eks_versions.yaml: extended support bills 6x the control plane, then EKS upgrades
the cluster itself).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from infra.catalog import load_catalog
from infra.config import EnvironmentConfig
from infra.config.placeholders import placeholder_problems


def strict_findings(env: EnvironmentConfig, money: dict[str, Any], on: date | None = None) -> list[str]:
    """One line per problem, each naming the key, the value and the fix."""
    found = [f"placeholder {p.render()}" for p in placeholder_problems(env.model_dump(mode="json", by_alias=True))]
    if env.budget.monthly_usd < money["max"]:
        found.append(
            f"budget.monthly_usd: ${env.budget.monthly_usd:,.2f} is below the estimated maximum ${money['max']:,.2f}; "
            f"raise it to at least ${money['max']:,.2f} or lower the pools' max_nodes"
        )
    eks = load_catalog().eks
    version = env.cluster.kubernetes_version
    support = eks.support(version, on or date.today())
    if support != "standard":
        window = eks.versions[version]
        standard = sorted(v for v in eks.versions if eks.support(v, on or date.today()) == "standard")
        found.append(
            f"cluster.kubernetes_version: {version} is in EKS {support} support (standard support ended "
            f"{window.end_of_standard_support.isoformat()}); upgrade to one in standard support: "
            f"{', '.join(standard) or 'none of the versions this stack knows is; add the next one (infra/catalog/eks_versions.yaml, CLUSTER_AUTOSCALER_IMAGE_TAGS in infra/versions.py, infra/catalog/eks_amis.yaml) and upgrade'}"
        )
    return found
