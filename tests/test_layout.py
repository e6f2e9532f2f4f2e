"""The layout's rules, checked on the source (docs/architecture.md):

- dependencies point one way: ``pipeline`` -> ``tagging`` -> ``schemas``;
- nothing in ``tagging`` imports Beam; ``schemas`` imports nothing of ours;
- no import cycle between the packages (``pipeline``, ``schemas`` and each sub-package of
  ``tagging``), counting imports inside functions too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OURS = ("pipeline", "tagging", "schemas")


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at module level or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def _package_of(module: str) -> str | None:
    """``tagging.track.offline`` -> ``tagging.track``; ``pipeline.graph`` -> ``pipeline``."""
    parts = module.split(".")
    if parts[0] not in OURS:
        return None
    if parts[0] == "tagging" and len(parts) > 1 and (ROOT / "tagging" / parts[1]).is_dir():
        return f"tagging.{parts[1]}"
    return parts[0]


def _sources(package: str):
    return sorted((ROOT / package).rglob("*.py"))


def _package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for top in OURS:
        for path in _sources(top):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            src = _package_of(module.removesuffix(".__init__"))
            deps = {_package_of(m) for m in _imports(path)} - {None, src}
            # `from tagging import __version__` names the root package, not a stage
            deps.discard("tagging")
            graph.setdefault(src, set()).update(deps)
    return graph


def test_tagging_never_imports_beam():
    offenders = [f"{p.relative_to(ROOT)}: {m}" for p in _sources("tagging")
                 for m in _imports(p) if m.split(".")[0] == "apache_beam"]
    assert offenders == []


def test_schemas_import_nothing_of_ours():
    offenders = [f"{p.relative_to(ROOT)}: {m}" for p in _sources("schemas")
                 for m in _imports(p) if m.split(".")[0] in ("tagging", "pipeline")]
    assert offenders == []


def test_tagging_never_imports_pipeline():
    offenders = [f"{p.relative_to(ROOT)}: {m}" for p in _sources("tagging")
                 for m in _imports(p) if m.split(".")[0] == "pipeline"]
    assert offenders == []


def test_no_import_cycle_between_packages():
    graph = _package_graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == [], f"import cycles: {cycles}"


def test_cycle_check_sees_a_cycle(tmp_path, monkeypatch):
    """The checker itself: a two-package cycle written to disk is reported."""
    for pkg, dep in (("a", "b"), ("b", "a")):
        (tmp_path / "tagging" / pkg).mkdir(parents=True)
        (tmp_path / "tagging" / pkg / "__init__.py").write_text(f"from tagging.{dep} import x\n")
    for top in ("pipeline", "schemas"):
        (tmp_path / top).mkdir()
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    graph = _package_graph()
    assert graph["tagging.a"] == {"tagging.b"} and graph["tagging.b"] == {"tagging.a"}
    try:
        test_no_import_cycle_between_packages()
    except AssertionError as exc:
        assert "tagging.a" in str(exc)
    else:
        raise AssertionError("the cycle was not reported")
