"""Result files as vLLM 0.26.0's `vllm bench serve --save-result` writes them, for the collector's
tests and the Job-script test's stand-in `vllm` (standard library only: the stand-in imports it)."""

from __future__ import annotations


def vllm_result(
    concurrency: int,
    *,
    output_throughput: float,
    p99_ttft_ms: float,
    metadata: dict[str, str],
    failed: int = 0,
    input_per_request: int = 1536,
    output_per_request: int = 512,
    model: str = "gpt-oss-120b",
) -> dict:
    """A result without --save-detailed (vllm/benchmarks/serve.py: result_json at 2131-2161, with
    the `--metadata` pairs at 2140-2148, merged with the benchmark's result at 1194-1214 and the
    percentile keys of process_one_metric at 1276-1288)."""
    prompts = max(20, 5 * concurrency)
    completed = prompts - failed
    result = {
        "date": "20261207-061500",
        "endpoint_type": "openai-chat",
        "backend": "openai-chat",
        "label": None,
        "model_id": model,
        "tokenizer_id": f"openai/{model}",
        "num_prompts": prompts,
        **metadata,
        "request_rate": "inf",
        "burstiness": 1.0,
        "max_concurrency": concurrency,
        "duration": completed * output_per_request / output_throughput,
        "completed": completed,
        "failed": failed,
        "total_input_tokens": completed * input_per_request,
        "total_output_tokens": completed * output_per_request,
        "request_throughput": output_throughput / output_per_request,
        "request_goodput": None,
        "output_throughput": output_throughput,
        "total_token_throughput": output_throughput * (1 + input_per_request / output_per_request),
        "max_output_tokens_per_s": output_throughput * 1.2,
        "max_concurrent_requests": concurrency,
        "rtfx": 0.0,
    }
    for metric, base in (("ttft", p99_ttft_ms / 2), ("tpot", 20.0), ("itl", 20.0), ("e2el", 12000.0)):
        result |= {f"mean_{metric}_ms": base, f"median_{metric}_ms": base, f"std_{metric}_ms": 1.0}
        result |= {f"p50_{metric}_ms": base, f"p99_{metric}_ms": base * 2}
    result["p99_ttft_ms"] = p99_ttft_ms
    return result
