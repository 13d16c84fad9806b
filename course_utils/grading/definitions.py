"""What of a demonstration cell still runs while a notebook is graded: its definitions.

The release's demonstration cells (code cells without nbgrader metadata: training runs, plots,
comparisons) are skipped while grading, for speed. An answer may still call a helper one of them defines
(a loss, a ``make_model()``, a constant ``SEED``), and then fails with a ``NameError`` although it is
right. :func:`definitions_only` keeps what such a cell *defines* and drops what it *does*:

- kept: top-level ``import`` and ``from ... import`` statements, ``def`` / ``async def`` (decorators
  included) and ``class`` definitions, and assignments to plain names of a literal value (a constant or
  a tuple, list, set or dict of literals: ``SEED = 0``, ``LRS = (0.1, 0.01)``, ``SEED: int = 0``) or of
  a lookup that calls nothing (``rosenbrock = landscapes.LANDSCAPES["rosenbrock"]``, ``f = torch.sin``);
  a lookup runs inside ``try``, so one of a result a skipped training run would have made leaves its name
  unbound instead of failing, and one of a name the same cell binds in a dropped statement is dropped;
- dropped: everything else: calls and expressions (``train(model)``, ``plt.show()``), assignments of
  anything but a literal or a lookup (``fig = plot(...)``, ``model = Net()``; ``losses = []`` is a literal and kept),
  ``for`` / ``while`` / ``if`` / ``with`` / ``try`` blocks, augmented assignments, assignments to
  attributes or items, ``del``, ``assert``.

Definitions are cheap: running them costs microseconds, while the training runs and plots the rest of the
cell holds can cost the whole grading time. (A decorator, a default argument value or a class body still
runs when its definition does, as written.)

IPython syntax: a line magic, shell or help line (``%matplotlib inline``, ``!pip install ...``,
``torch.randn?``) that keeps the cell from parsing is blanked (inside a definition it becomes ``pass``); a cell magic other than
``%%time`` / ``%%capture`` (``%%bash``, ``%%writefile``) means the cell is not Python, and nothing of it is
kept. A cell that does not parse gives ``""``.
"""

from __future__ import annotations

import ast

__all__ = ["definitions_only", "is_definition"]

_PYTHON_CELL_MAGICS = ("time", "capture")


