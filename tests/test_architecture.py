"""The shape of the house: no import cycles, short functions, one definition per concept.

These read the source (``ast``), never import it, so they are fast and see lazy imports
(those inside functions) as well as module-level ones.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "pain3d"
MAX_FUNCTION_LINES = 80


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """Module -> the pain3d modules it imports anywhere in its body (lazy imports included).

    ``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to ``pkg``.
    """
    modules = _modules()
    edges: dict[str, set[str]] = defaultdict(set)
    for mod, path in modules.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                           for a in node.names]
            for t in targets:
                if t.startswith("pain3d"):
                    r = _resolve(t, modules)
                    if r and r != mod:
                        edges[mod].add(r)
    for mod in modules:
        edges.setdefault(mod, set())
    return edges


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Components of more than one node (each is an import cycle), iterative Tarjan."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def _package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "pain3d"


def test_the_cycle_finder_finds_a_cycle():
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [
        ["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_between_modules():
    cycles = strongly_connected(import_graph())
    assert not cycles, "import cycles (lazy imports count):\n" + "\n".join(
        " <-> ".join(c) for c in cycles)


def test_no_import_cycles_between_packages():
    packages: dict[str, set[str]] = defaultdict(set)
    for mod, targets in import_graph().items():
        for t in targets:
            if _package_of(mod) != _package_of(t):
                packages[_package_of(mod)].add(_package_of(t))
        packages.setdefault(_package_of(mod), set())
    cycles = strongly_connected(packages)
    assert not cycles, f"package import cycles: {cycles}"


def test_no_function_over_80_lines():
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} "
                                f"{node.name} ({n} lines)")
    assert not long, "functions over 80 lines (split them into named steps):\n" + "\n".join(long)


def _definitions(pattern: str) -> list[str]:
    rx = re.compile(pattern, re.MULTILINE)
    return sorted(f"{p.relative_to(PACKAGE.parent)}:{m.group(0).strip()}"
                  for p in PACKAGE.rglob("*.py") for m in rx.finditer(p.read_text()))


def test_one_definition_of_each_concept():
    for what, pattern in {
        "class DataConfig": r"^class DataConfig\b",
        "FaceMesh wrapper (mediapipe face_mesh is created in one place)":
            r"^.*face_mesh\.FaceMesh\(",
        "fold maker (k-fold by subject)": r"^def kfold\w*\(",
        "seed derivation": r"^def derive_seed\(",
        "smoothstep (pain3d.ramps)": r"^def _?smoothstep\w*\(",
    }.items():
        found = _definitions(pattern)
        assert len(found) == 1, f"{what}: expected one definition, found {found}"
