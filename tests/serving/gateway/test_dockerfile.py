"""The gateway image honours the contract (docs/contracts.md): base images pinned by tag and
digest (and the CI workflow verifies the same pins), uid 10001, read-only root filesystem,
port 8080, the documented command, and only the gateway's own dependencies. The image itself is
built in CI (.github/workflows/gateway-image.yml); these checks read the Dockerfile, and
test_image.py checks the build context and the installed dependency set."""

import json
import re
from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parents[3] / "serving" / "gateway" / "Dockerfile"
TEXT = DOCKERFILE.read_text()


def instructions(name: str) -> list[str]:
    return [line.split(None, 1)[1] for line in TEXT.splitlines() if line.startswith(name + " ")]


WORKFLOW = DOCKERFILE.parents[2] / ".github" / "workflows" / "gateway-image.yml"


def test_base_images_are_pinned_to_exact_versions_and_digests():
    for arg in instructions("ARG"):
        name, _, image = arg.partition("=")
        assert re.search(r":\d+\.\d+\.\d+(-[a-z]+)*@sha256:[0-9a-f]{64}$", image), (
            f"{name} is not pinned to a version and digest: {image}"
        )
        assert "latest" not in image


def test_ci_verifies_exactly_the_pinned_base_images_before_building():
    import yaml

    workflow = yaml.safe_load(WORKFLOW.read_text())
    pins = {arg.partition("=")[0]: arg.partition("=")[2] for arg in instructions("ARG")}
    assert workflow["env"]["PYTHON_IMAGE"] == pins["PYTHON_IMAGE"]
    assert workflow["env"]["UV_IMAGE"] == pins["UV_IMAGE"]
    steps = workflow["jobs"]["build"]["steps"]
    names = [step.get("name") for step in steps]
    assert names.index("verify base images") < names.index("build")
    verify = steps[names.index("verify base images")]["run"]
    assert 'docker pull "${PYTHON_IMAGE}"' in verify and "3.11.14" in verify and "bookworm" in verify
    assert "CI verifies it" in DOCKERFILE.read_text()


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


def test_the_gateway_group_holds_every_third_party_package_the_gateway_imports():
    """The image installs only the `gateway` group: a package the gateway imports and the group
    lacks would fail at start-up in the cluster, never in the tests (which have every group)."""
    import ast
    import sys
    import tomllib

    root = DOCKERFILE.parents[2]
    group = tomllib.loads((root / "pyproject.toml").read_text())["dependency-groups"]["gateway"]
    declared = {re.split(r"[<>=\[ ]", spec, maxsplit=1)[0].lower().replace("-", "_") for spec in group}
    imported = set()
    for path in (root / "serving" / "gateway").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = {name for name in imported if name not in sys.stdlib_module_names} - {"serving", "contracts"}
    assert third_party <= declared, third_party - declared
