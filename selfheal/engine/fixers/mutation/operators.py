"""Mutation operators: small AST edits from the program-repair literature.

Each operator takes the parsed file and one node and yields the mutations it knows for that node.
An operator is a plain generator function; its docstring says what it does. OPERATORS lists them;
the search (`search.py`) calls every operator on every node of a suspicious line and ranks the
results by suspiciousness x the operator's prior.
"""

from __future__ import annotations

import ast
import copy
import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .source import BUILTIN_NAMES, Edit, Source, target_names


@dataclass(frozen=True)
class Mutation:
    operator: str
    line: int
    edits: tuple[Edit, ...]
    description: str
    # Deletes behaviour or weakens/strengthens a condition: preferred last among plausible patches.
    risky: bool = False


Operator = Callable[[Source, ast.AST], Iterator[Mutation]]

ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
NON_COMMUTATIVE = (ast.Sub, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.Add)

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
PUNCTUATION = "()[]{}<> ,.;:-_"
WRAPPERS_NUMBER = ("abs",)
WRAPPERS_SEQUENCE = ("len", "set", "sorted", "list")
COMPARE_WRAPPERS = ("set", "sorted", "len", "abs", "str")
MAX_NAMES = 12  # variable replacement: at most this many names per site
MAX_GUARDS = 24


# helpers --------------------------------------------------------------------------------------


def _mutation(source: Source, operator: str, node: ast.AST, new, *, risky=False) -> Mutation:
    edit = source.replace(node, new)
    old = source.segment(node)
    return Mutation(operator, node.lineno, (edit,), f"`{old}` → `{edit.text}`", risky)


def _with(node: ast.AST, **changes) -> ast.AST:
    new = copy.copy(node)
    for name, value in changes.items():
        setattr(new, name, value)
    return new


def _int_constant(node: ast.AST) -> int | None:
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


def _number(value: int | float) -> ast.AST:
    if value < 0:
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    return ast.Constant(value)


def plus(node: ast.AST, amount: int) -> ast.AST:
    """`node + amount`, folding into an existing `x + k` / `x - k`: (x - 1) + 1 is x."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
        k = _int_constant(node.right)
        if k is not None:
            total = (k if isinstance(node.op, ast.Add) else -k) + amount
            if total == 0:
                return node.left
            return ast.BinOp(
                node.left, ast.Add() if total > 0 else ast.Sub(), ast.Constant(abs(total))
            )
    constant = _int_constant(node)
    if constant is not None:
        return _number(constant + amount)
    return ast.BinOp(node, ast.Add() if amount > 0 else ast.Sub(), ast.Constant(abs(amount)))


def _is_string(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        or isinstance(node, ast.JoinedStr)
    )


def _is_docstring(source: Source, node: ast.AST) -> bool:
    parent = source.parents.get(node)
    return isinstance(parent, ast.Expr) and isinstance(node, ast.Constant)


def _is_test(source: Source, node: ast.AST) -> bool:
    """A condition: an if/while/ternary test, a comprehension filter or an operand of and/or."""
    parent = source.parents.get(node)
    if isinstance(parent, ast.If | ast.While | ast.IfExp | ast.Assert) and parent.test is node:
        return True
    if isinstance(parent, ast.comprehension) and node in parent.ifs:
        return True
    return isinstance(parent, ast.BoolOp)


def _is_called(source: Source, node: ast.AST) -> bool:
    parent = source.parents.get(node)
    return isinstance(parent, ast.Call) and parent.func is node


def _in_index_context(source: Source, node: ast.AST) -> bool:
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


def _function_returns_bool(function: ast.AST | None) -> bool:
    if function is None:
        return False
    returns = getattr(function, "returns", None)
    return isinstance(returns, ast.Name) and returns.id == "bool"


def _quote_like(original: str, value: str) -> str:
    text = repr(value)
    if original[:1] == '"' and text[:1] == "'" and '"' not in value and "\\" not in text:
        text = '"' + text[1:-1] + '"'
    return text


def _conditions_in(function: ast.AST) -> list[ast.AST]:
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


def _predicates(source: Source, function: ast.AST | None) -> list[str]:
    """Functions in reach that take one argument and answer yes or no (`is_prime`, `-> bool`)."""
    names = []
    scopes = [source.tree] + ([function] if function is not None else [])
    for scope in scopes:
        for node in ast.walk(scope):
            if not isinstance(node, ast.FunctionDef) or node is function:
                continue
            if len(node.args.args) != 1:
                continue
            if node.name.startswith(("is_", "has_", "can_")) or _function_returns_bool(node):
                names.append(node.name)
    return sorted(set(names))


# operators ------------------------------------------------------------------------------------


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
        with_string = _is_string(operands[index]) or _is_string(operands[index + 1])
        for cls in RELATIONAL_ORDER[type(op)]:
            if with_string and cls not in (ast.Eq, ast.NotEq, ast.In, ast.NotIn):
                continue
            ops = list(node.ops)
            ops[index] = cls()
            yield _mutation(source, "relational", node, _with(node, ops=ops))


def arithmetic(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """Arithmetic operator replacement among `+ - * / // % **`, also in augmented assignments
    (`x -= y` to `x //= y`), and an augmented assignment turned into a plain one
    (`x *= x * y` to `x = x * y`)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ARITHMETIC):
        if _is_string(node.left) and isinstance(node.op, ast.Mod):
            return
        for cls in ARITHMETIC:
            if not isinstance(node.op, cls):
                yield _mutation(source, "arithmetic", node, _with(node, op=cls()))
    elif isinstance(node, ast.AugAssign) and isinstance(node.op, ARITHMETIC):
        for cls in ARITHMETIC:
            if not isinstance(node.op, cls):
                yield _mutation(source, "arithmetic", node, _with(node, op=cls()))
        plain = ast.Assign(targets=[node.target], value=node.value, lineno=node.lineno)
        yield _mutation(source, "arithmetic", node, plain)


