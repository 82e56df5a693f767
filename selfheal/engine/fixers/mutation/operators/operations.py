"""Operators on operators and values: comparisons, arithmetic, logic, constants, strings,
bounds, operand order, and reducing an expression to a part of it."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ..source import Edit, Source
from .common import (
    Mutation,
    in_index_context,
    int_constant,
    is_docstring,
    is_string,
    is_test,
    loaded,
    mutation,
    number,
    plus,
    quote_like,
    returns_bool,
    with_fields,
)

ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
NON_COMMUTATIVE = (ast.Sub, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.Add)
PUNCTUATION = "()[]{}<> ,.;:-_"


# Replacements in order of preference: the negation of an equality test first, the
# off-by-one sibling of an ordering test first.
RELATIONAL_ORDER = {
    ast.Eq: (ast.NotEq, ast.LtE, ast.GtE, ast.Lt, ast.Gt),
    ast.NotEq: (ast.Eq, ast.Lt, ast.Gt, ast.LtE, ast.GtE),
    ast.Lt: (ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq),
    ast.LtE: (ast.Lt, ast.GtE, ast.Gt, ast.Eq, ast.NotEq),
    ast.Gt: (ast.GtE, ast.Lt, ast.LtE, ast.Eq, ast.NotEq),
    ast.GtE: (ast.Gt, ast.LtE, ast.Lt, ast.Eq, ast.NotEq),
    ast.In: (ast.NotIn,),
    ast.NotIn: (ast.In,),
    ast.Is: (ast.IsNot,),
    ast.IsNot: (ast.Is,),
}


def relational(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """Relational operator replacement: `==` by `!=` (then `<=`, `>=`, ...), `<` by `<=` (then
    `>`, `>=`, ...), `in` by `not in`, `is` by `is not`, each comparison of a chain on its own.
    A comparison with a string literal only trades `==` and `!=`: `b < '>'` is no fix."""
    if not isinstance(node, ast.Compare):
        return
    operands = [node.left, *node.comparators]
    for index, op in enumerate(node.ops):
        with_string = is_string(operands[index]) or is_string(operands[index + 1])
        for cls in RELATIONAL_ORDER[type(op)]:
            if with_string and cls not in (ast.Eq, ast.NotEq, ast.In, ast.NotIn):
                continue
            ops = list(node.ops)
            ops[index] = cls()
            yield mutation(source, "relational", node, with_fields(node, ops=ops))


def arithmetic(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """Arithmetic operator replacement among `+ - * / // % **`, also in augmented assignments
    (`x -= y` to `x //= y`), and an augmented assignment turned into a plain one
    (`x *= x * y` to `x = x * y`)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ARITHMETIC):
        if is_string(node.left) and isinstance(node.op, ast.Mod):
            return
        for cls in ARITHMETIC:
            if not isinstance(node.op, cls):
                yield mutation(source, "arithmetic", node, with_fields(node, op=cls()))
    elif isinstance(node, ast.AugAssign) and isinstance(node.op, ARITHMETIC):
        for cls in ARITHMETIC:
            if not isinstance(node.op, cls):
                yield mutation(source, "arithmetic", node, with_fields(node, op=cls()))
        plain = ast.Assign(targets=[node.target], value=node.value, lineno=node.lineno)
        yield mutation(source, "arithmetic", node, plain)


