"""Operators on statements: delete one, insert a guard, strengthen or weaken a condition."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ..source import Edit, Source
from .common import (
    Mutation,
    block_of,
    conditions_in,
    mutation,
    predicates,
    starts_line,
)

MAX_GUARDS = 24


def _removable(source: Source, statement: ast.stmt) -> bool:
    return isinstance(
        statement,
        ast.Expr | ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Return | ast.If | ast.For
        | ast.While | ast.Break | ast.Continue | ast.Raise | ast.With,
    )  # fmt: skip


def _ends_line(source: Source, statement: ast.stmt) -> bool:
    rest = source.line_text(statement.end_lineno)
    return rest[statement.end_col_offset :].strip() == "" if rest.isascii() else False


def delete(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """Statement deletion: drop a statement (an `if` block, a loop, an assignment, a call, a
    `return` that is not the last statement); a block left empty gets `pass`."""
    if not isinstance(node, ast.stmt) or not _removable(source, node):
        return
    block = block_of(source, node)
    if not block or (isinstance(node, ast.Return) and node is block[-1] and len(block) > 1):
        return
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return  # a docstring
    text = source.segment(node).splitlines()[0].strip()
    if len(block) == 1 or not (starts_line(source, node) and _ends_line(source, node)):
        if len(block) == 1 or not starts_line(source, node):
            yield Mutation(
                "delete", node.lineno, (source.replace(node, "pass"),), f"delete `{text}`", True
            )
        return
    start = source.offset(node.lineno, 0)
    end = source.offset(node.end_lineno, 0) + len(source.line_text(node.end_lineno))
    yield Mutation("delete", node.lineno, (Edit(start, end, ""),), f"delete `{text}`", True)


def _guard_values(function: ast.AST) -> list[str]:
    values = ["None", "0"]
    for node in ast.walk(function):
        if isinstance(node, ast.Return) and node.value is not None:
            if isinstance(node.value, ast.Constant | ast.Name | ast.List | ast.Tuple):
                values.append(ast.unparse(node.value))
    values += [a.arg for a in function.args.args]
    return list(dict.fromkeys(values))


def guard(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """Guard insertion: `if <cond>: return <value>` before a statement (or `continue` in a
    loop), where cond is `not <parameter>` or a condition the function already tests, and value
    one the function already returns (or None, 0, or a parameter)."""
    if not isinstance(node, ast.stmt) or isinstance(node, ast.FunctionDef | ast.ClassDef):
        return
    function = source.function_of(node)
    if function is None or not starts_line(source, node) or not block_of(source, node):
        return
    conditions = [f"not {a.arg}" for a in function.args.args]
    conditions += [ast.unparse(c) for c in conditions_in(function)][:8]
    in_loop = isinstance(source.parents.get(node), ast.For | ast.While)
    outcomes = [f"return {v}" for v in _guard_values(function)] + (["continue"] if in_loop else [])
    indent = source.indentation(node.lineno)
    at = source.offset(node.lineno, 0)
    count = 0
    for condition in conditions:
        for outcome in outcomes:
            if count >= MAX_GUARDS:
                return
            count += 1
            text = f"{indent}if {condition}: {outcome}\n"
            yield Mutation(
                "guard", node.lineno, (Edit(at, at, text),), f"insert `{text.strip()}`", True
            )


def condition(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """Condition strengthening and weakening: `c` to `c and d` or `c or d`, where d is another
    condition of the function or a yes/no function of the same function (`is_prime(n)`)
    applied to a name c uses."""
    parent = source.parents.get(node)
    is_test = isinstance(parent, ast.If | ast.While | ast.IfExp) and parent.test is node
    if not is_test and not (isinstance(parent, ast.comprehension) and node in parent.ifs):
        return
    function = source.function_of(node) or source.tree
    own = ast.unparse(node)
    others = [ast.unparse(c) for c in conditions_in(function)]
    names = sorted({n.id for n in ast.walk(node) if isinstance(n, ast.Name)})
    others += [f"{p}({n})" for p in predicates(source, function) for n in names]
    for other in dict.fromkeys(others):
        if other == own or other in own:
            continue
        for connector in ("and", "or"):
            new = f"{own} {connector} {other}"
            if isinstance(node, ast.BoolOp | ast.IfExp | ast.Lambda | ast.NamedExpr):
                new = f"({own}) {connector} {other}"
            yield mutation(source, "condition", node, new, risky=True)
