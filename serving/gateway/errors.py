"""Error bodies in the OpenAI shape: {"error": {"message", "type", "param", "code"}}.

Messages are fixed strings or built from values the gateway controls: never a header, a key or
an upstream's error text (an upstream 401 echoes part of the key it received).
"""

from __future__ import annotations

import json
import re

from contracts import (
    HEADER_COST,
    HEADER_FALLBACK_REASON,
    HEADER_MODEL,
    HEADER_REQUEST_ID,
    HEADER_SERVED_BY,
    HEADER_SOVEREIGN,
)

# Header names as bytes, from the contracts module (the one place they are defined).
H_REQUEST_ID = HEADER_REQUEST_ID.encode()
H_SERVED_BY = HEADER_SERVED_BY.encode()
H_MODEL = HEADER_MODEL.encode()
H_FALLBACK_REASON = HEADER_FALLBACK_REASON.encode()
H_COST = HEADER_COST.encode()
H_SOVEREIGN = HEADER_SOVEREIGN.encode()


def error_body(message: str, error_type: str, code: str, param: str | None = None) -> bytes:
    return json.dumps({"error": {"message": message, "type": error_type, "param": param, "code": code}}).encode()


_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def error_code(body: bytes) -> str:
    """`error.code` of an OpenAI-shaped error body, when it is a short token; "" otherwise (an
    upstream's body passed through may hold anything: only a code-shaped value reaches a log)."""
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return ""
    return code if isinstance(code, str) and _CODE.fullmatch(code) else ""


def stream_error_event(message: str, code: str) -> bytes:
    """The SSE event that ends a stream which failed after its first byte reached the client.

    The openai SDK raises `APIError` on a data event carrying an `error` key, so the client
    sees a failure instead of an answer that silently stops.
    """
    return b"data: " + error_body(message, "server_error", code) + b"\n\n"


INVALID_API_KEY = error_body(
    "Missing or invalid API key. Send 'Authorization: Bearer <key>'.", "invalid_request_error", "invalid_api_key"
)
NOT_FOUND = error_body("Unknown path.", "invalid_request_error", "not_found")
METHOD_NOT_ALLOWED = error_body("Method not allowed on this path.", "invalid_request_error", "method_not_allowed")
DUPLICATE_AUTHORIZATION = error_body(
    "The request has more than one Authorization header; send one.", "invalid_request_error", "duplicate_authorization"
)
