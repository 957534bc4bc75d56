"""What an environment costs around its GPU nodes: the plan's own estimate, reused.

Runs the real Pulumi program under the mock engine (as `gpt-oss-platform plan` does) to count
the billable things it registers, then prices them with infra/plan/cost.py's `fixed_monthly`:
the cost comparison and the plan can never disagree about the control plane, NAT or disks.
"""

from __future__ import annotations

import contextlib
import io
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from infra.catalog import Catalog
from infra.cost.compare import Surroundings
from infra.paths import REPO_ROOT

if TYPE_CHECKING:
    from infra.config import EnvironmentConfig
    from infra.plan.mocks import Registration


def surroundings(env_name: str, catalog: Catalog, on: date, stack_root: Path = REPO_ROOT) -> Surroundings:
    from infra.plan.runner import run_program

    # The program's own warnings (the bootstrap notes of infra/config/bootstrap.py) are for
    # `plan` and `pulumi up`; a cost question prints only its answer. Bad config still raises.
    with contextlib.redirect_stderr(io.StringIO()):
        run = run_program(env_name, stack_root)
    return surroundings_of(run.env, run.registrations, catalog, on)


def surroundings_of(env: EnvironmentConfig, registrations: list[Registration], catalog: Catalog, on: date) -> Surroundings:
    """The surroundings of what a program run registered, priced for `env` on the day `on`."""
    from infra.plan.cost import fixed_monthly, fixed_totals

    fixed = fixed_monthly(env, registrations, catalog, on)
    floor, _ = fixed_totals(fixed)
    pool = env.serving_pool()
    disk = pool.disk_size_gib * catalog.services.ebs_gp3_usd_per_gb_month / catalog.hours_per_month
    return Surroundings(fixed_usd=floor, gpu_disk_usd_per_node_hour=disk, items=fixed)
