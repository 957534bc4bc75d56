"""vLLM 0.26.0 vllm/entrypoints/openai/engine/protocol.py (names Ray imports): the base model
(unknown fields allowed, as vLLM allows and logs them), usage and the error shape."""

from __future__ import annotations

import time
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def random_uuid() -> str:
    return uuid.uuid4().hex


class OpenAIBaseModel(BaseModel):
    model_config = ConfigDict(extra="allow")


class UsageInfo(OpenAIBaseModel):
    prompt_tokens: int = 0
    total_tokens: int = 0
    completion_tokens: int | None = 0


class ErrorInfo(OpenAIBaseModel):
    message: str
    type: str
    param: str | None = None
    code: int


class ErrorResponse(OpenAIBaseModel):
    error: ErrorInfo


class StreamOptions(OpenAIBaseModel):
    include_usage: bool | None = True
    continuous_usage_stats: bool | None = False


def now() -> int:
    return int(time.time())


def field_id(prefix: str) -> Any:
    return Field(default_factory=lambda: f"{prefix}-{random_uuid()}")
