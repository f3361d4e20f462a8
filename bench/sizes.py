"""Code sizes over ``streams/`` and ``dsl/``: the largest module, the largest class and the
90th percentile of function length, in source lines (issue 8's closing figures).

``python -m bench.sizes`` from the repository root; pass other folders to measure those.
A function's length runs from its ``def`` (decorators excluded) to its last line, nested
functions and methods counted on their own as well as inside their parents.
"""

from __future__ import annotations

import ast
import math
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("streams", "dsl")


@dataclass(frozen=True)
class Sizes:
    """The figures for a set of modules."""

    largest_module: tuple[str, int]
    largest_class: tuple[str, int]
    function_p90: int
    functions: int


def _length(node: ast.AST) -> int:
    return int(getattr(node, "end_lineno", 0)) - int(getattr(node, "lineno", 0)) + 1


def percentile(values: list[int], share: float) -> int:
    """The nearest-rank percentile: the smallest value with ``share`` of them at or below."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else 0


def measure(paths: list[Path], root: Path = ROOT) -> Sizes:
    """Sizes of the ``*.py`` files under ``paths``."""
    modules: list[tuple[str, int]] = []
    classes: list[tuple[str, int]] = []
    functions: list[int] = []
    for path in sorted(p for folder in paths for p in folder.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        name = str(path.relative_to(root))
        modules.append((name, len(text.splitlines())))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                classes.append((f"{name}:{node.name}", _length(node)))
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                functions.append(_length(node))
    return Sizes(
        largest_module=max(modules, key=lambda item: item[1]),
        largest_class=max(classes, key=lambda item: item[1]),
        function_p90=percentile(functions, 0.9),
        functions=len(functions),
    )


def main(argv: list[str]) -> int:
    folders = [ROOT / name for name in (argv or FOLDERS)]
    sizes = measure(folders)
    module, module_lines = sizes.largest_module
    cls, class_lines = sizes.largest_class
    print(f"over {', '.join(argv or FOLDERS)}:")
    print(f"largest module  {module_lines:5d} lines  {module}")
    print(f"largest class   {class_lines:5d} lines  {cls}")
    print(f"function p90    {sizes.function_p90:5d} lines  (of {sizes.functions} functions)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
