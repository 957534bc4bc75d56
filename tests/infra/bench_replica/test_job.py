"""`bench replica --env ENV`: the Job runs only sourced `vllm bench serve` flags, on the environment's
Ray image, against the Serve proxy, hardened and schema-valid; the sweep and shapes follow the config."""

from __future__ import annotations

import shlex

import kubernetes_validate
import pytest
import yaml

from cli.__main__ import main as cli_main
from contracts import NAMESPACE, PRIMARY_BASE_URL
from infra.bench_replica.flags import DATA_FILE, unsourced_flags, vllm_bench_reference
from infra.bench_replica.job import JOB_NAME, job_manifest, manifests_yaml, network_policy
from infra.bench_replica.plan import BenchPlanError, concurrency_sweep, plan_for
from infra.capacity import capacity_for
from infra.chart_values import label_values
from infra.chart_values.model.ray import RayImage
from infra.config import environment_from_stack_file
from infra.node_pool_shape import GPU_TOLERATION
from infra.versions import ray_image_tag

ENVS = ["dev", "staging", "prod"]
DIGEST = "sha256:" + "ab" * 32


def _documents(env_name: str, tmp_path) -> list[dict]:
    out = tmp_path / env_name
    assert cli_main(["bench", "replica", "--env", env_name, "--out", str(out)]) == 0
    return list(yaml.safe_load_all((out / "replica-bench.yaml").read_text()))


def _job(documents: list[dict]) -> dict:
    return next(d for d in documents if d["kind"] == "Job")


def script_commands(job: dict) -> list[list[str]]:
    """The `vllm bench serve` command lines of the Job's script, as the shell will split them."""
    script = job["spec"]["template"]["spec"]["containers"][0]["command"][2]
    commands = []
    for line in script.splitlines():
        words = shlex.split(line) if line.startswith("run ") else []
        if words[2:5] == ["vllm", "bench", "serve"]:
            commands.append(words[2:])
    return commands


def unsourced_in(job: dict) -> list[str]:
    return sorted({flag for argv in script_commands(job) for flag in unsourced_flags(argv)})


@pytest.mark.parametrize("env_name", ENVS)
def test_the_rendered_job_passes_only_flags_checked_against_vllm_0_26(env_name, tmp_path):
    job = _job(_documents(env_name, tmp_path))
    commands = script_commands(job)
    plan = plan_for(environment_from_stack_file(env_name))
    assert len(commands) == len(plan.runs) > 0
    assert unsourced_in(job) == []
    assert vllm_bench_reference().version == "0.26.0"


def test_a_planted_wrong_flag_is_caught(tmp_path):
    job = _job(_documents("dev", tmp_path))
    container = job["spec"]["template"]["spec"]["containers"][0]
    # vLLM 0.26.0 has --max-concurrency; a near miss would make every run exit with a usage error.
    container["command"][2] = container["command"][2].replace("--max-concurrency", "--max-concurrent-requests", 1)
    assert unsourced_in(job) == ["--max-concurrent-requests"]


def test_every_sourced_flag_names_the_file_and_line_it_was_read_at():
    data = yaml.safe_load(DATA_FILE.read_text())
    for section in ("flags", "result_fields"):
        for name, where in data[section].items():
            assert where["path"].startswith("vllm/benchmarks/") and where["line"] > 0, name
    assert data["vllm"]["version"] == "0.26.0" and "sha256" in data["vllm"]["read_from"]


@pytest.mark.parametrize("env_name", ENVS)
def test_the_job_and_its_network_policy_are_schema_valid_for_the_cluster(env_name, tmp_path):
    env = environment_from_stack_file(env_name)
    for document in _documents(env_name, tmp_path):
        kubernetes_validate.validate(document, env.cluster.kubernetes_version, strict=True)


