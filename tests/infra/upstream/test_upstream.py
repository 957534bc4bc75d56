"""The pinned upstream charts and CRDs: found, identical to the lock, fetchable and verified."""

from __future__ import annotations

import pytest

from infra import upstream, versions
from infra.upstream.fetch import FetchError, fetch, raw_url
from support.tools import require_all_tools


def located(name: str):
    try:
        return upstream.chart_dir(name)
    except upstream.UpstreamMissing as error:
        if require_all_tools():
            pytest.fail(str(error))
        pytest.skip(str(error))


def test_every_chart_the_stack_installs_is_pinned_at_the_same_version():
    lock = upstream.load_lock().charts
    for pin in (
        versions.KUBERAY_OPERATOR,
        versions.NVIDIA_DEVICE_PLUGIN,
        versions.CLUSTER_AUTOSCALER,
        versions.KARPENTER,
        versions.KUBE_PROMETHEUS_STACK,
    ):
        assert lock[pin.chart].version == pin.version, pin.chart


@pytest.mark.parametrize("name", sorted(upstream.load_lock().charts))
def test_the_copy_checked_here_is_byte_for_byte_the_locked_one(name):
    assert upstream.verify_chart(name, located(name)) == []


def test_the_reference_copy_lacks_only_the_known_subcharts():
    """../shared/reference holds kube-prometheus-stack without four of its subcharts; the plan
    renders it without them and warns. Any other gap is new and fails here."""
    folder = located("kube-prometheus-stack")
    assert set(upstream.missing_subcharts("kube-prometheus-stack", folder)) <= {
        "grafana",
        "kube-state-metrics",
        "prometheus-node-exporter",
        "prometheus-windows-exporter",
    }
    for name in ("kuberay-operator", "karpenter", "cluster-autoscaler", "nvidia-device-plugin"):
        assert upstream.missing_subcharts(name, located(name)) == [], name


def _serve_from_copies():
    """A downloader that answers raw.githubusercontent.com URLs from the copies found here."""
    by_url = {}
    for chart in upstream.load_lock().charts.values():
        folder = located(chart.name)
        for locked in chart.files:
            source = locked.source(chart.source)
            path = folder / locked.path
            if path.is_file():
                by_url[raw_url(source, source.path)] = path.read_bytes()

    def download(url: str) -> bytes:
        if url not in by_url:
            raise OSError(f"404 {url}")
        return by_url[url]

    return by_url, download


def test_fetch_verifies_every_file_and_replaces_the_cache_only_when_all_verified(tmp_path):
    by_url, download = _serve_from_copies()
    if len(by_url) < sum(len(c.files) for c in upstream.load_lock().charts.values()):
        # The reference copy lacks subcharts: fetch must stop, and write nothing.
        target = tmp_path / "upstream"
        with pytest.raises(FetchError, match="404"):
            fetch(target, download)
        assert not target.exists()
        return
    written = fetch(tmp_path / "upstream", download)
    assert any(line.startswith("charts/kuberay-operator 1.7.0") for line in written)


def test_a_tampered_file_is_refused_and_nothing_is_written(tmp_path):
    by_url, download = _serve_from_copies()
    chart = next(iter(upstream.load_lock().charts.values()))  # fetched first
    first = chart.files[0]
    url = raw_url(first.source(chart.source), first.source_path)
    by_url[url] = by_url[url] + b"# changed\n"
    target = tmp_path / "upstream"
    with pytest.raises(FetchError, match="differs from the pinned"):
        fetch(target, download)
    assert not target.exists()


def test_a_missing_copy_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setattr(upstream, "search_roots", lambda: [tmp_path])
    with pytest.raises(upstream.UpstreamMissing, match="gpt-oss-platform upstream fetch"):
        upstream.chart_dir("kuberay-operator")


def test_the_crds_tests_validate_against_are_the_ones_the_charts_install():
    for filename in upstream.CRD_CHARTS:
        path = upstream.crd_file(filename) if located(upstream.CRD_CHARTS[filename]) else None
        assert path.is_file() and path.parent.name == "crds" and path.parent.parent.name == upstream.CRD_CHARTS[filename]


def test_fetch_without_network_names_the_offline_options(tmp_path):
    def no_network(url: str) -> bytes:
        raise OSError("[Errno -3] Temporary failure in name resolution")

    with pytest.raises(FetchError) as caught:
        fetch(tmp_path / "upstream", no_network)
    message = str(caught.value)
    assert "Temporary failure in name resolution" in message
    assert "GPT_OSS_UPSTREAM_DIR" in message and "reference" in message
    assert not (tmp_path / "upstream").exists()


def test_plan_without_upstream_charts_exits_2_with_one_message(monkeypatch, tmp_path, capsys):
    """No ../shared, an empty cache, GPT_OSS_UPSTREAM_DIR pointing nowhere: one message, exit 2."""
    from cli.__main__ import main as cli_main
    from support.environments import build_environments

    nowhere = tmp_path / "nowhere"
    monkeypatch.setenv("GPT_OSS_UPSTREAM_DIR", str(nowhere))
    monkeypatch.setattr(upstream, "SHARED_DIR", tmp_path / "no-shared")
    monkeypatch.setattr(upstream, "CACHE_DIR", tmp_path / "no-cache")
    stacks = build_environments(tmp_path / "repo")
    code = cli_main(["plan", "--env", "dev", "--stacks", str(stacks), "--out", str(tmp_path / "build")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and "GPT_OSS_UPSTREAM_DIR" in err and str(nowhere) in err
    assert err.startswith("error: upstream chart") and len(err.strip().splitlines()) == 2
