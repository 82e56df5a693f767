"""Operators on names: variables, attributes and methods, builtins, calls, return values."""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterator

from ..source import BUILTIN_NAMES, Edit, Source, target_names
from .common import Mutation, is_called, mutation, with_fields

ATTRIBUTE_GROUPS = (
    ("lower", "upper", "swapcase", "capitalize", "title", "casefold"),
    ("isupper", "islower", "isdigit", "isalpha", "isalnum", "isspace", "istitle", "isnumeric"),
    ("startswith", "endswith"),
    ("strip", "lstrip", "rstrip"),
    ("find", "rfind", "index", "rindex", "count"),
    ("split", "rsplit", "splitlines"),
    ("ljust", "rjust", "center"),
    ("append", "extend", "insert", "remove"),
    ("sort", "reverse"),
    ("keys", "values", "items"),
    ("get", "pop", "setdefault"),
    ("add", "discard", "remove"),
    ("union", "intersection", "difference", "symmetric_difference"),
    ("floor", "ceil", "trunc"),
    ("sqrt", "exp", "log", "log2", "log10"),
    ("sin", "cos", "tan"),
)

BUILTIN_SWAPS = {
    "min": ("max",),
    "max": ("min",),
    "any": ("all",),
    "all": ("any",),
    "sum": ("len", "max", "min"),
    "len": ("sum",),
    "int": ("round", "float"),
    "round": ("int",),
    "float": ("int",),
    "list": ("sorted", "set", "tuple"),
    "set": ("list", "sorted"),
    "sorted": ("list", "set"),
    "tuple": ("list",),
    "str": ("repr",),
    "filter": ("map",),
    "map": ("filter",),
}

STRING_METHODS = ("lower", "upper", "swapcase", "strip")
WRAPPERS_SEQUENCE = ("len", "set", "sorted", "list")
COMPARE_WRAPPERS = ("set", "sorted", "len", "abs", "str")
MAX_NAMES = 12  # variable replacement: at most this many names per site


def _name_order(name: str, candidates: list[str], statement_text: str) -> list[str]:
    def key(other: str):
        on_line = other in statement_text
        return (not on_line, -difflib.SequenceMatcher(None, name, other).ratio(), other)

    return sorted(candidates, key=key)[:MAX_NAMES]


