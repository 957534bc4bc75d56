"""The generated blocks of README.md, so that every table in it comes from a command.

Each block sits between `<!-- <name>:begin ... -->` and `<!-- <name>:end -->`:
- `config-reference`: the configuration reference, from the typed models' descriptions;
- `sizing-table`: the sizing of every stack (infra.chart_values.sizing_table);
- `plan-time`, `gateway-bench`: the latest measured results in bench/results/ (rerun with
  `make plan-time`, `make bench`; the files name the machine they ran on).

`python -m infra.readme_blocks --write` refreshes README.md; `--check` exits 1 when it is stale
(the test suite runs the same check).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
README = REPO_ROOT / "README.md"
RESULTS = REPO_ROOT / "bench" / "results"


def _config_reference() -> str:
    from infra.config.reference import reference

    return reference()


def _sizing_table() -> str:
    from infra.chart_values import sizing_table

    return sizing_table().rstrip("\n")


def _results(name: str) -> Callable[[], str]:
    def read() -> str:
        path = RESULTS / name
        if not path.exists():
            return f"_No results yet: run the command above to produce `bench/results/{name}`._"
        # The file's own title is replaced by the README's heading.
        lines = path.read_text().rstrip("\n").splitlines()
        return "\n".join(lines[1:] if lines and lines[0].startswith("# ") else lines).strip("\n")

    return read


BLOCKS: dict[str, Callable[[], str]] = {
    "config-reference": _config_reference,
    "sizing-table": _sizing_table,
    "plan-time": _results("plan-time.md"),
    "gateway-bench": _results("gateway.md"),
}


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- {re.escape(name)}:begin[^>]*-->\n)(.*?)(<!-- {re.escape(name)}:end -->)", re.DOTALL)


def refreshed(text: str) -> str:
    for name, produce in BLOCKS.items():
        pattern = _pattern(name)
        if not pattern.search(text):
            raise ValueError(f"README.md has no `{name}` block (<!-- {name}:begin --> ... <!-- {name}:end -->)")
        body = produce()
        text = pattern.sub(lambda m: f"{m.group(1)}{body}\n{m.group(3)}", text)
    return text


def stale_blocks(text: str) -> list[str]:
    fresh = refreshed(text)
    return [name for name in BLOCKS if _pattern(name).search(text).group(2) != _pattern(name).search(fresh).group(2)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="refresh the blocks in README.md")
    mode.add_argument("--check", action="store_true", help="exit 1 when a block is stale")
    args = parser.parse_args(argv)
    text = README.read_text()
    if args.write:
        README.write_text(refreshed(text))
        return 0
    stale = stale_blocks(text)
    if stale:
        print(f"README.md blocks out of date: {', '.join(stale)}; run `make reference`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
