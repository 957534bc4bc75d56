"""vLLM 0.26.0 vllm/entrypoints/openai/chat_completion/protocol.py, cut down (see vllm/__init__)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from vllm.entrypoints.openai.engine.protocol import OpenAIBaseModel, StreamOptions, UsageInfo, field_id, now, random_uuid


class ChatMessage(OpenAIBaseModel):
    role: str
    content: str | None = None
    reasoning: str | None = None


class DeltaMessage(OpenAIBaseModel):
    role: str | None = None
    content: str | None = None


class ChatCompletionResponseChoice(OpenAIBaseModel):
    index: int
    message: ChatMessage
    finish_reason: str | None = "stop"


class ChatCompletionResponse(OpenAIBaseModel):
    id: str = field_id("chatcmpl")
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=now)
    model: str
    choices: list[ChatCompletionResponseChoice]
    usage: UsageInfo


class ChatCompletionResponseStreamChoice(OpenAIBaseModel):
    index: int
    delta: DeltaMessage
    finish_reason: str | None = None


class ChatCompletionStreamResponse(OpenAIBaseModel):
    id: str = field_id("chatcmpl")
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int = Field(default_factory=now)
    model: str
    choices: list[ChatCompletionResponseStreamChoice]
    usage: UsageInfo | None = None


class ChatCompletionRequest(OpenAIBaseModel):
    # vLLM types messages as a union of OpenAI's message TypedDicts.
    messages: list[dict[str, Any]]
    model: str | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    n: int | None = 1
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: str | list[str] | None = Field(default_factory=list)
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = "none"
    user: str | None = None
    request_id: str = Field(default_factory=random_uuid)
