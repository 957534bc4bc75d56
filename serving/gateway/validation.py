"""Request bodies checked against the OpenAI schema before anything is sent upstream.

Parsing: a body must be a JSON object, nested at most `limits.max_json_depth` deep (a 200 KB body
of 100,000 nested arrays once ended in a RecursionError and a plain-text 500), with finite numbers
only (`1e400` parses as infinity, which JSON cannot carry on: it was forwarded as `Infinity`).

Fields: those the gateway routes on or forwards are checked for type and range, per endpoint,
with a 400 that names the field (`param`) and the rule, never the value the client sent:
`model`, `messages`/`prompt`/`input`, `stream`, `stream_options`, `max_tokens`,
`max_completion_tokens`, `max_output_tokens`, `n` (at most `limits.max_n`), `temperature`, `top_p`,
the penalties, `seed`, `stop`, `logprobs`, `top_logprobs`, `logit_bias`, `tools`, `tool_choice`,
`parallel_tool_calls`, `reasoning_effort` / `reasoning`, `response_format`, `user`, `metadata`.

Unknown fields, the rule (docs/gateway.md "Parameters"): a field the OpenAI API documents for the
endpoint is forwarded (checked above when it matters); vLLM's documented sampling extensions
(`VLLM_EXTENSIONS`) are forwarded to the self-hosted model only (the managed adapter drops them);
anything else is refused with 400 `unknown_parameter`, as the OpenAI API itself does. vLLM
extensions that change the server's behaviour rather than sampling (a request-supplied chat
template, logits processors, KV-transfer parameters, a queue priority) are not on the list.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from serving.gateway.endpoints import Endpoint


class Invalid(Exception):
    """A request refused with 400 in the OpenAI shape."""

    def __init__(self, message: str, param: str | None, code: str) -> None:
        super().__init__(message)
        self.message, self.param, self.code = message, param, code


class _NotFinite(ValueError):
    pass


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _NotFinite
    return value


def _constant(name: str) -> float:
    raise _NotFinite  # NaN, Infinity, -Infinity: not JSON


def parse_body(body: bytes, max_depth: int) -> dict[str, Any]:
    """The request object, or Invalid (code `invalid_json`)."""
    try:
        request = json.loads(body, parse_float=_finite_float, parse_constant=_constant)
    except _NotFinite:
        raise Invalid(
            "The request contains a number that is not finite (NaN, Infinity or out of range).", None, "invalid_value"
        ) from None
    except RecursionError:
        raise _too_deep(max_depth) from None
    except (ValueError, UnicodeDecodeError):
        raise Invalid("The request body is not valid JSON.", None, "invalid_json") from None
    if not isinstance(request, dict):
        raise Invalid("The request body must be a JSON object.", None, "invalid_json")
    # Cheap bound first: fewer brackets than the limit cannot nest deeper than it.
    if body.count(b"[") + body.count(b"{") > max_depth and _deeper_than(request, max_depth):
        raise _too_deep(max_depth)
    return request


def _too_deep(max_depth: int) -> Invalid:
    return Invalid(f"The request body nests arrays and objects more than {max_depth} deep.", None, "invalid_json")


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values() if isinstance(child, (dict, list)))
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node if isinstance(child, (dict, list)))
    return False


# -- field rules --------------------------------------------------------------------------------

Rule = Callable[[Any, str], None]


def _type(message: str, param: str) -> Invalid:
    return Invalid(message, param, "invalid_type")


def _value(message: str, param: str) -> Invalid:
    return Invalid(message, param, "invalid_value")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _int_range(low: int, high: int | None) -> Rule:
    def check(value: Any, name: str) -> None:
        if value is None:
            return
        if not _is_int(value):
            raise _type(f"'{name}' must be an integer.", name)
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise _value(f"'{name}' must be {bound}.", name)

    return check


def _number_range(low: float, high: float) -> Rule:
    def check(value: Any, name: str) -> None:
        if value is None:
            return
        if not _is_number(value):
            raise _type(f"'{name}' must be a number.", name)
        if not (low <= value <= high):
            raise _value(f"'{name}' must be a number between {low:g} and {high:g}.", name)

    return check


def _boolean(value: Any, name: str) -> None:
    if value is not None and not isinstance(value, bool):
        raise _type(f"'{name}' must be a boolean.", name)


def _string(max_length: int) -> Rule:
    def check(value: Any, name: str) -> None:
        if value is None:
            return
        if not isinstance(value, str):
            raise _type(f"'{name}' must be a string.", name)
        if len(value) > max_length:
            raise _value(f"'{name}' must be at most {max_length} characters.", name)

    return check


def _object(value: Any, name: str) -> None:
    if value is not None and not isinstance(value, dict):
        raise _type(f"'{name}' must be an object.", name)


def _stream_options(value: Any, name: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise _type(f"'{name}' must be an object.", name)
    for key in ("include_usage", "continuous_usage_stats", "include_obfuscation"):
        if key in value and not isinstance(value[key], bool):
            raise _type(f"'{name}.{key}' must be a boolean.", f"{name}.{key}")


def _stop(value: Any, name: str) -> None:
    if value is None or isinstance(value, str):
        return
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise _type(f"'{name}' must be a string or an array of strings.", name)
    if len(value) > 4:
        raise _value(f"'{name}' may hold at most 4 sequences.", name)


def _logit_bias(value: Any, name: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise _type(f"'{name}' must be an object of token ids to numbers.", name)
    for bias in value.values():
        if not _is_number(bias) or not (-100 <= bias <= 100):
            raise _value(f"'{name}' values must be numbers between -100 and 100.", name)


def _metadata(value: Any, name: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _type(f"'{name}' must be an object of strings.", name)
    if len(value) > 16:
        raise _value(f"'{name}' may hold at most 16 keys.", name)


_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MAX_TOOLS = 128


def _chat_tools(value: Any, name: str) -> None:
    """Chat completions tools: [{"type": "function", "function": {"name", "parameters"?, ...}}]."""
    if value is None:
        return
    if not isinstance(value, list):
        raise _type(f"'{name}' must be an array.", name)
    if len(value) > _MAX_TOOLS:
        raise _value(f"'{name}' may hold at most {_MAX_TOOLS} tools.", name)
    for i, tool in enumerate(value):
        where = f"{name}[{i}]"
        if not isinstance(tool, dict) or not isinstance(tool.get("function"), dict):
            raise _type(f"'{where}' must be an object with a 'function' object.", where)
        if tool.get("type", "function") != "function":
            raise _value(f"'{where}.type' must be 'function'.", f"{where}.type")
        _function(tool["function"], f"{where}.function")


def _function(function: dict[str, Any], where: str) -> None:
    name = function.get("name")
    if not isinstance(name, str) or not _FUNCTION_NAME.match(name):
        raise _value(f"'{where}.name' must be 1-64 letters, digits, '_' or '-'.", f"{where}.name")
    if function.get("parameters") is not None and not isinstance(function["parameters"], dict):
        raise _type(f"'{where}.parameters' must be an object (a JSON Schema).", f"{where}.parameters")


def _responses_tools(value: Any, name: str) -> None:
    """Responses tools: function tools are {"type": "function", "name", "parameters"?}; hosted
    tools (web_search, file_search, ...) are objects with their own `type`."""
    if value is None:
        return
    if not isinstance(value, list):
        raise _type(f"'{name}' must be an array.", name)
    if len(value) > _MAX_TOOLS:
        raise _value(f"'{name}' may hold at most {_MAX_TOOLS} tools.", name)
    for i, tool in enumerate(value):
        where = f"{name}[{i}]"
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise _type(f"'{where}' must be an object with a 'type'.", where)
        if tool["type"] == "function":
            _function(tool, where)


def _tool_choice(value: Any, name: str) -> None:
    if value is None or value in ("none", "auto", "required"):
        return
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise _value(f"'{name}' must be 'none', 'auto', 'required' or an object naming a tool.", name)


REASONING_EFFORTS = ("low", "medium", "high")


def _reasoning_effort(value: Any, name: str) -> None:
    if value is not None and value not in REASONING_EFFORTS:
        raise _value(f"'{name}' must be one of {', '.join(REASONING_EFFORTS)}.", name)


def _reasoning(value: Any, name: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise _type(f"'{name}' must be an object.", name)
    _reasoning_effort(value.get("effort"), f"{name}.effort")


def _response_format(value: Any, name: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict) or value.get("type") not in ("text", "json_object", "json_schema"):
        raise _value(f"'{name}.type' must be 'text', 'json_object' or 'json_schema'.", name)


def _messages(value: Any, name: str) -> None:
    if not isinstance(value, list) or not value:
        raise Invalid(f"'{name}' is required and must be a non-empty array.", name, "missing_required_parameter")
    for i, message in enumerate(value):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise _value("Every message must be an object with a 'role'.", name)
        if "content" in message:
            _content(message["content"], message["role"], f"{name}[{i}].content")


# Roles whose `content` may be null: an assistant message that carries tool calls, and a tool
# result (OpenAI API reference, "Create chat completion", messages).
_NULL_CONTENT_ROLES = frozenset({"assistant", "tool"})


def _content(value: Any, role: str, name: str) -> None:
    """A message's content: a string, or an array of content parts (objects with a string
    `type`); null only where OpenAI allows it. An object here was once forwarded as is."""
    if isinstance(value, str):
        return
    if value is None:
        if role in _NULL_CONTENT_ROLES:
            return
        raise _type(f"'{name}' may be null only in assistant and tool messages; send a string.", name)
    if isinstance(value, list):
        for j, part in enumerate(value):
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise _type(f"'{name}[{j}]' must be a content part: an object with a 'type'.", f"{name}[{j}]")
        return
    raise _type(f"'{name}' must be a string or an array of content parts.", name)


def _prompt(value: Any, name: str) -> None:
    if isinstance(value, str):
        return
    if (
        isinstance(value, list)
        and value
        and (
            all(isinstance(p, str) for p in value)
            or all(_is_int(t) for t in value)
            or all(isinstance(p, list) and all(_is_int(t) for t in p) for p in value)
        )
    ):
        return
    raise Invalid(f"'{name}' is required: a string, an array of strings, or token ids.", name, "missing_required_parameter")


def _input(value: Any, name: str) -> None:
    if isinstance(value, str) and value:
        return
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        return
    raise Invalid(f"'{name}' is required: a string or a non-empty array of input items.", name, "missing_required_parameter")


_COMMON: dict[str, Rule] = {
    "stream": _boolean,
    "stream_options": _stream_options,
    "temperature": _number_range(0, 2),
    "top_p": _number_range(0, 1),
    "user": _string(256),
    "metadata": _metadata,
    "seed": _int_range(-(2**63), 2**63 - 1),
}
_SAMPLING: dict[str, Rule] = {
    "max_tokens": _int_range(1, None),
    "presence_penalty": _number_range(-2, 2),
    "frequency_penalty": _number_range(-2, 2),
    "stop": _stop,
    "logit_bias": _logit_bias,
}
_CHAT: dict[str, Rule] = {
    **_COMMON,
    **_SAMPLING,
    "max_completion_tokens": _int_range(1, None),
    "logprobs": _boolean,
    "top_logprobs": _int_range(0, 20),
    "tools": _chat_tools,
    "tool_choice": _tool_choice,
    "parallel_tool_calls": _boolean,
    "reasoning_effort": _reasoning_effort,
    "response_format": _response_format,
}
_COMPLETIONS: dict[str, Rule] = {
    **_COMMON,
    **_SAMPLING,
    "logprobs": _int_range(0, 5),
    "echo": _boolean,
    "best_of": _int_range(1, 20),
    "suffix": _string(100_000),
}
_RESPONSES: dict[str, Rule] = {
    **_COMMON,
    "max_output_tokens": _int_range(1, None),
    "instructions": _string(10_000_000),
    "tools": _responses_tools,
    "tool_choice": _tool_choice,
    "parallel_tool_calls": _boolean,
    "reasoning": _reasoning,
    "text": _object,
    "top_logprobs": _int_range(0, 20),
    "store": _boolean,
    "background": _boolean,
    "previous_response_id": _string(256),
    "max_tool_calls": _int_range(1, None),
}

# Documented fields forwarded without a check of their own (the upstream validates them).
# Chat: https://platform.openai.com/docs/api-reference/chat/create
_CHAT_OTHER = frozenset(
    {
        "audio",
        "function_call",
        "functions",
        "modalities",
        "prediction",
        "prompt_cache_key",
        "safety_identifier",
        "service_tier",
        "store",
        "verbosity",
        "web_search_options",
    }
)
# Completions: https://platform.openai.com/docs/api-reference/completions/create
_COMPLETIONS_OTHER: frozenset[str] = frozenset()
# Responses: https://platform.openai.com/docs/api-reference/responses/create
_RESPONSES_OTHER = frozenset(
    {"conversation", "include", "prompt", "prompt_cache_key", "safety_identifier", "service_tier", "truncation"}
)
#: vLLM's sampling extensions of chat and completions requests (vLLM docs, OpenAI-compatible
#: server, "Extra parameters"): forwarded to the self-hosted model only.
VLLM_EXTENSIONS = frozenset(
    {
        "top_k",
        "min_p",
        "repetition_penalty",
        "length_penalty",
        "min_tokens",
        "stop_token_ids",
        "include_stop_str_in_output",
        "ignore_eos",
        "skip_special_tokens",
        "spaces_between_special_tokens",
        "truncate_prompt_tokens",
        "guided_json",
        "guided_regex",
        "guided_choice",
        "guided_grammar",
        "structured_outputs",
        "add_generation_prompt",
        "continue_final_message",
        "chat_template_kwargs",
    }
)
_VLLM_RULES: dict[str, Rule] = {
    "top_k": _int_range(-1, None),
    "min_p": _number_range(0, 1),
    "repetition_penalty": _number_range(0, 10),
    "min_tokens": _int_range(0, None),
}

_RULES = {Endpoint.CHAT: _CHAT, Endpoint.COMPLETIONS: _COMPLETIONS, Endpoint.RESPONSES: _RESPONSES}
_REQUIRED = {
    Endpoint.CHAT: ("messages", _messages),
    Endpoint.COMPLETIONS: ("prompt", _prompt),
    Endpoint.RESPONSES: ("input", _input),
}
_KNOWN = {
    Endpoint.CHAT: frozenset(_CHAT) | _CHAT_OTHER | VLLM_EXTENSIONS | {"model", "messages", "n"},
    Endpoint.COMPLETIONS: frozenset(_COMPLETIONS) | _COMPLETIONS_OTHER | VLLM_EXTENSIONS | {"model", "prompt", "n"},
    Endpoint.RESPONSES: frozenset(_RESPONSES) | _RESPONSES_OTHER | {"model", "input"},
}
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def validate(endpoint: Endpoint, request: dict[str, Any], max_n: int) -> None:
    """Raise Invalid for the first field that breaks the rules (docstring of this module)."""
    model = request.get("model")
    if not isinstance(model, str) or not model:
        raise Invalid("'model' is required and must be a string.", "model", "missing_required_parameter")
    required, check_required = _REQUIRED[endpoint]
    check_required(request.get(required), required)
    rules, known = _RULES[endpoint], _KNOWN[endpoint]
    for name, value in request.items():
        rule = rules.get(name)
        if rule is not None:
            rule(value, name)
        elif name not in known:
            shown = f"'{name}'" if _SAFE_NAME.match(name) else "a field"
            raise Invalid(
                f"Unrecognized request argument: {shown}. The gateway forwards only documented OpenAI fields "
                "and vLLM's sampling extensions.",
                name if _SAFE_NAME.match(name) else None,
                "unknown_parameter",
            )
        elif name in _VLLM_RULES:
            _VLLM_RULES[name](value, name)
    n = request.get("n")
    if n is not None:
        _int_range(1, max_n)(n, "n")
