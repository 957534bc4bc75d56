"""Client keys: hashed at rest, compared in constant time, reloaded on rotation, never echoed."""

import json
import os
import subprocess
import sys

import pytest

from serving.gateway.auth import ClientRegistry, ClientsFileError, hash_key

KEY = "sk-test-key-0123456789"


def write(path, *entries):
    path.write_text(json.dumps({"clients": list(entries)}))
    return path


def entry(name="app", key=KEY, **policy):
    return {"name": name, "team": "search", "key_sha256": hash_key(key), **policy}


def test_a_valid_bearer_key_finds_its_client_and_policy(tmp_path):
    registry = ClientRegistry(write(tmp_path / "c.json", entry(sovereign=True, rpm=10)))
    client = registry.authenticate(f"Bearer {KEY}".encode())
    assert client is not None
    assert (client.name, client.team, client.sovereign, client.rpm, client.tpm) == ("app", "search", True, 10, None)


@pytest.mark.parametrize(
    "header",
    [None, b"", b"Bearer", b"Bearer ", b"Basic abc", b"Bearer sk-wrong", f"bearer {KEY}x".encode(), KEY.encode()],
)
def test_anything_but_a_configured_bearer_key_is_refused(tmp_path, header):
    registry = ClientRegistry(write(tmp_path / "c.json", entry()))
    assert registry.authenticate(header) is None


def test_the_scheme_is_case_insensitive(tmp_path):
    registry = ClientRegistry(write(tmp_path / "c.json", entry()))
    assert registry.authenticate(f"bearer {KEY}".encode()) is not None


def test_the_file_is_reloaded_when_the_secret_changes(tmp_path):
    path = write(tmp_path / "c.json", entry())
    registry = ClientRegistry(path)
    assert registry.reload() is False  # unchanged
    write(tmp_path / "c2.json", entry(name="rotated", key="sk-new-key"))
    os.replace(tmp_path / "c2.json", path)  # how the kubelet swaps a Secret: a new inode
    assert registry.reload() is True
    assert registry.authenticate(f"Bearer {KEY}".encode()) is None
    assert registry.authenticate(b"Bearer sk-new-key").name == "rotated"


def test_a_broken_rotation_keeps_the_previous_keys(tmp_path):
    path = write(tmp_path / "c.json", entry())
    registry = ClientRegistry(path)
    (tmp_path / "bad.json").write_text("{not json")
    os.replace(tmp_path / "bad.json", path)
    assert registry.reload() is False
    assert registry.authenticate(f"Bearer {KEY}".encode()) is not None


def test_a_raw_key_pasted_instead_of_its_hash_is_refused_without_repeating_it(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"clients": [{"name": "app", "team": "t", "key_sha256": KEY}]}))
    with pytest.raises(ClientsFileError) as error:
        ClientRegistry(path)
    assert "clients.0.key_sha256" in str(error.value)
    assert KEY not in str(error.value)


@pytest.mark.parametrize(
    "problem, clients",
    [
        ("unique", [entry(), entry(key="other")]),
        ("share one key", [entry(), entry(name="b")]),
        ("Extra inputs", [{**entry(), "admin": True}]),
        ("pattern", [entry(name="has space")]),
    ],
)
def test_invalid_client_files_name_the_problem(tmp_path, problem, clients):
    with pytest.raises(ClientsFileError, match=problem):
        ClientRegistry(write(tmp_path / "c.json", *clients))


def test_hash_key_cli_reads_the_key_from_stdin_and_prints_its_sha256():
    result = subprocess.run(
        [sys.executable, "-m", "serving.gateway.hash_key"], input=KEY + "\n", capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == hash_key(KEY)
    assert KEY not in result.stdout + result.stderr


def test_hash_key_cli_refuses_keys_with_surrounding_spaces():
    result = subprocess.run([sys.executable, "-m", "serving.gateway.hash_key"], input=" key \n", capture_output=True, text=True)
    assert result.returncode == 2
