"""Runbooks rendered per environment: committed files match their templates, every command is
for that environment and can be pasted (no placeholder left, no other environment's names), every
`gpt-oss-platform` command exists with those flags, every `make` target exists, and every
Markdown link in runbooks/ and docs/operating.md resolves to a file (and heading) in the checkout."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from cli.__main__ import build_parser, main
from infra.config import environment_from_stack_file, read_stack_file, validate_environment
from infra.config.load import PROJECT
from infra.paths import REPO_ROOT
from infra.runbooks.context import RunbookConfigError, runbook_context
from infra.runbooks.render import RUNBOOKS_DIR, render_environment, stale

STACKS = ("dev", "staging", "prod")
PROCEDURES = {
    "drain-to-managed-and-back",
    "rotate-managed-api-key",
    "roll-back-a-release",
    "drain-spot-gpu-nodes",
    "scale-to-zero-and-wake-up",
    "upgrade-the-model",
}


def _rendered_files(stack: str) -> list[Path]:
    return sorted((RUNBOOKS_DIR / stack).rglob("*.md"))


def _bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def _commands(block: str) -> list[str]:
    """Shell lines with continuations joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", block)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


@pytest.mark.parametrize("stack", STACKS)
def test_the_committed_runbooks_are_rendered_from_the_templates(stack):
    assert stale(environment_from_stack_file(stack)) == [], "run `gpt-oss-platform runbooks --env all`"


