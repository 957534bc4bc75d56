"""The gateway image honours the contract (docs/contracts.md): pinned base, uid 10001, read-only
root filesystem, port 8080, the documented command, and only the gateway's own dependencies.
The image itself is built in CI; these checks read the Dockerfile."""

import json
import re
from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parents[3] / "serving" / "gateway" / "Dockerfile"
TEXT = DOCKERFILE.read_text()


def instructions(name: str) -> list[str]:
    return [line.split(None, 1)[1] for line in TEXT.splitlines() if line.startswith(name + " ")]


def test_base_images_are_pinned_to_exact_versions():
    for arg in instructions("ARG"):
        name, _, image = arg.partition("=")
        assert re.search(r":\d+\.\d+\.\d+", image), f"{name} is not pinned to an exact version: {image}"
        assert "latest" not in image


def test_runs_as_uid_10001_and_serves_on_8080():
    assert instructions("USER")[-1] == "10001:10001"
    assert instructions("EXPOSE") == ["8080"]


def test_the_command_is_the_contracts():
    assert json.loads(instructions("CMD")[-1]) == [
        "python",
        "-m",
        "serving.gateway",
        "--config",
        "/etc/gateway/config/gateway.json",
    ]


def test_nothing_is_written_at_run_time():
    assert "PYTHONDONTWRITEBYTECODE=1" in TEXT and "compileall" in TEXT


def test_only_the_gateway_dependency_group_is_installed_from_the_lock_file():
    assert "--frozen --only-group gateway" in TEXT and "--require-hashes" in TEXT
    copies = instructions("COPY")
    assert not any("infra" in c or "tests" in c or ".json" in c.split()[0] for c in copies)
