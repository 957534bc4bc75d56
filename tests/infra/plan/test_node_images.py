"""The node images the stacks pin exist upstream and their drivers run the Ray image's CUDA
(infra/plan/checks/node_images.py against infra/catalog/eks_amis.yaml)."""

from __future__ import annotations

import dataclasses

import pytest

from infra.catalog.eks_ami_source import parse_changelog
from infra.catalog.node_images import (
    NODE_IMAGES_FILE,
    alias_problems,
    driver_at_least,
    load_node_images,
    release_version_problems,
)
from infra.plan.checks import node_images
from infra.versions import KARPENTER_AMI_ALIAS_VERSIONS, ray_image_tag
from support.planning import named, stack_of

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"


def test_the_pinned_aliases_are_upstream_releases_for_every_cluster_version_the_stacks_use():
    images = load_node_images()
    assert KARPENTER_AMI_ALIAS_VERSIONS["al2023"] in images.al2023_nvidia.releases
    assert KARPENTER_AMI_ALIAS_VERSIONS["bottlerocket"] in images.bottlerocket_nvidia.releases
    for env in ("dev", "staging", "prod"):
        version = stack_of(env).env.cluster.kubernetes_version
        for family, alias in KARPENTER_AMI_ALIAS_VERSIONS.items():
            assert alias_problems(family, alias, version) == [], (env, family)


def test_the_release_that_does_not_exist_is_refused_with_its_neighbours():
    (message,) = alias_problems("al2023", "v20251110", "1.33")
    assert "al2023@v20251110 is not an upstream release" in message and "v20251108, v20251112" in message


def test_a_driver_older_than_cudas_minimum_is_refused():
    # v20251023 shipped driver 570.195.03 for 1.33 (amazon-eks-ami CHANGELOG): too old for CUDA 13.0.
    (message,) = alias_problems("al2023", "v20251023", "1.33")
    assert "570.195.03, below 580.65.06" in message and "CUDA 13.0" in message
    assert alias_problems("al2023", "v20251023", "1.34") == []  # 1.34 got 580.95.05 in the same release


def test_driver_versions_compare_as_numbers_and_a_branch_meets_its_own_minimum():
    assert driver_at_least("580.95.05", "580.65.06") and not driver_at_least("580.9.1", "580.65.06")
    assert driver_at_least("580", "580.65.06") and not driver_at_least("575", "580.65.06")
    assert driver_at_least("595.71.05", "580.65.06")


def test_release_versions_are_checked_per_kubernetes_version():
    assert release_version_problems("al2023", "1.33.5-20251112", "1.33") == []
    (message,) = release_version_problems("al2023", "1.33.5-20251110", "1.33")
    assert "not an EKS al2023 NVIDIA release" in message and "1.33.13-20260714" in message
    assert release_version_problems("al2023", "1.34.1-20251112", "1.33")  # another cluster version's build


def test_the_recorded_cuda_is_the_pinned_ray_images():
    images = load_node_images()
    assert images.ray_image.tag == ray_image_tag() and ray_image_tag().endswith(f"cu{images.ray_image.cuda.replace('.', '')}")


def test_the_committed_stacks_pass_the_check():
    for env in ("dev", "staging", "prod"):
        assert node_images.check(stack_of(env)) == [], env


def test_a_planted_nonexistent_alias_and_release_version_are_found(monkeypatch):
    def plant(registrations):
        named(registrations, NODE_GROUP, "gpu").inputs["releaseVersion"] = "1.33.5-20251110"

    monkeypatch.setitem(KARPENTER_AMI_ALIAS_VERSIONS, "al2023", "v20251110")
    findings = node_images.check(stack_of("dev", plant))
    text = "\n".join(f"{f.subject}: {f.message}" for f in findings)
    assert "KARPENTER_AMI_ALIAS_VERSIONS['al2023']" in text and "al2023@v20251110" in text
    assert "release_version 1.33.5-20251110 is not an EKS al2023 NVIDIA release" in text


def test_a_planted_too_old_driver_on_a_karpenter_node_class_is_found():
    def plant(registrations):
        for r in registrations:
            if r.type.endswith(":EC2NodeClass"):
                r.inputs["spec"]["amiSelectorTerms"] = [{"alias": "al2023@v20251016"}]

    # Every AL2023 release with a 1.35 NVIDIA image ships a driver CUDA 13.0 accepts, so the defect
    # is planted on a 1.33 cluster, where v20251016 shipped 570.195.03 (amazon-eks-ami CHANGELOG).
    stack = stack_of("staging", plant)
    cluster = stack.env.cluster.model_copy(update={"kubernetes_version": "1.33"})
    stack = dataclasses.replace(stack, env=stack.env.model_copy(update={"cluster": cluster}))
    findings = node_images.check(stack)
    assert findings and all("570.195.03, below 580.65.06" in f.message for f in findings), findings


def test_an_unpinned_latest_alias_is_found():
    def plant(registrations):
        for r in registrations:
            if r.type.endswith(":EC2NodeClass"):
                r.inputs["spec"]["amiSelectorTerms"] = [{"alias": "al2023@latest"}]

    (finding,) = node_images.check(stack_of("staging", plant))
    assert "not a pinned" in finding.message


CHANGELOG_EXCERPT = """# AMI Release v20251112
<details>
<summary><b>Kubernetes 1.33</b></summary>
  <table>
    <tr>
      <td>amazon-eks-node-al2023-x86_64-nvidia-1.33-v20251112</td>
      <td rowspan="5">1.33.5-20251112</td>
    </tr>
  </table>
  <table>
    <tr>
      <th>Package</th>
      <th>AL2023_x86_64_NVIDIA</th>
      <th>AL2023_x86_64_NEURON</th>
      <th>AL2023_x86_64_STANDARD</th>
      <th>AL2023_ARM_64_NVIDIA</th>
    </tr>
    <tr>
      <td>containerd</td>
      <td colspan="4">2.1.4-1.amzn2023.0.2</td>
    </tr>
    <tr>
      <td>kmod-nvidia-latest-dkms</td>
      <td colspan="1">580.95.05-1.amzn2023</td>
      <td colspan="2">—</td>
      <td colspan="1">580.95.05-1.el9</td>
    </tr>
  </table>
</details>
# [ABANDONED] AMI Release v20251111
"""


def test_the_release_notes_parser_reads_the_release_version_and_the_nvidia_column():
    first, abandoned = parse_changelog(CHANGELOG_EXCERPT)
    assert (first.name, first.abandoned, abandoned.abandoned) == ("v20251112", False, True)
    build = first.builds["1.33"]
    assert (build.release_version, build.nvidia_driver) == ("1.33.5-20251112", "580.95.05")


def test_the_vendored_list_names_its_source():
    images = load_node_images()
    assert "81fec2e895854f599974fe4d3d72f61c0a9aaffa" in images.al2023_nvidia.source
    assert "#4876" in images.bottlerocket_nvidia.source
    assert NODE_IMAGES_FILE.read_text().count("v20251110") == 1  # only the sentence saying it is absent


@pytest.mark.parametrize("family", ["al2023", "bottlerocket"])
def test_an_unknown_bottlerocket_or_al2023_release_version_is_refused(family):
    assert release_version_problems(family, "9.99.0-20990101", "1.33")
