"""What every mutation operator shares: the Mutation record and helpers to read the AST."""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..source import Edit, Source


@dataclass(frozen=True)
class Mutation:
    operator: str
    line: int
    edits: tuple[Edit, ...]
    description: str
    # Deletes behaviour or weakens/strengthens a condition: preferred last among plausible patches.
    risky: bool = False


Operator = Callable[[Source, ast.AST], Iterator[Mutation]]


def mutation(source: Source, operator: str, node: ast.AST, new, *, risky=False) -> Mutation:
    edit = source.replace(node, new)
    old = source.segment(node)
    return Mutation(operator, node.lineno, (edit,), f"`{old}` → `{edit.text}`", risky)


def with_fields(node: ast.AST, **changes) -> ast.AST:
    new = copy.copy(node)
    for name, value in changes.items():
        setattr(new, name, value)
    return new


def int_constant(node: ast.AST) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and type(node.operand.value) is int
    ):
        return -node.operand.value
    return None


def number(value: int | float) -> ast.AST:
    if value < 0:
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    return ast.Constant(value)


def plus(node: ast.AST, amount: int) -> ast.AST:
    """`node + amount`, folding into an existing `x + k` / `x - k`: (x - 1) + 1 is x."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
        k = int_constant(node.right)
        if k is not None:
            total = (k if isinstance(node.op, ast.Add) else -k) + amount
            if total == 0:
                return node.left
            return ast.BinOp(
                node.left, ast.Add() if total > 0 else ast.Sub(), ast.Constant(abs(total))
            )
    constant = int_constant(node)
    if constant is not None:
        return number(constant + amount)
    return ast.BinOp(node, ast.Add() if amount > 0 else ast.Sub(), ast.Constant(abs(amount)))


def is_string(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        or isinstance(node, ast.JoinedStr)
    )


def is_docstring(source: Source, node: ast.AST) -> bool:
    parent = source.parents.get(node)
    return isinstance(parent, ast.Expr) and isinstance(node, ast.Constant)


def is_test(source: Source, node: ast.AST) -> bool:
    """A condition: an if/while/ternary test, a comprehension filter or an operand of and/or."""
    parent = source.parents.get(node)
    if isinstance(parent, ast.If | ast.While | ast.IfExp | ast.Assert) and parent.test is node:
        return True
    if isinstance(parent, ast.comprehension) and node in parent.ifs:
        return True
    return isinstance(parent, ast.BoolOp)


def is_called(source: Source, node: ast.AST) -> bool:
    parent = source.parents.get(node)
    return isinstance(parent, ast.Call) and parent.func is node


def in_index_context(source: Source, node: ast.AST) -> bool:
    parent = source.parents.get(node)
    if isinstance(parent, ast.Subscript) and parent.slice is node:
        return True
    if isinstance(parent, ast.Slice):
        return True
    return (
        isinstance(parent, ast.Call)
        and isinstance(parent.func, ast.Name)
        and parent.func.id == "range"
        and node in parent.args
    )


def returns_bool(function: ast.AST | None) -> bool:
    if function is None:
        return False
    returns = getattr(function, "returns", None)
    return isinstance(returns, ast.Name) and returns.id == "bool"


def quote_like(original: str, value: str) -> str:
    text = repr(value)
    if original[:1] == '"' and text[:1] == "'" and '"' not in value and "\\" not in text:
        text = '"' + text[1:-1] + '"'
    return text


def conditions_in(function: ast.AST) -> list[ast.AST]:
    found = []
    for node in ast.walk(function):
        if isinstance(node, ast.If | ast.While | ast.IfExp):
            found.append(node.test)
        elif isinstance(node, ast.comprehension):
            found.extend(node.ifs)
        elif isinstance(node, ast.Compare):
            found.append(node)
    unique, seen = [], set()
    for node in found:
        text = ast.unparse(node)
        if text not in seen:
            seen.add(text)
            unique.append(node)
    return unique


def predicates(source: Source, function: ast.AST | None) -> list[str]:
    """Functions in reach that take one argument and answer yes or no (`is_prime`, `-> bool`)."""
    names = []
    scopes = [source.tree] + ([function] if function is not None else [])
    for scope in scopes:
        for node in ast.walk(scope):
            if not isinstance(node, ast.FunctionDef) or node is function:
                continue
            if len(node.args.args) != 1:
                continue
            if node.name.startswith(("is_", "has_", "can_")) or returns_bool(node):
                names.append(node.name)
    return sorted(set(names))


def starts_line(source: Source, statement: ast.stmt) -> bool:
    line = source.line_text(statement.lineno)
    return len(line) - len(line.lstrip()) == statement.col_offset


def block_of(source: Source, statement: ast.stmt) -> list[ast.stmt]:
    parent = source.parents.get(statement)
    for name in ("body", "orelse", "finalbody"):
        block = getattr(parent, name, None)
        if isinstance(block, list) and statement in block:
            return block
    return []


def loaded(node: ast.AST) -> bool:
    return isinstance(getattr(node, "ctx", ast.Load()), ast.Load)
