"""A stand-in for Ray Serve's HTTP proxy on port 8000 with the OpenAI completions route of
ray.serve.llm's OpenAiIngress, on 127.0.0.1: what the runbooks' "generate one token" steps reach
from inside a Ray or gateway container (tests/support/container_exec.py maps the address).

POST /v1/completions answers vLLM's completion object (`id`, `object: text_completion`, `model`,
`choices[].text`, `usage`) for the served model and vLLM's 404 error object for any other, so a
step that asks for the wrong model name fails. Every request is recorded in `requests`.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ServeProxyStandIn:
    def __init__(self, model: str) -> None:
        self.model = model
        self.requests: list[dict[str, Any]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                stand_in.requests.append({"path": self.path, **body})
                if self.path != "/v1/completions":
                    return self._answer(404, {"detail": "Not Found"})
                if body.get("model") != stand_in.model:
                    return self._answer(
                        404,
                        {
                            "object": "error",
                            "message": f"The model `{body.get('model')}` does not exist.",
                            "type": "NotFoundError",
                            "code": 404,
                        },
                    )
                return self._answer(
                    200,
                    {
                        "id": "cmpl-3b7f2c1a9e8d4f60",
                        "object": "text_completion",
                        "created": 1767225600,
                        "model": stand_in.model,
                        "choices": [
                            {"index": 0, "text": " pong", "logprobs": None, "finish_reason": "length", "stop_reason": None}
                        ],
                        "usage": {"prompt_tokens": 1, "total_tokens": 2, "completion_tokens": 1},
                    },
                )

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="serve-proxy-stand-in", daemon=True)

    def start(self) -> ServeProxyStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
