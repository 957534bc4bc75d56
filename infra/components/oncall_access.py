"""The on-call group's Roles, ClusterRole and bindings (infra/oncall_rbac.py) in the cluster.

Created where the environment lists `cluster.oncall_role_arns` (their EKS access entries carry
the group; infra/components/cluster.py). The objects are the pure function's output, one
pulumi_kubernetes resource each, so the plan shows every rule.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.oncall_rbac import oncall_rbac_documents

_RESOURCES: dict[str, Any] = {
    "Role": k8s.rbac.v1.Role,
    "RoleBinding": k8s.rbac.v1.RoleBinding,
    "ClusterRole": k8s.rbac.v1.ClusterRole,
    "ClusterRoleBinding": k8s.rbac.v1.ClusterRoleBinding,
}


class OncallAccess(pulumi.ComponentResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gptoss:k8s:OncallAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        for doc in oncall_rbac_documents():
            meta = doc["metadata"]
            body = {"subjects": doc["subjects"], "role_ref": doc["roleRef"]} if "roleRef" in doc else {"rules": doc["rules"]}
            _RESOURCES[doc["kind"]](
                f"{name}-{doc['kind'].lower()}-{meta.get('namespace', 'cluster')}", metadata=meta, **body, opts=child
            )
        self.register_outputs({})
