"""What an environment costs around its GPU nodes: the plan's own estimate, reused.

Runs the real Pulumi program under the mock engine (as `gpt-oss-platform plan` does) to count
the billable things it registers, then prices them with infra/plan/cost.py's `fixed_monthly`:
the cost comparison and the plan can never disagree about the control plane, NAT or disks.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from infra.catalog import Catalog
from infra.cost.compare import Surroundings
from infra.paths import REPO_ROOT


def surroundings(env_name: str, catalog: Catalog, on: date, stack_root: Path = REPO_ROOT) -> Surroundings:
    from infra.plan.cost import fixed_monthly, fixed_totals
    from infra.plan.runner import run_program

    run = run_program(env_name, stack_root)
    fixed = fixed_monthly(run.env, run.registrations, catalog, on)
    floor, _ = fixed_totals(fixed)
    pool = run.env.serving_pool()
    disk = pool.disk_size_gib * catalog.services.ebs_gp3_usd_per_gb_month / catalog.hours_per_month
    return Surroundings(fixed_usd=floor, gpu_disk_usd_per_node_hour=disk, items=fixed)
