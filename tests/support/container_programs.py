"""Stand-ins for the programs of the Ray images that cannot run here (`serve status`, `ray status`,
`nvidia-smi`), run by tests/support/container_exec.py as `python -m support.container_programs
<program> <args>` inside a fake container. Each checks its arguments against the real program's
grammar and prints what the real one prints (format and source at each), from the cluster the
state file ($STAND_IN_STATE, JSON written by container_exec.py) describes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, NoReturn


class _Parser(argparse.ArgumentParser):
    """Usage errors as click reports them (exit 2), which `ray` and `serve` are built on."""

    def error(self, message: str) -> NoReturn:
        print(f"Usage: {self.prog} [OPTIONS]\nTry '{self.prog} --help' for help.\n\nError: {message}", file=sys.stderr)
        sys.exit(2)

    def parse(self, args: list[str]) -> argparse.Namespace:
        opts, extra = self.parse_known_args(args)
        if extra:
            self.error(
                f"No such option: {extra[0]}" if extra[0].startswith("-") else f"Got unexpected extra argument ({extra[0]})"
            )
        return opts


def serve(args: list[str], state: dict[str, Any]) -> int:
    """`serve status [-a/--address ADDRESS] [-n/--name NAME]` (ray 2.58 serve/scripts.py, `status`:
    the address defaults to $RAY_DASHBOARD_ADDRESS or http://localhost:8265). Output: the YAML of
    the Ray docs' "serve status" example (proxies, applications with status, message,
    last_deployed_time_s and deployments with status, status_trigger, replica_states, message;
    target_capacity)."""
    if not args or args[0] != "status":
        print(f"Error: No such command '{args[0] if args else ''}'.", file=sys.stderr)
        return 2
    parser = _Parser(prog="serve status", add_help=False)
    parser.add_argument("-a", "--address", default=os.environ.get("RAY_DASHBOARD_ADDRESS", "http://localhost:8265"))
    parser.add_argument("-n", "--name", default=None)
    opts = parser.parse(args[1:])
    if not state["dashboard"] or opts.address.rstrip("/") not in ("http://localhost:8265", "http://127.0.0.1:8265"):
        print(
            f"ConnectionError: Failed to connect to Ray at address: {opts.address}. "
            "Couldn't reach the Ray dashboard (is this the head node?)",
            file=sys.stderr,
        )
        return 1
    lines = ["proxies:"] + [f"  {node_id}: HEALTHY" for node_id in state["proxies"]] + ["applications:"]
    for app, deployments in state["applications"].items():
        if opts.name not in (None, app):
            continue
        lines += [
            f"  {app}:",
            "    status: RUNNING",
            "    message: ''",
            "    last_deployed_time_s: 1767225600.1",
            "    deployments:",
        ]
        for name, replicas in deployments.items():
            lines += [
                f"      {name}:",
                "        status: HEALTHY",
                "        status_trigger: CONFIG_UPDATE_COMPLETED",
                "        replica_states:",
                f"          RUNNING: {replicas}",
                "        message: ''",
            ]
    lines.append("target_capacity: null")
    print("\n".join(lines))
    return 0


def ray(args: list[str], state: dict[str, Any]) -> int:
    """`ray status [--address ADDRESS] [-v/--verbose]` (ray 2.58 scripts/scripts.py, `status`). The
    report as ray/autoscaler/_private/util.py `format_info_string` lays it out (Node status,
    Active/Idle/Pending, Recent failures, Resources with Total Usage and Pending Demands)."""
    if not args or args[0] != "status":
        print(f"Error: No such command '{args[0] if args else ''}'.", file=sys.stderr)
        return 2
    parser = _Parser(prog="ray status", add_help=False)
    parser.add_argument("--address", default=None)
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.parse(args[1:])
    header = "=" * 8 + " Autoscaler status: 2026-01-01 00:10:00.000000 " + "=" * 8
    separator = "-" * len(header)
    active = "\n".join(f" {count} {node_type}" for node_type, count in state["nodes"].items())
    gpus = state["cluster_gpus"]
    print(
        f"""{header}
Node status
{separator}
Active:
{active}
Idle:
 (no idle nodes)
Pending:
 (no pending nodes)
Recent failures:
 (no failures)

Resources
{separator}
Total Usage:
 {state["cluster_cpus"] / 2:.1f}/{state["cluster_cpus"]:.1f} CPU
 {gpus:.1f}/{gpus:.1f} GPU
 0B/{state["cluster_memory_gib"]:.2f}GiB memory
 0B/{state["cluster_memory_gib"] * 0.3:.2f}GiB object_store_memory

From request_resources:
 (none)
Pending Demands:
 (no resource demands)"""
    )
    return 0


def nvidia_smi(args: list[str], state: dict[str, Any]) -> int:
    """`nvidia-smi` with no arguments (or `-L`): the summary table, its layout as NVIDIA's driver
    580 prints it (header with driver and CUDA version, one row per visible GPU, the process
    table), showing only the GPUs given to the container."""
    if args not in ([], ["-L"]):
        print("Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.", file=sys.stdout)
        return 2
    gpus, name, driver, cuda = state["gpus"], state["gpu_name"], state["driver"], state["cuda"]
    if not gpus:
        print("No devices were found")
        return 6
    if args == ["-L"]:
        for i in range(gpus):
            print(f"GPU {i}: {name} (UUID: GPU-3f1c2b7a-9d4e-4c1b-8a6f-00000000000{i})")
        return 0
    rule = "+-----------------------------------------+------------------------+----------------------+"
    out = [
        "Thu Jan  1 00:10:00 2026",
        "+-----------------------------------------------------------------------------------------+",
        f"| NVIDIA-SMI {driver:<29}Driver Version: {driver:<15}CUDA Version: {cuda:<9}|",
        rule,
        "| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |",
        "| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |",
        "|=========================================+========================+======================|",
    ]
    for i in range(gpus):
        out += [
            f"|   {i}  {name:<28}On  |   00000000:{0x18 + i:02X}:00.0 Off |                    0 |",
            "| N/A   41C    P0            312W /  700W |   76128MiB /  81559MiB |     97%      Default |",
            rule,
        ]
    out += [
        "",
        "+-----------------------------------------------------------------------------------------+",
        "| Processes:                                                                              |",
        "|  GPU   GI   CI              PID   Type   Process name                        GPU Memory |",
        "|=========================================================================================|",
    ]
    out += [
        f"|    {i}   N/A  N/A              {412 + i}      C   ray::ServeReplica:{state['app']}         76118MiB |"
        for i in range(gpus)
    ]
    out.append("+-----------------------------------------------------------------------------------------+")
    print("\n".join(out))
    return 0


PROGRAMS = {"serve": serve, "ray": ray, "nvidia-smi": nvidia_smi}


def main(argv: list[str]) -> int:
    program, args = argv[0], argv[1:]
    with open(os.environ["STAND_IN_STATE"]) as f:
        state = json.load(f)
    return PROGRAMS[program](args, state)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
