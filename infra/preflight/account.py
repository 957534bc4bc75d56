"""Account-wide prerequisites: the spot service-linked role, the TLS certificate, billing APIs.

- `AWSServiceRoleForEC2Spot`: an account that never used spot lacks it, and Karpenter's
  controller policy cannot create it (Karpenter troubleshooting docs,
  "AuthFailure.ServiceLinkedRoleCreationNotPermitted"). The stack creates it
  (infra/components/spot_role.py); when it already exists, import it or set
  `account.create_spot_service_linked_role: false` (docs/deploy.md).
- The ACM certificate of the gateway's load balancer, ISSUED, in the environment's region: a
  pending or foreign-region certificate fails the listener and Helm waits out its timeout.
- AWS Budgets and Cost Explorer answer: the stack creates a budget; the cost commands read
  Cost Explorer, which must be enabled once per account (it takes up to 24 hours).
"""

from __future__ import annotations

from datetime import date, timedelta

from infra.preflight import Context, Result, aws_error_code

SPOT_ROLE = "AWSServiceRoleForEC2Spot"
SPOT_SERVICE = "spot.amazonaws.com"
SPOT_ROLE_DESCRIPTION = f"{SPOT_ROLE} exists when any pool uses spot (the stack creates it; import it when it exists)"
CERTIFICATE_DESCRIPTION = "gateway.ingress.certificate_arn is ISSUED in the environment's region (when the ingress is enabled)"
BILLING_DESCRIPTION = "AWS Budgets (DescribeBudgets) and Cost Explorer (GetCostAndUsage, one day) answer for this account"


def spot_role(context: Context) -> list[Result]:
    spot_pools = [p.name for p in context.env.node_pools if p.capacity_type == "spot"]
    if not spot_pools:
        return [Result("spot-service-linked-role", "skip", "no pool uses spot")]
    creates = context.env.account.create_spot_service_linked_role
    try:
        context.client("iam").get_role(RoleName=SPOT_ROLE)
        exists = True
    except Exception as error:
        code = aws_error_code(error) or type(error).__name__
        if code != "NoSuchEntity":
            return [Result("spot-service-linked-role", "fail", f"{SPOT_ROLE}: {code}", "allow iam:GetRole, then rerun")]
        exists = False
    if creates and not exists:
        return [Result("spot-service-linked-role", "pass", f"{SPOT_ROLE} does not exist yet: `pulumi up` creates it")]
    if not creates and exists:
        return [
            Result("spot-service-linked-role", "pass", f"{SPOT_ROLE} exists (account.create_spot_service_linked_role: false)")
        ]
    if creates:
        arn = f"arn:aws:iam::{context.account_id()}:role/aws-service-role/{SPOT_SERVICE}/{SPOT_ROLE}"
        return [
            Result(
                "spot-service-linked-role",
                "fail",
                f"{SPOT_ROLE} exists already: the stack would fail to create it (pools {', '.join(spot_pools)} use spot)",
                f"pulumi import aws:iam/serviceLinkedRole:ServiceLinkedRole {context.env.name}-spot-role {arn} "
                f"--stack {context.env.name}; or set account.create_spot_service_linked_role: false in "
                f"environments/{context.env.name}.yaml",
            )
        ]
    return [
        Result(
            "spot-service-linked-role",
            "fail",
            f"{SPOT_ROLE} does not exist and this stack does not create it: spot nodes never launch",
            f"aws iam create-service-linked-role --aws-service-name {SPOT_SERVICE}; or set "
            "account.create_spot_service_linked_role: true",
        )
    ]


def certificate(context: Context) -> list[Result]:
    ingress = context.env.gateway.ingress
    if not ingress.enabled or not ingress.certificate_arn:
        return [Result("acm-certificate", "skip", "gateway.ingress is not enabled")]
    arn = ingress.certificate_arn
    region = arn.split(":")[3]
    request = (
        f"aws acm request-certificate --domain-name <gateway DNS name> --validation-method DNS --region {context.env.region}, "
        "validate it, and set gateway.ingress.certificate_arn"
    )
    if region != context.env.region:
        return [Result("acm-certificate", "fail", f"{arn} is in {region}, the load balancer in {context.env.region}", request)]
    try:
        status = context.client("acm").describe_certificate(CertificateArn=arn)["Certificate"]["Status"]
    except Exception as error:
        return [Result("acm-certificate", "fail", f"{arn}: {aws_error_code(error) or type(error).__name__}", request)]
    if status != "ISSUED":
        return [
            Result(
                "acm-certificate",
                "fail",
                f"{arn} is {status}, not ISSUED: the listener would fail and Helm wait out its timeout",
                f"complete its DNS validation (aws acm describe-certificate --certificate-arn {arn} --region "
                f"{context.env.region}) or {request}",
            )
        ]
    return [Result("acm-certificate", "pass", f"{arn} is ISSUED in {region}")]


def billing(context: Context) -> list[Result]:
    results = []
    try:
        context.client("budgets").describe_budgets(AccountId=context.account_id(), MaxResults=1)
        results.append(Result("budgets-cost-explorer", "pass", "AWS Budgets answers"))
    except Exception as error:
        code = aws_error_code(error) or type(error).__name__
        results.append(
            Result(
                "budgets-cost-explorer",
                "fail",
                f"AWS Budgets: {code}",
                "allow budgets:ViewBudget and budgets:ModifyBudget to the deploying role",
            )
        )
    end = date.today()
    try:
        context.client("ce").get_cost_and_usage(
            TimePeriod={"Start": (end - timedelta(days=1)).isoformat(), "End": end.isoformat()},
            Granularity="DAILY",
            Metrics=["UnblendedCost"],
        )
        results.append(Result("budgets-cost-explorer", "pass", "Cost Explorer answers"))
    except Exception as error:
        code = aws_error_code(error) or type(error).__name__
        results.append(
            Result(
                "budgets-cost-explorer",
                "fail",
                f"Cost Explorer: {code}",
                "enable Cost Explorer once in the Billing console (data appears within 24 hours) and allow ce:GetCostAndUsage",
            )
        )
    return results
