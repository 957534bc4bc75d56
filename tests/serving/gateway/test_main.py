"""Starting the gateway from a file, as docs/gateway.md shows (`make gateway CONFIG=...`,
`gpt-oss-platform gateway --config`, `python -m serving.gateway --config`): a bad settings file, a
missing or empty managed key file, a missing clients file are one message naming the file and the
key, exit 2, no traceback; a good file starts a gateway that answers."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cli.__main__ import main as cli_main
from serving.gateway.__main__ import main
from serving.gateway.settings import SettingsError, load_settings
from tests.serving.harness import KEYS, PUBLIC_MODEL, settings_for_test, write_secrets

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def config(tmp_path: Path) -> tuple[Path, dict]:
    clients, key = write_secrets(tmp_path)
    settings = settings_for_test("http://127.0.0.1:9/v1", "http://127.0.0.1:10/v1", clients, key)
    path = tmp_path / "gateway.json"
    path.write_text(json.dumps(settings))
    return path, settings


def refused(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_a_missing_settings_file_names_the_file(capsys, tmp_path):
    err = refused(capsys, ["--config", str(tmp_path / "nope.json")])
    assert f"{tmp_path / 'nope.json'}: no such file" in err


def test_a_file_that_is_not_json_names_the_file_line_and_column(capsys, config):
    path, _ = config
    path.write_text('{"environment": "x",\n  "team": }')
    err = refused(capsys, ["--config", str(path)])
    assert f"{path}: not valid JSON at line 2, column 11" in err


def test_an_unknown_key_is_named_with_its_path_and_the_fix(capsys, config):
    path, settings = config
    settings["upstreams"][0]["readiness"]["timeout"] = 5
    settings["upstreams"][1]["first_byte_timeout_s"] = -1
    path.write_text(json.dumps(settings))
    err = refused(capsys, ["--config", str(path)])
    assert "upstreams[0].readiness.timeout: unknown key: remove it or fix its spelling" in err
    assert "upstreams[1].first_byte_timeout_s: Input should be greater than 0 (got -1)" in err
    assert str(path) in err


def test_load_settings_raises_one_error_type_for_every_bad_file(tmp_path):
    (tmp_path / "empty.json").write_text("")
    for name in ("empty.json", "absent.json"):
        with pytest.raises(SettingsError, match=str(tmp_path / name)):
            load_settings(tmp_path / name)


def test_an_empty_managed_key_file_refuses_to_start(capsys, config):
    path, settings = config
    Path(settings["upstreams"][1]["api_key_file"]).write_text("\n")
    err = refused(capsys, ["--config", str(path)])
    assert "upstreams[1].api_key_file (managed)" in err and "is empty" in err


def test_a_missing_managed_key_file_refuses_to_start(capsys, config):
    path, settings = config
    Path(settings["upstreams"][1]["api_key_file"]).unlink()
    err = refused(capsys, ["--config", str(path)])
    assert "upstreams[1].api_key_file (managed)" in err and "does not exist" in err


def test_a_missing_clients_file_refuses_to_start(capsys, config):
    path, settings = config
    Path(settings["clients_file"]).unlink()
    err = refused(capsys, ["--config", str(path)])
    assert f"clients_file: {settings['clients_file']}" in err


def test_the_cli_names_the_missing_dependency_group(capsys, config, monkeypatch):
    import cli.gateway

    monkeypatch.setattr(cli.gateway.importlib.util, "find_spec", lambda name: None)
    path, _ = config
    assert cli_main(["gateway", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "`gateway` dependency group" in err and f"make gateway CONFIG={path}" in err


@pytest.mark.slow
def test_the_cli_starts_a_gateway_that_answers(tmp_path, config):
    """`gpt-oss-platform gateway --config` in its own process, as `make gateway` runs it."""
    from tests.serving.fake_openai import FakeOpenAI

    primary = FakeOpenAI("self-hosted").start()
    try:
        path, settings = config
        settings["upstreams"][0]["base_url"] = primary.base_url
        path.write_text(json.dumps(settings))
        exe = Path(sys.executable).parent / "gpt-oss-platform"
        proc = subprocess.Popen([str(exe), "gateway", "--config", str(path)], cwd=ROOT, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{settings['port']}"
            deadline = time.monotonic() + 120  # the CLI imports every subcommand: slow on a loaded machine
            while True:
                try:
                    if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.poll() is None and time.monotonic() < deadline, "the gateway did not start"
                time.sleep(0.1)
            response = httpx.post(
                f"{base}/v1/chat/completions",
                json={"model": PUBLIC_MODEL, "messages": [{"role": "user", "content": "Hi"}]},
                headers={"Authorization": f"Bearer {KEYS['app']}"},
            )
            assert response.status_code == 200 and response.headers["x-gateway-served-by"] == "self-hosted"
        finally:
            proc.terminate()
            proc.wait(30)
    finally:
        primary.stop()
