"""The commands of every rendered runbook, read as an engineer would paste them: every selector
`kubectl logs -l` reads all lines (`--tail=-1`: with a selector kubectl returns only the last 10
lines per pod, so a grep behind it reports 0 and falsely reassures), every `aws` call names its
region, no runbook sends an edit to the generated `Pulumi.<env>.yaml`, and every Kubernetes name
(objects, label selectors, containers) exists in what the chart renders for that environment or
in what the program and KubeRay create. Each check is also fed a planted mistake.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from contracts import CLIENT_KEYS_SECRET, MANAGED_API_KEY_SECRET, NAMESPACE, ROUTE_OVERRIDE_CONFIGMAP
from infra.node_pool_shape import capacity_groups, node_labels
from support import chart_kit

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"
KINDS = {
    "rayservice": "RayService",
    "configmap": "ConfigMap",
    "cm": "ConfigMap",
    "deploy": "Deployment",
    "deployment": "Deployment",
    "svc": "Service",
    "service": "Service",
    "secret": "Secret",
    "servicemonitor": "ServiceMonitor",
    "podmonitor": "PodMonitor",
    "prometheusrule": "PrometheusRule",
    "pdb": "PodDisruptionBudget",
    "hpa": "HorizontalPodAutoscaler",
    "networkpolicy": "NetworkPolicy",
    "endpoints": "Endpoints",
}
VERBS = {"get", "describe", "delete", "edit", "patch", "rollout", "port-forward", "exec", "logs", "scale", "annotate", "label"}


def documents(stack: str) -> list[str]:
    return [p.read_text() for p in sorted((RUNBOOKS / stack).rglob("*.md"))]


def command_lines(text: str) -> list[str]:
    """Shell lines of ```bash blocks (continuations joined) and inline `kubectl`/`aws` spans."""
    lines: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        lines += [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]
    lines += re.findall(r"`((?:kubectl|aws|gpt-oss-platform|pulumi) [^`]+)`", text)
    return lines


def _invocations(line: str, tool: str) -> list[str]:
    """Each `tool ...` invocation in a line, up to the next pipe, `;`, `&&`, `)` or `|`."""
    return [m.group(0) for m in re.finditer(rf"(?<![\w/.-]){tool} [^|;&)`]*", line)]


# -- the checks ---------------------------------------------------------------------------------


def missing_tail(lines: list[str]) -> list[str]:
    bad = []
    for line in lines:
        for call in _invocations(line, "kubectl"):
            if re.search(r"\blogs\b", call) and re.search(r"(\s-l[\s=]|--selector)", call) and "--tail=-1" not in call:
                bad.append(call)
    return bad


def missing_region(lines: list[str]) -> list[str]:
    bad = []
    for line in lines:
        for call in _invocations(line, "aws"):
            if re.match(r"aws (--version|configure)\b", call):
                continue
            if "--region" not in call:
                bad.append(call)
    return bad


def generated_stack_file_edits(text: str) -> list[str]:
    return re.findall(r"[^\n]*Pulumi\.(?:<env>|[a-z0-9-]+)\.yaml[^\n]*", text)


class Cluster:
    """What exists in an environment's namespace: the chart's objects, the program's, KubeRay's."""

    def __init__(self, stack: str) -> None:
        docs = chart_kit.rendered_docs(stack)
        env, _ = chart_kit.environment(stack)
        self.objects = {(d["kind"], d["metadata"]["name"]) for d in docs}
        self.objects |= {
            ("Secret", CLIENT_KEYS_SECRET),
            ("Secret", MANAGED_API_KEY_SECRET),
            ("ConfigMap", ROUTE_OVERRIDE_CONFIGMAP),
        }
        self.pod_labels: set[tuple[str, str]] = set()
        self.containers: set[str] = set()
        for doc in docs:
            if doc["kind"] == "Deployment":
                templates = [doc["spec"]["template"]]
            elif doc["kind"] == "RayService":
                templates = [t for _, t in chart_kit.ray_pod_templates(doc)]
                name = doc["metadata"]["name"]
                # KubeRay's own objects and labels (ray-operator/controllers/ray/utils/constant.go).
                self.objects |= {
                    ("Service", f"{name}-serve-svc"),
                    ("Endpoints", f"{name}-serve-svc"),
                    ("Service", f"{name}-head-svc"),
                }
                self.pod_labels |= {
                    ("ray.io/node-type", "head"),
                    ("ray.io/node-type", "worker"),
                    ("ray.io/is-ray-node", "yes"),
                    ("ray.io/originated-from-cr-name", name),
                }
            else:
                continue
            for template in templates:
                self.pod_labels |= set((template["metadata"].get("labels") or {}).items())
                spec = template["spec"]
                self.containers |= {c["name"] for c in spec["containers"] + spec.get("initContainers", [])}
        self.node_labels: set[tuple[str, str]] = set()
        for pool in env.node_pools:
            for group in capacity_groups(pool):
                self.node_labels |= set(node_labels(pool, group, {}).items())

    def problems(self, lines: list[str]) -> list[str]:
        found = []
        for line in lines:
            for call in _invocations(line, "kubectl"):
                found += self._check(call)
        return found

    def _check(self, call: str) -> list[str]:
        try:
            words = shlex.split(call)
        except ValueError:
            words = call.split()
        if "--" in words:  # what follows runs inside the container
            words = words[: words.index("--")]
        namespace = None
        if "-n" in words:
            namespace = words[words.index("-n") + 1]
        problems = []
        node_command = len(words) > 2 and words[1] == "get" and words[2] in ("nodes", "node", "no")
        for i, word in enumerate(words):
            if word in ("-l", "--selector") and i + 1 < len(words):
                for term in words[i + 1].split(","):
                    if "$" in term or "<" in term or "=" not in term:
                        key = term.split("=")[0]
                        plain = "$" not in term and "<" not in term
                        if (
                            node_command
                            and plain
                            and key.startswith("gpt-oss.platform/")
                            and key not in {k for k, _ in self.node_labels}
                        ):
                            problems.append(f"{call}: no node carries label {key}")
                        continue
                    key, value = term.split("=", 1)
                    if node_command:
                        if key.startswith("gpt-oss.platform/") and (key, value) not in self.node_labels:
                            problems.append(f"{call}: no node carries {key}={value}")
                    elif namespace == NAMESPACE and (key, value) not in self.pod_labels:
                        problems.append(f"{call}: no pod in {NAMESPACE} carries {key}={value}")
            if word == "-c" and i + 1 < len(words) and namespace == NAMESPACE:
                container = words[i + 1]
                if not re.search(r"[$<]", container) and container not in self.containers:
                    problems.append(f"{call}: no container {container!r} in the chart's pods")
        if namespace != NAMESPACE:
            return problems
        rest = [w for w in words[1:] if not w.startswith("-")]
        for i, word in enumerate(rest):
            kind = name = None
            if "/" in word and word.split("/")[0] in KINDS:
                kind, name = KINDS[word.split("/")[0]], word.split("/", 1)[1]
            elif word in KINDS and i > 0 and rest[i - 1] in VERBS and i + 1 < len(rest):
                kind, name = KINDS[word], rest[i + 1]
            if kind and name and not re.search(r"[$<]", name) and (kind, name) not in self.objects:
                problems.append(f"{call}: no {kind} {name!r} in {NAMESPACE}")
        return problems


# -- the tests ----------------------------------------------------------------------------------


def test_every_selector_logs_command_reads_all_lines(stack):
    bad = [call for text in documents(stack) for call in missing_tail(command_lines(text))]
    assert not bad, f"`kubectl logs -l` without --tail=-1 (kubectl then shows 10 lines per pod): {bad[:5]}"


def test_every_aws_command_names_its_region(stack):
    bad = [call for text in documents(stack) for call in missing_region(command_lines(text))]
    assert not bad, f"aws commands without --region: {bad[:5]}"


def test_no_runbook_sends_an_edit_to_the_generated_stack_file(stack):
    bad = [line for text in documents(stack) for line in generated_stack_file_edits(text)]
    assert not bad, f"runbooks name the generated Pulumi.<env>.yaml (edit environments/<env>.yaml): {bad[:3]}"


@pytest.fixture(scope="module")
def clusters() -> dict[str, Cluster]:
    return {}


def test_every_kubernetes_name_exists_in_what_the_environment_deploys(stack, clusters):
    cluster = clusters.setdefault(stack, Cluster(stack))
    problems = [p for text in documents(stack) for p in cluster.problems(command_lines(text))]
    assert not problems, "\n".join(problems[:10])


def test_planted_mistakes_fail(clusters):
    cluster = clusters.setdefault("prod", Cluster("prod"))
    good = "kubectl -n gpt-oss logs -l app.kubernetes.io/component=gateway --tail=-1 --since=10m | grep x"
    assert not missing_tail([good]) and not cluster.problems([good])
    assert missing_tail(["kubectl -n gpt-oss logs -l app.kubernetes.io/component=gateway --since=10m | grep x"])
    assert missing_region(["aws ec2 terminate-instances --instance-ids i-1"])
    assert not missing_region(["aws ec2 terminate-instances --region us-east-1 --instance-ids i-1"])
    assert generated_stack_file_edits("raise `serving.max_replicas` in `Pulumi.prod.yaml`")
    assert generated_stack_file_edits("its `min_nodes` in `Pulumi.<env>.yaml`")
    for wrong in (
        "kubectl -n gpt-oss logs -l app.kubernetes.io/name=gpt-oss-gatewya --tail=-1",
        "kubectl -n gpt-oss get rayservice gpt-os -o yaml",
        "kubectl -n gpt-oss port-forward svc/gpt-oss-gw 8080",
        "kubectl -n gpt-oss get configmap gpt-oss-route-overide -o yaml",
        "kubectl -n gpt-oss logs pod-1 -c ray-wroker --since=1h",
        "kubectl get nodes -l gpt-oss.platform/capacity=spotty",
    ):
        assert cluster.problems([wrong]), f"not caught: {wrong}"
