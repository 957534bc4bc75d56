"""vLLM 0.26.0 vllm/entrypoints/openai/completion/protocol.py, cut down (see vllm/__init__)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from vllm.entrypoints.openai.engine.protocol import OpenAIBaseModel, StreamOptions, UsageInfo, field_id, now, random_uuid


class CompletionRequest(OpenAIBaseModel):
    model: str | None = None
    prompt: str | list[str] | list[int] | None = None
    max_tokens: int | None = 16
    n: int = 1
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: str | list[str] | None = Field(default_factory=list)
    user: str | None = None
    request_id: str = Field(default_factory=random_uuid)


class CompletionResponseChoice(OpenAIBaseModel):
    index: int
    text: str
    finish_reason: str | None = None


class CompletionResponse(OpenAIBaseModel):
    id: str = field_id("cmpl")
    object: Literal["text_completion"] = "text_completion"
    created: int = Field(default_factory=now)
    model: str
    choices: list[CompletionResponseChoice]
    usage: UsageInfo


class CompletionResponseStreamChoice(OpenAIBaseModel):
    index: int
    text: str
    finish_reason: str | None = None


class CompletionStreamResponse(OpenAIBaseModel):
    id: str = field_id("cmpl")
    object: str = "text_completion"
    created: int = Field(default_factory=now)
    model: str
    choices: list[CompletionResponseStreamChoice]
    usage: UsageInfo | None = None
