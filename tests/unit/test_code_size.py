"""Size limits from issue #15: small modules, short functions.

- No module under ``splat2sim/`` has more than 400 lines, unless one of its
  first 5 lines is a comment ``# long: <reason>`` (use sparingly: prefer
  splitting the module by concern).
- No function or method spans more than 80 lines (``end_lineno - lineno + 1``
  of the ``def``, decorators excluded), unless the first line of its body is
  a comment ``# long: <reason>``, i.e. the line right after the ``def ...:``
  line (after the closing line of a multi-line signature), before any
  docstring::

      def big_table():
          # long: one literal row per supported camera model
          ...

The failure message lists every offender as ``path:line name length``,
longest first.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "splat2sim"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
# A reason must follow the marker: a bare "# long:" does not count.
LONG_MARK = re.compile(r"^\s*#\s*long:\s*\S")


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(PACKAGE.parent).as_posix()


def _module_offenders(path: Path, lines: list[str]) -> list[tuple[int, str]]:
    if len(lines) <= MAX_MODULE_LINES:
        return []
    if any(LONG_MARK.match(line) for line in lines[:5]):
        return []
    return [(len(lines), f"{_rel(path)}:1 <module> {len(lines)}")]


def _header_end(func: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Last line that holds part of the signature (decorators excluded)."""
    args = func.args
    parts = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg, *args.defaults, *args.kw_defaults, func.returns]
    return max([func.lineno] + [p.end_lineno for p in parts if p is not None])


def _has_long_reason(func: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]) -> bool:
    """True when the first line of the body is a ``# long: <reason>`` comment."""
    for number in range(_header_end(func) + 1, func.body[0].lineno):
        text = lines[number - 1].strip()
        # A signature may close on a line of its own: ``) -> dict:``.
        if not text or text.startswith(")"):
            continue
        return bool(LONG_MARK.match(text))
    return False


def _function_offenders(path: Path, lines: list[str]) -> list[tuple[int, str]]:
    tree = ast.parse("\n".join(lines), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        length = node.end_lineno - node.lineno + 1
        if length <= MAX_FUNCTION_LINES or _has_long_reason(node, lines):
            continue
        found.append((length, f"{_rel(path)}:{node.lineno} {node.name} {length}"))
    return found


def _longest_first(found: list[tuple[int, str]]) -> list[str]:
    return [text for _, text in sorted(found, key=lambda item: (-item[0], item[1]))]


def _all_offenders() -> tuple[list[str], list[str]]:
    modules, functions = [], []
    for path in _modules():
        lines = path.read_text(encoding="utf-8").splitlines()
        modules += _module_offenders(path, lines)
        functions += _function_offenders(path, lines)
    return _longest_first(modules), _longest_first(functions)


def _offenders_in(source: str) -> list[str]:
    lines = source.splitlines()
    return [text for _, text in _function_offenders(PACKAGE / "example.py", lines)]


def test_long_reason_convention():
    filler = "".join(f"    x{k} = {k}\n" for k in range(MAX_FUNCTION_LINES))
    plain = "def plain():\n" + filler
    marked = "def marked():\n    # long: one row per camera model\n" + filler
    wrapped = "@decorator\ndef wrapped(\n    a,\n    b,\n) -> int:\n    # long: one row per camera model\n" + filler
    bare = "def bare():\n    # long:\n" + filler
    late = "def late():\n    x = 0\n    # long: too late, not the first line\n" + filler
    assert _offenders_in(plain) == [f"splat2sim/example.py:1 plain {MAX_FUNCTION_LINES + 1}"]
    assert _offenders_in(marked) == []
    assert _offenders_in(wrapped) == []
    assert len(_offenders_in(bare)) == 1
    assert len(_offenders_in(late)) == 1
    long_module = ["x = 0"] * (MAX_MODULE_LINES + 1)
    assert len(_module_offenders(PACKAGE / "example.py", long_module)) == 1
    assert _module_offenders(PACKAGE / "example.py", ['"""Doc."""', "# long: generated table", *long_module]) == []


def test_package_found():
    assert len(_modules()) > 10, f"no package at {PACKAGE}"


def test_no_module_over_400_lines():
    modules, _ = _all_offenders()
    if modules:
        pytest.fail(
            f"{len(modules)} module(s) over {MAX_MODULE_LINES} lines "
            "(split by concern, or add '# long: <reason>' in the first 5 lines):\n" + "\n".join(modules)
        )


def test_no_function_over_80_lines():
    _, functions = _all_offenders()
    if functions:
        pytest.fail(
            f"{len(functions)} function(s) over {MAX_FUNCTION_LINES} lines "
            "(split into helpers, or start the body with '# long: <reason>'):\n" + "\n".join(functions)
        )
