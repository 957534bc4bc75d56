"""`gpt-oss-platform smoke --url URL --key-file FILE [--env ENV]`: the post-deploy smoke test.

Through the gateway's public API: a chat completion, a streamed one (time to first token and
tokens/s), a tool call, a `reasoning_effort` request and a harmony-format check of gpt-oss's
answer, each served by the self-hosted model (`x-gateway-served-by`). With --env, where the
environment allows fallback, it also moves traffic to the managed API with the drain switch and
back (all non-sovereign traffic of the environment goes to the managed API for those seconds;
--skip-drain leaves the switch alone). Writes a smoke record (docs/environments.md "Smoke
records") that promotion reads: <records>/<env>/smoke/<time>-<release>.json.

Exit 0 when every check passed, 1 when one failed, 2 on bad input. Needs the `ops` dependency
group (`uv sync --group ops`); the drain check needs cluster access like `drain`.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from cli.errors import CHECK_FAILED, OK, CliError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from infra.paths import BUILD_DIR

    parser = subparsers.add_parser(
        "smoke",
        help="post-deploy smoke test of a gateway -> smoke record",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", required=True, help="gateway base URL, e.g. http://localhost:8080/v1")
    parser.add_argument("--key-file", required=True, type=Path, help="file holding a client key of the gateway")
    parser.add_argument("--env", help="environment (Pulumi.<env>.yaml): model, drain check and the record's pins")
    parser.add_argument("--model", help="public model name (default: the environment's model)")
    parser.add_argument(
        "--records", type=Path, default=BUILD_DIR / "records", help="where smoke records go (default: build/records)"
    )
    parser.add_argument(
        "--warm-timeout",
        type=float,
        help="seconds to wait for the self-hosted model (default: 900 when the environment scales to zero, else 120)",
    )
    parser.add_argument("--skip-drain", action="store_true", help="do not flip the drain switch")
    parser.add_argument("--kubeconfig", help="kubeconfig for the drain check (default: $KUBECONFIG or ~/.kube/config)")
    parser.add_argument("--context", help="kubeconfig context for the drain check")
    parser.add_argument("--json", action="store_true", help="print the record instead of the table")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from infra.operate import OpsDependencyMissing, require_ops

    try:
        require_ops()
    except OpsDependencyMissing as error:
        raise CliError(str(error)) from None
    key = _read_key(args.key_file)
    if not args.url.startswith(("http://", "https://")):
        raise CliError(f"--url {args.url!r} must start with http:// or https://")
    env = None
    if args.env:
        from infra.config import environment_from_stack_file

        env = environment_from_stack_file(args.env)
    model = args.model or (env.model.name if env else None)
    if not model:
        raise CliError("--model is required without --env (the public model name, e.g. gpt-oss-120b)")
    from infra.operate.smoke import SmokeOptions, SmokeTest, smoke_record

    warm = args.warm_timeout if args.warm_timeout is not None else (900.0 if env and env.serving.min_replicas == 0 else 120.0)
    drain, drain_note = _drain_hooks(args, env)
    started = datetime.now(UTC)
    test = SmokeTest(SmokeOptions(url=args.url, key=key, model=model, warm_timeout_s=warm, drain=drain))
    try:
        checks = test.run()
    finally:
        test.close()
    finished = datetime.now(UTC)
    status = OK if all(c.passed for c in checks) else CHECK_FAILED
    if env is None:
        print("no --env: no smoke record written (promotion reads records per environment)", file=sys.stderr)
        _show(args.json, {"checks": [c.as_dict() for c in checks]}, checks, drain_note)
        return status
    from infra.environments.pins import load_pins
    from infra.environments.records import write_smoke_record
    from infra.paths import REPO_ROOT

    record = smoke_record(env.name, load_pins(env.name, REPO_ROOT), args.url, started, finished, checks)
    path = write_smoke_record(args.records, record)
    _show(args.json, record.model_dump(mode="json", by_alias=True), checks, drain_note)
    print(f"wrote {path}", file=sys.stderr)
    return status


def _read_key(path: Path) -> str:
    try:
        key = path.read_text().strip()
    except OSError as error:
        raise CliError(f"--key-file {path}: cannot read it ({error.strerror})") from None
    if not key or any(c.isspace() for c in key):
        raise CliError(f"--key-file {path}: must hold exactly one client key on one line")
    return key


def _drain_hooks(args: argparse.Namespace, env):
    """The drain switch for the smoke test, or None and why not."""
    if env is None:
        return None, "drain: not run (no --env)"
    if not env.fallback.allowed:
        return None, f"drain: not applicable ({env.name} has fallback.allowed false)"
    if args.skip_drain:
        return None, "drain: not run (--skip-drain)"
    from infra.operate.drain import DrainRefused, check_cluster, read_route, set_route
    from infra.operate.kube import KubeClient, KubeError, kubeconfig_path, load_target
    from infra.operate.smoke import DrainHooks
    from infra.tags import k8s_labels

    try:
        target = load_target(kubeconfig_path(args.kubeconfig), args.context)
        check_cluster(env, target.cluster, explicit_context=args.context is not None)
    except (DrainRefused, KubeError) as error:
        raise CliError(f"{error} (or pass --skip-drain)") from None
    client = KubeClient(target)
    labels = k8s_labels(env, env.name, "route-override")
    return (
        DrainHooks(
            read_route=lambda: read_route(client).route,
            set_route=lambda route, reason: set_route(client, route, reason, None, labels=labels),
        ),
        "",
    )


def _show(as_json: bool, record: dict, checks, note: str) -> None:
    if as_json:
        print(json.dumps(record, indent=2))
        return
    for c in checks:
        timing = f"{c.duration_ms:8.0f} ms" if c.duration_ms is not None else " " * 11
        extra = ""
        if c.ttft_ms is not None:
            extra = f"  ttft {c.ttft_ms:.0f} ms" + (f", {c.tokens_per_s:.1f} tokens/s" if c.tokens_per_s else "")
        print(f"{'PASS' if c.passed else 'FAIL'}  {c.name:<17} {timing}  {c.served_by or '-':<12} {c.detail}{extra}")
    if note:
        print(note)
