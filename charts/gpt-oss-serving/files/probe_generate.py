"""Readiness probe of a Ray worker pod: one completion token through the local Serve proxy.

vLLM's /health (and so Ray Serve's replica health check) stays 200 when the engine hangs
(vllm #39863, #36960). A pod is ready only when the model answers a one-token completion
within the timeout. The completions endpoint is used rather than chat: it exercises the
engine without the harmony chat parser, so the probe costs a handful of prompt tokens and one
output token. Exit 0 when ready; 1 with a one-line reason on stderr otherwise.

Standard library only: it runs as an exec probe inside the rayproject/ray-llm image.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import urllib.error
import urllib.request


def probe(url: str, model: str, timeout: float, prompt: str = "ping") -> str | None:
    """None when the model generated at least one token; otherwise the reason it did not."""
    body = json.dumps({"model": model, "prompt": prompt, "max_tokens": 1, "temperature": 0}).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", "X-Request-Id": "readiness-probe"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.loads(response.read(65536) or b"{}")
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code} from {url}"
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError) as error:
        reason = getattr(error, "reason", error)
        return f"no answer from {url} within {timeout:g}s: {reason}"
    except ValueError:
        return f"not JSON from {url}"
    choices = payload.get("choices") if isinstance(payload, dict) else None
    if not choices:
        return f"no choices in the answer from {url}"
    usage = payload.get("usage") or {}
    if usage.get("completion_tokens", 1) < 1:
        return f"zero completion tokens from {url}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000/v1/completions")
    parser.add_argument("--model", required=True)
    parser.add_argument("--timeout", type=float, default=8.0, help="seconds; keep below the probe's timeoutSeconds")
    args = parser.parse_args(argv)
    reason = probe(args.url, args.model, args.timeout)
    if reason:
        print(f"not ready: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
