"""The model name a client gets back: the name it asked for, wherever a self-hosted upstream
answered; the managed model's own name where a fallback answered (a managed model is not the
fine-tune or adapter the client asked for, and the answer must say so; docs/models.md).

Upstreams answer with their own id (`"model": "gpt-oss-20b:support-voice"`, vLLM's served name
or a checkpoint path); the gateway rewrites that one value in a JSON answer and in every SSE
event. Only `"model": "<the upstream's id>"` with a real quote before `model` matches: text the
model generated sits inside a JSON string, where every quote is escaped (`\\"model\\"`), so it
can never match. Blocks reach this function as whole events (streaming.SseRelay), so a match is
never split across two writes.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache


def answered_model(requested: str, upstream_model: str, keeps_data_in_company: bool) -> str:
    """The name the answer carries: the requested one for a self-hosted answer, else the upstream's."""
    return requested if keeps_data_in_company else upstream_model


@lru_cache(maxsize=256)
def _pattern(upstream_model: str) -> re.Pattern[bytes]:
    encoded = json.dumps(upstream_model).encode()  # the value as JSON writes it, quotes included
    return re.compile(rb'(?<!\\)"model"(\s*:\s*)' + re.escape(encoded))


def rewrite_model(block: bytes, upstream_model: str, answered: str) -> bytes:
    """`block` (a JSON answer or whole SSE events) with `"model": "<upstream_model>"` answering `answered`."""
    if answered == upstream_model or b'"model"' not in block:
        return block
    replacement = json.dumps(answered).encode()
    return _pattern(upstream_model).sub(lambda m: b'"model"' + m.group(1) + replacement, block)
