"""Embeddings: imported by Ray, never served by gpt-oss (names only)."""

from vllm.entrypoints.openai.engine.protocol import OpenAIBaseModel


class EmbeddingCompletionRequest(OpenAIBaseModel):
    input: str | list[str]
    model: str | None = None


class EmbeddingChatRequest(OpenAIBaseModel):
    messages: list[dict]
    model: str | None = None


class EmbeddingResponse(OpenAIBaseModel):
    data: list[dict]
    model: str
