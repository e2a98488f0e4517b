"""The import graph of splat2sim (issue #15): layered, without cycles.

Every ``import`` / ``from ... import`` in every module counts, at module level or inside
a function (a lazy import is still a dependency). Relative imports are resolved, and
``from pkg import name`` counts as importing ``pkg.name`` when that is a module.
Importing ``pkg.child`` runs ``pkg/__init__`` too, but that implicit edge is not counted:
``pkg/__init__ -> pkg.child -> pkg.base`` is no cycle, ``pkg.child -> pkg`` (importing the
package's ``__init__`` itself) while ``pkg/__init__`` imports ``pkg.child`` is one.

- (a) no cycle between modules;
- (b) no cycle between the subpackages directly under splat2sim (scene, sim, render, ...;
  a top-level module such as splat2sim.errors, and splat2sim/__init__ itself, is its own
  node);
- (c) nothing outside splat2sim/synth imports splat2sim.synth (synthetic captures are a
  test input, not part of the product), except the CLI's ``synth`` command.
"""

from __future__ import annotations

import ast
from collections import deque
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "splat2sim"
SYNTH = "splat2sim.synth"
# (module, enclosing function) allowed to import splat2sim.synth: the CLI command that
# runs it and the helper that builds its config.
SYNTH_IMPORTERS = {("splat2sim.cli", "synth"), ("splat2sim.cli", "_synth_config")}


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module
    path: str  # file of the importing module, relative to the repository
    line: int
    function: str | None  # innermost enclosing def; None at module level

    def where(self) -> str:
        return f"{self.path}:{self.line}"


