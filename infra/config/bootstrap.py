"""The first `pulumi up` in a fresh account, and the inputs it may not require.

Some inputs can only exist after this stack has run once: the gateway and governor image digests
come from the image workflow (.github/workflows/gateway-image.yml), which pushes into the ECR
repositories this stack creates. `up` must
never require such an input, or the first `up` deadlocks (creating the repository by hand makes
the stack's `aws.ecr.Repository` fail as already existing). Without them `up` deploys everything
else, leaves out what needs them, says so in the `bootstrap_pending` stack output and exits 0;
the documented order (docs/deploy.md) is `up` -> gateway-image workflow -> pins PR merged ->
`envs render` -> `up`.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.config.models import EnvironmentConfig


@dataclass(frozen=True)
class StackProducedInput:
    key: str  # the config key path
    produced_by: str  # what produces it, after this stack has run once
    left_out: str  # what `up` leaves out until it is set
    next_step: str
    # Only the serving release as a whole waits for this input; the others leave out a part of it.
    holds_serving_release: bool = True
    # The config key that, when "off", means the input is not needed at all.
    needed_unless_off: str | None = None


# Every config key whose value only exists after this stack has created something. `up` refuses
# none of them (tests/infra/components/test_bootstrap.py runs the program as `up` without each).
STACK_PRODUCED_INPUTS = (
    StackProducedInput(
        key="gateway.image.digest",
        produced_by="the gateway-image workflow, which pushes to the ECR repository this stack creates",
        left_out="the serving Helm release (gateway, RayService, monitors)",
        next_step=(
            "run the gateway-image workflow (it opens the pins PR), merge the pins PR, "
            "`gpt-oss-platform envs render`, then `pulumi up` again (docs/deploy.md)"
        ),
    ),
    StackProducedInput(
        key="governor.image.digest",
        produced_by="the image workflow's governor job, which pushes to the ECR repository this stack creates",
        left_out="the cost governor (the rest of the serving release deploys)",
        next_step=(
            "run the gateway-image workflow (it records the governor digest in the same pins PR), merge it, "
            '`gpt-oss-platform envs render`, then `pulumi up` again (docs/cost.md "Cost governor")'
        ),
        holds_serving_release=False,
        needed_unless_off="governor.mode",
    ),
)


def _value(env: EnvironmentConfig, key: str) -> object:
    node: object = env
    for part in key.split("."):
        node = getattr(node, part)
    return node


def pending_inputs(env: EnvironmentConfig) -> list[StackProducedInput]:
    """The stack-produced inputs `env` does not have yet (empty once bootstrapped)."""
    return [
        item
        for item in STACK_PRODUCED_INPUTS
        if _value(env, item.key) in (None, "") and not (item.needed_unless_off and _value(env, item.needed_unless_off) == "off")
    ]


def serving_release_pending(env: EnvironmentConfig) -> bool:
    """Whether `up` leaves the whole serving release out (an input it cannot do without is missing)."""
    return any(item.holds_serving_release for item in pending_inputs(env))


def governor_pending(env: EnvironmentConfig) -> bool:
    """Whether `up` leaves the governor out of the serving release (its image has no digest yet)."""
    return any(item.key == "governor.image.digest" for item in pending_inputs(env))


def bootstrap_messages(env: EnvironmentConfig) -> list[str]:
    """One line per missing input: what is missing, what `up` leaves out, the next step."""
    return [
        f"{item.key} is not set (it comes from {item.produced_by}): `pulumi up` deploys everything except "
        f"{item.left_out}; next: {item.next_step}"
        for item in pending_inputs(env)
    ]


# Set by the offline plan (infra/plan/runner.py): render what `up` leaves out with placeholders,
# so its checks still see the serving chart. A real `pulumi preview` or `up` never sets it, so
# the preview shows exactly what `up` does (and drift detection sees no pending release).
OFFLINE_PLAN_ENV = "GPT_OSS_PLATFORM_OFFLINE_PLAN"


def render_pending_with_placeholders() -> bool:
    import os

    return os.environ.get(OFFLINE_PLAN_ENV) == "1"
