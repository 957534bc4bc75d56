"""Render runbooks/templates/ for one environment into runbooks/<env>/.

Layout of the source: `alerts/<AlertName>.md.j2` (one per alert: Meaning, Impact, Diagnosis,
Mitigation), `procedures/<name>.md.j2` (on-call procedures that no alert starts), `README.md.j2`
(the environment's index) and `_macros.j2`. Every template gets the context of
`infra.runbooks.context.runbook_context` plus `root`, the relative path from the rendered file
to the repository root, so links resolve on a Git host and in a checkout alike.
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2

from infra.config.models import EnvironmentConfig
from infra.paths import REPO_ROOT
from infra.runbooks.context import runbook_context

RUNBOOKS_DIR = REPO_ROOT / "runbooks"
TEMPLATES_DIR = RUNBOOKS_DIR / "templates"
SUFFIX = ".j2"


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def template_names() -> list[str]:
    """Every renderable template, relative to TEMPLATES_DIR (macros excluded)."""
    return sorted(str(p.relative_to(TEMPLATES_DIR)) for p in TEMPLATES_DIR.rglob(f"*.md{SUFFIX}") if not p.name.startswith("_"))


def render_environment(env: EnvironmentConfig) -> dict[Path, str]:
    """Rendered file (relative to runbooks/) -> text, for every template."""
    jinja = _environment()
    context = runbook_context(env)
    out: dict[Path, str] = {}
    for name in template_names():
        target = (
            Path(env.name) / Path(name.removesuffix(SUFFIX)).relative_to("alerts")
            if name.startswith("alerts/")
            else Path(env.name) / name.removesuffix(SUFFIX)
        )
        depth = len(target.parts)  # runbooks/<env>/x.md -> ../.. ; runbooks/<env>/procedures/x.md -> ../../..
        root = "/".join([".."] * depth)
        text = jinja.get_template(name).render(**context, root=root)
        out[target] = re.sub(r"\n{3,}", "\n\n", text).rstrip() + "\n"
    return out


def write_environment(env: EnvironmentConfig, out_dir: Path = RUNBOOKS_DIR) -> list[Path]:
    """Write the environment's runbooks, removing rendered files no template produces any more."""
    rendered = render_environment(env)
    folder = out_dir / env.name
    wanted = {out_dir / rel for rel in rendered}
    for old in folder.rglob("*.md") if folder.is_dir() else []:
        if old not in wanted:
            old.unlink()
    written = []
    for rel, text in rendered.items():
        path = out_dir / rel
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            written.append(path)
    return written


def stale(env: EnvironmentConfig, out_dir: Path = RUNBOOKS_DIR) -> list[str]:
    """Rendered files that differ from what is committed, missing, or left over."""
    rendered = render_environment(env)
    problems = [
        str(rel) for rel, text in rendered.items() if not (out_dir / rel).is_file() or (out_dir / rel).read_text() != text
    ]
    folder = out_dir / env.name
    extra = {p.relative_to(out_dir) for p in folder.rglob("*.md")} - set(rendered) if folder.is_dir() else set()
    return sorted(problems + [f"{p} (no template)" for p in extra])
