"""The client's `x-gateway-sovereign` header cannot be misspelled into a request to a third party.

With the primary failing, a sovereign request gets 503 and a non-sovereign one falls back to the
managed API: every spelling of `true` must be the former, every unclear value a 400 naming the
header before anything leaves the gateway, and the managed fake must record none of them.
"""

from __future__ import annotations

import json
import socket

import pytest

from serving.gateway.auth import HeaderValueError, sovereign_requested
from tests.serving.gateway.test_framing import responses
from tests.serving.gateway.test_http_hardening import BODY, connect
from tests.serving.harness import KEYS

pytestmark = pytest.mark.slow

NAME = b"x-gateway-sovereign"


def send_raw(gateway, header_lines: list[bytes]) -> tuple[int, dict[str, str], bytes]:
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer "
        + KEYS["app"].encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % len(BODY)
        + b"".join(line + b"\r\n" for line in header_lines)
        + b"\r\n"
    )
    with connect(gateway) as sock:
        sock.sendall(head + BODY)
        (answer,) = responses(sock, 1)
        sock.shutdown(socket.SHUT_RDWR)
    return answer


@pytest.mark.parametrize(
    "lines",
    [
        [b"x-gateway-sovereign: True"],
        [b"X-Gateway-Sovereign: TRUE"],
        [b"x-gateway-sovereign: true "],
        [b"x-gateway-sovereign:\ttrue\t"],
    ],
    ids=["True", "TRUE", "trailing-space", "tabs"],
)
def test_every_spelling_of_true_keeps_the_request_home(gateway, primary, managed, lines):
    primary.set("status", status=500)
    status, _, body = send_raw(gateway, lines)
    assert status == 503, body
    assert json.loads(body)["error"]["code"] == "sovereign_upstream_unavailable"
    assert managed.requests == []


@pytest.mark.parametrize(
    "lines",
    [
        [b"x-gateway-sovereign: 1"],
        [b"x-gateway-sovereign: yes"],
        [b"x-gateway-sovereign: false", b"x-gateway-sovereign: true"],
        [b"x-gateway-sovereign: true", b"x-gateway-sovereign: true"],
        [b"x-gateway-sovereign: true, false"],
        [b"x-gateway-sovereign: "],
        [b"x-gateway-sovereign: tru e"],
    ],
    ids=["1", "yes", "false-then-true", "true-twice", "comma-list", "empty", "inner-space"],
)
def test_an_unclear_sovereignty_header_is_400_and_reaches_no_upstream(gateway, primary, managed, lines):
    primary.set("status", status=500)
    status, headers, body = send_raw(gateway, lines)
    assert status == 400, body
    error = json.loads(body)["error"]
    assert error["code"] == "invalid_header" and error["param"] == "x-gateway-sovereign"
    assert "x-gateway-sovereign" in error["message"] and "`true` or `false`" in error["message"]
    assert managed.requests == [] and primary.chat_requests() == []
    assert len(headers["x-gateway-request-id"]) == 16


def test_false_is_a_clear_answer_and_the_request_may_fall_back(gateway, primary, managed):
    primary.set("status", status=500)
    status, headers, _ = send_raw(gateway, [b"x-gateway-sovereign:  False "])
    assert status == 200
    assert headers["x-gateway-served-by"] == "managed"
    assert len(managed.chat_requests()) == 1


@pytest.mark.parametrize(
    "values, expected",
    [([], False), ([b"true"], True), ([b" TRUE\t"], True), ([b"false"], False), ([b"FaLsE"], False)],
)
def test_the_parser_accepts_one_clear_token(values, expected):
    assert sovereign_requested(NAME, values) is expected


@pytest.mark.parametrize("values", [[b"1"], [b"on"], [b""], [b"true", b"false"], [b"true,true"], [b"\x00true"]])
def test_the_parser_refuses_anything_else_naming_the_header(values):
    with pytest.raises(HeaderValueError, match="x-gateway-sovereign"):
        sovereign_requested(NAME, values)
