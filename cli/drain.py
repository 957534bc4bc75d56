"""`gpt-oss-platform drain --env ENV --route managed|self-hosted|auto --reason TEXT`: the drain switch.

Sets where every gateway pod of the environment routes, within a second or two, without
`pulumi up` or a pod restart (docs/operating.md "Drain switch"):
  managed       non-sovereign traffic goes to the managed API only (the GPUs are sick or being worked on)
  self-hosted   nothing leaves the company, not even as a fallback (a managed-API incident or a data question)
  auto          back to normal routing: self-hosted first, managed as the fallback
Sovereign traffic is never drained to the managed API, and neither is /v1/completions (the managed
API does not serve it): both stay on the self-hosted model during a `managed` drain. `--status`
shows the override in force and what each gateway pod applies (its metrics, through the API
server's pod proxy); exit 1 when a pod disagrees or cannot read the switch.

Writes the ConfigMap gpt-oss-route-override in namespace gpt-oss through the Kubernetes API, with
who (the Kubernetes user, or --who), why (--reason) and when. Uses the kubeconfig context that
points at the environment's cluster (`aws eks update-kubeconfig --name <cluster> --region <region>`).
Needs the `ops` dependency group (`uv sync --group ops`).
"""

from __future__ import annotations

import argparse
import json

from cli.errors import CHECK_FAILED, OK, CliError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "drain",
        help="drain switch: route to managed, self-hosted only, or auto",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--env", required=True, help="stack name: Pulumi.<env>.yaml")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--route", choices=("managed", "self-hosted", "auto"), help="the route to force (auto: normal routing)")
    action.add_argument("--status", action="store_true", help="show the override in force and change nothing")
    parser.add_argument("--reason", help="why (required with --route; stored with the override and logged)")
    parser.add_argument("--who", help="who sets it (default: your Kubernetes user name)")
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    parser.add_argument("--context", help="kubeconfig context (default: the current one; must be the environment's cluster)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from infra.config import environment_from_stack_file
    from infra.operate import OpsDependencyMissing, require_ops

    env = environment_from_stack_file(args.env)
    try:
        require_ops()
    except OpsDependencyMissing as error:
        raise CliError(str(error)) from None
    from infra.operate.drain import DrainRefused, check_cluster, check_request, read_route, set_route
    from infra.operate.kube import KubeClient, KubeError, kubeconfig_path, load_target
    from infra.tags import k8s_labels

    try:
        if args.route is not None:
            check_request(env, args.route, args.reason or "")
        target = load_target(kubeconfig_path(args.kubeconfig), args.context)
        check_cluster(env, target.cluster, explicit_context=args.context is not None)
    except (DrainRefused, KubeError) as error:
        raise CliError(str(error)) from None
    client = KubeClient(target)
    try:
        if args.status:
            from infra.operate.drain_status import disagreements, pod_routes

            state = read_route(client)
            pods = pod_routes(client)
            off = disagreements(state.route, pods)
            lines = [
                f"{env.name}: route {state.route}"
                + (f" (set by {state.set_by} at {state.set_at}: {state.reason})" if state.set_by else " (no override)")
            ]
            lines += [
                f"  pod {p.pod}: applies {p.route or '?'}, watch "
                + {True: "healthy", False: "UNHEALTHY", None: "?"}[p.watch_healthy]
                + (f" ({p.problem})" if p.problem else "")
                for p in pods
            ]
            if not pods:
                lines.append("  no running gateway pod found (label app.kubernetes.io/component=gateway)")
            if off:
                lines.append(
                    f"{len(off)} of {len(pods)} pods do not apply {state.route} or cannot read the switch: "
                    "GptOssGatewayDrainWatchUnhealthy / GptOssGatewayRouteDisagreement runbooks"
                )
            _print(
                args.json,
                {"environment": env.name, **state.as_dict(), "pods": [p.as_dict() for p in pods], "agree": not off},
                "\n".join(lines),
            )
            return CHECK_FAILED if off else OK
        assert args.route is not None, "argparse requires --route or --status, and --status returned above"
        previous, new = set_route(client, args.route, args.reason, args.who, labels=k8s_labels(env, env.name, "route-override"))
    except KubeError as error:
        print(f"error: {error}")
        return CHECK_FAILED
    finally:
        client.close()
    note = ""
    if new.route == "managed":
        note = (
            "\nSovereign keys stay on the self-hosted model (they are never drained to the managed API)."
            "\n/v1/completions stays on the self-hosted model: the managed API does not serve it (docs/operating.md)."
        )
    _print(
        args.json,
        {"environment": env.name, "previous": previous.as_dict(), "route": new.as_dict()},
        f"{env.name}: route {previous.route} -> {new.route} (set by {new.set_by} at {new.set_at}: {new.reason})\n"
        "Every gateway pod applies it within seconds; check with "
        f"`gpt-oss-platform drain --env {env.name} --status` and the metric gateway_route_override.{note}",
    )
    return OK


def _print(as_json: bool, data: dict, text: str) -> None:
    print(json.dumps(data, indent=2) if as_json else text)