def test_the_cli_reports_stale_runbooks_and_renders_them(tmp_path, capsys):
    assert main(["runbooks", "--env", "dev", "--out", str(tmp_path), "--check"]) == 1
    assert "stale: runbooks/dev/README.md" in capsys.readouterr().out
    assert main(["runbooks", "--env", "dev", "--out", str(tmp_path)]) == 0
    assert main(["runbooks", "--env", "dev", "--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "dev" / "Orphan.md").write_text("# Orphan\n")
    assert main(["runbooks", "--env", "dev", "--out", str(tmp_path), "--check"]) == 1
    assert main(["runbooks", "--env", "dev", "--out", str(tmp_path)]) == 0
    assert not (tmp_path / "dev" / "Orphan.md").exists()


@pytest.mark.parametrize("stack", STACKS)
def test_every_procedure_is_rendered_with_commands(stack):
    folder = RUNBOOKS_DIR / stack / "procedures"
    assert {p.stem for p in folder.glob("*.md")} == PROCEDURES
    for path in folder.glob("*.md"):
        assert _bash_blocks(path.read_text()), f"{path.name}: no ```bash block"
        assert "Escalation path for " + stack in path.read_text()


@pytest.mark.parametrize("stack", STACKS)
def test_commands_name_this_environment_and_nothing_is_left_to_fill_in_by_hand(stack):
    env = environment_from_stack_file(stack)
    others = [environment_from_stack_file(s).cluster.name for s in STACKS if s != stack]
    for path in _rendered_files(stack):
        text = path.read_text()
        assert "{{" not in text.replace("{{ $labels", "") and "{%" not in text, f"{path}: unrendered template syntax"
        for block in _bash_blocks(text):
            assert "<env>" not in block and "<node group>" not in block and "<asg>" not in block, path
            for other in others:
                assert other not in block, f"{path}: names {other}"
            if "aws " in block:
                assert "us-east-9" not in block
        if "update-kubeconfig" in text:
            assert f"aws eks update-kubeconfig --name {env.cluster.name} --region {env.region}" in text, path


@pytest.mark.parametrize("stack", STACKS)
def test_node_groups_and_their_asgs_are_found_by_the_names_the_program_gives(stack):
    env = environment_from_stack_file(stack)
    text = (RUNBOOKS_DIR / stack / "GptOssGpuNodePoolBelowFloor.md").read_text()
    groups = runbook_context(env)["node_groups"]
    for group in groups:
        if group.managed:
            # The program sets the node group's name (node_pools/eks_managed.py): no prefix lookup.
            assert f"--nodegroup-name {group.name} " in text and "list-nodegroups" not in text
            assert "--query 'nodegroup.resources.autoScalingGroups[0].name'" in text
        else:
            assert group.name in text and "kubectl get nodepools" in text


@pytest.mark.parametrize("stack", STACKS)
def test_every_cli_command_in_a_runbook_exists_with_those_flags(stack):
    parser = build_parser()
    seen = 0
    for path in _rendered_files(stack):
        for block in _bash_blocks(path.read_text()):
            for line in _commands(block):
                for target in re.findall(r"\bmake ([a-z][a-z-]*)", line):
                    assert re.search(rf"^{target}:", (REPO_ROOT / "Makefile").read_text(), re.M), f"{path}: make {target}"
                for planned in re.findall(r"\bmake plan ENV=(\S+)", line):
                    # What make would run (`-n`: nothing runs): the plan of that stack. The plan itself
                    # runs under tests/infra/plan; this holds the runbook's target and variable to it.
                    dry = subprocess.run(["make", "-n", "plan", f"ENV={planned}"], cwd=REPO_ROOT, capture_output=True, text=True)
                    assert dry.returncode == 0 and f"plan --env {planned}" in dry.stdout, f"{path}: {line}\n{dry.stderr}"
                if "gpt-oss-platform" not in line:
                    continue
                lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
                lexer.whitespace_split = True
                lexer.commenters = "#"
                tokens = list(lexer)
                for start, token in enumerate(tokens):
                    if token not in ("gpt-oss-platform", ".venv/bin/gpt-oss-platform"):
                        continue
                    argv = []
                    for item in tokens[start + 1 :]:
                        if item and set(item) <= set("|&;<>()"):
                            break
                        argv.append(item)
                    try:
                        parser.parse_args(argv)
                    except SystemExit:
                        pytest.fail(f"{path.relative_to(REPO_ROOT)}: `gpt-oss-platform {' '.join(argv)}` is not a valid command")
                    seen += 1
    assert seen >= 10, "the runbooks should use the CLI (drain, smoke...)"


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors of a Markdown file."""
    anchors = set()
    fenced = False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def _markdown_files() -> list[Path]:
    return [*sorted(RUNBOOKS_DIR.rglob("*.md")), REPO_ROOT / "docs" / "operating.md"]


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_link_resolves(path):
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+://", target) or target.startswith("mailto:"):
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        assert resolved.exists(), f"{path.relative_to(REPO_ROOT)}: link {target} does not resolve"
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(resolved), (
                f"{path.relative_to(REPO_ROOT)}: no heading #{anchor} in {file_part or path.name}"
            )


def test_an_environment_without_oncall_cannot_render_its_runbooks(capsys, tmp_path):
    raw = read_stack_file("dev")[f"{PROJECT}:environment"]
    env = validate_environment({k: v for k, v in raw.items() if k != "oncall"}, stack="dev")
    with pytest.raises(RunbookConfigError, match="has no `oncall` section"):
        render_environment(env)


@pytest.mark.parametrize("mode", ["off", "recommend", "enforce"])
def test_the_floor_procedures_say_what_the_governor_will_do(mode):
    """With `enforce` the governor moves the floor itself: a hand-set zero lasts only until its next
    decision unless the procedure switches it to `recommend` in the same edit (and back after)."""
    raw = read_stack_file("prod")[f"{PROJECT}:environment"]
    env = validate_environment({**raw, "governor": {**raw.get("governor", {}), "mode": mode}}, stack="prod")
    rendered = {p.name: t for p, t in render_environment(env).items()}
    text, spot = rendered["scale-to-zero-and-wake-up.md"], rendered["drain-spot-gpu-nodes.md"]
    if mode == "enforce":
        assert "Set `governor.mode: recommend` in the same edit as step 1" in text
        assert "(and `governor.mode: enforce`)" in text
        # prod's spot group is a managed node group, whose minSize the governor sets.
        assert "it raises the spot group's `minSize` again" in spot
    else:
        assert f"The cost governor runs in `{mode}` mode here" in text and "governor.mode: recommend` in the same" not in text
        assert "governor" not in spot
