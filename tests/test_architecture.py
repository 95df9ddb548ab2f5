"""The package's import graph: no cycles, no arrows that point up the layers, lazy imports only where justified.

Built with ``ast`` from the source, counting every import statement (module level or inside a
function). Importing ``a.b.c`` is an edge to ``a.b.c`` (and to the package ``a.b`` only for
``from a.b import name`` where ``name`` is not a submodule).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PKG = SRC / "reasonlab"

#: Layers, lowest first; a module may import from its own layer or any lower one, never a higher one.
LAYERS: list[tuple[str, ...]] = [
    ("reasonlab", "reasonlab.errors", "reasonlab.config", "reasonlab.io", "reasonlab.seeds", "reasonlab.compute"),
    ("reasonlab.tasks",),
    ("reasonlab.rewards", "reasonlab.model"),
    ("reasonlab.sampling",),
    ("reasonlab.rundir",),
    ("reasonlab.eval",),
    ("reasonlab.train",),
    ("reasonlab.report",),
    ("reasonlab.integrations", "reasonlab.bench"),
    ("reasonlab.experiments",),
    ("reasonlab.cli", "reasonlab.__main__"),
]
#: Third-party modules a function may import lazily (optional or heavy), with the reason in a comment.
LAZY_OK = (
    "transformers",
    "matplotlib",
    "scipy",
    "datasets",
    "trl",
    "verl",
    "tensorboard",
    "wandb",
    "pyarrow",
    "torch",
)
MAX_LINES = 550


def _modules() -> dict[str, Path]:
    mods = {}
    for path in PKG.rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _edges(mods: dict[str, Path]) -> dict[str, set[tuple[str, int, bool]]]:
    """module -> {(imported reasonlab module, line, inside a function)}."""
    out: dict[str, set[tuple[str, int, bool]]] = {m: set() for m in mods}
    for mod, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        funcs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        inner = {id(n) for f in funcs for n in ast.walk(f) if n is not f}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("reasonlab"):
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    out[mod].add((sub if sub in mods else node.module, node.lineno, id(node) in inner))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("reasonlab"):
                        out[mod].add((alias.name, node.lineno, id(node) in inner))
    return out


def _layer(mod: str) -> int:
    best, depth = -1, -1
    for i, names in enumerate(LAYERS):
        for name in names:
            if (mod == name or mod.startswith(name + ".")) and len(name) > depth:
                best, depth = i, len(name)
    assert best >= 0, f"{mod} is in no layer; add it to LAYERS"
    return best


def test_no_import_cycles() -> None:
    mods = _modules()
    graph = {m: {t for t, _, _ in es if t != m} for m, es in _edges(mods).items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(graph.get(m, ())):
            if state.get(t) == 1:
                cycle = [*stack[stack.index(t) :], t]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_imports_only_point_down() -> None:
    mods = _modules()
    bad = []
    for mod, es in _edges(mods).items():
        for target, line, _ in es:
            if _layer(target) > _layer(mod):
                bad.append(f"{mods[mod].relative_to(SRC)}:{line}: {mod} imports {target} (a higher layer)")
    assert not bad, "\n".join(sorted(bad))


def test_function_level_imports_are_justified() -> None:
    """Outside the CLI, a function imports only an optional or heavy package, with a comment saying why.

    The CLI imports each verb's modules when the verb runs (so ``reasonlab --help`` starts fast); the
    rest of the package imports at module level.
    """
    bad = []
    for mod, path in _modules().items():
        if mod.startswith("reasonlab.cli"):
            continue
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        tree = ast.parse(text)
        for f in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]:
            for node in ast.walk(f):
                if not isinstance(node, ast.Import | ast.ImportFrom):
                    continue
                name = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                top = (name or "").split(".")[0]
                where = f"{path.relative_to(SRC)}:{node.lineno}"
                if top not in LAZY_OK:
                    bad.append(f"{where}: function-level import of {name} (import it at module level)")
                elif "#" not in lines[node.lineno - 1]:
                    bad.append(f"{where}: lazy import of {name} without a comment saying why")
    assert not bad, "\n".join(sorted(bad))


def test_no_source_file_is_a_god_file() -> None:
    long = [
        f"{p.relative_to(SRC)}: {n} lines"
        for p in PKG.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    ]
    assert not long, "\n".join(long)


def test_light_commands_never_import_torch() -> None:
    """``reasonlab --help``, ``tasks``, ``data generate``, ``score`` start without torch."""
    code = (
        "import sys; from reasonlab.cli import main; import reasonlab.rewards, reasonlab.tasks.arith, "
        "reasonlab.tasks.knights, reasonlab.tasks.arith.facts, reasonlab.experiments.verifier_demo; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr
