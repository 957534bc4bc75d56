"""The docs stay true: generated pages and blocks are current, every relative link and anchor of
every Markdown file resolves, and what the docs tell a user to run exists."""

from __future__ import annotations

import os
import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

from cli.__main__ import build_parser
from cli.docs import stale

ROOT = Path(__file__).resolve().parents[1]
MARKDOWN = sorted(
    ROOT / path
    for path in subprocess.run(["git", "ls-files", "*.md"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    # The upstream charts' own docs are data, not ours.
    if not path.startswith(("tools/checkov/",))
)
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


# Generated pages quote the environments (the sizing table, the config error example). They are
# checked against the environments as committed: a user's uncommitted `pins set`, `new-env` or
# overlay edit is not a stale page (the page follows when they commit and run `make reference`).
ENVIRONMENT_FILES = ["environments", "Pulumi.*.yaml"]


def _environments_edited() -> bool:
    status = subprocess.run(
        ["git", "status", "--porcelain", "--", *ENVIRONMENT_FILES], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return status.stdout.strip() != ""


def _stale_against_committed_environments(tmp_path: Path) -> list[str]:
    """stale() run on a copy of this working tree whose environments are HEAD's."""
    import json
    import shutil
    import sys

    copy = tmp_path / "repo"
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, check=True
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file() and not name.startswith("environments/") and not re.fullmatch(r"Pulumi\.[^/]+\.yaml", name):
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    archive = subprocess.run(["git", "archive", "HEAD", "--", *ENVIRONMENT_FILES], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(copy)], input=archive.stdout, check=True)
    result = subprocess.run(
        [sys.executable, "-c", "import json; from cli.docs import stale; print(json.dumps(stale()))"],
        cwd=copy,
        env={**os.environ, "PYTHONPATH": str(copy)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_generated_pages_and_blocks_are_current(tmp_path):
    found = _stale_against_committed_environments(tmp_path) if _environments_edited() else stale()
    assert found == [], "run `gpt-oss-platform reference --write`"


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*|_(?=\w)|\[|\]\([^)]*\)", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@cache
def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    counts: dict[str, int] = {}
    in_code = False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code:
            continue
        match = re.match(r"^#{1,6} (.+)$", line)
        if match:
            base = slug(match.group(1))
            n = counts.get(base, 0)
            found.add(base if n == 0 else f"{base}-{n}")
            counts[base] = n + 1
        found.update(re.findall(r"<a (?:name|id)=\"([^\"]+)\"", line))
    return found


def links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL)
    text = re.sub(r"`[^`\n]*`", "", text)
    return LINK.findall(text)


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(path):
    broken = []
    for target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # http(s), mailto: checked by people, not offline
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {resolved.relative_to(ROOT)}")
    assert broken == []


def test_the_link_checker_finds_a_broken_link_and_a_broken_anchor(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## A section\n\n[ok](#a-section) [bad](#nowhere) [gone](missing.md)\n")
    assert anchors(page) == {"title", "a-section"}
    assert links(page) == ["#a-section", "#nowhere", "missing.md"]


def test_every_make_target_the_docs_name_exists():
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE))
    named = {t for path in MARKDOWN for t in re.findall(r"`make ([a-z][a-z-]*)", path.read_text())}
    assert named and named <= targets, named - targets


def test_every_cli_command_the_docs_name_exists():
    subcommands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    named = {c for path in MARKDOWN for c in re.findall(r"gpt-oss-platform ([a-z][a-z-]+)", path.read_text())}
    assert named and named <= subcommands, named - subcommands


def test_paths_in_the_readme_layout_table_exist():
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Repository layout") :]
    section = section[: section.index("\n## ", 1)]
    for entry in re.findall(r"^\| `([^`]+)`", section, re.MULTILINE):
        for path in entry.split("`, `"):
            if "<env>" not in path:
                assert (ROOT / path).exists(), path
