"""A recording stand-in for the `pulumi` CLI, put on PATH by tests that run runbook steps.

It checks each invocation against the real CLI's grammar, read from the cobra definitions of
github.com/pulumi/pulumi (tests/support/pulumi_cli_flags.json names the tag and paths): the
subcommand exists (`up`, `preview`; others are refused until their flags are recorded), every flag
exists for it (long `--name`, `--name=value` or shorthand `-s`), a flag that takes a value has one,
`--stack` names a `Pulumi.<stack>.yaml` in the working directory, and `--policy-pack` a directory
that exists. It appends the invocation to $PULUMI_STAND_IN_LOG as one JSON line and exits 0; on a
grammar error it prints the reason, as pulumi does, and exits 1. Nothing is deployed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

GRAMMAR = json.loads((Path(__file__).with_name("pulumi_cli_flags.json")).read_text())


def problems(argv: list[str], cwd: Path) -> list[str]:
    if not argv:
        return ["no subcommand"]
    command = GRAMMAR["aliases"].get(argv[0], argv[0])
    if command not in GRAMMAR["commands"]:
        return [f'unknown command "{argv[0]}" for "pulumi" (recorded: {", ".join(sorted(GRAMMAR["commands"]))})']
    flags = {**GRAMMAR["global"], **GRAMMAR["commands"][command]}
    shorts = {f["short"]: name for name, f in flags.items() if f["short"]}
    found, values = [], {}
    args = iter(argv[1:])
    for arg in args:
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
        elif arg.startswith("-") and len(arg) >= 2:
            name, eq, value = shorts.get(arg[1], "?" + arg[1]), "", arg[2:]
            eq = "=" if value else ""
        else:
            found.append(f"unexpected argument {arg!r}")
            continue
        if name not in flags:
            found.append(f"unknown flag: {arg}")
            continue
        if flags[name]["takes_value"] and not eq:
            value = next(args, None)
            if value is None:
                found.append(f"flag needs an argument: --{name}")
                continue
        values.setdefault(name, []).append(value)
    for stack in values.get("stack", []):
        if not (cwd / f"Pulumi.{stack}.yaml").is_file():
            found.append(f"no stack named '{stack}' (no Pulumi.{stack}.yaml in {cwd})")
    for pack in values.get("policy-pack", []):
        if not (cwd / pack).is_dir():
            found.append(f"policy pack {pack} is not a directory")
    return found


def main() -> int:
    found = problems(sys.argv[1:], Path.cwd())
    log = os.environ.get("PULUMI_STAND_IN_LOG")
    if log:
        with open(log, "a") as out:
            out.write(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd(), "problems": found}) + "\n")
    for problem in found:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
