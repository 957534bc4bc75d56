"""The environment's AWS Budget: it exists, it filters on the environment's cost tag, its limit
is the configured one.

The stack creates it as `gpt-oss-platform-<env>` with the cost filter TagKeyValue
`user:environment$<env>` (infra/components/budget.py). A budget may also select the tag with the
newer FilterExpression (`Tags: {Key, Values}`, AWS Budgets API reference, Expression); either
counts. DescribeBudgets needs `budgets:ViewBudget` (Service Authorization Reference, AWS Budget
Service).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

BUDGET_NAME = "gpt-oss-platform-{environment}"


@dataclass(frozen=True)
class BudgetGap:
    budget: str
    problem: str

    def as_dict(self) -> dict:
        return asdict(self)


def _expression_selects(expression: dict[str, Any] | None, environment: str) -> bool:
    if not expression:
        return False
    tags = expression.get("Tags") or {}
    if tags.get("Key") in ("environment", "user:environment") and environment in (tags.get("Values") or []):
        return True
    children = list(expression.get("And") or []) + list(expression.get("Or") or [])
    return any(_expression_selects(child, environment) for child in children)


def selects_environment(budget: dict[str, Any], environment: str) -> bool:
    """True when the budget's filters pick the environment's tagged spend."""
    values = (budget.get("CostFilters") or {}).get("TagKeyValue") or []
    return f"user:environment${environment}" in values or _expression_selects(budget.get("FilterExpression"), environment)


def budget_gaps(
    budgets: list[dict[str, Any]], environment: str, monthly_usd: float
) -> tuple[list[BudgetGap], dict[str, Any] | None]:
    """Gaps of the environment's budget, and the budget found (None when there is none)."""
    name = BUDGET_NAME.format(environment=environment)
    by_name = next((b for b in budgets if b.get("BudgetName") == name), None)
    selecting = [b for b in budgets if selects_environment(b, environment)]
    budget = by_name or (selecting[0] if selecting else None)
    if budget is None:
        return [BudgetGap(name, f"no budget named {name!r} and none filters on the tag user:environment${environment}")], None
    gaps = []
    label = budget["BudgetName"]
    if not selects_environment(budget, environment):
        gaps.append(
            BudgetGap(label, f"does not filter on the environment tag (cost filter TagKeyValue user:environment${environment})")
        )
    limit = budget.get("BudgetLimit") or {}
    if budget.get("TimeUnit") != "MONTHLY":
        gaps.append(BudgetGap(label, f"time unit is {budget.get('TimeUnit')!r}, expected 'MONTHLY'"))
    listed = limit.get("Amount")
    try:
        amount = float(listed) if listed is not None else None
    except (TypeError, ValueError):
        amount = None
    if amount is None or abs(amount - monthly_usd) > 0.005 or limit.get("Unit") != "USD":
        gaps.append(
            BudgetGap(label, f"limit is {limit.get('Amount')} {limit.get('Unit')}, the config says {monthly_usd:.2f} USD")
        )
    return gaps, budget
