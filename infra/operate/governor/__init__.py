"""The cost governor's in-cluster controller: reads the gateway's metrics from Prometheus, decides
the serving floor with the shared policy (infra/cost/governor/policy.py), and in `enforce` mode
patches the RayService's `min_replicas` and the GPU pool's floor.

- `settings`: the controller's settings file (`governor.json`, rendered by the chart);
- `prometheus`: hourly tokens and sovereign tokens from the Prometheus HTTP API;
- `cluster`: the Kubernetes side with the official client: Lease leader election, the RayService,
  the drain switch's ConfigMap, Events, the Karpenter NodePool; and the EKS managed node group;
- `controller`: one decision step and its metrics; `__main__`: the loop and /metrics.

It imports the policy, never the reverse; nothing here imports Pulumi. It lives under
infra/operate (clients of a running environment) and not under serving/: serving/ never imports
infra/ (tests/test_import_graph.py), and the controller must run the policy's own code.
"""