def logical(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """Logical connector replacement: `and` by `or` and back."""
    if isinstance(node, ast.BoolOp):
        new_op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        yield _mutation(source, "logical", node, _with(node, op=new_op))


def negation(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """`not` insertion and removal on a condition (if/while/ternary tests, comprehension
    filters, and/or operands, the value a yes/no function returns). Comparisons are left to the
    relational operator, whose `<` to `>=` is the same negation written plainly."""
    parent = source.parents.get(node)
    is_return_value = (
        isinstance(parent, ast.Return)
        and parent.value is node
        and _function_returns_bool(source.function_of(node))
    )
    if not (_is_test(source, node) or is_return_value):
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield _mutation(source, "negation", node, node.operand)
    elif not isinstance(node, ast.Compare | ast.Constant):
        yield _mutation(source, "negation", node, ast.UnaryOp(ast.Not(), node))


def constant(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """Integer constant ±1 (which covers 0 to 1 and 1 to 0), `True` to `False` and back,
    a float constant ±1 or inverted (0.5 to 2.0)."""
    parent = source.parents.get(node)
    if isinstance(node, ast.Constant) and isinstance(parent, ast.UnaryOp):
        return  # the negative number is handled as a whole
    value = _int_constant(node)
    if value is not None:
        for new in (value + 1, value - 1):
            yield _mutation(source, "constant", node, _number(new))
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        yield _mutation(source, "constant", node, ast.Constant(not node.value))
    elif isinstance(node, ast.Constant) and type(node.value) is float:
        value = node.value
        options = [value + 1, value - 1] + ([1 / value] if value else [])
        for new in dict.fromkeys(options):
            if new != value:
                yield _mutation(source, "constant", node, _number(new))


def string(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """String constant replacement: by the empty string, by another string constant of the
    same function, reversed, without its first or last character, or in another case; a single
    bracket or punctuation character by another (`'('` to `'['`, `','` to `' '`)."""
    if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        return
    if _is_docstring(source, node) or source.inside_fstring(node):
        return
    value = node.value
    original = source.segment(node)
    options = [""]
    function = source.function_of(node) or source.tree
    for other in ast.walk(function):
        if isinstance(other, ast.Constant) and isinstance(other.value, str):
            if not _is_docstring(source, other) and len(other.value) <= 40:
                options.append(other.value)
    if 1 < len(value) <= 40:
        options += [value[::-1], value[:-1], value[1:]]
    if len(value) <= 40:
        options += [value.upper(), value.lower(), value.capitalize(), value.strip()]
    if len(value) == 1 and value in PUNCTUATION:
        options += list(PUNCTUATION)
    for new in dict.fromkeys(options):
        if new != value:
            yield _mutation(source, "string", node, _quote_like(original, new))


def bound(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """Index, slice and range bound ±1: `a[i]` to `a[i + 1]`, `a[:n]` to `a[:n - 1]` or `a[:]`,
    a missing slice bound added (`a[1:]`, `a[:-1]`), `range(n)` to `range(n + 1)` or
    `range(1, n)`, `range(1, n)` to `range(n)`. Integer literals are left to `constant`."""
    if isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Slice):
        index = node.slice
        if _int_constant(index) is None and not isinstance(index, ast.Tuple | ast.Constant):
            for amount in (1, -1):
                yield _mutation(source, "bound", index, plus(index, amount))
    elif isinstance(node, ast.Slice):
        for name in ("lower", "upper"):
            value = getattr(node, name)
            if value is None:
                added = ast.Constant(1) if name == "lower" else _number(-1)
                yield _mutation(source, "bound", node, _with(node, **{name: added}))
                continue
            if _int_constant(value) is None:
                for amount in (1, -1):
                    yield _mutation(source, "bound", value, plus(value, amount))
            yield _mutation(source, "bound", node, _with(node, **{name: None}), risky=True)
        if node.step is not None:
            yield _mutation(source, "bound", node, _with(node, step=None))
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        args = node.args
        for arg in args:
            if _int_constant(arg) is None and not isinstance(arg, ast.Starred):
                for amount in (1, -1):
                    yield _mutation(source, "bound", arg, plus(arg, amount))
        if len(args) == 1:
            yield _mutation(source, "bound", node, _with(node, args=[ast.Constant(1), args[0]]))
        elif len(args) == 2:
            yield _mutation(source, "bound", node, _with(node, args=[args[1]]))


def offset(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """Off-by-one outside indexing: an addition, subtraction or `len(...)` ±1
    (`m - n` to `m - n + 1`)."""
    if _in_index_context(source, node) or _is_test(source, node):
        return
    is_sum = isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub)
    is_len = (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len"
    )
    if is_sum and (_is_string(node.left) or _is_string(node.right)):
        return
    if is_sum or is_len:
        for amount in (1, -1):
            yield _mutation(source, "offset", node, plus(node, amount))


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
        if _is_called(source, node):
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
        yield _mutation(source, "variable", node, name)
    if isinstance(node.ctx, ast.Load) and not _is_called(source, node):
        if scope.values.get(node.id) in ("num", None):
            sized = [n for n, k in scope.values.items() if k in ("seq", "str") and n != node.id]
            for name in sized[:MAX_NAMES]:
                yield _mutation(source, "variable", node, f"len({name})")


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
                yield _mutation(source, "swap", node, _with(node, args=swapped))
    elif isinstance(node, ast.BinOp) and isinstance(node.op, NON_COMMUTATIVE):
        yield _mutation(source, "swap", node, _with(node, left=node.right, right=node.left))
    elif isinstance(node, ast.Compare) and len(node.ops) == 1:
        swapped = _with(node, left=node.comparators[0], comparators=[node.left])
        yield _mutation(source, "swap", node, swapped)
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
                yield _mutation(source, "builtin", func, name)
    is_sorted = isinstance(func, ast.Name) and func.id == "sorted"
    is_sort = isinstance(func, ast.Attribute) and func.attr == "sort"
    if is_sorted or is_sort:
        keywords = [k for k in node.keywords if k.arg != "reverse"]
        current = next((k.value for k in node.keywords if k.arg == "reverse"), None)
        if current is None:
            keywords.append(ast.keyword("reverse", ast.Constant(True)))
        elif not (isinstance(current, ast.Constant) and current.value is False):
            keywords.append(ast.keyword("reverse", ast.UnaryOp(ast.Not(), current)))
        yield _mutation(source, "builtin", node, _with(node, keywords=keywords))


def _removable(source: Source, statement: ast.stmt) -> bool:
    return isinstance(
        statement,
        ast.Expr | ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Return | ast.If | ast.For
        | ast.While | ast.Break | ast.Continue | ast.Raise | ast.With,
    )  # fmt: skip


def _block_of(source: Source, statement: ast.stmt) -> list[ast.stmt]:
    parent = source.parents.get(statement)
    for name in ("body", "orelse", "finalbody"):
        block = getattr(parent, name, None)
        if isinstance(block, list) and statement in block:
            return block
    return []


def _starts_line(source: Source, statement: ast.stmt) -> bool:
    line = source.line_text(statement.lineno)
    return len(line) - len(line.lstrip()) == statement.col_offset


def _ends_line(source: Source, statement: ast.stmt) -> bool:
    rest = source.line_text(statement.end_lineno)
    return rest[statement.end_col_offset :].strip() == "" if rest.isascii() else False


def delete(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """Statement deletion: drop a statement (an `if` block, a loop, an assignment, a call, a
    `return` that is not the last statement); a block left empty gets `pass`."""
    if not isinstance(node, ast.stmt) or not _removable(source, node):
        return
    block = _block_of(source, node)
    if not block or (isinstance(node, ast.Return) and node is block[-1] and len(block) > 1):
        return
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return  # a docstring
    text = source.segment(node).splitlines()[0].strip()
    if len(block) == 1 or not (_starts_line(source, node) and _ends_line(source, node)):
        if len(block) == 1 or not _starts_line(source, node):
            yield Mutation(
                "delete", node.lineno, (source.replace(node, "pass"),), f"delete `{text}`", True
            )
        return
    start = source.offset(node.lineno, 0)
    end = source.offset(node.end_lineno, 0) + len(source.line_text(node.end_lineno))
    yield Mutation("delete", node.lineno, (Edit(start, end, ""),), f"delete `{text}`", True)


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
        yield _mutation(source, "return_value", node.value, name)


def _assigned(function: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


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
    if function is None or not _starts_line(source, node) or not _block_of(source, node):
        return
    conditions = [f"not {a.arg}" for a in function.args.args]
    conditions += [ast.unparse(c) for c in _conditions_in(function)][:8]
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
    others = [ast.unparse(c) for c in _conditions_in(function)]
    names = sorted({n.id for n in ast.walk(node) if isinstance(n, ast.Name)})
    others += [f"{p}({n})" for p in _predicates(source, function) for n in names]
    for other in dict.fromkeys(others):
        if other == own or other in own:
            continue
        for connector in ("and", "or"):
            new = f"{own} {connector} {other}"
            if isinstance(node, ast.BoolOp | ast.IfExp | ast.Lambda | ast.NamedExpr):
                new = f"({own}) {connector} {other}"
            yield _mutation(source, "condition", node, new, risky=True)


def wrap(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """Wrap an expression in a builtin: `abs(a - b)`, `max(0, e)`, `len(x)`, `set(x)`,
    `sorted(x)`; both sides of a comparison at once (`set(a) == set(b)`); a slice added to a
    sequence (`xs[1:]`, `xs[::-1]`)."""
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        if isinstance(node.ops[0], ast.Eq | ast.NotEq):
            left, right = ast.unparse(node.left), ast.unparse(node.comparators[0])
            op = "==" if isinstance(node.ops[0], ast.Eq) else "!="
            for name in COMPARE_WRAPPERS:
                yield _mutation(source, "wrap", node, f"{name}({left}) {op} {name}({right})")
        return
    if not isinstance(node, ast.Name | ast.BinOp | ast.Call | ast.ListComp | ast.Subscript):
        return
    if getattr(node, "ctx", ast.Load()).__class__ is not ast.Load or _is_called(source, node):
        return
    parent = source.parents.get(node)
    if isinstance(parent, ast.Attribute) or isinstance(node, ast.Name) and node.id in BUILTIN_NAMES:
        return
    text = ast.unparse(node)
    kind = None
    if isinstance(node, ast.Name):
        kind = source.scope_at(node).values.get(node.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub) or kind == "num":
        yield _mutation(source, "wrap", node, f"abs({text})")
        yield _mutation(source, "wrap", node, f"max(0, {text})")
        return
    if isinstance(node, ast.BinOp):
        return
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id in ("len", "abs", "int", "sum", "set", "sorted"):
            return
    for name in WRAPPERS_SEQUENCE:
        yield _mutation(source, "wrap", node, f"{name}({text})")
    if isinstance(parent, ast.Return | ast.Assign) or isinstance(node, ast.ListComp):
        atomic = isinstance(node, ast.Name | ast.Call | ast.ListComp | ast.Subscript)
        for suffix in ("[1:]", "[:-1]", "[::-1]"):
            yield _mutation(source, "wrap", node, text + suffix if atomic else f"({text}){suffix}")


def call(source: Source, node: ast.AST) -> Iterator[Mutation]:
    """Call removal and insertion: `f(x)` to `x`, `s.strip()` to `s`, `f(x)` to `f(f(x))` for
    a one-argument function of the file, `s` to `s.lower()` (and other case methods) for a
    string."""
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name) and len(node.args) == 1 and not node.keywords:
            if not isinstance(node.args[0], ast.Starred | ast.GeneratorExp):
                yield _mutation(source, "call", node, node.args[0])
            own = {
                f.name: len(f.args.args)
                for f in ast.walk(source.tree)
                if isinstance(f, ast.FunctionDef)
            }
            if own.get(func.id) == 1:
                yield _mutation(source, "call", node.args[0], ast.unparse(node))
        elif isinstance(func, ast.Attribute):
            receiver = func.value
            is_module = (
                isinstance(receiver, ast.Name) and receiver.id not in source.scope_at(node).values
            )
            if not is_module:
                yield _mutation(source, "call", node, receiver)
        return
    if not isinstance(node, ast.Name) or not isinstance(node.ctx, ast.Load):
        return
    parent = source.parents.get(node)
    if isinstance(parent, ast.Attribute) or _is_called(source, node):
        return
    kind = source.scope_at(node).values.get(node.id)
    direct = isinstance(parent, ast.Assign | ast.Return | ast.Call | ast.Compare)
    if kind == "str" or (kind is None and direct and node.id not in BUILTIN_NAMES):
        for method in STRING_METHODS:
            yield _mutation(source, "call", node, f"{node.id}.{method}()")


def _loaded(node: ast.AST) -> bool:
    return isinstance(getattr(node, "ctx", ast.Load()), ast.Load)


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
        yield _mutation(source, "reduce", node, node.left)
        yield _mutation(source, "reduce", node, node.right)
        if len(terms) >= 3:
            for skip in range(len(terms)):
                kept = [t for i, t in enumerate(terms) if i != skip]
                rebuilt = kept[0]
                for term in kept[1:]:
                    rebuilt = ast.BinOp(rebuilt, type(node.op)(), term)
                yield _mutation(source, "reduce", node, rebuilt)
    elif isinstance(node, ast.BoolOp):
        for skip in range(len(node.values)):
            kept = [v for i, v in enumerate(node.values) if i != skip]
            new = kept[0] if len(kept) == 1 else _with(node, values=kept)
            yield _mutation(source, "reduce", node, new, risky=True)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.Invert | ast.UAdd):
        if _int_constant(node) is None:
            yield _mutation(source, "reduce", node, node.operand)
    elif isinstance(node, ast.Call):
        for index in range(len(node.keywords)):
            kept = [k for i, k in enumerate(node.keywords) if i != index]
            yield _mutation(source, "reduce", node, _with(node, keywords=kept))
        if len(node.args) >= 2:
            for index in range(len(node.args)):
                kept = [a for i, a in enumerate(node.args) if i != index]
                yield _mutation(source, "reduce", node, _with(node, args=kept))
    elif isinstance(node, ast.List | ast.Tuple | ast.Set) and _loaded(node):
        if 2 <= len(node.elts) <= 30 and not isinstance(source.parents.get(node), ast.Subscript):
            for index in range(len(node.elts)):
                kept = [e for i, e in enumerate(node.elts) if i != index]
                yield _mutation(source, "reduce", node, _with(node, elts=kept), risky=True)
    elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
        yield _mutation(source, "reduce", node, node.value)


OPERATORS: dict[str, Operator] = {
    "relational": relational,
    "arithmetic": arithmetic,
    "logical": logical,
    "negation": negation,
    "constant": constant,
    "string": string,
    "bound": bound,
    "offset": offset,
    "variable": variable,
    "swap": swap,
    "attribute": attribute,
    "builtin": builtin,
    "delete": delete,
    "return_value": return_value,
    "guard": guard,
    "condition": condition,
    "wrap": wrap,
    "call": call,
    "reduce": reduce,
}

# How often each operator's edit is the right fix, before anything has been learned: the fixed
# prior the search multiplies with a line's suspiciousness. Injectable (`MutationSearch(priors=)`).
DEFAULT_PRIORS: dict[str, float] = {
    "relational": 1.0,
    "constant": 0.9,
    "bound": 0.85,
    "logical": 0.8,
    "arithmetic": 0.75,
    "attribute": 0.75,
    "builtin": 0.7,
    "swap": 0.65,
    "variable": 0.6,
    "reduce": 0.6,
    "negation": 0.6,
    "string": 0.5,
    "offset": 0.45,
    "delete": 0.4,
    "call": 0.35,
    "return_value": 0.3,
    "condition": 0.3,
    "wrap": 0.25,
    "guard": 0.2,
}
