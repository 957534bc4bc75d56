"""The environment commands as a user runs them: exit codes and messages, no tracebacks."""

from __future__ import annotations

import subprocess
import sys

from infra.paths import REPO_ROOT
from support.environments import build_environments


def test_a_yaml_syntax_error_exits_2_naming_file_line_and_column(tmp_path):
    build_environments(tmp_path)
    (tmp_path / "environments" / "dev.yaml").write_text("tier: dev\ncluster:\n  name: gpt-oss-dev\n   mode: create\n")
    result = subprocess.run(
        [sys.executable, "-m", "cli", "envs", "render", "--env", "dev", "--root", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "environments/dev.yaml:4:8: YAML syntax error: mapping values are not allowed here" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 3
    assert result.stderr.splitlines()[-1] == "Nothing was rendered."


def test_envs_check_and_list_on_the_fixture_environments(tmp_path):
    """On the tests' own environments (a user's `new-env` or `pins set` here changes nothing)."""
    import json

    root = build_environments(tmp_path / "repo")

    def cli(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "cli", *argv, "--root", str(root)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
        )

    check = cli("envs", "check")
    assert check.returncode == 0 and check.stdout.split() == ["ok", "dev", "ok", "staging", "ok", "prod"], check.stderr
    listing = cli("envs", "list")
    assert listing.returncode == 0 and "prod         prod     us-east-1" in listing.stdout
    rows = json.loads(cli("envs", "list", "--json").stdout)
    assert [(r["name"], r["tier"], r["strict"]) for r in rows] == [
        ("dev", "dev", False),
        ("staging", "staging", True),
        ("prod", "prod", True),
    ]
    # The base restricts the API endpoint to a documentation CIDR: no hosted runner reaches it.
    assert {tuple(r["runner"]) for r in rows} == {("self-hosted", f"gpt-oss-{r['name']}") for r in rows}


def test_an_unfinished_new_environment_does_not_break_the_others(tmp_path, capsys):
    """`new-env perf` without its unique values: perf is refused (its own overlay named), dev and
    staging stay valid (perf's default VPC range is perf's problem to fix, not theirs)."""
    from cli.__main__ import main as cli_main

    root = build_environments(tmp_path / "repo")
    assert cli_main(["new-env", "perf", "--from", "staging", "--root", str(root)]) == 0
    capsys.readouterr()
    assert cli_main(["envs", "check", "--root", str(root)]) == 1
    captured = capsys.readouterr()
    assert captured.out.split() == ["ok", "dev", "ok", "staging", "ok", "prod"]
    assert "FAIL perf" in captured.err and "environments/perf.yaml: cluster.network.vpc_cidr" in captured.err


# --- The edit loop (issue #15, item 8) ------------------------------------------------------------


def _edit(path, change) -> None:
    import yaml

    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_envs_render_refuses_an_invalid_overlay_naming_its_file_and_key(tmp_path, capsys):
    from cli.__main__ import main as cli_main

    root = build_environments(tmp_path / "repo")
    before = (root / "Pulumi.dev.yaml").read_text()
    _edit(root / "environments" / "dev.yaml", lambda d: d["serving"].update(max_replicas="many"))
    assert cli_main(["envs", "render", "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert "environments/dev.yaml: serving.max_replicas" in err and "'many'" in err
    assert "Pulumi.dev.yaml" not in err and "Nothing was rendered" in err
    assert (root / "Pulumi.dev.yaml").read_text() == before


def test_a_problem_in_the_base_names_the_base(tmp_path):
    import pytest

    from infra.config import ConfigError
    from infra.config.load import environment_from_stack_file, validate_overlay

    root = build_environments(tmp_path / "repo")
    _edit(root / "environments" / "base.yaml", lambda d: d["cluster"].update(kubernetes_version="0.1"))
    with pytest.raises(ConfigError) as caught:
        validate_overlay("dev", root)
    assert any(p.path == "environments/base.yaml: cluster.kubernetes_version" for p in caught.value.problems)
    # The generated file, read as `pulumi up` reads it, names the same file and key.
    import yaml

    from infra.config.overlays import resolve

    stack = yaml.safe_load((root / "Pulumi.dev.yaml").read_text())
    stack["config"]["gpt-oss-platform:environment"] = resolve("dev", root)
    (root / "Pulumi.dev.yaml").write_text(yaml.safe_dump(stack))
    with pytest.raises(ConfigError) as again:
        environment_from_stack_file("dev", root)
    assert "environments/base.yaml: cluster.kubernetes_version" in {p.path for p in again.value.problems}


def test_plan_renders_the_stack_file_after_an_overlay_edit(tmp_path, capsys, monkeypatch):
    """No `envs render` between an overlay edit and `plan`: plan renders it (after validating)."""
    from cli.__main__ import main as cli_main
    from infra import upstream

    root = build_environments(tmp_path / "repo")
    _edit(root / "environments" / "dev.yaml", lambda d: d["gateway"].update(max_in_flight=150))
    # Stop right after the render: no upstream charts anywhere (tested in tests/infra/upstream).
    monkeypatch.setenv("GPT_OSS_UPSTREAM_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setattr(upstream, "SHARED_DIR", tmp_path / "no-shared")
    monkeypatch.setattr(upstream, "CACHE_DIR", tmp_path / "no-cache")
    cli_main(["plan", "--env", "dev", "--stacks", str(root), "--out", str(tmp_path / "build")])
    err = capsys.readouterr().err
    assert "rendered Pulumi.dev.yaml from environments/" in err and "it is generated" not in err
    assert "max_in_flight: 150" in (root / "Pulumi.dev.yaml").read_text()
    _edit(root / "environments" / "dev.yaml", lambda d: d["gateway"].update(max_in_flight=-3))
    assert cli_main(["plan", "--env", "dev", "--stacks", str(root), "--out", str(tmp_path / "build")]) == 2
    err = capsys.readouterr().err
    assert "environments/dev.yaml: gateway.max_in_flight" in err and "Nothing was rendered or planned" in err
