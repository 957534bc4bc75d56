"""`gpt-oss-platform pins`: an environment's release pins (docs/environments.md, "Release pins").

pins show --env ENV [--json]     the pins and their release id
pins set --env ENV [--gateway-digest sha256:...] [--gateway-repository R] [--gateway-tag T]
         [--governor-digest sha256:...] [--governor-repository R] [--governor-tag T]
         [--ray-digest sha256:...] [--model NAME=REVISION ...]
                                 change pins (CI records new gateway and governor images this way) and
                                 re-render Pulumi.<env>.yaml
pins sync --env ENV              take the Ray image and chart version from this checkout (the
                                 first stage tracks the checkout; later stages get them by promotion)
pins check --env ENV             exit 1 when the pins' Ray image or chart differ from this checkout
                                 (then this checkout cannot apply the environment's release)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cli.errors import CHECK_FAILED, OK, CliError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pins", help="show, set and check release pins", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    from infra.paths import REPO_ROOT

    # --root on every action, so it may follow the action like every other flag.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", type=Path, default=REPO_ROOT, help="repository holding environments/ (default: this one)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser("show", parents=[common], help="the pins and their release id")
    show.add_argument("--env", required=True)
    show.add_argument("--json", action="store_true")
    change = actions.add_parser("set", parents=[common], help="change pins and re-render the stack file")
    change.add_argument("--env", required=True)
    change.add_argument("--gateway-digest", help="sha256:<64 hex> of the gateway image CI pushed")
    change.add_argument("--gateway-repository", help="gateway image repository (clears the digest unless given)")
    change.add_argument("--gateway-tag", help="gateway image tag (clears the digest unless given)")
    change.add_argument("--governor-digest", help="sha256:<64 hex> of the governor image CI pushed")
    change.add_argument("--governor-repository", help="governor image repository (clears the digest unless given)")
    change.add_argument("--governor-tag", help="governor image tag (clears the digest unless given)")
    change.add_argument("--ray-digest", help="sha256:<64 hex> of the pinned Ray image tag (staging and prod require it)")
    change.add_argument("--model", action="append", default=[], metavar="NAME=REVISION", help="a model revision (repeatable)")
    sync = actions.add_parser("sync", parents=[common], help="Ray image and chart version from this checkout")
    sync.add_argument("--env", required=True)
    check = actions.add_parser("check", parents=[common], help="exit 1 when the pins differ from this checkout's code")
    check.add_argument("--env", required=True)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from infra.environments.pins import load_pins

    if args.action == "show":
        pins = load_pins(args.env, args.root)
        if args.json:
            print(json.dumps({"environment": args.env, "release": pins.release_id, "pins": pins.as_data()}, indent=2))
        else:
            print(f"{args.env}: release {pins.release_id}")
            for key, value in pins.flat().items():
                print(f"  {key:<22} {value if value is not None else '(none)'}")
        return OK
    if args.action == "check":
        from infra.environments.checkout import checkout_mismatches

        mismatches = checkout_mismatches(load_pins(args.env, args.root))
        for line in mismatches:
            print(f"FAIL {args.env}: {line}", file=sys.stderr)
        if mismatches:
            print(
                f"{args.env}'s release cannot be applied from this checkout; promote the release that carries it", file=sys.stderr
            )
            return CHECK_FAILED
        print(f"ok {args.env}: release {load_pins(args.env, args.root).release_id} matches this checkout")
        return OK
    from infra.environments.pin_updates import set_pins, sync_pins

    if args.action == "sync":
        pins, written = sync_pins(args.env, args.root)
    else:
        models = {}
        for item in args.model:
            name, sep, revision = item.partition("=")
            if not sep:
                raise CliError(f"--model takes NAME=REVISION, got {item!r}")
            models[name] = revision
        pins, written = set_pins(
            args.env,
            args.root,
            models=models,
            gateway_digest=args.gateway_digest,
            gateway_repository=args.gateway_repository,
            gateway_tag=args.gateway_tag,
            ray_digest=args.ray_digest,
            governor_digest=args.governor_digest,
            governor_repository=args.governor_repository,
            governor_tag=args.governor_tag,
        )
    for path in written:
        print(f"wrote {path.name}")
    print(f"{args.env}: release {pins.release_id}")
    return OK
