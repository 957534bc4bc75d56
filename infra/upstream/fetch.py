"""Download the pinned upstream charts into .cache/upstream/, verifying every file.

Each file comes from its project's Git repository at the release tag (raw.githubusercontent.com)
and must match the SHA-256 in lock.json, which was taken from the reference copies the project
checks against (`gpt-oss-platform upstream lock --from DIR`). A mismatch stops the fetch and
leaves nothing half-written: files land in a temporary folder that replaces the cache only when
every file verified.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

from infra.upstream import CACHE_DIR, Source, load_lock, offline_options

RAW_URL = "https://raw.githubusercontent.com/{repository}/{ref}/{path}"
Downloader = Callable[[str], bytes]


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def raw_url(source: Source, path: str) -> str:
    return RAW_URL.format(repository=source.repository, ref=source.ref, path=path)


class FetchError(RuntimeError):
    """A file could not be downloaded or did not match its pinned digest."""


def _checked(url: str, expected: str, download: Downloader) -> bytes:
    try:
        data = download(url)
    except OSError as error:
        # No network (DNS, proxy, firewall): say how to work without it.
        raise FetchError(f"cannot download {url} ({error}); {offline_options()}") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise FetchError(f"{url}: sha256 {actual} differs from the pinned {expected}")
    return data


def fetch(target: Path = CACHE_DIR, download: Downloader = _download) -> list[str]:
    """Fetch everything lock.json pins into `target`; the list of what was written."""
    lock = load_lock()
    written = []
    with tempfile.TemporaryDirectory(dir=target.parent if target.parent.exists() else None) as scratch:
        staging = Path(scratch) / "upstream"
        for chart in lock.charts.values():
            for locked in chart.files:
                source = locked.source(chart.source)
                data = _checked(raw_url(source, source.path), locked.sha256, download)
                out = staging / "charts" / chart.name / locked.path
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(data)
            written.append(f"charts/{chart.name} {chart.version} ({len(chart.files)} files)")
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), str(target))
    return written
