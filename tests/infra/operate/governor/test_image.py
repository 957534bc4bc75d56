"""The governor image holds every module the controller imports, and nothing of Pulumi."""

from __future__ import annotations

import re
import subprocess
import sys

from infra.paths import REPO_ROOT

DOCKERFILE = REPO_ROOT / "infra/operate/governor/Dockerfile"


def test_the_image_copies_every_project_module_the_controller_imports():
    """Import the controller in a fresh interpreter and list the project modules it loaded: each
    must be a file the Dockerfile copies (a missing one would fail only in the cluster)."""
    code = (
        "import sys, infra.operate.governor.__main__, infra.operate.governor.controller;"
        "print('\\n'.join(m.__file__ for n, m in sys.modules.items() if n.split('.')[0] in ('infra', 'contracts') and m.__file__))"
    )
    files = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True, capture_output=True, text=True).stdout.split()
    copied = re.findall(r"^COPY (?!--from)(.+) /app/", DOCKERFILE.read_text(), flags=re.M)
    sources = [s for line in copied for s in line.split()]
    for path in files:
        relative = str(__import__("pathlib").Path(path).relative_to(REPO_ROOT))
        assert any(relative == s or (s.endswith("/") and relative.startswith(s)) for s in sources), relative
    assert not [f for f in files if "pulumi" in f]


def test_the_image_workflow_builds_pushes_and_records_the_governor_by_digest():
    """The governor image is built and pushed like the gateway's: same verified base images, its
    own ECR repository (the one the stack creates), its digest recorded in dev's pins."""
    import yaml

    workflow_path = REPO_ROOT / ".github/workflows/gateway-image.yml"
    workflow = yaml.safe_load(workflow_path.read_text())
    args = dict(line.split(None, 1)[1].split("=", 1) for line in DOCKERFILE.read_text().splitlines() if line.startswith("ARG "))
    assert workflow["env"]["PYTHON_IMAGE"] == args["PYTHON_IMAGE"] and workflow["env"]["UV_IMAGE"] == args["UV_IMAGE"]
    build = workflow["jobs"]["build"]
    steps = {step.get("name"): step for step in build["steps"]}
    assert 'grep -qxF "ARG PYTHON_IMAGE=${PYTHON_IMAGE}" infra/operate/governor/Dockerfile' in steps["verify base images"]["run"]
    assert "-f infra/operate/governor/Dockerfile" in steps["build the governor"]["run"]
    assert build["outputs"]["governor_digest"] == "${{ steps.build-governor.outputs.digest }}"
    from contracts import GOVERNOR_IMAGE_NAME
    from infra.config.models import RegistryConfig

    assert workflow["env"]["GOVERNOR_REPOSITORY"] == GOVERNOR_IMAGE_NAME == RegistryConfig().governor_repository
    push = "\n".join(step.get("run", "") for step in workflow["jobs"]["push"]["steps"])
    assert "${GOVERNOR_REPOSITORY} ${GOVERNOR_DIGEST}" in push and "--preserve-digests" in push
    record = "\n".join(step.get("run", "") for step in workflow["jobs"]["record"]["steps"])
    assert '--governor-digest "${GOVERNOR_DIGEST}"' in record
    # PyYAML reads the bare key `on` as the boolean True.
    triggers = workflow.get("on") or workflow[True]
    for trigger in ("pull_request", "push"):
        assert "infra/operate/governor/**" in triggers[trigger]["paths"], trigger
