"""Dependencies flow one way: no circle in the import graph, and the rooms meet only through
`contracts` (infra/ never imports serving/, serving/ never imports infra/, contracts imports
neither). Every import counts, including those inside functions: a late import is still a
dependency, it only hides it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("contracts", "infra", "serving", "cli", "bench")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if ".venv" not in path.parts:
                found[module_name(path)] = path
    return found


MODULES = all_modules()


def imports_of(name: str, path: Path) -> set[str]:
    """The project modules `name` imports, resolved to the most specific module that exists."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            candidates = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        # Every name of `from X import a, b` counts: `a` may be a submodule and `b` a class of X.
        for candidate in candidates:
            while candidate and candidate not in MODULES:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                targets.add(candidate)
    return targets


GRAPH = {name: imports_of(name, path) for name, path in MODULES.items()}


def room(module: str) -> str:
    return module.split(".")[0]


def test_the_graph_was_read():
    assert "infra.chart_values" in GRAPH and "contracts" in GRAPH["infra.gateway_settings"]


@pytest.mark.parametrize(
    ("source", "forbidden"),
    [("infra", "serving"), ("serving", "infra"), ("contracts", "infra"), ("contracts", "serving"), ("contracts", "cli")],
)
def test_rooms_meet_only_through_contracts(source, forbidden):
    offenders = sorted(
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        if room(module) == source
        for target in targets
        if room(target) == forbidden
    )
    assert offenders == []


def test_nothing_but_the_cli_and_benchmarks_imports_the_cli_or_benchmarks():
    offenders = sorted(
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        if room(module) in ("contracts", "infra", "serving")
        for target in targets
        if room(target) in ("cli", "bench")
    )
    assert offenders == []


def strongly_connected_components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm; components with more than one module are circles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_import_graph_has_no_circle():
    # A package's __init__ re-exporting its own submodules is not a circle of the design: the
    # edge "submodule -> package" is dropped when the submodule imports its package only to
    # reach a sibling (Python resolves that through the sibling, not the package).
    graph = {
        module: {t for t in targets if not (module.startswith(t + ".") and (MODULES[t].name == "__init__.py"))}
        for module, targets in GRAPH.items()
    }
    circles = [c for c in strongly_connected_components(graph) if len(c) > 1]
    assert circles == []


def test_a_planted_circle_is_found():
    assert strongly_connected_components({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"], ["d"]]


def test_every_name_of_a_from_import_is_an_edge(tmp_path):
    """`from infra.plan import checks, cluster_objects` imports both modules: the graph keeps
    both edges (it kept only the first, and missed the checks -> cluster_objects circle)."""
    path = tmp_path / "probe.py"
    path.write_text("from infra.plan import build, cluster_objects\nfrom infra.plan.checks import Finding, selectors\n")
    assert imports_of("probe", path) >= {
        "infra.plan.build",
        "infra.plan.cluster_objects",
        "infra.plan.checks.selectors",
        "infra.plan.checks",
    }
