"""The spkc package has no import cycles, and the old ``spkc.models.codec`` names still work.

Cycles are found on the static import graph (every ``import``/``from ... import`` in every
module, function-level ones included, parsed with :mod:`ast`), so a lazy import inside a
function that closes a loop counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import spkc

ROOT = Path(spkc.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """module -> the spkc modules it imports (a package's ``__init__`` is the package)."""
    files = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
                # "from pkg import mod" imports the submodule when there is one
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base
                           for a in node.names]
            else:
                continue
            for t in targets:
                while t and t not in files:  # "spkc.x.y.attr" -> the module that defines it
                    t = t.rpartition(".")[0]
                if t and t != name:
                    deps.add(t)
        graph[name] = deps
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_sees_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_in_spkc() -> None:
    graph = _import_graph()
    assert len(graph) > 50 and "spkc.models.scene_codec" in graph["spkc.models.surgery"]
    assert _cycles(graph) == []


def test_subpackages_do_not_import_the_package_root() -> None:
    upward = sorted(m for m, deps in _import_graph().items() if "spkc" in deps)
    assert upward == [], f"{upward} import spkc (the root) instead of its modules"


def test_codec_module_reexports_the_split_modules() -> None:
    from spkc.models import codec, losses, scene_codec, surgery, weights

    assert codec.SceneCompressionModel is scene_codec.SceneCompressionModel
    assert codec.rd_terms is losses.rd_terms and codec.grow_model is surgery.grow_model
    assert codec.weights_config is weights.weights_config
    assert all(hasattr(codec, n) for n in codec.__all__)


#: docs/architecture.md's layers, bottom first: a module imports only from lower layers (or
#: its own package); packages on one line do not import each other
LAYERS = (
    ("errors",),
    ("_util", "_version"),
    ("io",),
    ("spikes", "container"),
    ("metrics", "models"),
    ("codecs",),
    ("pipeline",),
    ("eval",),
    ("train",),
    ("cli", "spkc"),  # "spkc": the package root, a facade over the pipeline
)


def test_imports_only_go_down_the_layers() -> None:
    rank = {p: i for i, layer in enumerate(LAYERS) for p in layer}

    def package(module: str) -> str:
        parts = module.split(".")
        return parts[1] if len(parts) > 1 else "spkc"

    graph = _import_graph()
    assert {package(m) for m in graph} == set(rank), "a package is missing from LAYERS"
    upward = sorted(f"{m} -> {d}" for m, deps in graph.items() for d in deps
                    if package(m) != package(d) and rank[package(d)] >= rank[package(m)])
    assert upward == []
