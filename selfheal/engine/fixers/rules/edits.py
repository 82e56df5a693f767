"""Small text edits on Python source that keep everything else byte for byte."""

from __future__ import annotations

import ast

from .code import STDLIB_MODULES


def replace_spans(source: str, spans: list[tuple[int, int, int]], text: str) -> str:
    """Replace each (line, start, end) span by `text`. Lines are 1-based and columns are UTF-8
    byte offsets, as `ast` reports them."""
    lines = source.splitlines(keepends=True)
    for line, start, end in sorted(set(spans), reverse=True):
        encoded = lines[line - 1].encode()
        lines[line - 1] = (encoded[:start] + text.encode() + encoded[end:]).decode()
    return "".join(lines)


def replace_lines(source: str, first: int, last: int, new_lines: list[str]) -> str:
    """Replace lines first..last (1-based, inclusive) by `new_lines` (each without newline)."""
    lines = source.splitlines(keepends=True)
    newline = "\n"
    replacement = [line + newline for line in new_lines]
    if last == len(lines) and not lines[-1].endswith("\n") and replacement:
        replacement[-1] = replacement[-1][: -len(newline)]
    return "".join(lines[: first - 1] + replacement + lines[last:])


def line_indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def statement_span(source: str, node: ast.stmt) -> tuple[int, int, str, str] | None:
    """(first line, last line, indentation, trailing comment) when `node` occupies whole lines
    on its own; None when it shares a line with another statement."""
    lines = source.splitlines()
    first, last = node.lineno, node.end_lineno or node.lineno
    head = lines[first - 1].encode()[: node.col_offset].decode()
    tail = lines[last - 1].encode()[node.end_col_offset or 0 :].decode().strip()
    if head.strip() or (tail and not tail.startswith("#")):
        return None
    return first, last, head, ("  " + tail if tail else "")


def replace_statement(source: str, node: ast.stmt, new_statement: str) -> str | None:
    span = statement_span(source, node)
    if span is None:
        return None
    first, last, indent, comment = span
    new_lines = [indent + line for line in new_statement.splitlines()]
    new_lines[-1] += comment
    return replace_lines(source, first, last, new_lines)


def is_stdlib_import(node: ast.stmt) -> bool:
    if isinstance(node, ast.Import):
        return all(alias.name.split(".")[0] in STDLIB_MODULES for alias in node.names)
    if isinstance(node, ast.ImportFrom):
        return not node.level and (node.module or "").split(".")[0] in STDLIB_MODULES
    return False


def is_future_import(node: ast.stmt) -> bool:
    return isinstance(node, ast.ImportFrom) and node.module == "__future__"


def insert_import(source: str, statement: str, stdlib: bool = False) -> str:
    """Insert an import statement after the module docstring and the leading imports.

    `from __future__` imports stay first; a stdlib import goes after the last stdlib import of the
    leading block (so it lands in the stdlib group), any other after the whole block.
    """
    tree = ast.parse(source)
    body = tree.body
    start = 0
    after_line = 0
    has_docstring = bool(
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    )
    if has_docstring:
        after_line = body[0].end_lineno or 0
        start = 1
    leading_imports = []
    for node in body[start:]:
        if not isinstance(node, ast.Import | ast.ImportFrom):
            break
        leading_imports.append(node)
    if leading_imports:
        anchors = leading_imports
        if stdlib:
            stdlib_imports = [n for n in leading_imports if is_stdlib_import(n)]
            futures = [n for n in leading_imports if is_future_import(n)]
            anchors = stdlib_imports or futures or leading_imports
        anchor = anchors[-1]
        if stdlib and not (is_stdlib_import(anchor) or is_future_import(anchor)):
            return _insert_at(source, leading_imports[0].lineno - 1, [statement])
        return _insert_at(source, anchor.end_lineno or anchor.lineno, [statement])
    if has_docstring:
        return _insert_at(source, after_line, ["", statement])
    lines = source.splitlines()
    comments = 0
    while comments < len(lines) and lines[comments].startswith("#"):
        comments += 1
    following_blank = comments >= len(lines) or not lines[comments].strip()
    return _insert_at(source, comments, [statement] if following_blank else [statement, ""])


def _insert_at(source: str, after_line: int, new_lines: list[str]) -> str:
    lines = source.splitlines(keepends=True)
    if after_line and after_line <= len(lines) and not lines[after_line - 1].endswith("\n"):
        lines[after_line - 1] += "\n"
    inserted = [line + "\n" for line in new_lines]
    return "".join(lines[:after_line] + inserted + lines[after_line:])
