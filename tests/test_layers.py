"""The layout is the architecture: a lower layer never imports a higher one.

Run by ``make lint``. Every ``import`` in the product's packages is read with ``ast`` (those
inside functions and ``TYPE_CHECKING`` blocks too) and checked against ``LAYERS``: a module
may import its own package, and packages of lower layers; never a higher layer, and never a
sibling of the same layer (the Faust worker and the offline tools do not lean on each other).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Lowest first. A package is named by its dotted prefix; the longest matching prefix wins.
LAYERS: list[tuple[str, ...]] = [
    ("contract",),  # the event contract, topics, settings, the error base
    ("dsl", "deploy"),  # the rule language (pure); the local broker and processes
    ("streams.core", "streams.exceptions", "streams"),  # the pure evaluation core
    ("streams.clients",),  # Kafka and worker clients shared by every shell
    ("streams.worker", "streams.offline"),  # the Faust worker; replay and rule tests
    ("connectors",),  # ERP and warehouse entry points
    ("orderhub",),  # the command line
]
# Packages of one layer that may import each other (one package split in two files).
SAME_PACKAGE = {
    frozenset({"streams.core", "streams.exceptions"}),
    frozenset({"streams.core", "streams"}),
    frozenset({"streams.exceptions", "streams"}),
}
SOURCES = ["contract", "dsl", "deploy", "streams", "connectors", "orderhub"]


def package_of(module: str) -> str | None:
    """The layer entry a dotted module name belongs to (longest prefix), or None if foreign."""
    names = [name for layer in LAYERS for name in layer]
    hits = [n for n in names if module == n or module.startswith(n + ".")]
    return max(hits, key=len) if hits else None


def rank(package: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if package in layer)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, imported module) for every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                if path.name != "__init__.py":
                    anchor = anchor[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import mod` imports pkg.mod when that is a module
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def violations(root: Path) -> list[str]:
    """Every upward or sideways import under ``root``, as ``file:line: a -> b (why)``."""
    out: list[str] = []
    for source in SOURCES:
        for path in sorted((root / source).rglob("*.py")):
            if "target" in path.parts:
                continue
            module = module_name(path, root)
            own = package_of(module)
            if own is None:
                continue
            for line, imported in imports_of(path, module):
                other = package_of(imported)
                if other is None or other == own or frozenset({own, other}) in SAME_PACKAGE:
                    continue
                where = f"{path.relative_to(root)}:{line}: {module} imports {imported}"
                if rank(other) > rank(own):
                    out.append(f"{where} (layer {other} is above {own})")
                elif rank(other) == rank(own):
                    out.append(f"{where} ({other} and {own} are siblings)")
    return out


def test_no_layer_imports_a_higher_one() -> None:
    found = violations(ROOT)
    assert found == [], "imports against the layers:\n" + "\n".join(found)


def test_an_upward_import_is_caught(tmp_path: Path) -> None:
    """The check itself: a core module that imports the worker, and dsl/ importing streams."""
    (tmp_path / "streams" / "core").mkdir(parents=True)
    (tmp_path / "streams" / "worker").mkdir()
    (tmp_path / "dsl").mkdir()
    (tmp_path / "streams" / "core" / "engine.py").write_text(
        "def f() -> None:\n    from streams.worker import app\n"
    )
    (tmp_path / "streams" / "worker" / "app.py").write_text("from streams.offline import replay\n")
    (tmp_path / "dsl" / "check.py").write_text("from contract import events\nimport streams.core\n")
    found = violations(tmp_path)
    assert found == [
        "dsl/check.py:2: dsl.check imports streams.core (layer streams.core is above dsl)",
        "streams/core/engine.py:2: streams.core.engine imports streams.worker.app"
        " (layer streams.worker is above streams.core)",
        "streams/worker/app.py:1: streams.worker.app imports streams.offline.replay"
        " (streams.offline and streams.worker are siblings)",
    ]


@pytest.mark.parametrize("module", ["streams.core.engine", "streams.worker.app", "dsl.check"])
def test_every_package_has_a_layer(module: str) -> None:
    assert package_of(module) is not None
