"""The package's layers, read from its code with ast (lazy imports inside functions included).

The engine (what `rtgen play` runs) reaches neither torch, the models, the export nor rtmidi,
however indirectly; nothing in the package imports `training`; the export does not import
the engine (the graph contract sits between them, in rtgen/graph_contract.py); only the port
modules import rtmidi. And no module outside rtgen/engine writes an engine's insides: it
calls the engine's named operations (rtgen/engine/engine.py) instead.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "rtgen"


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, root: Path) -> Iterator[str]:
    """Every module a file imports, at the top or inside a function; relative ones resolved."""
    package = _module_name(path, root)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)  # submodules


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module name -> the modules it imports, for every file under ``root``. ``from a import
    b`` counts ``a.b`` only where that is one of the package's modules."""
    files = {_module_name(path, root): path for path in sorted(root.rglob("*.py"))}
    graph = {}
    for name, path in files.items():
        found = set(_imports(path, root))
        graph[name] = {t for t in found if t in files or t.rpartition(".")[0] not in found}
    return graph


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _reach(graph: dict[str, set[str]], start: str, bans: tuple[str, ...]) -> dict[str, str]:
    """Every import reachable from ``start`` through the package's own modules (not through
    banned ones), each with the module that imports it: to name the arrow that breaks a rule."""
    seen: dict[str, str] = {}
    todo = [start]
    while todo:
        module = todo.pop()
        for target in sorted(graph.get(module, ())):
            if target not in seen:
                seen[target] = module
                if target in graph and not any(_within(target, ban) for ban in bans):
                    todo.append(target)
    return seen


def layer_violations(root: Path = ROOT) -> list[str]:
    """Each import that breaks a layer rule, as 'importer -> imported (rule)'."""
    graph = import_graph(root)
    out = []
    engine_bans = ("torch", "rtgen.models", "rtgen.export", "rtmidi")
    for module in graph:
        if _within(module, "rtgen.engine"):
            for target, via in _reach(graph, module, engine_bans).items():
                if any(_within(target, ban) for ban in engine_bans):
                    out.append(f"{via} -> {target} (reached from {module}: the engine)")
        for target in graph[module]:
            if _within(target, "training"):
                out.append(f"{module} -> {target} (the package never imports training)")
            if _within(module, "rtgen.export") and _within(target, "rtgen.engine"):
                out.append(f"{module} -> {target} (the export reads rtgen.graph_contract)")
            if _within(target, "rtmidi") and not module.startswith("rtgen.io.ports"):
                out.append(f"{module} -> {target} (only rtgen/io/ports* import rtmidi)")
    return sorted(set(out))


def test_the_layers_hold() -> None:
    """No arrow from the engine to torch, the models, the export or rtmidi (directly or
    through other modules), none from the package to training, none from the export to the
    engine, and rtmidi only in the port modules."""
    assert layer_violations() == []


def test_the_checker_sees_lazy_and_indirect_imports(tmp_path: Path) -> None:
    """A lazy import inside a function, and one reached through another module, are found."""
    pkg = tmp_path / "rtgen"
    (pkg / "engine").mkdir(parents=True)
    (pkg / "export").mkdir()
    for init in (pkg, pkg / "engine", pkg / "export"):
        (init / "__init__.py").write_text("")
    (pkg / "engine" / "session.py").write_text("def f():\n    from rtgen import helper\n")
    (pkg / "helper.py").write_text("def g():\n    import torch\n")
    (pkg / "export" / "onnx.py").write_text("from ..engine.session import f\nimport training\n")
    found = layer_violations(pkg)
    assert "rtgen.helper -> torch (reached from rtgen.engine.session: the engine)" in found
    assert "rtgen.export.onnx -> rtgen.engine.session (the export reads rtgen.graph_contract)" in (
        found
    )
    assert "rtgen.export.onnx -> training (the package never imports training)" in found


def _chain(node: ast.AST) -> list[str]:
    """``a.b[0].c(x).d`` as ['a', 'b', '[]', 'c', '()', 'd']."""
    if isinstance(node, ast.Attribute):
        return [*_chain(node.value), node.attr]
    if isinstance(node, ast.Subscript):
        return [*_chain(node.value), "[]"]
    if isinstance(node, ast.Call):
        return [*_chain(node.func), "()"]
    return [node.id] if isinstance(node, ast.Name) else ["?"]


def _past_engine(chain: list[str]) -> int:
    """How many links follow the last ``engine`` in ``chain`` (-1: none there)."""
    if "engine" not in chain:
        return -1
    return len(chain) - 1 - max(i for i, name in enumerate(chain) if name == "engine")


def engine_writes(root: Path = ROOT) -> list[str]:
    """Places outside rtgen/engine that write into an engine object: an assignment (or del)
    to ``...engine.X...``, or a call of a method of one of its parts (``engine.X.f()``)."""
    out = []
    for path in sorted(root.rglob("*.py")):
        if path.relative_to(root).parts[0] == "engine":
            continue
        where = path.relative_to(root.parent)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[ast.AST] = []
            if isinstance(node, (ast.Assign, ast.Delete)):
                targets = list(node.targets)
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                targets = [node.target]
            while targets:
                target = targets.pop()
                if isinstance(target, (ast.Tuple, ast.List)):  # a, b.c = ...: each element
                    targets += target.elts
                elif isinstance(target, ast.Starred):
                    targets.append(target.value)
                elif _past_engine(chain := _chain(target)) >= 1:
                    out.append(f"{where}:{node.lineno}: assigns {'.'.join(chain)}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                chain = _chain(node.func)
                if _past_engine(chain) >= 2:
                    out.append(f"{where}:{node.lineno}: calls {'.'.join(chain)}()")
    return sorted(set(out))


def test_no_module_outside_the_engine_writes_its_insides() -> None:
    """live, replay, the commands and the rest use the engine's named operations (halt,
    skip_to, end_call, set_mode, stats, ...), never its parts' attributes or methods."""
    assert engine_writes() == []


def test_the_write_check_sees_assignments_and_calls_into_parts(tmp_path: Path) -> None:
    """The three ways replay used to write the engine are each found; the engine's own
    attribute (``self.engine = ...``) and its methods (``engine.tick()``) are not."""
    pkg = tmp_path / "rtgen"
    pkg.mkdir()
    (pkg / "replay.py").write_text(
        "def apply(engine, jam):\n"
        "    engine.next_beat = None\n"
        "    engine.listener.keys_down.clear()\n"
        "    jam.engine.mode.cfg.mode = 'duet'\n"
        "    jam.engine = engine\n"
        "    engine.tick(0)\n"
    )
    assert engine_writes(pkg) == [
        "rtgen/replay.py:2: assigns engine.next_beat",
        "rtgen/replay.py:3: calls engine.listener.keys_down.clear()",
        "rtgen/replay.py:4: assigns jam.engine.mode.cfg.mode",
    ]