def variable(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """Variable replacement: a name read (or assigned) replaced by another name in scope of a
    compatible kind: a function by a function, a number by a number when that can be told; a
    number also by the length of a sequence in scope (`total / n` to `total / len(xs)`)."""
    if not isinstance(node, ast.Name):
        return
    scope = source.scope_at(node)
    statement = source.statement_of(node)
    statement_text = ast.unparse(statement) if statement is not None else ""
    if isinstance(node.ctx, ast.Load):
        if is_called(source, node):
            candidates = [n for n in scope.callables if n != node.id]
        else:
            if node.id not in scope.values and node.id in BUILTIN_NAMES:
                return
            kind = scope.values.get(node.id)
            candidates = [
                n
                for n, other_kind in scope.values.items()
                if n != node.id and (kind is None or other_kind is None or other_kind == kind)
            ]
    elif isinstance(node.ctx, ast.Store) and isinstance(statement, ast.Assign | ast.AugAssign):
        if source.function_of(node) is None:
            return
        kind = scope.values.get(node.id)
        candidates = [
            n
            for n, other_kind in scope.values.items()
            if n != node.id and (kind is None or other_kind is None or other_kind == kind)
        ]
    else:
        return
    for name in _name_order(node.id, candidates, statement_text):
        yield mutation(source, "variable", node, name)
    if isinstance(node.ctx, ast.Load) and not is_called(source, node):
        if scope.values.get(node.id) in ("num", None):
            sized = [n for n, k in scope.values.items() if k in ("seq", "str") and n != node.id]
            for name in sized[:MAX_NAMES]:
                yield mutation(source, "variable", node, f"len({name})")


def attribute(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """Attribute or method replacement by a similar one on the same receiver: `lower` by
    `upper` or `swapcase`, `startswith` by `endswith`, `math.floor` by `math.ceil`, or another
    attribute the file uses on the same receiver with a similar name."""
    if not isinstance(node, ast.Attribute) or not isinstance(node.ctx, ast.Load):
        return
    options: list[str] = []
    for group in ATTRIBUTE_GROUPS:
        if node.attr in group:
            options += [a for a in group if a != node.attr]
    if not options:
        receiver = ast.unparse(node.value)
        used = {
            other.attr
            for other in ast.walk(source.tree)
            if isinstance(other, ast.Attribute) and ast.unparse(other.value) == receiver
        }
        options = difflib.get_close_matches(node.attr, sorted(used - {node.attr}), 5, 0.5)
    end = source.span(node)[1]
    for attr in dict.fromkeys(options):
        edit = Edit(end - len(node.attr), end, attr)
        yield Mutation("attribute", node.lineno, (edit,), f"`.{node.attr}` → `.{attr}`")


def builtin(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """Builtin replacement: `min` by `max`, `any` by `all`, `int` by `round`, `list` by `sorted`
    and so on; `sorted(x)` / `x.sort()` with the `reverse` flag turned on or off."""
    if not isinstance(node, ast.Call):
        return
    func = node.func
    if isinstance(func, ast.Name) and func.id in BUILTIN_SWAPS:
        if func.id not in source.scope_at(node).values:
            for name in BUILTIN_SWAPS[func.id]:
                yield mutation(source, "builtin", func, name)
    is_sorted = isinstance(func, ast.Name) and func.id == "sorted"
    is_sort = isinstance(func, ast.Attribute) and func.attr == "sort"
    if is_sorted or is_sort:
        keywords = [k for k in node.keywords if k.arg != "reverse"]
        current = next((k.value for k in node.keywords if k.arg == "reverse"), None)
        if current is None:
            keywords.append(ast.keyword("reverse", ast.Constant(True)))
        elif not (isinstance(current, ast.Constant) and current.value is False):
            keywords.append(ast.keyword("reverse", ast.UnaryOp(ast.Not(), current)))
        yield mutation(source, "builtin", node, with_fields(node, keywords=keywords))


def return_value(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """Return value replacement: `return <expression>` by `return <variable>` for the
    function's variables of a compatible kind."""
    if not isinstance(node, ast.Return) or node.value is None:
        return
    if isinstance(node.value, ast.Name | ast.Constant):
        return
    scope = source.scope_at(node.value)
    function = source.function_of(node)
    if function is None:
        return
    own = {a.arg for a in function.args.args} | set(target_names(function))
    locals_ = [n for n in scope.values if n in own or n in _assigned(function)]
    for name in locals_[:MAX_NAMES]:
        yield mutation(source, "return_value", node.value, name)


def _assigned(function: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def wrap(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """Wrap an expression in a builtin: `abs(a - b)`, `max(0, e)`, `len(x)`, `set(x)`,
    `sorted(x)`; both sides of a comparison at once (`set(a) == set(b)`); a slice added to a
    sequence (`xs[1:]`, `xs[::-1]`)."""
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        if isinstance(node.ops[0], ast.Eq | ast.NotEq):
            left, right = ast.unparse(node.left), ast.unparse(node.comparators[0])
            op = "==" if isinstance(node.ops[0], ast.Eq) else "!="
            for name in COMPARE_WRAPPERS:
                yield mutation(source, "wrap", node, f"{name}({left}) {op} {name}({right})")
        return
    if not isinstance(node, ast.Name | ast.BinOp | ast.Call | ast.ListComp | ast.Subscript):
        return
    if getattr(node, "ctx", ast.Load()).__class__ is not ast.Load or is_called(source, node):
        return
    parent = source.parents.get(node)
    if isinstance(parent, ast.Attribute) or isinstance(node, ast.Name) and node.id in BUILTIN_NAMES:
        return
    text = ast.unparse(node)
    kind = None
    if isinstance(node, ast.Name):
        kind = source.scope_at(node).values.get(node.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub) or kind == "num":
        yield mutation(source, "wrap", node, f"abs({text})")
        yield mutation(source, "wrap", node, f"max(0, {text})")
        return
    if isinstance(node, ast.BinOp):
        return
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id in ("len", "abs", "int", "sum", "set", "sorted"):
            return
    for name in WRAPPERS_SEQUENCE:
        yield mutation(source, "wrap", node, f"{name}({text})")
    if isinstance(parent, ast.Return | ast.Assign) or isinstance(node, ast.ListComp):
        atomic = isinstance(node, ast.Name | ast.Call | ast.ListComp | ast.Subscript)
        for suffix in ("[1:]", "[:-1]", "[::-1]"):
            yield mutation(source, "wrap", node, text + suffix if atomic else f"({text}){suffix}")


def call(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """Call removal and insertion: `f(x)` to `x`, `s.strip()` to `s`, `f(x)` to `f(f(x))` for
    a one-argument function of the file, `s` to `s.lower()` (and other case methods) for a
    string."""
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name) and len(node.args) == 1 and not node.keywords:
            if not isinstance(node.args[0], ast.Starred | ast.GeneratorExp):
                yield mutation(source, "call", node, node.args[0])
            own = {
                f.name: len(f.args.args)
                for f in ast.walk(source.tree)
                if isinstance(f, ast.FunctionDef)
            }
            if own.get(func.id) == 1:
                yield mutation(source, "call", node.args[0], ast.unparse(node))
        elif isinstance(func, ast.Attribute):
            receiver = func.value
            is_module = (
                isinstance(receiver, ast.Name) and receiver.id not in source.scope_at(node).values
            )
            if not is_module:
                yield mutation(source, "call", node, receiver)
        return
    if not isinstance(node, ast.Name) or not isinstance(node.ctx, ast.Load):
        return
    parent = source.parents.get(node)
    if isinstance(parent, ast.Attribute) or is_called(source, node):
        return
    kind = source.scope_at(node).values.get(node.id)
    direct = isinstance(parent, ast.Assign | ast.Return | ast.Call | ast.Compare)
    if kind == "str" or (kind is None and direct and node.id not in BUILTIN_NAMES):
        for method in STRING_METHODS:
            yield mutation(source, "call", node, f"{node.id}.{method}()")