def test_the_job_runs_the_chart_s_ray_image_by_tag_and_says_the_pin_is_missing(tmp_path):
    env = environment_from_stack_file("prod")
    assert env.account.ray_image_digest is None
    job = _job(_documents("prod", tmp_path))
    image = job["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"{RayImage().repository}:{ray_image_tag()}"
    assert job["metadata"]["annotations"]["gpt-oss.platform/image-pinned"] == "tag-only"
    assert "pulled BY TAG" in (tmp_path / "prod" / "README.md").read_text()


def test_a_pinned_digest_is_what_the_job_pulls():
    env = environment_from_stack_file("prod")
    pinned = env.model_copy(update={"account": env.account.model_copy(update={"ray_image_digest": DIGEST})})
    plan = plan_for(pinned)
    job = job_manifest(pinned, plan)
    assert job["spec"]["template"]["spec"]["containers"][0]["image"].endswith(f"{ray_image_tag()}@{DIGEST}")
    assert job["metadata"]["annotations"]["gpt-oss.platform/image-pinned"] == "digest"
    assert all(f"gpt_oss_image={plan.image}" in run.argv for run in plan.runs)


def test_the_job_is_hardened_like_the_ray_pods_and_tolerates_the_gpu_taint(tmp_path):
    job = _job(_documents("prod", tmp_path))
    assert job["metadata"]["namespace"] == NAMESPACE
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["automountServiceAccountToken"] is False
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert pod["tolerations"] == [GPU_TOLERATION]
    assert job["spec"]["backoffLimit"] == 0


def test_the_runs_target_the_serve_proxy_with_the_model_name_and_sweep_to_max_ongoing_requests():
    env = environment_from_stack_file("prod")
    plan = plan_for(env)
    limit = capacity_for(env).max_ongoing_requests
    assert plan.sweep[-1] == limit and plan.sweep[0] == 1 and list(plan.sweep) == sorted(set(plan.sweep))
    for run in plan.runs:
        argv = list(run.argv)
        assert argv[argv.index("--base-url") + 1] + "/v1" == PRIMARY_BASE_URL
        assert argv[argv.index("--model") + 1] == env.model.name
        assert argv[argv.index("--max-concurrency") + 1] == str(run.concurrency)
        assert int(argv[argv.index("--num-prompts") + 1]) >= 5 * run.concurrency
        assert argv[argv.index("--request-rate") + 1] == "inf"
    three = next(s for s in plan.shapes if s.name == "3to1")
    assert three.input_tokens == 3 * three.output_tokens and three.input_tokens + three.output_tokens == 2048


def test_concurrency_sweep_doubles_then_ends_at_the_limit():
    assert concurrency_sweep(1) == (1,)
    assert concurrency_sweep(8) == (1, 2, 4, 8)
    assert concurrency_sweep(101) == (1, 2, 4, 8, 16, 32, 64, 101)


def test_the_network_policy_admits_the_bench_pod_to_the_pods_the_chart_labels():
    env = environment_from_stack_file("dev")
    policy = network_policy(env)
    selector = policy["spec"]["podSelector"]
    assert selector["matchLabels"]["app.kubernetes.io/instance"] == label_values(env, env.name).instance
    assert selector["matchExpressions"][0]["values"] == ["ray-head", "ray-worker"]
    pod_labels = job_manifest(env, plan_for(env))["spec"]["template"]["metadata"]["labels"]
    allowed = policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    assert allowed.items() <= pod_labels.items() and allowed["app.kubernetes.io/name"] == JOB_NAME


def test_a_long_shape_that_does_not_fit_the_context_is_refused_with_the_fix(capsys):
    env = environment_from_stack_file("dev")
    short = env.model_copy(update={"serving": env.serving.model_copy(update={"max_model_len": 8192})})
    with pytest.raises(BenchPlanError, match=r"serving.max_model_len 8192.*leave `long` out of --shapes"):
        plan_for(short, ["long"])
    assert [s.name for s in plan_for(short).shapes] == ["3to1", "sharegpt"]
    assert "sharegpt" not in manifests_yaml(short, plan_for(short, ["3to1"]))


def test_an_unknown_shape_is_bad_input(capsys):
    assert cli_main(["bench", "replica", "--env", "dev", "--shapes", "3to1,huge"]) == 2
    assert "unknown shape 'huge'" in capsys.readouterr().err
