"""Scoring: imported by Ray, never served by gpt-oss (names only)."""

from vllm.entrypoints.openai.engine.protocol import OpenAIBaseModel


class ScoreTextRequest(OpenAIBaseModel):
    model: str | None = None


class ScoreResponse(OpenAIBaseModel):
    data: list[dict]
    model: str