def module_files(root: Path = ROOT) -> dict[str, tuple[Path, bool]]:
    """{dotted module name: (file, is a package __init__)} of the package at ``root``."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_pkg)
    return out


def _existing(name: str, modules) -> str | None:
    """``name`` or its longest prefix that is a module (``a.b.func`` -> ``a.b``)."""
    parts = name.split(".")
    while parts:
        if ".".join(parts) in modules:
            return ".".join(parts)
        parts.pop()
    return None


class _Collector(ast.NodeVisitor):
    def __init__(self, name: str, is_pkg: bool, modules, path: str):
        self.name, self.modules, self.path = name, modules, path
        self.package = name if is_pkg else name.rpartition(".")[0]
        self.stack: list[str] = []
        self.found: list[Import] = []

    def _add(self, target: str | None, line: int) -> None:
        if target is not None and target != self.name:
            self.found.append(Import(self.name, target, self.path, line, self.stack[-1] if self.stack else None))

    def _function(self, node) -> None:
        self.stack.append(node.name)
        self.generic_visit(node)
        self.stack.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = _function

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(_existing(alias.name, self.modules), node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package.split(".")[: len(self.package.split(".")) - (node.level - 1)]
            base_name = ".".join(base + ([node.module] if node.module else []))
        else:
            base_name = node.module or ""
        for alias in node.names:
            sub = f"{base_name}.{alias.name}"
            self._add(sub if sub in self.modules else _existing(base_name, self.modules), node.lineno)


def collect_imports(root: Path = ROOT) -> list[Import]:
    """Every import between modules of the package at ``root``."""
    modules = module_files(root)
    found = []
    for name, (path, is_pkg) in modules.items():
        collector = _Collector(name, is_pkg, modules, path.relative_to(root.parent).as_posix())
        collector.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        found += collector.found
    return found


def _graph(edges: list[tuple[str, str, Import]]) -> dict[str, dict[str, Import]]:
    """{source: {target: the first import that makes the edge}}, self-edges dropped."""
    graph: dict[str, dict[str, Import]] = {}
    for a, b, imp in sorted(edges, key=lambda e: (e[0], e[1], e[2].path, e[2].line)):
        if a != b:
            graph.setdefault(a, {}).setdefault(b, imp)
    return graph


def _reachable(graph, start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in graph.get(todo.pop(), {}):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def components(graph: dict[str, dict[str, Import]]) -> list[list[str]]:
    """The strongly connected components of more than one node (each sorted)."""
    nodes = sorted(set(graph) | {b for targets in graph.values() for b in targets})
    reach = {n: _reachable(graph, n) for n in nodes}
    out, done = [], set()
    for start in nodes:
        if start not in done:
            component = {n for n in reach[start] if start in reach[n]}
            done |= component
            if len(component) > 1:
                out.append(sorted(component))
    return out


def _shortest_cycle(graph, component: list[str]) -> list[str]:
    """A shortest cycle [start, ..., start] through the first node of ``component``."""
    start, inside = component[0], set(component)
    parent = {start: None}
    queue = deque([start])
    while queue:  # breadth first inside the component until an edge closes back on start
        node = queue.popleft()
        if start in graph.get(node, {}):
            path = [node]
            while parent[path[-1]] is not None:
                path.append(parent[path[-1]])
            return [*reversed(path), start]
        for nxt in sorted(graph.get(node, {})):
            if nxt in inside and nxt not in parent:
                parent[nxt] = node
                queue.append(nxt)
    raise AssertionError(f"no cycle through {start}")  # a component always has one


def find_cycles(graph: dict[str, dict[str, Import]]) -> list[list[str]]:
    """One shortest cycle [a, b, ..., a] per strongly connected component."""
    return [_shortest_cycle(graph, c) for c in components(graph)]


def describe(cycle: list[str], graph) -> str:
    steps = [f"    {a} -> {b}   ({graph[a][b].where()} imports {graph[a][b].target})" for a, b in zip(cycle, cycle[1:])]
    return " -> ".join(cycle) + "\n" + "\n".join(steps)


def report(graph, what: str) -> str:
    """Every cycle of ``graph`` with the import behind each step, and who else is caught."""
    found = components(graph)
    lines = [f"{len(found)} import cycle(s) between {what} (each step names one import that makes it):"]
    for component in found:
        lines.append(describe(_shortest_cycle(graph, component), graph))
        lines.append(f"    (all of these depend on each other: {', '.join(component)})")
    return "\n".join(lines)


def top_level(module: str) -> str:
    """splat2sim.scene.model -> splat2sim.scene; splat2sim.errors -> itself; splat2sim -> itself."""
    return ".".join(module.split(".")[:2])


def module_graph(imports: list[Import]):
    return _graph([(i.source, i.target, i) for i in imports])


def package_graph(imports: list[Import]):
    return _graph([(top_level(i.source), top_level(i.target), i) for i in imports])


# ----------------------------------------------------------------------------- the checks
def test_modules_are_found():
    imports = collect_imports()
    assert len(module_files()) > 50 and len(imports) > 100


def test_no_cycle_between_modules():
    graph = module_graph(collect_imports())
    assert not find_cycles(graph), report(graph, "modules")


def test_no_cycle_between_subpackages():
    graph = package_graph(collect_imports())
    assert not find_cycles(graph), report(graph, "the packages under splat2sim")


def test_only_the_synth_command_imports_synth():
    bad = [i for i in collect_imports()
           if top_level(i.target) == SYNTH and top_level(i.source) != SYNTH
           and (i.source, i.function) not in SYNTH_IMPORTERS]  # fmt: skip
    assert not bad, (
        "splat2sim.synth is a test input, not part of the product; move what these need into a "
        "neutral module (e.g. splat2sim.geometry.transforms):\n"
        + "\n".join(f"    {i.where()} ({i.source}, in {i.function or 'module level'}) imports {i.target}" for i in bad)
    )


# ----------------------------------------------------------------------------- the checker itself
def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_checker_resolves_relative_lazy_and_submodule_imports(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "",
        "a/__init__.py": "from . import child\n",
        "a/child.py": "from .base import X\n\ndef f():\n    from ..b import tool\n",
        "a/base.py": "X = 1\n",
        "b/__init__.py": "from pkg.a import base\n",
        "b/tool.py": "import pkg.a.child as c\n",
    })  # fmt: skip
    edges = {(i.source, i.target, i.function) for i in collect_imports(root)}
    assert edges == {("pkg.a", "pkg.a.child", None), ("pkg.a.child", "pkg.a.base", None),
                     ("pkg.a.child", "pkg.b.tool", "f"), ("pkg.b", "pkg.a.base", None),
                     ("pkg.b.tool", "pkg.a.child", None)}  # fmt: skip
    # pkg.a.child -> pkg.b.tool -> pkg.a.child
    cycles = find_cycles(module_graph(collect_imports(root)))
    assert cycles == [["pkg.a.child", "pkg.b.tool", "pkg.a.child"]]
    # the same two imports make pkg.a and pkg.b depend on each other; pkg.a's __init__
    # importing its own child is no edge between packages
    assert find_cycles(package_graph(collect_imports(root))) == [["pkg.a", "pkg.b", "pkg.a"]]


def test_checker_tells_a_sibling_from_the_package_itself(tmp_path):
    files = {"__init__.py": "", "s/__init__.py": "from pkg.s import one\n", "s/base.py": "",
             "s/one.py": "from pkg.s.base import B\n"}  # fmt: skip
    assert find_cycles(module_graph(collect_imports(_package(tmp_path / "ok", files)))) == []
    files["s/one.py"] = "def f():\n    from pkg.s import REGISTRY\n"
    graph = module_graph(collect_imports(_package(tmp_path / "bad", files)))
    assert find_cycles(graph) == [["pkg.s", "pkg.s.one", "pkg.s"]]
    assert "pkg/s/one.py:2 imports pkg.s" in describe(find_cycles(graph)[0], graph)
