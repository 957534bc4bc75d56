"""Transcription: imported by Ray, never served by gpt-oss (names only)."""

from vllm.entrypoints.openai.engine.protocol import OpenAIBaseModel


class TranscriptionRequest(OpenAIBaseModel):
    model: str | None = None


class TranscriptionResponse(OpenAIBaseModel):
    text: str


class TranscriptionStreamResponse(OpenAIBaseModel):
    choices: list[dict]
