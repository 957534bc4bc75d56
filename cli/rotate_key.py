"""`gpt-oss-platform rotate-managed-key --env ENV --key-file FILE`: rotate the managed API key everywhere.

One command, four places, in the order that restores service first (docs/operating.md
"Rotate the managed API key"):
  1. the Kubernetes Secret gpt-oss-managed-api-key (the gateway reloads it, closes the managed
     circuit and re-checks the key: traffic returns within about a minute);
  2. the Secrets Manager secret gpt-oss-platform/<env>/managed-api-key-<suffix> (found by prefix),
     which the deploy workflow reads, so the next deploy keeps the new key;
  3. the stack's secret managedApiKey (`pulumi config set --secret`, key on standard input);
  4. the GitHub environment secret MANAGED_API_KEY (`gh secret set`, key on standard input).
A step whose tool or access is missing is reported with the exact command to run; the exit code is
then 1. Emergency (the old key is already revoked, AWS access not at hand): `--kubernetes-only`
brings the fallback back; run the full command later. The key is read from --key-file and is never
printed, logged or put on a command line.
Needs the `ops` dependency group (`uv sync --group ops`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cli.errors import CHECK_FAILED, OK, CliError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rotate-managed-key",
        help="rotate the managed API key: Kubernetes Secret, Secrets Manager, stack config, GitHub secret",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--env", required=True, help="stack name: Pulumi.<env>.yaml")
    parser.add_argument("--key-file", required=True, type=Path, help="file holding the new key (one line; shred it after)")
    parser.add_argument(
        "--kubernetes-only", action="store_true", help="emergency: update only the Kubernetes Secret (run again without it later)"
    )
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    parser.add_argument("--context", help="kubeconfig context (default: the current one; must be the environment's cluster)")
    parser.add_argument("--json", action="store_true", help="print the steps as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from infra.config import environment_from_stack_file
    from infra.operate import OpsDependencyMissing, require_ops

    env = environment_from_stack_file(args.env)
    try:
        require_ops()
    except OpsDependencyMissing as error:
        raise CliError(str(error)) from None
    from infra.operate.drain import check_cluster
    from infra.operate.kube import KubeClient, KubeError, kubeconfig_path, load_target
    from infra.operate.rotate_key import (
        RotationRefused,
        StepResult,
        check_environment,
        github_command,
        pulumi_command,
        read_key,
        run_with_key,
        update_kubernetes_secret,
        update_secrets_manager,
    )

    try:
        check_environment(env)
        key = read_key(args.key_file)
        target = load_target(kubeconfig_path(args.kubeconfig), args.context)
        check_cluster(env, target.cluster, explicit_context=args.context is not None)
    except (RotationRefused, KubeError) as error:
        raise CliError(str(error)) from None
    steps: list[StepResult] = []
    client = KubeClient(target)
    try:
        steps.append(update_kubernetes_secret(client, key))
    except KubeError as error:
        steps.append(StepResult("kubernetes", False, str(error)))
    finally:
        client.close()
    if not args.kubernetes_only:
        steps.append(update_secrets_manager(env.name, env.region, key))
        how = "from a checkout logged in to the stack's backend; commit the new encrypted value in Pulumi.<env>.yaml"
        steps.append(run_with_key(pulumi_command(env.name), key, "stack-config", how))
        steps.append(run_with_key(github_command(env.name), key, "github", "with repository admin rights"))
    failed = [s for s in steps if not s.done]
    if args.json:
        print(json.dumps({"environment": env.name, "steps": [s.as_dict() for s in steps]}, indent=2))
    else:
        for s in steps:
            print(f"{'done' if s.done else 'TODO'} {s.step}: {s.detail}")
        if args.kubernetes_only:
            print(
                f"Emergency path: only the Kubernetes Secret. Run again without --kubernetes-only, or the next deploy of "
                f"{env.name} restores the old key from Secrets Manager."
            )
        elif not failed:
            print("Revoke the old key in the managed API's console now; shred the key file.")
    return CHECK_FAILED if failed else OK
