"""Run the tag audit of one environment and collect every finding."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from infra.audit.budget import BudgetGap, budget_gaps
from infra.audit.errors import AuditError
from infra.audit.inventory import Found, call, collect
from infra.audit.tags import TagGap, tag_gaps
from infra.config.models import EnvironmentConfig
from infra.tags import cost_tags

# AWS Budgets is a global service served from us-east-1 (AWS General Reference, Budgets endpoints).
BUDGETS_REGION = "us-east-1"


@dataclass
class AuditResult:
    environment: str
    region: str
    account: str
    resources: list[Found]
    tag_gaps: list[TagGap]
    budget_gaps: list[BudgetGap]
    budget: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.tag_gaps and not self.budget_gaps

    def as_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "region": self.region,
            "account": self.account,
            "clean": self.clean,
            "resources_checked": len(self.resources),
            "resources": [{"kind": r.kind, "id": r.id, "via": r.via} for r in self.resources],
            "tag_gaps": [g.as_dict() for g in self.tag_gaps],
            "budget_gaps": [g.as_dict() for g in self.budget_gaps],
            "budget": self.budget.get("BudgetName") if self.budget else None,
            "notes": self.notes,
        }


def session_for(region: str, profile: str | None = None) -> Any:
    try:
        import boto3
    except ImportError:
        raise AuditError(
            "audit tags needs boto3, in the `ops` dependency group: run `uv sync --group ops` (or `make venv`)"
        ) from None
    try:
        return boto3.Session(region_name=region, profile_name=profile)
    except Exception as error:  # botocore ProfileNotFound
        raise AuditError(f"--profile {profile!r}: {error}") from None


def audit_environment(env: EnvironmentConfig, session: Any) -> AuditResult:
    """Find the environment's resources and budget, and every gap against its cost tags."""
    account = call(session.client("sts"), "GetCallerIdentity")["Account"]
    inventory = collect(session, env.name, env.cluster.name, env.cluster.mode == "create")
    expected = cost_tags(env, env.name)
    resources = sorted(inventory.items.values(), key=lambda r: (r.kind, r.id))
    gaps = tag_gaps(resources, expected)
    budgets_client = session.client("budgets", region_name=BUDGETS_REGION)
    budgets = _describe_budgets(budgets_client, account)
    budget_problems, budget = budget_gaps(budgets, env.name, env.budget.monthly_usd)
    return AuditResult(env.name, session.region_name, account, resources, gaps, budget_problems, budget, inventory.notes)


def _describe_budgets(client: Any, account: str) -> list[dict[str, Any]]:
    from botocore.exceptions import ClientError

    try:
        return _budgets_pages(client, account)
    except ClientError as error:
        # DescribeBudgets answers NotFoundException when the account has no budget at all.
        if error.response.get("Error", {}).get("Code") == "NotFoundException":
            return []
        raise


def _budgets_pages(client: Any, account: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token = None
    for _ in range(1000):
        page = call(client, "DescribeBudgets", AccountId=account, **({"NextToken": token} if token else {}))
        found += page.get("Budgets") or []
        token = page.get("NextToken")
        if not token:
            return found
    raise AuditError("DescribeBudgets: more than 1,000 pages")
