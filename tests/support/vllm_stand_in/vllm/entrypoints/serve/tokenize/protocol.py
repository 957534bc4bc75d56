"""Tokenize/detokenize: imported by Ray, not used by the gateway (names only)."""

from vllm.entrypoints.openai.engine.protocol import OpenAIBaseModel


class TokenizeCompletionRequest(OpenAIBaseModel):
    model: str | None = None
    prompt: str


class TokenizeChatRequest(OpenAIBaseModel):
    model: str | None = None
    messages: list[dict]


class TokenizeResponse(OpenAIBaseModel):
    count: int
    max_model_len: int
    tokens: list[int]


class DetokenizeRequest(OpenAIBaseModel):
    model: str | None = None
    tokens: list[int]


class DetokenizeResponse(OpenAIBaseModel):
    prompt: str
