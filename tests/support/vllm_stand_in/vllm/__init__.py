"""A stand-in for the few vLLM 0.26.0 modules that Ray Serve LLM 2.58 imports outside its engine.

Why it exists: `ray.llm._internal.serve.core.configs.openai_api_models` imports vLLM's OpenAI
protocol models at import time and raises "Neither vLLM nor SGLang is installed" without them,
and `VLLMEngineConfig.from_llm_config` checks every `engine_kwargs` key against the field names of
vLLM's `AsyncEngineArgs` and `FrontendArgs`. vLLM 0.26.0 (what `ray[llm]==2.58.0` pins) needs torch
and CUDA wheels (several GB) and a GPU for its engine, so the tests put this package first on the
Ray processes' PYTHONPATH instead. Everything else (Serve's proxy, controller, autoscaler, the
OpenAiIngress, LLMServer, the batcher, error middleware) is Ray's own code.

What is vLLM's here: the class names and module paths Ray imports, and the field names and types
of the protocol models as vLLM 0.26.0 defines them (vllm/entrypoints/openai/*/protocol.py,
`OpenAIBaseModel` with `extra="allow"`), cut down to the fields the gateway sends or reads.
What is not: vLLM's sampling-parameter conversion and its own validators. Never on the path of
anything but the Ray processes started by tests/support/ray_serve_cluster.py.
"""

__version__ = "0.26.0"