def _literal(node: ast.AST | None) -> bool:
    """A constant, a signed number, or a tuple / list / set / dict of literals (no names, calls or operators)."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, (int, float, complex)) \
            and not isinstance(node.operand.value, bool)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_literal(element) for element in node.elts)
    if isinstance(node, ast.Dict):
        return all(key is not None and _literal(key) for key in node.keys) and all(_literal(v) for v in node.values)
    return False


def _lookup(node: ast.AST | None) -> bool:
    """A literal, or a name looked up without calling anything: ``landscapes.LANDSCAPES["rosenbrock"]``."""
    if _literal(node) or isinstance(node, ast.Name):
        return True
    if isinstance(node, ast.Attribute):
        return _lookup(node.value)
    if isinstance(node, ast.Subscript):
        return _lookup(node.value) and _literal(node.slice)
    return False


def _plain_target(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return True
    if isinstance(node, ast.Starred):
        return _plain_target(node.value)
    if isinstance(node, (ast.Tuple, ast.List)):
        return all(_plain_target(element) for element in node.elts)
    return False


def is_definition(statement: ast.stmt) -> bool:
    """True for a top-level statement :func:`definitions_only` keeps."""
    if isinstance(statement, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(statement, ast.Assign):
        return all(_plain_target(target) for target in statement.targets) and _lookup(statement.value)
    if isinstance(statement, ast.AnnAssign):
        return isinstance(statement.target, ast.Name) and statement.value is not None and _lookup(statement.value)
    return False


def _ipython_line(line: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(("%", "!", "?")) or (stripped.endswith("?") and not stripped.startswith("#"))


def _without_magics(source: str) -> tuple[ast.Module, list[str]] | None:
    """The parsed cell and its lines, IPython magic and shell lines that break parsing blanked; None if not Python."""
    lines = source.split("\n")
    first = next((line.strip() for line in lines if line.strip()), "")
    if first.startswith("%%"):
        magic = first[2:].split(None, 1)[0] if first[2:].strip() else ""
        if magic not in _PYTHON_CELL_MAGICS:
            return None
    for _ in range(len(lines) + 1):
        try:
            return ast.parse("\n".join(lines)), lines
        except SyntaxError as error:
            index = (error.lineno or 0) - 1
            if not 0 <= index < len(lines) or not _ipython_line(lines[index]):
                return None
            line = lines[index]
            indent = line[: len(line) - len(line.lstrip())]
            lines[index] = f"{indent}pass" if indent else ""
        except (ValueError, RecursionError, MemoryError):  # null bytes, absurd nesting
            return None
    return None


def _first_line(statement: ast.stmt) -> int:
    decorators = getattr(statement, "decorator_list", None) or []
    return min([statement.lineno, *(decorator.lineno for decorator in decorators)])


def definitions_only(source: str) -> str:
    """The imports, definitions and literal assignments of the cell ``source``, as source ("" if none or not Python).

    Kept statements are copied line for line (comments and formatting inside them included) and keep
    their order; a statement that shares a line with a dropped one (``import os; train()``) is written
    out again by ``ast.unparse``.
    """
    parsed = _without_magics(source)
    if parsed is None:
        return ""
    tree, lines = parsed
    statements = tree.body
    kept = _kept(statements)
    pieces: list[str] = []
    for position, statement in enumerate(statements):
        if not kept[position]:
            continue
        start, end = _first_line(statement), statement.end_lineno or statement.lineno
        previous_end = statements[position - 1].end_lineno if position else 0
        next_start = _first_line(statements[position + 1]) if position + 1 < len(statements) else len(lines) + 1
        if (previous_end or 0) < start and end < next_start:
            piece = "\n".join(lines[start - 1:end])
        else:
            piece = ast.unparse(statement)
        if isinstance(statement, (ast.Assign, ast.AnnAssign)) and isinstance(statement.value, (ast.Attribute, ast.Subscript)):
            piece = _tolerant(piece)
        pieces.append(piece)
    if not pieces:
        return ""
    result = "\n".join(pieces) + "\n"
    try:
        ast.parse(result)
    except SyntaxError:  # pragma: no cover - copied lines that do not stand alone; unparse never fails so
        result = "\n".join(ast.unparse(s) for s, keep in zip(statements, kept) if keep) + "\n"
    return result


def _tolerant(assignment: str) -> str:
    """A lookup that leaves its name unbound, instead of failing, when what it looks up is missing: the
    value may come from another demonstration cell's training run, which grading skips."""
    body = "\n".join("    " + line for line in assignment.split("\n"))
    return f"try:\n{body}\nexcept (NameError, AttributeError, LookupError, TypeError):\n    pass"


def _root_name(node: ast.AST) -> str | None:
    """The name a lookup starts from (``split`` in ``split.X_train.shape``), None for a literal."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _bound_names(statement: ast.stmt) -> set[str]:
    targets = statement.targets if isinstance(statement, ast.Assign) else [getattr(statement, "target", None)]
    return {node.id for target in targets if target is not None for node in ast.walk(target) if isinstance(node, ast.Name)}


def _kept(statements: list[ast.stmt]) -> list[bool]:
    """Which statements :func:`definitions_only` keeps: the definitions, except a lookup of a name this
    cell binds only in a statement that is dropped (``split = load(); n = split.X.shape``: ``n`` goes too,
    or it would fail with a NameError)."""
    dropped: set[str] = set()
    kept = []
    for statement in statements:
        keep = is_definition(statement)
        if keep and isinstance(statement, (ast.Assign, ast.AnnAssign)) and _root_name(statement.value) in dropped:
            keep = False
        if isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            (dropped.difference_update if keep else dropped.update)(_bound_names(statement))
        kept.append(keep)
    return kept
