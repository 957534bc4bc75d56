"""Operating a deployed environment: the drain switch (drain.py) and the post-deploy smoke test
(smoke.py), over a small Kubernetes API client (kube.py). Clients of the cluster and of the
gateway's HTTP API only: nothing here imports serving/. They need the `ops` dependency group
(httpx); `require_ops` says how to install it."""

from __future__ import annotations


class OpsDependencyMissing(RuntimeError):
    """The `ops` dependency group is not installed."""


def require_ops() -> None:
    try:
        import httpx  # noqa: F401
    except ImportError:
        raise OpsDependencyMissing(
            "this command needs the `ops` dependency group (httpx); install it with `uv sync --group ops` "
            "(`make venv` installs every group)"
        ) from None
