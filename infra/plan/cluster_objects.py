"""Pods and Services that exist at run time but that no manifest of the stack declares: the EKS
add-ons, the API server's own Service, and what operators create from custom resources. The
selector checks need them, or every ServiceMonitor of kube-prometheus-stack would look broken.

Sources, per object:
- EKS-managed add-ons in kube-system: kube-proxy (`k8s-app: kube-proxy`), CoreDNS
  (`k8s-app: kube-dns`), the VPC CNI (`k8s-app: aws-node`), the Pod Identity agent
  (`app.kubernetes.io/name: eks-pod-identity-agent`), as the add-ons' manifests label them.
- `default/kubernetes`: created by the API server with `component: apiserver, provider: kubernetes`
  (kubernetes/kubernetes pkg/controlplane/reconcilers).
- Prometheus Operator (v0.8x): a Prometheus CR `<name>` runs pods labelled
  `app.kubernetes.io/name: prometheus`, `app.kubernetes.io/instance`, `operator.prometheus.io/name`
  and `prometheus` = `<name>`, plus `spec.podMetadata.labels`; an Alertmanager CR likewise with
  `app.kubernetes.io/name: alertmanager` and `alertmanager: <name>` (pkg/prometheus and
  pkg/alertmanager statefulset.go); with `--kubelet-service=<ns>/<name>` it keeps a Service of
  that name labelled `app.kubernetes.io/name: kubelet`, `k8s-app: kubelet`.
Control-plane components (etcd, scheduler, controller-manager) run inside EKS's managed control
plane, not as pods: nothing provides them, and the stack turns their monitors off.
"""

from __future__ import annotations

from infra.plan.planned import Manifest
from infra.plan.pods import PodTemplate

EKS_ADDON_PODS = {
    "kube-proxy": {"k8s-app": "kube-proxy"},
    "coredns": {"k8s-app": "kube-dns", "eks.amazonaws.com/component": "coredns"},
    "aws-node": {"k8s-app": "aws-node"},
    "eks-pod-identity-agent": {"app.kubernetes.io/name": "eks-pod-identity-agent"},
}


def provided_pods(manifests: list[Manifest]) -> list[PodTemplate]:
    pods = [
        PodTemplate(f"EKS add-on {name}", "", "kube-system", dict(labels), {}, True) for name, labels in EKS_ADDON_PODS.items()
    ]
    for manifest in manifests:
        spec = manifest.document.get("spec") or {}
        extra = dict(((spec.get("podMetadata") or {}).get("labels")) or {})
        if manifest.kind == "Prometheus" and manifest.group == "monitoring.coreos.com":
            labels = {
                "app.kubernetes.io/name": "prometheus",
                "app.kubernetes.io/instance": manifest.name,
                "app.kubernetes.io/managed-by": "prometheus-operator",
                "operator.prometheus.io/name": manifest.name,
                "operator.prometheus.io/shard": "0",
                "prometheus": manifest.name,
            }
            pods.append(PodTemplate(f"pod of {manifest.describe()}", "", manifest.namespace, {**extra, **labels}, {}))
        elif manifest.kind == "Alertmanager" and manifest.group == "monitoring.coreos.com":
            labels = {
                "app.kubernetes.io/name": "alertmanager",
                "app.kubernetes.io/instance": manifest.name,
                "app.kubernetes.io/managed-by": "prometheus-operator",
                "alertmanager": manifest.name,
            }
            pods.append(PodTemplate(f"pod of {manifest.describe()}", "", manifest.namespace, {**extra, **labels}, {}))
    return pods


def _kubelet_services(manifests: list[Manifest]) -> list[dict]:
    services = []
    for manifest in manifests:
        if manifest.kind != "Deployment":
            continue
        for container in ((manifest.document.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []:
            for arg in container.get("args") or []:
                if str(arg).startswith("--kubelet-service="):
                    namespace, _, name = str(arg).split("=", 1)[1].partition("/")
                    services.append(
                        {
                            "kind": "Service",
                            "metadata": {
                                "name": name,
                                "namespace": namespace,
                                "labels": {
                                    "app.kubernetes.io/name": "kubelet",
                                    "k8s-app": "kubelet",
                                    "app.kubernetes.io/managed-by": "prometheus-operator",
                                },
                            },
                        }
                    )
    return services


def provided_services(manifests: list[Manifest]) -> list[dict]:
    api_server = {
        "kind": "Service",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
    }
    return [api_server, *_kubelet_services(manifests)]
