"""gpt-oss-aware sizing: TP degree, GPUs per replica, and refusals that say what would work."""

import re

import pytest

from infra.catalog import load_catalog
from infra.sizing import SizingError, size_replica, suggestions


def test_20b_fits_one_l4_at_tp1_with_the_triton_backend():
    sizing = size_replica("gpt-oss-20b", "g6.xlarge", 32768)
    assert (sizing.tensor_parallel, sizing.gpus_per_replica, sizing.replicas_per_node) == (1, 1, 1)
    assert sizing.attention_backend == "TRITON_ATTN", "Ada runs gpt-oss attention sinks on Triton"
    assert sizing.gpu_memory_utilization == 0.90
    assert sizing.kv_cache_tokens_per_replica >= 32768


def test_120b_fits_one_h100_at_tp1_with_095_memory():
    sizing = size_replica("gpt-oss-120b", "p5.4xlarge", 32768)
    assert sizing.tensor_parallel == 1 and sizing.ray_accelerator == "H100"
    assert sizing.gpu_memory_utilization == 0.95, "vLLM Hopper recipe: TP=1 raises utilisation to 0.95"
    assert sizing.attention_backend is None


def test_120b_on_l40s_needs_tp2_and_packs_two_replicas_per_4_gpu_node():
    sizing = size_replica("gpt-oss-120b", "g6e.12xlarge", 32768)
    assert (sizing.tensor_parallel, sizing.replicas_per_node) == (2, 2)
    assert sizing.usd_per_replica_hour == pytest.approx(10.49264 / 2), "a full node's share, not what one replica costs"


def test_replicas_cost_the_whole_nodes_they_need():
    sizing = size_replica("gpt-oss-120b", "g6e.12xlarge", 32768)
    assert [sizing.nodes_for(n) for n in (0, 1, 2, 3)] == [0, 1, 1, 2]
    assert sizing.usd_per_hour(1) == pytest.approx(10.49264), "one replica still buys the whole 4-GPU node"
    assert sizing.usd_per_hour(3) == pytest.approx(2 * 10.49264)
    assert sizing.usd_per_hour(0) == 0


def test_120b_on_one_l4_is_refused_with_suggestions():
    with pytest.raises(SizingError) as caught:
        size_replica("gpt-oss-120b", "g6.xlarge", 32768)
    message = str(caught.value)
    assert "cannot be served on g6.xlarge (1x L4)" in message
    assert "TP=2/4/8 needs more GPUs on one node" in message
    assert "it fits on: p5.4xlarge (1x H100 per node, TP=1" in message


def test_t4_is_refused_for_both_models():
    for model in ("gpt-oss-20b", "gpt-oss-120b"):
        with pytest.raises(SizingError, match=re.escape("compute capability 7.5")):
            size_replica(model, "g4dn.xlarge", 8192)


def test_a_forced_tp_that_does_not_fit_is_refused():
    with pytest.raises(SizingError, match="at TP=1 each L40S needs"):
        size_replica("gpt-oss-120b", "g6e.12xlarge", 32768, tensor_parallel=1)


def test_an_invalid_tp_degree_is_refused():
    with pytest.raises(SizingError, match="tensor_parallel 3"):
        size_replica("gpt-oss-20b", "g6.xlarge", 32768, tensor_parallel=3)


def test_unknown_model_and_instance_are_named():
    with pytest.raises(SizingError, match=re.escape("unknown model 'gpt-5'")):
        size_replica("gpt-5", "g6.xlarge", 1024)
    with pytest.raises(SizingError, match=re.escape("unknown instance type 'x1.large'")):
        size_replica("gpt-oss-20b", "x1.large", 1024)


def test_context_longer_than_the_model_is_refused():
    with pytest.raises(SizingError, match="exceeds gpt-oss-20b's context of 131072"):
        size_replica("gpt-oss-20b", "g6.xlarge", 200000)


def test_kv_cache_follows_the_model_shape():
    model = load_catalog().models["gpt-oss-120b"]
    # K and V, 18 full-attention layers, 8 KV heads of 64, BF16.
    assert model.kv_bytes_per_token == 2 * 18 * 8 * 64 * 2


def test_suggestions_are_cheapest_per_replica_first():
    options = suggestions("gpt-oss-20b", 32768)
    assert options[0].startswith("g6.xlarge (1x L4 per node, TP=1")
    assert options[0].endswith("1 replica on 1 node(s): $0.80/h)")
    assert len(options) == 3


def test_one_replica_of_120b_ranks_by_the_node_it_buys():
    # Issue 11: per-replica shares ranked p4d ($21.96/node) and g6e.12xlarge ($10.49/node) above
    # p5.4xlarge ($6.88/node) although one replica buys a whole node.
    options = suggestions("gpt-oss-120b", 32768, limit=3, replicas=1)
    assert [o.split(" ")[0] for o in options] == ["p5.4xlarge", "g6e.12xlarge", "p4d.24xlarge"]
    assert options[2].endswith("1 replica on 1 node(s): $21.96/h)")


def test_two_replicas_can_make_a_shared_node_the_cheaper_choice():
    options = suggestions("gpt-oss-120b", 32768, limit=2, replicas=2)
    assert options[0] == "g6e.12xlarge (4x L40S per node, TP=2; 2 replicas on 1 node(s): $10.49/h)"
    assert options[1] == "p5.4xlarge (1x H100 per node, TP=1; 2 replicas on 2 node(s): $13.76/h)"


def test_a_refusal_suggests_by_the_environment_replica_count():
    with pytest.raises(SizingError) as caught:
        size_replica("gpt-oss-120b", "g6.xlarge", 32768, replicas=2)
    assert "it fits on: g6e.12xlarge" in str(caught.value)


def test_worker_resources_leave_room_for_the_node():
    sizing = size_replica("gpt-oss-20b", "g6.xlarge", 32768)
    assert sizing.worker_cpu < 4 and sizing.worker_memory_gib < 16
