"""`gpt-oss-platform preflight --env ENV`: read-only checks of the real AWS account before the first
`pulumi up`, each failure with the exact fix (docs/deploy.md "Fresh account").

Every check is one function `(Context) -> list[Result]` in a module of this package, named in
CHECKS with the sentence `preflight --help` prints. Nothing here writes to the account: only
Get/Describe/List calls (and a Cost Explorer query for one day).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from infra.config.models import EnvironmentConfig

Status = Literal["pass", "fail", "skip"]


@dataclass(frozen=True)
class Result:
    check: str
    status: Status
    detail: str  # what was found
    fix: str = ""  # the exact command or edit that resolves a failure

    def render(self) -> str:
        line = f"[{self.status.upper():4}] {self.check}: {self.detail}"
        return line + (f"\n         fix: {self.fix}" if self.fix else "")


@dataclass
class Context:
    env: EnvironmentConfig
    session: Any  # boto3.Session in the environment's region
    egress_ip: str | None = None  # the caller's public address (flag, or looked up by the CLI)
    ci_role_arn: str | None = None  # the role the deploy workflow assumes
    clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = self.session.client(service, region_name=self.env.region)
        return self.clients[service]

    def account_id(self) -> str:
        return str(self.client("sts").get_caller_identity()["Account"])


Check = Callable[[Context], list[Result]]


def checks() -> dict[str, tuple[str, Check]]:
    """name -> (what it checks, the check), in the order they run and `--help` lists them."""
    from infra.preflight import access, account, images, quotas

    return {
        "gpu-quotas": (quotas.DESCRIPTION, quotas.check),
        "spot-service-linked-role": (account.SPOT_ROLE_DESCRIPTION, account.spot_role),
        "acm-certificate": (account.CERTIFICATE_DESCRIPTION, account.certificate),
        "gateway-image": (images.GATEWAY_DESCRIPTION, images.gateway_image),
        "ami-parameters": (images.AMI_DESCRIPTION, images.ami_parameters),
        "api-egress": (access.EGRESS_DESCRIPTION, access.egress),
        "ci-role-admin": (access.CI_ROLE_DESCRIPTION, access.ci_role),
        "budgets-cost-explorer": (account.BILLING_DESCRIPTION, account.billing),
    }


def run_preflight(context: Context, only: list[str] | None = None) -> list[Result]:
    results: list[Result] = []
    for name, (_, check) in checks().items():
        if only and name not in only:
            continue
        results += check(context)
    return results


def aws_error_code(error: Exception) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(error, "response", None) or {}
    return str((response.get("Error") or {}).get("Code") or "")
