"""vLLM 0.26.0 vllm/entrypoints/openai/cli_args.py: only the FrontendArgs field names (see
vllm/engine/arg_utils.py here for why)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FrontendArgs:
    tool_call_parser: str | None = None
    enable_auto_tool_choice: bool = False
    chat_template: str | None = None
    response_role: str = "assistant"
