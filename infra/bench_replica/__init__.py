"""`gpt-oss-platform bench replica`: measure one serving replica's output rate with `vllm bench serve`.

- `flags`: the `vllm bench serve` flags and result fields we rely on, read from the sourced data
  file vllm_bench_serve.yaml (vLLM 0.26.0, the version Ray 2.58's image bundles).
- `plan`: what to run for an environment: the request shapes, the concurrency sweep, the commands.
- `job`: the Kubernetes Job (and the NetworkPolicy that lets it reach the Serve proxy) and the
  next-steps text, as files.
- `collect`: the result files -> a measured-throughput file that `cost compare --throughput`,
  `cost simulate --throughput` and `governor.measured_throughput` read (infra/cost/throughput.py).

Nothing here talks to a cluster: the user applies the Job and copies its log back.
"""
