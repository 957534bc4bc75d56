"""Node pool shape: capacity split, labels, taints, scale-from-zero tags, launch tag specs."""

from infra.config import environment_from_stack_file
from infra.config.models import NodePoolConfig
from infra.node_pool_shape import (
    CA_TAG_PREFIX,
    autoscaler_template_tags,
    capacity_groups,
    karpenter_floor_nodes,
    launch_template_tag_specifications,
    node_labels,
)


def pool(**overrides) -> NodePoolConfig:
    base = {
        "name": "gpu",
        "gpu": "H100",
        "instance_type": "p5.4xlarge",
        "capacity_type": "spot",
        "min_nodes": 2,
        "max_nodes": 6,
        "on_demand_floor": 2,
    }
    return NodePoolConfig.model_validate({**base, **overrides})


def test_spot_with_a_floor_is_a_pinned_on_demand_group_plus_spot_burst():
    groups = capacity_groups(pool())
    assert [(g.capacity, g.min_nodes, g.max_nodes) for g in groups] == [("on-demand", 2, 2), ("spot", 0, 4)]
    assert [g.eks_capacity_type for g in groups] == ["ON_DEMAND", "SPOT"]


def test_spot_only_pool_scales_to_zero():
    groups = capacity_groups(pool(min_nodes=0, max_nodes=2, on_demand_floor=0))
    assert [(g.capacity, g.min_nodes, g.max_nodes) for g in groups] == [("spot", 0, 2)]


def test_on_demand_pool_is_one_group():
    groups = capacity_groups(pool(capacity_type="on_demand", on_demand_floor=0))
    assert [(g.capacity, g.min_nodes, g.max_nodes) for g in groups] == [("on-demand", 2, 6)]


def test_a_floor_equal_to_max_leaves_no_spot_group():
    groups = capacity_groups(pool(min_nodes=2, max_nodes=2))
    assert [g.capacity for g in groups] == ["on-demand"]


def test_nodes_carry_cost_labels_pool_gpu_capacity_and_the_autoscalers_gpu_label():
    labels = node_labels(pool(), capacity_groups(pool())[1], {"team": "ml"})
    assert labels == {
        "gpt-oss.platform/capacity": "spot",
        "gpt-oss.platform/gpu": "H100",
        "gpt-oss.platform/node-pool": "gpu",
        # cluster-autoscaler's AWS GPU label: the node counts as a GPU node before the device plugin starts.
        "k8s.amazonaws.com/accelerator": "nvidia-h100",
        "team": "ml",
    }


def test_scale_from_zero_tags_describe_labels_taint_gpus_and_ephemeral_storage():
    tags = autoscaler_template_tags({"gpt-oss.platform/node-pool": "gpu"}, 8, 200)
    assert tags[f"{CA_TAG_PREFIX}/label/gpt-oss.platform/node-pool"] == "gpu"
    assert tags[f"{CA_TAG_PREFIX}/taint/nvidia.com/gpu"] == "true:NoSchedule"
    assert tags[f"{CA_TAG_PREFIX}/resources/nvidia.com/gpu"] == "8"
    # 90% of a 200 GiB root volume (the kubelet's default eviction threshold) less 1 GiB reserved.
    assert tags[f"{CA_TAG_PREFIX}/resources/ephemeral-storage"] == "179Gi"


def test_launch_templates_tag_instances_volumes_and_interfaces():
    specs = launch_template_tag_specifications({"team": "ml"}, "prod-gpu")
    assert [s["resource_type"] for s in specs] == ["instance", "volume", "network-interface"]
    assert all(s["tags"] == {"team": "ml", "Name": "prod-gpu"} for s in specs)


def test_karpenter_floor_is_what_min_replicas_occupy():
    assert karpenter_floor_nodes(0, 1) == 0
    assert karpenter_floor_nodes(3, 2) == 2


def test_prod_pool_shape():
    prod = environment_from_stack_file("prod").node_pools[0]
    assert [(g.capacity, g.min_nodes, g.max_nodes) for g in capacity_groups(prod)] == [("on-demand", 2, 2), ("spot", 0, 4)]
