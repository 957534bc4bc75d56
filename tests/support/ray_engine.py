"""A deterministic CPU engine for Ray Serve LLM 2.58, injected where Ray documents the seam.

`LLMServer._get_default_engine_class` loads the engine class named by the `RAYLLM_VLLM_ENGINE_CLS`
environment variable ("used for testing or escape-hatch for patching purposes",
ray/llm/_internal/serve/core/server/llm_server.py) before falling back to `VLLMEngine`; the Ray
processes of tests/support/ray_serve_cluster.py set it to `DeterministicEngine` below. Nothing in
the rendered serve config changes for it: the LLMServer deployment, its placement group, the
OpenAiIngress in front of it and the Serve proxy are Ray's own.

Swaps, each one where the real thing cannot run on a CPU-only test machine:
- the engine: vLLM needs a GPU and several GB of CUDA wheels. This engine answers in the
  OpenAI shapes vLLM's serving code produces (the protocol models of the vLLM stand-in,
  tests/support/vllm_stand_in), streams `data: {...}` chunks ending with `data: [DONE]`, and
  answers a `max_tokens` above `max_model_len` with a 400 `ErrorResponse`, as vLLM does;
- the model download: `VLLMEngine.start` downloads the weights (`model_source`, from the hub or
  the staged S3 prefix) before it starts vLLM. This engine downloads nothing (HF_HUB_OFFLINE is
  set for the Ray processes too) and records the source and revision it would have loaded.

Every start, finished request and aborted request is appended as one JSON line to the file named
by `GPT_OSS_TEST_ENGINE_LOG`, so the test process (which never imports this module: Ray's protocol
models import the stand-in) sees what reached the engine, across replica processes.

The reply is deterministic: `max_tokens` (default 5) tokens "t0 t1 ...". Words in the last user
message steer it: `tokens=N` sets the count, `delay=S` waits S seconds before each token (a slow
generation to disconnect from or to kill a replica under).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
import uuid
from collections.abc import AsyncGenerator
from typing import Any

from ray.llm._internal.serve.core.configs.llm_config import LLMConfig
from ray.llm._internal.serve.core.configs.openai_api_models import (
    ChatCompletionResponse,
    ChatCompletionStreamResponse,
    CompletionResponse,
    CompletionStreamResponse,
    ErrorInfo,
    ErrorResponse,
)
from ray.llm._internal.serve.core.engine.protocol import LLMEngine

LOG_ENV = "GPT_OSS_TEST_ENGINE_LOG"
DEFAULT_TOKENS = 5


def record(event: str, **fields: Any) -> None:
    path = os.environ.get(LOG_ENV)
    if not path:
        return
    line = json.dumps({"event": event, "pid": os.getpid(), "time": time.time(), **fields})
    with open(path, "a", encoding="utf-8") as log:
        log.write(line + "\n")


def _directives(text: str) -> dict[str, float]:
    return {key: float(value) for key, value in re.findall(r"\b(tokens|delay)=([0-9.]+)", text)}


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            return " ".join(part.get("text", "") for part in content or [] if isinstance(part, dict))
    return ""


class DeterministicEngine(LLMEngine):
    """Ray Serve LLM's engine protocol, answered without a model."""

    def __init__(self, llm_config: LLMConfig):
        self.llm_config = llm_config
        self.model_id = llm_config.model_id

    async def start(self) -> None:
        loading = self.llm_config.model_loading_config
        record(
            "start",
            model_id=self.model_id,
            model_source=loading.model_source if isinstance(loading.model_source, str) else None,
            revision=self.llm_config.engine_kwargs.get("revision"),
            max_model_len=self.llm_config.max_request_context_length,
        )

    def routing_stats(self) -> dict:
        return {}

    async def resolve_lora(self, lora_model: Any) -> None:
        raise ValueError("the deterministic engine serves no LoRA adapters")

    async def reset_prefix_cache(self) -> None:
        return None

    async def check_health(self) -> None:
        return None

    # -- generation ---------------------------------------------------------------------------

    def _plan(self, max_tokens: int | None, text: str) -> tuple[int, float] | ErrorResponse:
        limit = self.llm_config.max_request_context_length
        if max_tokens is not None and limit is not None and max_tokens > limit:
            # vLLM's wording and type for a request longer than the context (serving_engine.py).
            message = (
                f"This model's maximum context length is {limit} tokens. However, you requested "
                f"{max_tokens} tokens. Please reduce the length of the messages or completion."
            )
            return ErrorResponse(error=ErrorInfo(message=message, type="BadRequestError", code=400))
        steer = _directives(text)
        count = int(steer.get("tokens", max_tokens or DEFAULT_TOKENS))
        return count, steer.get("delay", 0.0)

    async def _tokens(self, request_id: str, count: int, delay: float) -> AsyncGenerator[str, None]:
        finished = False
        try:
            for i in range(count):
                if delay:
                    await asyncio.sleep(delay)
                yield f"t{i}" if i == 0 else f" t{i}"
            finished = True
        finally:
            # A generator closed before its last token was aborted: the client went away, Serve
            # cancelled the request, or the replica is shutting down.
            record("finish" if finished else "abort", request_id=request_id, model=self.model_id)

    async def chat(self, request: Any, raw_request_info: Any = None) -> AsyncGenerator[Any, None]:
        plan = self._plan(request.max_completion_tokens or request.max_tokens, _last_user_text(request.messages))
        if isinstance(plan, ErrorResponse):
            yield plan
            return
        count, delay = plan
        request_id = f"chatcmpl-{request.request_id}"
        prompt_tokens = max(1, len(json.dumps(request.messages)) // 4)
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": count, "total_tokens": prompt_tokens + count}
        if not request.stream:
            text = "".join([piece async for piece in self._tokens(request_id, count, delay)])
            yield ChatCompletionResponse(
                id=request_id,
                model=self.model_id,
                choices=[{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                usage=usage,
            )
            return

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            body = ChatCompletionStreamResponse(
                id=request_id,
                model=self.model_id,
                choices=[{"index": 0, "delta": delta, "finish_reason": finish}],
            )
            return f"data: {body.model_dump_json(exclude_unset=True)}\n\n"

        yield chunk({"role": "assistant", "content": ""})
        async for piece in self._tokens(request_id, count, delay):
            yield chunk({"content": piece})
        yield chunk({}, "stop")
        if request.stream_options is not None and request.stream_options.include_usage:
            final = ChatCompletionStreamResponse(id=request_id, model=self.model_id, choices=[], usage=usage)
            yield f"data: {final.model_dump_json()}\n\n"
        yield "data: [DONE]\n\n"

    async def completions(self, request: Any, raw_request_info: Any = None) -> AsyncGenerator[Any, None]:
        prompt = request.prompt if isinstance(request.prompt, str) else json.dumps(request.prompt)
        plan = self._plan(request.max_tokens, prompt)
        if isinstance(plan, ErrorResponse):
            yield plan
            return
        count, delay = plan
        request_id = f"cmpl-{request.request_id or uuid.uuid4().hex}"
        prompt_tokens = max(1, len(prompt) // 4)
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": count, "total_tokens": prompt_tokens + count}
        if not request.stream:
            text = "".join([piece async for piece in self._tokens(request_id, count, delay)])
            yield CompletionResponse(
                id=request_id,
                model=self.model_id,
                choices=[{"index": 0, "text": text, "finish_reason": "stop"}],
                usage=usage,
            )
            return
        async for piece in self._tokens(request_id, count, delay):
            body = CompletionStreamResponse(id=request_id, model=self.model_id, choices=[{"index": 0, "text": piece}])
            yield f"data: {body.model_dump_json()}\n\n"
        if request.stream_options is not None and request.stream_options.include_usage:
            final = CompletionStreamResponse(id=request_id, model=self.model_id, choices=[], usage=usage)
            yield f"data: {final.model_dump_json()}\n\n"
        yield "data: [DONE]\n\n"

    # -- endpoints gpt-oss does not serve ------------------------------------------------------

    async def embeddings(self, request: Any, raw_request_info: Any = None) -> AsyncGenerator[Any, None]:
        yield ErrorResponse(error=ErrorInfo(message="embeddings are not served", type="BadRequestError", code=400))

    async def transcriptions(self, request: Any, raw_request_info: Any = None) -> AsyncGenerator[Any, None]:
        yield ErrorResponse(error=ErrorInfo(message="transcriptions are not served", type="BadRequestError", code=400))

    async def score(self, request: Any, raw_request_info: Any = None) -> AsyncGenerator[Any, None]:
        yield ErrorResponse(error=ErrorInfo(message="scoring is not served", type="BadRequestError", code=400))

    async def tokenize(self, request: Any, raw_request_info: Any = None) -> AsyncGenerator[Any, None]:
        yield ErrorResponse(error=ErrorInfo(message="tokenize is not served", type="BadRequestError", code=400))

    async def detokenize(self, request: Any, raw_request_info: Any = None) -> AsyncGenerator[Any, None]:
        yield ErrorResponse(error=ErrorInfo(message="detokenize is not served", type="BadRequestError", code=400))
