"""The OpenAI endpoints the gateway serves, and what differs between them on the wire."""

from __future__ import annotations

import enum


class Endpoint(enum.Enum):
    """Values are the names in `UpstreamSettings.endpoints` and the `endpoint` metric label."""

    CHAT = "chat"
    COMPLETIONS = "completions"
    RESPONSES = "responses"

    @property
    def upstream_path(self) -> bytes:
        """The path under an upstream's base URL (which ends in /v1)."""
        return _UPSTREAM_PATHS[self]

    @property
    def path(self) -> str:
        """The gateway's own path of the endpoint."""
        return "/v1" + _UPSTREAM_PATHS[self].decode()

    @property
    def dialect(self) -> str:
        """The event-stream dialect (streaming.CHAT or streaming.RESPONSES)."""
        return "responses" if self is Endpoint.RESPONSES else "chat"


_UPSTREAM_PATHS = {
    Endpoint.CHAT: b"/chat/completions",
    Endpoint.COMPLETIONS: b"/completions",
    Endpoint.RESPONSES: b"/responses",
}
#: The gateway's own paths.
PATHS: dict[bytes, Endpoint] = {b"/v1" + path: endpoint for endpoint, path in _UPSTREAM_PATHS.items()}
