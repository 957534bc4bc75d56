"""An AWS Budget on the environment's spend, selected by its `environment` cost tag.

The tag must be activated as a cost allocation tag (Billing console, or `aws ce
update-cost-allocation-tags-status`); it takes up to 24 h to appear and 24 h to activate and
is not retroactive, so a new environment's budget reads low for its first two days.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.config.models import BudgetConfig


def notifications(config: BudgetConfig) -> list[aws.budgets.BudgetNotificationArgsDict]:
    rules: list[aws.budgets.BudgetNotificationArgsDict] = [
        {
            "comparison_operator": "GREATER_THAN",
            "notification_type": "ACTUAL",
            "threshold": percent,
            "threshold_type": "PERCENTAGE",
            "subscriber_email_addresses": config.notify_emails,
        }
        for percent in sorted(set(config.alert_thresholds_percent))
    ]
    if config.forecast_alert_percent is not None:
        rules.append(
            {
                "comparison_operator": "GREATER_THAN",
                "notification_type": "FORECASTED",
                "threshold": config.forecast_alert_percent,
                "threshold_type": "PERCENTAGE",
                "subscriber_email_addresses": config.notify_emails,
            }
        )
    return rules


class EnvironmentBudget(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        environment: str,
        config: BudgetConfig,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("gptoss:cost:EnvironmentBudget", name, None, opts)
        self.budget = aws.budgets.Budget(
            name,
            name=f"gpt-oss-platform-{environment}",
            budget_type="COST",
            limit_amount=f"{config.monthly_usd:.2f}",
            limit_unit="USD",
            time_unit="MONTHLY",
            cost_filters=[{"name": "TagKeyValue", "values": [f"user:environment${environment}"]}],
            notifications=notifications(config),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"budget": self.budget.name})
