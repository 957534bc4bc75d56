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
