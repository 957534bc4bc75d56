"""Hard-link identical shared libraries that a wheel installs several times.

helm-python-sdk's wheel carries its 85 MB Go library three times (libhelm_c.so, .so.0, .so.0.2.2):
a wheel cannot hold symlinks. Linking the copies to one file keeps every name the loader may open
and cuts 170 MB from the deploy environment. Run by `make` after each `uv sync`; idempotent.

    python tools/venv/dedupe.py .venv
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

PACKAGES = ("helm_python/lib",)


def dedupe(venv: Path) -> int:
    saved = 0
    for site in venv.glob("lib/python*/site-packages"):
        for relative in PACKAGES:
            seen: dict[tuple[int, str], Path] = {}
            for path in sorted((site / relative).glob("*")):
                if not path.is_file() or path.is_symlink():
                    continue
                key = (path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest())
                first = seen.setdefault(key, path)
                if first != path and not os.path.samefile(first, path):
                    temporary = path.with_name(path.name + ".dedupe")
                    os.link(first, temporary)
                    os.replace(temporary, path)
                    saved += key[0]
    return saved


if __name__ == "__main__":
    venv = Path(sys.argv[1] if len(sys.argv) > 1 else ".venv")
    print(f"deduplicated {dedupe(venv) / 2**20:.0f} MB of identical libraries in {venv}")
