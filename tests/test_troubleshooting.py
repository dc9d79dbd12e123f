"""docs/troubleshooting.md against the code: every error class has a row, every row's class
exists, and every message the package raises one of its errors with has a row.

A row's message keys are the backticked fragments in its ``message contains`` cell. A raise
is covered when the literal text of its message contains one of the keys: an f-string's
placeholders read as ``{}``, and ``ExperimentError(field, message)`` as ``field: message``,
the way the command line prints it (``raytune-hpt: error: --max-trials: must be >= 1``). A
raise whose message has no literal text (``ConfigurationError(str(error))``, passing on a
message made elsewhere) is covered by its class's row. A key found nowhere in the package's
strings is stale: the message it named has gone or changed.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from raytune_hpt import errors

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "troubleshooting.md"
PACKAGE = ROOT / "raytune_hpt"
CLASSES = set(errors.__all__)
# A row may also name the plain exceptions a public function raises for a bad argument, or
# "—" for what the command line itself refuses before any code of the package runs.
OTHER_CLASSES = {"ValueError", "TypeError", "FileNotFoundError", "—"}
MIN_KEY = 5  # characters: shorter fragments would match too much
# Functions that make one of the errors: the experiment schema's validators raise _fail(...),
# which pydantic hands back and experiment/_file.py turns into an ExperimentError.
FACTORIES = {"_fail": "ExperimentError"}


@dataclass(frozen=True)
class Row:
    line: int
    classes: tuple[str, ...]
    keys: tuple[str, ...]


@dataclass(frozen=True)
class Raise:
    where: str  # path:line
    error: str
    text: str  # the message's literal text, placeholders as {}


def _rows() -> list[Row]:
    """The rows of the page's table: `| error | message contains | cause | fix |`."""
    rows = []
    for number, line in enumerate(PAGE.read_text().splitlines(), 1):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) != 4 or set(cells[0]) <= set("-: "):
            continue
        if cells[0] == "error":
            continue  # the header
        anchorless = re.sub(r"<a id=\"[^\"]+\"></a>", "", cells[0]).strip()
        classes = tuple(re.findall(r"`([^`]+)`", anchorless)) or (anchorless,)
        rows.append(Row(number, classes, tuple(re.findall(r"`([^`]+)`", cells[1]))))
    return rows


def _text(node: ast.AST | None) -> str:
    """The literal text of a message expression, anything computed as ``{}``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_text(v) if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _text(node.left) + _text(node.right)
    return "{}"


def _message(call: ast.Call, error: str) -> str:
    if error == "ExperimentError" and len(call.args) == 2:
        return f"{_text(call.args[0])}: {_text(call.args[1])}"
    return _text(call.args[0]) if call.args else ""


def _trees() -> list[tuple[Path, ast.AST]]:
    return [(p, ast.parse(p.read_text(encoding="utf-8"))) for p in sorted(PACKAGE.rglob("*.py"))]


def _raises() -> list[Raise]:
    """Every error of an errors.py class the package makes: ``raise SomeError("...")``,
    ``SomeError("...")`` handed on (``self._stop(SearchAbortedError(...))``), and the
    ``FACTORIES``' errors."""
    found = []
    for path, tree in _trees():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            called = getattr(node.func, "id", getattr(node.func, "attr", None))
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if called in FACTORIES:  # _fail(message, field)
                found.append(Raise(where, FACTORIES[called], _message(node, called)))
            elif called in CLASSES:
                found.append(Raise(where, called, _message(node, called)))
    return found


def _strings() -> list[str]:
    """The literal text of every string in the package (f-strings with ``{}``)."""
    return [_text(node) for _, tree in _trees() for node in ast.walk(tree)
            if isinstance(node, (ast.Constant, ast.JoinedStr))
            and not (isinstance(node, ast.Constant) and not isinstance(node.value, str))]


def _has_literal_text(message: str) -> bool:
    return bool(re.sub(r"\{\}|[\s:.;,()'\"]", "", message))


ROWS = _rows()
RAISES = _raises()


def test_the_page_has_a_table_of_rows():
    assert len(ROWS) >= len(CLASSES), "the table of docs/troubleshooting.md was not found"
    assert len(RAISES) > 50  # the scan finds the package's raises


def test_every_error_class_has_a_row():
    named = {c for row in ROWS for c in row.classes}
    assert sorted(CLASSES - named) == [], "give each of these classes a row"


def test_every_row_names_an_error_that_exists():
    unknown = [(row.line, c) for row in ROWS for c in row.classes
               if c not in CLASSES | OTHER_CLASSES]
    assert unknown == [], f"rows (line, class) naming no class of raytune_hpt/errors.py: {unknown}"


def test_every_message_the_package_raises_has_a_row():
    keys = [k for row in ROWS for k in row.keys]
    uncovered = [f"{r.where}: {r.error}: {r.text}" for r in RAISES
                 if _has_literal_text(r.text) and not any(k in r.text for k in keys)]
    assert uncovered == [], (
        "add a row to docs/troubleshooting.md (a fragment of the message in backticks, its "
        "cause, its fix) for:\n" + "\n".join(uncovered)
    )


def test_every_key_still_names_a_message():
    texts = [r.text for r in RAISES] + _strings()
    stale = [(row.line, k) for row in ROWS for k in row.keys if not any(k in t for t in texts)]
    assert stale == [], f"these keys (line, key) match no message of the package any more: {stale}"
    short = [(row.line, k) for row in ROWS for k in row.keys if len(k) < MIN_KEY]
    assert short == [], f"keys shorter than {MIN_KEY} characters match too much: {short}"


@pytest.mark.parametrize("anchor", ["command-line", "experiment-file", "data", "search", "results",
                                    "cluster"])
def test_the_areas_other_pages_link_to_exist(anchor):
    assert f'<a id="{anchor}"></a>' in PAGE.read_text()
