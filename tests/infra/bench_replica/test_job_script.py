"""The Job's script, run by bash with a stand-in `vllm` on PATH: every run's result reaches the log
after its marker, a failed run is reported and the sweep goes on, and `--collect` reads the log.
The stand-in parses the flags the Job passes and writes a result with vLLM 0.26.0's field names
(tests/infra/bench_replica/vllm_results.py); it is not vLLM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from cli.__main__ import main as cli_main
from infra.bench_replica.job import DONE_MARKER, FAILED_MARKER, RESULT_MARKER, script
from infra.bench_replica.plan import RESULT_DIR, SHAREGPT_PATH, plan_for
from infra.config import environment_from_stack_file
from infra.cost.throughput import load_measured

STAND_IN = textwrap.dedent(
    """\
    import argparse, json, sys
    sys.path.insert(0, {tests!r})
    from vllm_results import vllm_result
    assert sys.argv[1:3] == ["bench", "serve"], sys.argv
    parser = argparse.ArgumentParser()
    for flag in ("--backend", "--base-url", "--endpoint", "--model", "--tokenizer", "--dataset-name", "--dataset-path",
                 "--random-input-len", "--random-output-len", "--random-range-ratio", "--num-prompts", "--request-rate",
                 "--num-warmups", "--seed", "--percentile-metrics", "--metric-percentiles", "--result-dir",
                 "--result-filename"):
        parser.add_argument(flag)
    parser.add_argument("--max-concurrency", type=int)
    parser.add_argument("--metadata", nargs="*")
    parser.add_argument("--disable-tqdm", action="store_true")
    parser.add_argument("--save-result", action="store_true")
    args = parser.parse_args(sys.argv[3:])
    meta = dict(item.split("=", 1) for item in args.metadata)
    if args.dataset_name == "sharegpt":
        json.load(open(args.dataset_path))
    if args.max_concurrency == 4:
        print("RuntimeError: Server disconnected", file=sys.stderr)
        sys.exit(1)
    c = args.max_concurrency
    result = vllm_result(c, output_throughput=100.0 * c, p99_ttft_ms=4000.0 * c, metadata=meta, model=args.model)
    print("============ Serving Benchmark Result ============")
    with open(args.result_dir + "/" + args.result_filename, "w") as out:
        json.dump(result, out)
    """
)


def test_the_script_prints_every_result_after_its_marker_and_the_log_collects(tmp_path):
    env = environment_from_stack_file("prod")
    plan = plan_for(env, ["3to1", "sharegpt"], sharegpt_url=(tmp_path / "sharegpt-source.json").as_uri())
    (tmp_path / "sharegpt-source.json").write_text(json.dumps([{"conversations": []}]))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    (bin_dir / "vllm_stand_in.py").write_text(STAND_IN.format(tests=tests_dir))
    (bin_dir / "vllm").write_text(f'#!/bin/sh\nexec {sys.executable} {bin_dir / "vllm_stand_in.py"} "$@"\n')
    (bin_dir / "vllm").chmod(0o755)
    (bin_dir / "python").symlink_to(sys.executable)
    text = script(plan).replace(RESULT_DIR, str(tmp_path / "results")).replace(SHAREGPT_PATH, str(tmp_path / "sharegpt.json"))
    environ = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(["bash", "-c", text], capture_output=True, text=True, env=environ, timeout=300, check=False)
    log = done.stdout
    assert done.returncode == 0, done.stderr
    assert log.count(RESULT_MARKER) == 2 * (len(plan.sweep) - 1) and log.rstrip().endswith(DONE_MARKER)
    assert f"{FAILED_MARKER} 3to1-c0004.json exit 1" in log and f"{FAILED_MARKER} sharegpt-c0004.json exit 1" in log
    (tmp_path / "bench.log").write_text(log)
    out = tmp_path / "measured.yaml"
    assert cli_main(["bench", "replica", "--collect", str(tmp_path / "bench.log"), "--env", "prod", "--out", str(out)]) == 0
    # p99 TTFT is 4 s x concurrency in the stand-in: 2 is the highest level under prod's 15 s (4 failed).
    assert {(m.shape, m.concurrency) for m in load_measured(out)} == {("3to1", 2), ("sharegpt", 2)}