def logical(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """Logical connector replacement: `and` by `or` and back."""
    if isinstance(node, ast.BoolOp):
        new_op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        yield mutation(source, "logical", node, with_fields(node, op=new_op))


def negation(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """`not` insertion and removal on a condition (if/while/ternary tests, comprehension
    filters, and/or operands, the value a yes/no function returns). Comparisons are left to the
    relational operator, whose `<` to `>=` is the same negation written plainly."""
    parent = source.parents.get(node)
    is_return_value = (
        isinstance(parent, ast.Return)
        and parent.value is node
        and returns_bool(source.function_of(node))
    )
    if not (is_test(source, node) or is_return_value):
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield mutation(source, "negation", node, node.operand)
    elif not isinstance(node, ast.Compare | ast.Constant):
        yield mutation(source, "negation", node, ast.UnaryOp(ast.Not(), node))


def constant(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """Integer constant ±1 (which covers 0 to 1 and 1 to 0), `True` to `False` and back,
    a float constant ±1 or inverted (0.5 to 2.0)."""
    parent = source.parents.get(node)
    if isinstance(node, ast.Constant) and isinstance(parent, ast.UnaryOp):
        return  # the negative number is handled as a whole
    value = int_constant(node)
    if value is not None:
        for new in (value + 1, value - 1):
            yield mutation(source, "constant", node, number(new))
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        yield mutation(source, "constant", node, ast.Constant(not node.value))
    elif isinstance(node, ast.Constant) and type(node.value) is float:
        value = node.value
        options = [value + 1, value - 1] + ([1 / value] if value else [])
        for new in dict.fromkeys(options):
            if new != value:
                yield mutation(source, "constant", node, number(new))


def string(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """String constant replacement: by the empty string, by another string constant of the
    same function, reversed, without its first or last character, or in another case; a single
    bracket or punctuation character by another (`'('` to `'['`, `','` to `' '`)."""
    if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        return
    if is_docstring(source, node) or source.inside_fstring(node):
        return
    value = node.value
    original = source.segment(node)
    options = [""]
    function = source.function_of(node) or source.tree
    for other in ast.walk(function):
        if isinstance(other, ast.Constant) and isinstance(other.value, str):
            if not is_docstring(source, other) and len(other.value) <= 40:
                options.append(other.value)
    if 1 < len(value) <= 40:
        options += [value[::-1], value[:-1], value[1:]]
    if len(value) <= 40:
        options += [value.upper(), value.lower(), value.capitalize(), value.strip()]
    if len(value) == 1 and value in PUNCTUATION:
        options += list(PUNCTUATION)
    for new in dict.fromkeys(options):
        if new != value:
            yield mutation(source, "string", node, quote_like(original, new))


def bound(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """Index, slice and range bound ±1: `a[i]` to `a[i + 1]`, `a[:n]` to `a[:n - 1]` or `a[:]`,
    a missing slice bound added (`a[1:]`, `a[:-1]`), `range(n)` to `range(n + 1)` or
    `range(1, n)`, `range(1, n)` to `range(n)`. Integer literals are left to `constant`."""
    if isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Slice):
        index = node.slice
        if int_constant(index) is None and not isinstance(index, ast.Tuple | ast.Constant):
            for amount in (1, -1):
                yield mutation(source, "bound", index, plus(index, amount))
    elif isinstance(node, ast.Slice):
        for name in ("lower", "upper"):
            value = getattr(node, name)
            if value is None:
                added = ast.Constant(1) if name == "lower" else number(-1)
                yield mutation(source, "bound", node, with_fields(node, **{name: added}))
                continue
            if int_constant(value) is None:
                for amount in (1, -1):
                    yield mutation(source, "bound", value, plus(value, amount))
            yield mutation(source, "bound", node, with_fields(node, **{name: None}), risky=True)
        if node.step is not None:
            yield mutation(source, "bound", node, with_fields(node, step=None))
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        args = node.args
        for arg in args:
            if int_constant(arg) is None and not isinstance(arg, ast.Starred):
                for amount in (1, -1):
                    yield mutation(source, "bound", arg, plus(arg, amount))
        if len(args) == 1:
            yield mutation(
                source, "bound", node, with_fields(node, args=[ast.Constant(1), args[0]])
            )
        elif len(args) == 2:
            yield mutation(source, "bound", node, with_fields(node, args=[args[1]]))


def offset(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """Off-by-one outside indexing: an addition, subtraction or `len(...)` ±1
    (`m - n` to `m - n + 1`)."""
    if in_index_context(source, node) or is_test(source, node):
        return
    is_sum = isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub)
    is_len = (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len"
    )
    if is_sum and (is_string(node.left) or is_string(node.right)):
        return
    if is_sum or is_len:
        for amount in (1, -1):
            yield mutation(source, "offset", node, plus(node, amount))


def swap(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """Argument and operand swap: two arguments of a call, the operands of a non-commutative
    operator or of a comparison (`x in s` to `s in x`), two items of a tuple or list
    (also on the left of an assignment: `day, month = ...`)."""
    if isinstance(node, ast.Call):
        args = node.args
        if any(isinstance(a, ast.Starred) for a in args):
            return
        for i in range(len(args)):
            for j in range(i + 1, min(len(args), 4)):
                swapped = list(args)
                swapped[i], swapped[j] = args[j], args[i]
                yield mutation(source, "swap", node, with_fields(node, args=swapped))
    elif isinstance(node, ast.BinOp) and isinstance(node.op, NON_COMMUTATIVE):
        yield mutation(source, "swap", node, with_fields(node, left=node.right, right=node.left))
    elif isinstance(node, ast.Compare) and len(node.ops) == 1:
        swapped = with_fields(node, left=node.comparators[0], comparators=[node.left])
        yield mutation(source, "swap", node, swapped)
    elif isinstance(node, ast.Tuple | ast.List) and 2 <= len(node.elts) <= 5:
        if any(isinstance(e, ast.Starred) for e in node.elts):
            return
        for i in range(len(node.elts)):
            for j in range(i + 1, len(node.elts)):
                elts = list(node.elts)
                elts[i], elts[j] = elts[j], elts[i]
                edit = (
                    Edit(*source.span(node.elts[i]), source.segment(node.elts[j])),
                    Edit(*source.span(node.elts[j]), source.segment(node.elts[i])),
                )
                yield Mutation(
                    "swap",
                    node.lineno,
                    edit,
                    f"swap `{source.segment(node.elts[i])}` and `{source.segment(node.elts[j])}`",
                )


def _flatten(node: ast.BinOp) -> list[ast.AST]:
    if isinstance(node.left, ast.BinOp) and type(node.left.op) is type(node.op):
        return [*_flatten(node.left), node.right]
    return [node.left, node.right]


def reduce(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """Expression reduction (excess code): `a + b` to `a` or `b`, one term dropped from a chain
    (`x + y + z` to `x + z`), one operand dropped from `and`/`or`, a unary `-`/`~` dropped,
    a keyword or extra argument dropped from a call, an item dropped from a literal list, tuple
    or set, an index dropped (`xs[i]` to `xs`)."""
    if isinstance(node, ast.BinOp):
        terms = _flatten(node)
        yield mutation(source, "reduce", node, node.left)
        yield mutation(source, "reduce", node, node.right)
        if len(terms) >= 3:
            for skip in range(len(terms)):
                kept = [t for i, t in enumerate(terms) if i != skip]
                rebuilt = kept[0]
                for term in kept[1:]:
                    rebuilt = ast.BinOp(rebuilt, type(node.op)(), term)
                yield mutation(source, "reduce", node, rebuilt)
    elif isinstance(node, ast.BoolOp):
        for skip in range(len(node.values)):
            kept = [v for i, v in enumerate(node.values) if i != skip]
            new = kept[0] if len(kept) == 1 else with_fields(node, values=kept)
            yield mutation(source, "reduce", node, new, risky=True)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.Invert | ast.UAdd):
        if int_constant(node) is None:
            yield mutation(source, "reduce", node, node.operand)
    elif isinstance(node, ast.Call):
        for index in range(len(node.keywords)):
            kept = [k for i, k in enumerate(node.keywords) if i != index]
            yield mutation(source, "reduce", node, with_fields(node, keywords=kept))
        if len(node.args) >= 2:
            for index in range(len(node.args)):
                kept = [a for i, a in enumerate(node.args) if i != index]
                yield mutation(source, "reduce", node, with_fields(node, args=kept))
    elif isinstance(node, ast.List | ast.Tuple | ast.Set) and loaded(node):
        if 2 <= len(node.elts) <= 30 and not isinstance(source.parents.get(node), ast.Subscript):
            for index in range(len(node.elts)):
                kept = [e for i, e in enumerate(node.elts) if i != index]
                yield mutation(source, "reduce", node, with_fields(node, elts=kept), risky=True)
    elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
        yield mutation(source, "reduce", node, node.value)
