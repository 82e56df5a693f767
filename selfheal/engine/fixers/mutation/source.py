"""A parsed module that mutation operators edit as text: node spans, parents, scopes, splicing.

Edits replace the exact span of an AST node with new text, so the rest of the file keeps its
formatting and comments and the patch stays as small as the change.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field

# Binding strength of expressions, loosest first (the Python grammar's precedence levels).
_PRECEDENCE = {
    ast.NamedExpr: 0,
    ast.Lambda: 1,
    ast.IfExp: 2,
    ast.Or: 3,
    ast.And: 4,
    ast.Not: 5,
    ast.Compare: 6,
    ast.BitOr: 7,
    ast.BitXor: 8,
    ast.BitAnd: 9,
    ast.LShift: 10,
    ast.RShift: 10,
    ast.Add: 11,
    ast.Sub: 11,
    ast.Mult: 12,
    ast.MatMult: 12,
    ast.Div: 12,
    ast.FloorDiv: 12,
    ast.Mod: 12,
    ast.UAdd: 13,
    ast.USub: 13,
    ast.Invert: 13,
    ast.Pow: 14,
    ast.Await: 15,
}
ATOM = 16

BUILTIN_NAMES = frozenset(dir(builtins))


def precedence(node: ast.AST) -> int:
    if isinstance(node, ast.BoolOp | ast.BinOp | ast.UnaryOp):
        return _PRECEDENCE[type(node.op)]
    return _PRECEDENCE.get(type(node), ATOM)


@dataclass(frozen=True)
class Edit:
    start: int  # character offsets into the file's text
    end: int
    text: str


def apply_edits(text: str, edits: tuple[Edit, ...] | list[Edit]) -> str:
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        text = text[: edit.start] + edit.text + text[edit.end :]
    return text


def overlapping(a: tuple[Edit, ...], b: tuple[Edit, ...]) -> bool:
    return any(x.start < y.end and y.start < x.end or x.start == y.start for x in a for y in b)


@dataclass
class Scope:
    """Names visible in a function (or the module): what a variable may be replaced by."""

    values: dict[str, str | None] = field(default_factory=dict)  # name -> kind (or None)
    callables: set[str] = field(default_factory=set)


class Source:
    """One Python file, parsed, with helpers to turn nodes into character spans and back."""

    def __init__(self, path: str, text: str):
        self.path = path
        self.text = text
        self.tree = ast.parse(text)
        self.lines = text.splitlines(keepends=True)
        self._line_starts = [0]
        for line in self.lines:
            self._line_starts.append(self._line_starts[-1] + len(line))
        self.parents: dict[ast.AST, ast.AST] = {}
        for parent in ast.walk(self.tree):
            for child in ast.iter_child_nodes(parent):
                self.parents[child] = parent
        self.module_scope = module_scope(self.tree)
        self._scopes: dict[ast.AST, Scope] = {}
        self._top_level: list[tuple[int, int]] | None = None

    # positions --------------------------------------------------------------------------------

    def offset(self, lineno: int, col_offset: int) -> int:
        """Character offset of an AST (line, UTF-8 byte column) position."""
        line = self.lines[lineno - 1] if lineno - 1 < len(self.lines) else ""
        if line.isascii():
            column = col_offset
        else:
            column = len(line.encode("utf-8")[:col_offset].decode("utf-8", errors="replace"))
        return self._line_starts[lineno - 1] + column

    def span(self, node: ast.AST) -> tuple[int, int]:
        return (
            self.offset(node.lineno, node.col_offset),
            self.offset(node.end_lineno, node.end_col_offset),
        )

    def segment(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.text[start:end]

    def top_level_spans(self) -> list[tuple[int, int]]:
        """(start, end) offsets of each top-level statement's whole lines, decorators included."""
        if self._top_level is None:
            self._top_level = []
            for node in self.tree.body:
                first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
                start = self._line_starts[first - 1]
                end = self._line_starts[min(node.end_lineno, len(self.lines))]
                self._top_level.append((start, end))
        return self._top_level

    def line_text(self, lineno: int) -> str:
        return self.lines[lineno - 1] if 0 < lineno <= len(self.lines) else ""

    def indentation(self, lineno: int) -> str:
        line = self.line_text(lineno)
        return line[: len(line) - len(line.lstrip())]

    # structure --------------------------------------------------------------------------------

    def statement_of(self, node: ast.AST) -> ast.stmt | None:
        while node is not None and not isinstance(node, ast.stmt):
            node = self.parents.get(node)
        return node

    def function_of(self, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        node = self.parents.get(node)
        while node is not None:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                return node
            node = self.parents.get(node)
        return None

    def inside_fstring(self, node: ast.AST) -> bool:
        node = self.parents.get(node)
        while node is not None and not isinstance(node, ast.stmt):
            if isinstance(node, ast.JoinedStr):
                return True
            node = self.parents.get(node)
        return False

    def scope_at(self, node: ast.AST) -> Scope:
        """Names visible at `node`: enclosing functions' locals, comprehension targets, globals."""
        scope = Scope(dict(self.module_scope.values), set(self.module_scope.callables))
        chain = []
        current = self.parents.get(node)
        while current is not None:
            chain.append(current)
            current = self.parents.get(current)
        for owner in reversed(chain):
            if isinstance(owner, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                local = self._scopes.get(owner)
                if local is None:
                    local = self._scopes[owner] = function_scope(owner)
                scope.values.update(local.values)
                scope.callables |= local.callables
                for name in local.values:
                    scope.callables.discard(name)
            elif isinstance(owner, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
                for generator in owner.generators:
                    for name in target_names(generator.target):
                        scope.values[name] = None
        return scope

    # replacing text ---------------------------------------------------------------------------

    def replace(self, node: ast.AST, new: ast.AST | str) -> Edit:
        """An edit replacing `node` by `new` (a node, or source text of an expression)."""
        start, end = self.span(node)
        if isinstance(new, str):
            return Edit(start, end, new)
        text = ast.unparse(new)
        if needs_parentheses(node, new, self.parents.get(node)) and not self._parenthesized(
            start, end
        ):
            text = f"({text})"
        # `if(a)and b` has no spaces to spare: keep words from gluing to their neighbours.
        if text[:1].isidentifier() and start and _word_char(self.text[start - 1]):
            text = " " + text
        if text[-1:].isalnum() and end < len(self.text) and _word_char(self.text[end]):
            text += " "
        return Edit(start, end, text)

    def _parenthesized(self, start: int, end: int) -> bool:
        before = self.text[:start].rstrip()
        after = self.text[end:].lstrip()
        if not before.endswith("(") or not after.startswith(")"):
            return False
        head = before[:-1].rstrip()
        return not head or not (head[-1].isalnum() or head[-1] in "_)]")


def _free_context(old: ast.AST, parent: ast.AST | None) -> bool:
    """Whether any expression (but a tuple or `:=`) may stand where `old` stands unparenthesized:
    a call argument, a list item, an index, a statement's whole value, a condition."""
    if isinstance(parent, ast.Call):
        return old in parent.args
    if isinstance(parent, ast.keyword | ast.List | ast.Set | ast.Dict | ast.Expr):
        return True
    if isinstance(parent, ast.Subscript):
        return parent.slice is old
    if isinstance(parent, ast.Return | ast.Assign | ast.AugAssign | ast.AnnAssign):
        return getattr(parent, "value", None) is old
    if isinstance(parent, ast.If | ast.While):
        return parent.test is old
    return False


def _word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def needs_parentheses(old: ast.AST, new: ast.AST, parent: ast.AST | None) -> bool:
    if isinstance(new, ast.Tuple | ast.NamedExpr):
        return True
    if _free_context(old, parent) and not isinstance(new, ast.Starred):
        return False
    new_level, old_level = precedence(new), precedence(old)
    if new_level < old_level:
        return True
    return (
        new_level == old_level and isinstance(new, ast.Compare) and isinstance(parent, ast.Compare)
    )


def target_names(target: ast.AST) -> list[str]:
    return [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]


# Kinds let variable replacement skip a number where a list is expected.
_ANNOTATION_KINDS = {
    "int": "num",
    "float": "num",
    "complex": "num",
    "bool": "num",
    "str": "str",
    "list": "seq",
    "List": "seq",
    "tuple": "seq",
    "Tuple": "seq",
    "Sequence": "seq",
    "Iterable": "seq",
    "set": "seq",
    "Set": "seq",
    "dict": "map",
    "Dict": "map",
    "Mapping": "map",
}
_CALL_KINDS = {
    "len": "num",
    "sum": "num",
    "abs": "num",
    "int": "num",
    "float": "num",
    "round": "num",
    "ord": "num",
    "str": "str",
    "chr": "str",
    "list": "seq",
    "sorted": "seq",
    "tuple": "seq",
    "set": "seq",
    "dict": "map",
}


def annotation_kind(annotation: ast.AST | None) -> str | None:
    if annotation is None:
        return None
    if isinstance(annotation, ast.Subscript):
        annotation = annotation.value
    if isinstance(annotation, ast.Attribute):
        return _ANNOTATION_KINDS.get(annotation.attr)
    if isinstance(annotation, ast.Name):
        return _ANNOTATION_KINDS.get(annotation.id)
    return None


def value_kind(value: ast.AST) -> str | None:
    if isinstance(value, ast.Constant):
        if isinstance(value.value, bool | int | float | complex):
            return "num"
        if isinstance(value.value, str):
            return "str"
        return None
    if isinstance(value, ast.List | ast.Tuple | ast.ListComp | ast.Set | ast.SetComp):
        return "seq"
    if isinstance(value, ast.Dict | ast.DictComp):
        return "map"
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
        return _CALL_KINDS.get(value.func.id)
    if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Sub | ast.Div | ast.FloorDiv):
        return "num"
    return None


def _record(values: dict[str, str | None], name: str, kind: str | None) -> None:
    if name in values and values[name] != kind:
        values[name] = None
    else:
        values[name] = kind


def _own_nodes(owner: ast.AST):
    """Nodes in `owner`'s own scope: not inside nested functions, lambdas or classes."""
    stack = list(ast.iter_child_nodes(owner))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        if isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            continue
        stack.extend(ast.iter_child_nodes(node))


def function_scope(function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> Scope:
    scope = Scope()
    args = function.args
    for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
        _record(scope.values, arg.arg, annotation_kind(arg.annotation))
    for arg in (args.vararg, args.kwarg):
        if arg is not None:
            _record(scope.values, arg.arg, "seq" if arg is args.vararg else "map")
    if isinstance(function, ast.Lambda):
        return scope
    for node in _own_nodes(function):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            scope.callables.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                kind = value_kind(node.value) if isinstance(target, ast.Name) else None
                for name in target_names(target):
                    _record(scope.values, name, kind)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign) and isinstance(node.target, ast.Name):
            kind = annotation_kind(getattr(node, "annotation", None))
            _record(scope.values, node.target.id, kind)
        elif isinstance(node, ast.For | ast.AsyncFor):
            over_range = (
                isinstance(node.iter, ast.Call)
                and isinstance(node.iter.func, ast.Name)
                and node.iter.func.id == "range"
            )
            for name in target_names(node.target):
                _record(scope.values, name, "num" if over_range else None)
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            for name in target_names(node.optional_vars):
                _record(scope.values, name, None)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            _record(scope.values, node.name, None)
        elif isinstance(node, ast.NamedExpr):
            _record(scope.values, node.target.id, value_kind(node.value))
    return scope


def module_scope(tree: ast.Module) -> Scope:
    scope = Scope()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            scope.callables.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                name = (alias.asname or alias.name).split(".")[0]
                if isinstance(node, ast.ImportFrom) and name[:1].islower():
                    scope.callables.add(name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                kind = value_kind(node.value) if isinstance(target, ast.Name) else None
                for name in target_names(target):
                    _record(scope.values, name, kind)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            _record(scope.values, node.target.id, annotation_kind(node.annotation))
    return scope
