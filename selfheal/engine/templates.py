"""Executable fix templates: a successful fix reduced to an AST-level edit with holes, that can fix
the next instance of the same error in any project, with no model.

A template is a small JSON document (a "spec"). Two kinds:

insert_import  `import __msg0` when NameError names `__msg0`; the hole must be a standard-library
               module (or a project module, or exactly the learned name, as the learned fix showed).
rewrite        `before` -> `after`, both Python source where names starting with `__` are holes:
                 __idN   any identifier          __litN  any constant of the same type
                 __eN    any expression          __msgN  the N-th quoted value of the error message
                 __newN  derived after matching: the closest defined name or attribute to a message
                         value, a literal plus a delta, the closest string constant, or a constant
               `sites` is "all" (every match in the crashing file: a rename the error names) or
               "each" (one candidate per matching place, nearest to the failure first).

`extract_template` builds the spec from (files before, the fix, the failure) and keeps it only if
re-applying it to the code it came from reproduces the fix. `apply_template` raises
TemplateDoesNotApply (skip, with the reason) or TemplateError (the spec is malformed: quarantine).
"""

from __future__ import annotations

import ast
import builtins
import copy
import difflib
import functools
import hashlib
import importlib
import json
import re
import sys
from dataclasses import dataclass, field

from .classify import Classification
from .fingerprint import normalise_message
from .patch import FileEdit
from .tracebacks import ErrorReport

SPEC_VERSION = 1
MAX_SITES = 3
MAX_MESSAGE_CHARS = 300
CLOSEST_CUTOFF = 0.6

STDLIB_MODULES = frozenset(n for n in sys.stdlib_module_names if not n.startswith("_"))
# Imported only to list their attributes; never modules that act when imported.
_UNIMPORTABLE = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "webbrowser"}
BUILTIN_NAMES = frozenset(dir(builtins))
_HOLE = re.compile(r"^__(id|lit|e|msg|new)(\d+)$")
_QUOTED = re.compile(r"'([^'\n]*)'|\"([^\"\n]*)\"")
_DID_YOU_MEAN = re.compile(r"\.?\s*Did you mean:?.*$", re.DOTALL)
_IDENTIFIER = re.compile(r"^[A-Za-z_]\w*$")
_DERIVATIONS = {"closest_name", "closest_attr", "closest_str", "add", "const", "name"}
_REQUIREMENTS = {"stdlib_module", "project_module", "equals"}
_NAMING_ERRORS = {
    "NameError",
    "UnboundLocalError",
    "AttributeError",
    "ImportError",
    "ModuleNotFoundError",
}
_SIMPLE_STATEMENTS = (ast.Return, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr)
_OPERATORS = (ast.cmpop, ast.operator, ast.unaryop, ast.boolop)


class TemplateError(ValueError):
    """The spec is malformed: the pattern holding it must be quarantined."""


class TemplateDoesNotApply(Exception):
    """The template does not fit this failure or this code (the reason says why)."""


class ExtractionFailed(Exception):
    """No template could be drawn from this fix (the reason says why)."""


# --- The failure a template is keyed on ----------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    category: str
    exc_type: str
    message: str  # the first line, without "Did you mean ...?"
    path: str | None  # the project file where it crashed
    line: int | None
    code: str  # the failing line's text
    frames: tuple[tuple[str, int | None], ...] = ()  # project (path, line), outermost first

    @property
    def message_values(self) -> list[str]:
        """Quoted names in a message that names code, in order: `'User' object has no attribute
        'nme'`. Other messages (an assertion's values) say nothing about the code's names."""
        if self.exc_type not in _NAMING_ERRORS and self.category not in (
            "undefined_name",
            "attribute",
            "import",
        ):
            return []
        values = [a or b for a, b in _QUOTED.findall(self.message)]
        return [v for v in values if _IDENTIFIER.match(v) or re.match(r"^[\w.]+$", v)]


@dataclass(frozen=True)
class Signature:
    key: str  # sha256 of the three parts below
    category: str
    normalised_message: str
    shape: str


def locate(filename: str, files: dict[str, str]) -> str | None:
    """The key of `files` a traceback's filename means: exact, else the longest suffix match."""
    if not filename:
        return None
    filename = filename.replace("\\", "/")
    while filename.startswith("./"):
        filename = filename[2:]
    if filename in files:
        return filename
    matches = [path for path in files if filename.endswith("/" + path)]
    return max(matches, key=len) if matches else None


def failure_from(
    report: ErrorReport, classification: Classification | None, files: dict[str, str]
) -> Failure:
    message = _DID_YOU_MEAN.sub("", (report.message or "").strip().split("\n", 1)[0]).strip()
    frames = []
    for frame in report.frames:
        path = locate(frame.filename, files)
        if path and path.endswith(".py"):
            frames.append((path, frame.lineno))
    path, line = frames[-1] if frames else (None, None)
    if report.syntax_file:
        path = locate(report.syntax_file, files) or path
        line = report.syntax_line or line
    code = ""
    if path and line:
        lines = files[path].splitlines()
        code = lines[line - 1] if 0 < line <= len(lines) else ""
    if not code and report.crash_frame:
        code = report.crash_frame.context_line
    category = classification.category if classification else (report.exc_type or "unknown").lower()
    return Failure(
        category,
        report.exc_type,
        message[:MAX_MESSAGE_CHARS],
        path,
        line,
        code.strip(),
        tuple(frames),
    )


def code_shape(code: str) -> str:
    """The failing line's syntax with names and values left out: `Return(Compare(N Gt C))`."""
    code = code.strip()
    tree = None
    for attempt in (code, code + " pass", code.rstrip(":") or "pass"):
        try:
            tree = ast.parse(attempt)
            break
        except (SyntaxError, ValueError):
            continue
    if tree is None or not tree.body:
        return "?"
    return _shape(tree.body[0], 4)[:200]


def _shape(node: ast.AST, depth: int) -> str:
    if isinstance(node, ast.Name):
        return "N"
    if isinstance(node, ast.Constant):
        return "C"
    if isinstance(node, _OPERATORS):
        return type(node).__name__
    children = [
        child
        for child in ast.iter_child_nodes(node)
        if not isinstance(child, ast.expr_context) and not isinstance(child, ast.stmt)
    ]
    if depth == 0 or not children:
        return type(node).__name__
    return f"{type(node).__name__}({' '.join(_shape(c, depth - 1) for c in children)})"


def signature_of(failure: Failure) -> Signature:
    normalised = normalise_message(failure.message)[:MAX_MESSAGE_CHARS]
    shape = code_shape(failure.code)
    digest = hashlib.sha256(f"{failure.category}\n{normalised}\n{shape}".encode()).hexdigest()
    return Signature(digest, failure.category, normalised, shape)


# --- Specs -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    spec: dict
    key: str  # sha256 of the canonical spec: equal fixes give equal keys
    description: str


def canonical(spec: dict) -> str:
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))


def _parse_pattern(source: str, mode: str) -> ast.AST:
    if mode == "expr":
        return ast.parse(source, mode="eval").body
    body = ast.parse(source).body
    if len(body) != 1:
        raise SyntaxError("a statement pattern holds exactly one statement")
    return body[0]


def _holes_in(node: ast.AST) -> set[str]:
    found = set()
    for child in ast.walk(node):
        for value in (getattr(child, "id", None), getattr(child, "attr", None)):
            if isinstance(value, str) and _HOLE.match(value):
                found.add(value)
        if isinstance(child, ast.alias):
            for value in (child.name, child.asname):
                if value and _HOLE.match(value):
                    found.add(value)
    return found


def template_from_spec(spec: object) -> Template:
    """Check a stored spec thoroughly; anything off raises TemplateError."""
    try:
        if not isinstance(spec, dict) or spec.get("v") != SPEC_VERSION:
            raise TemplateError(
                f"unknown template version: {spec.get('v') if isinstance(spec, dict) else spec!r}"
            )
        requires = spec.get("requires", {})
        if not isinstance(requires, dict) or any(
            not _HOLE.match(k) or not isinstance(v, list) or not v or v[0] not in _REQUIREMENTS
            for k, v in requires.items()
        ):
            raise TemplateError(f"bad requirements: {requires!r}")
        kind = spec.get("kind")
        if kind == "insert_import":
            statement = ast.parse(spec["import"]).body
            if len(statement) != 1 or not isinstance(statement[0], ast.Import | ast.ImportFrom):
                raise TemplateError("insert_import needs exactly one import statement")
            holes = _holes_in(statement[0])
            if any(not h.startswith("__msg") for h in holes):
                raise TemplateError("an import's holes come from the message")
            description = f"add `{spec['import']}`"
        elif kind == "rewrite":
            mode = spec["mode"]
            if mode not in ("expr", "stmt") or spec.get("sites") not in ("all", "each"):
                raise TemplateError("rewrite needs mode expr|stmt and sites all|each")
            before = _parse_pattern(spec["before"], mode)
            after = _parse_pattern(spec["after"], mode)
            derive = spec.get("derive", {})
            if not isinstance(derive, dict):
                raise TemplateError("derive must be an object")
            for name, rule in derive.items():
                if (
                    not re.match(r"^__new\d+$", name)
                    or not isinstance(rule, list)
                    or not rule
                    or rule[0] not in _DERIVATIONS
                ):
                    raise TemplateError(f"bad derivation {name}: {rule!r}")
                if rule[0] == "name" and (len(rule) != 2 or not _IDENTIFIER.match(str(rule[1]))):
                    raise TemplateError(f"{name}: name needs an identifier")
                if rule[0] == "const" and (
                    len(rule) != 2 or type(rule[1]) not in (int, float, str)
                ):
                    raise TemplateError(f"{name}: const needs a number or a string")
                if rule[0] not in ("const", "name") and (
                    len(rule) < 2 or rule[1] not in _holes_in(before)
                ):
                    raise TemplateError(f"{name} derives from a hole the pattern does not bind")
                if rule[0] == "add" and (len(rule) != 3 or not isinstance(rule[2], int)):
                    raise TemplateError(f"{name}: add needs an integer delta")
            before_holes = _holes_in(before)
            if any(h.startswith("__new") for h in before_holes):
                raise TemplateError("__new holes belong to the after pattern")
            unbound = _holes_in(after) - before_holes - set(derive)
            if unbound:
                raise TemplateError(f"the after pattern uses unbound holes: {sorted(unbound)}")
            description = f"rewrite `{spec['before']}` as `{spec['after']}`"
            if derive:
                description += " where " + ", ".join(
                    f"{k} = {_describe(v)}" for k, v in derive.items()
                )
        else:
            raise TemplateError(f"unknown template kind: {kind!r}")
    except TemplateError:
        raise
    except (KeyError, TypeError, AttributeError, SyntaxError, ValueError) as exc:
        raise TemplateError(f"malformed template: {type(exc).__name__}: {exc}") from exc
    return Template(spec, hashlib.sha256(canonical(spec).encode()).hexdigest(), description)


def _describe(rule: list) -> str:
    if rule[0] == "add":
        return f"{rule[1]} {'+' if rule[2] >= 0 else '-'} {abs(rule[2])}"
    if rule[0] in ("const", "name"):
        return repr(rule[1])
    return f"{rule[0].replace('_', ' ')} to {rule[1]}"


# --- Applying ----------------------------------------------------------------------------------------


@dataclass
class Application:
    path: str
    content: str  # the whole new content of `path`
    line: int  # where the (first) change is
    explanation: str
    bindings: dict = field(default_factory=dict)

    def edit(self, files: dict[str, str]) -> FileEdit:
        return FileEdit(self.path, "modify", self.content, base_content=files[self.path])


def apply_template(
    template: Template,
    files: dict[str, str],
    failure: Failure,
    max_sites: int = MAX_SITES,
    *,
    only_lines: tuple[str, set[int]] | None = None,
) -> list[Application]:
    """The template applied to this failure's code: one Application per place, best first.
    `only_lines` (path, line numbers) keeps to the places that touch those lines."""
    spec = template.spec
    bindings = _message_bindings(spec, failure)
    if spec["kind"] == "insert_import":
        return [_apply_import(spec, files, failure, bindings)]
    return _apply_rewrite(spec, files, failure, bindings, max_sites, only_lines)


def _message_bindings(spec: dict, failure: Failure) -> dict[str, str]:
    values = failure.message_values
    bindings: dict[str, str] = {}
    source = spec.get("import", "") + " " + spec.get("before", "") + " " + spec.get("after", "")
    for hole in sorted(set(re.findall(r"__msg\d+", source))):
        index = int(hole[5:])
        if index >= len(values):
            raise TemplateDoesNotApply(
                f"the message has no quoted value #{index}: {failure.message!r}"
            )
        bindings[hole] = values[index]
    for hole, requirement in spec.get("requires", {}).items():
        value = bindings.get(hole)
        if value is None:
            continue
        if requirement[0] == "equals" and value != requirement[1]:
            raise TemplateDoesNotApply(f"this template fixes {requirement[1]!r}, not {value!r}")
        if requirement[0] == "stdlib_module" and value.split(".")[0] not in STDLIB_MODULES:
            raise TemplateDoesNotApply(f"{value!r} is not a standard-library module")
    return bindings


@functools.lru_cache(maxsize=512)
def _parse(source: str) -> ast.Module:
    """Parsed once per distinct text; the trees are only read, never changed."""
    return ast.parse(source)


def _crash_file(files: dict[str, str], failure: Failure) -> tuple[str, ast.Module]:
    if not failure.path or failure.path not in files:
        raise TemplateDoesNotApply("the failure does not point into a project file")
    try:
        return failure.path, _parse(files[failure.path])
    except (SyntaxError, ValueError) as exc:
        raise TemplateDoesNotApply(f"{failure.path} does not parse: {exc}") from exc


def _apply_import(
    spec: dict, files: dict[str, str], failure: Failure, bindings: dict
) -> Application:
    path, tree = _crash_file(files, failure)
    for hole, requirement in spec.get("requires", {}).items():
        if requirement[0] == "project_module" and not _is_project_module(
            bindings.get(hole, ""), files
        ):
            raise TemplateDoesNotApply(f"{bindings.get(hole)!r} is not a module of the project")
    statement = _substitute_text(spec["import"], bindings)
    new_node = ast.parse(statement).body[0]
    bound = {alias.asname or alias.name.split(".")[0] for alias in new_node.names}
    if bound & _names_bound(tree):
        raise TemplateDoesNotApply(f"{path} already defines {', '.join(sorted(bound))}")
    content = _insert_import(files[path], tree, statement)
    line = _first_changed_line(files[path], content)
    return Application(
        path,
        content,
        line,
        f"{path}: add `{statement}` ({failure.exc_type}: {failure.message})",
        bindings,
    )


def _substitute_text(source: str, bindings: dict[str, str]) -> str:
    return re.sub(r"__msg\d+", lambda m: bindings[m.group(0)], source)


def _is_project_module(name: str, files: dict[str, str]) -> bool:
    path = name.replace(".", "/")
    return any(
        p in files
        for p in (f"{path}.py", f"{path}/__init__.py", f"src/{path}.py", f"src/{path}/__init__.py")
    )


def _insert_import(source: str, tree: ast.Module, statement: str) -> str:
    """After the module docstring, `from __future__` imports and the leading import block."""
    body = tree.body
    index = 0
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(getattr(body[0], "value", None), ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        index = 1
    anchor = body[index - 1] if index else None
    while index < len(body) and isinstance(body[index], ast.Import | ast.ImportFrom):
        anchor = body[index]
        index += 1
    lines = source.splitlines(keepends=True)
    if anchor is None:
        return statement + "\n" + ("\n" if lines and lines[0].strip() else "") + source
    after_line = anchor.end_lineno or anchor.lineno
    if not lines[after_line - 1].endswith("\n"):
        lines[after_line - 1] += "\n"
    docstring_only = not isinstance(anchor, ast.Import | ast.ImportFrom)
    inserted = ["\n", statement + "\n"] if docstring_only else [statement + "\n"]
    return "".join(lines[:after_line] + inserted + lines[after_line:])


def _first_changed_line(old: str, new: str) -> int:
    for number, (a, b) in enumerate(zip(old.splitlines(), new.splitlines(), strict=False), 1):
        if a != b:
            return number
    return min(len(old.splitlines()), len(new.splitlines())) + 1


def _names_bound(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


# Matching a pattern against code binds holes to values: identifiers (str), constants (("lit",
# value)) and expressions (the node).


def _match(pattern: ast.AST, node: ast.AST, bindings: dict) -> bool:
    if isinstance(pattern, ast.Name) and _HOLE.match(pattern.id):
        return _bind_hole(pattern.id, node, bindings)
    if type(pattern) is not type(node):
        return False
    for name, expected in ast.iter_fields(pattern):
        if name in ("ctx", "kind", "type_comment"):
            continue
        actual = getattr(node, name, None)
        if isinstance(expected, list):
            if not isinstance(actual, list) or len(expected) != len(actual):
                return False
            if not all(_match_value(e, a, bindings) for e, a in zip(expected, actual, strict=True)):
                return False
        elif not _match_value(expected, actual, bindings):
            return False
    return True


def _match_value(expected, actual, bindings: dict) -> bool:
    if isinstance(expected, ast.AST):
        return isinstance(actual, ast.AST) and _match(expected, actual, bindings)
    if isinstance(expected, str) and _HOLE.match(expected):
        return isinstance(actual, str) and _bind_identifier(expected, actual, bindings)
    if isinstance(expected, float | int) and not isinstance(expected, bool):
        return type(expected) is type(actual) and expected == actual
    return expected == actual


def _bind_identifier(hole: str, value: str, bindings: dict) -> bool:
    kind = _HOLE.match(hole).group(1)
    if kind not in ("id", "msg"):
        return False
    if hole in bindings:
        return bindings[hole] == value
    bindings[hole] = value
    return True


def _bind_hole(hole: str, node: ast.AST, bindings: dict) -> bool:
    kind = _HOLE.match(hole).group(1)
    if kind in ("id", "msg"):
        return isinstance(node, ast.Name) and _bind_identifier(hole, node.id, bindings)
    if kind == "lit":
        if not isinstance(node, ast.Constant) or isinstance(node.value, bool) or node.value is None:
            return False
        value = ("lit", type(node.value).__name__, node.value)
        if hole in bindings:
            return bindings[hole] == value
        bindings[hole] = value
        return True
    if kind == "e":
        if not isinstance(node, ast.expr):
            return False
        if hole in bindings:
            return ast.dump(bindings[hole]) == ast.dump(node)
        bindings[hole] = node
        return True
    return False


def _instantiate(pattern: ast.AST, bindings: dict) -> ast.AST:
    class Fill(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name):
            if not _HOLE.match(node.id):
                return node
            value = bindings[node.id]
            if isinstance(value, ast.AST):
                return copy.deepcopy(value)
            if isinstance(value, tuple):
                return ast.Constant(value[2])
            return ast.Name(id=value, ctx=node.ctx)

        def visit_Attribute(self, node: ast.Attribute):
            self.generic_visit(node)
            if _HOLE.match(node.attr):
                value = bindings[node.attr]
                if not isinstance(value, str):
                    raise TemplateError(f"{node.attr} must be an identifier in attribute position")
                node.attr = value
            return node

    return ast.fix_missing_locations(Fill().visit(copy.deepcopy(pattern)))


def _derive(spec: dict, bindings: dict, context: _Context) -> dict:
    derived = dict(bindings)
    for name, rule in spec.get("derive", {}).items():
        op = rule[0]
        source = bindings.get(rule[1]) if len(rule) > 1 else None
        if op == "const":
            derived[name] = ("lit", type(rule[1]).__name__, rule[1])
        elif op == "name":
            derived[name] = rule[1]
        elif op == "add":
            if not (isinstance(source, tuple) and source[1] == "int"):
                raise TemplateDoesNotApply(f"{rule[1]} is not an integer here")
            derived[name] = ("lit", "int", source[2] + rule[2])
        elif op == "closest_name":
            derived[name] = _closest(source, context.names(), "defined name")
        elif op == "closest_attr":
            derived[name] = _closest(source, context.attributes(), "attribute")
        elif op == "closest_str":
            if not (isinstance(source, tuple) and source[1] == "str"):
                raise TemplateDoesNotApply(f"{rule[1]} is not a string here")
            derived[name] = (
                "lit",
                "str",
                _closest(source[2], context.strings(), "string constant"),
            )
    return derived


def _closest(value, candidates: set[str], what: str) -> str:
    options = sorted(c for c in candidates if c != value)
    match = difflib.get_close_matches(str(value), options, n=1, cutoff=CLOSEST_CUTOFF)
    if not match:
        raise TemplateDoesNotApply(f"no {what} close to {value!r}")
    return match[0]


class _Context:
    """What derivations look up in the file being fixed (computed on demand)."""

    def __init__(self, tree: ast.Module, failure: Failure):
        self.tree = tree
        self.failure = failure

    def names(self) -> set[str]:
        return _names_bound(self.tree) | BUILTIN_NAMES

    def attributes(self) -> set[str]:
        found = set()
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Attribute):
                found.add(node.attr)
            elif isinstance(node, ast.ClassDef):
                found |= _names_bound(node)
        # "module 'os' has no attribute 'getcwdd'": the module's own names count too.
        values = self.failure.message_values
        owner = values[0] if self.failure.message.startswith("module ") and values else ""
        if owner in STDLIB_MODULES and owner not in _UNIMPORTABLE:
            module = sys.modules.get(owner) or importlib.import_module(owner)  # stdlib only
            found |= {n for n in dir(module) if not n.startswith("_")}
        return found

    def strings(self) -> set[str]:
        return {
            n.value
            for n in ast.walk(self.tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
        }


def _apply_rewrite(
    spec: dict,
    files: dict[str, str],
    failure: Failure,
    bindings: dict,
    max_sites: int,
    only_lines: tuple[str, set[int]] | None = None,
) -> list[Application]:
    mode = spec["mode"]
    before = _parse_pattern(spec["before"], mode)
    after = _parse_pattern(spec["after"], mode)
    if spec["sites"] == "all":
        path, tree = _crash_file(files, failure)
        matches = [(node, b) for node, b in _find(before, tree, bindings)]
        if not matches:
            raise TemplateDoesNotApply(
                f"`{_show(spec['before'], bindings)}` does not occur in {path}"
            )
        context = _Context(tree, failure)
        replacements = []
        for node, b in matches:
            derived = _derive(spec, b, context)
            replacements.append((node, _instantiate(after, derived)))
        content = _replace_nodes(files[path], tree, replacements)
        if content is None:
            raise TemplateDoesNotApply(f"the rewrite does not fit the code of {path}")
        first = min(node.lineno for node, _ in matches)
        return [
            Application(
                path, content, first, _explain(files[path], replacements, path), _public(bindings)
            )
        ]

    applications = []
    failures = []
    for path, tree, node, b in _ranked_sites(before, files, failure, bindings):
        if only_lines and (path != only_lines[0] or not _touches(node, only_lines[1])):
            continue
        try:
            derived = _derive(spec, b, _Context(tree, failure))
        except TemplateDoesNotApply as exc:
            failures.append(str(exc))
            continue
        new_node = _instantiate(after, derived)
        if ast.dump(new_node) == ast.dump(node):
            continue
        content = _replace_nodes(files[path], tree, [(node, new_node)])
        if content is None:
            continue
        applications.append(
            Application(
                path,
                content,
                node.lineno,
                _explain(files[path], [(node, new_node)], path),
                _public(b),
            )
        )
        if len(applications) >= max_sites:
            break
    if not applications:
        reason = (
            failures[0]
            if failures
            else f"`{_show(spec['before'], bindings)}` occurs nowhere it can be rewritten"
        )
        raise TemplateDoesNotApply(reason)
    return applications


def _public(bindings: dict) -> dict:
    shown = {}
    for key, value in bindings.items():
        if isinstance(value, ast.AST):
            shown[key] = ast.unparse(value)
        elif isinstance(value, tuple):
            shown[key] = value[2]
        else:
            shown[key] = value
    return shown


def _show(source: str, bindings: dict) -> str:
    return re.sub(r"__msg\d+", lambda m: str(bindings.get(m.group(0), m.group(0))), source)


def _explain(source: str, replacements: list, path: str) -> str:
    parts = []
    for node, new_node in replacements[:3]:
        old = ast.get_source_segment(source, node) or ast.unparse(node)
        parts.append(f"{path}:{node.lineno}: `{old.strip()}` -> `{ast.unparse(new_node)}`")
    more = f" (and {len(replacements) - 3} more)" if len(replacements) > 3 else ""
    return "; ".join(parts) + more


def _find(pattern: ast.AST, tree: ast.AST, bindings: dict):
    for node in ast.walk(tree):
        if isinstance(node, ast.expr | ast.stmt):
            attempt = dict(bindings)
            if _match(pattern, node, attempt):
                yield node, attempt


def _is_test_path(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return (
        name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
        or "/tests/" in f"/{path}"
    )


def _functions_under_test(files: dict[str, str], failure: Failure) -> set[str]:
    """Names called on the failing lines of test files: the code under test."""
    names = set()
    for path, line in failure.frames:
        if not _is_test_path(path) or not line:
            continue
        lines = files[path].splitlines()
        text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        for match in re.finditer(r"([A-Za-z_]\w*)\s*\(", text):
            names.add(match.group(1))
    return names


def _ranked_sites(pattern: ast.AST, files: dict[str, str], failure: Failure, bindings: dict):
    """Every match outside the tests, nearest to the failure first: the crash line, a line of the
    traceback, a function the failing test calls, then anywhere else."""
    frame_lines = {(p, ln) for p, ln in failure.frames}
    under_test = _functions_under_test(files, failure)
    found = []
    for path in sorted(files):
        if not path.endswith(".py") or _is_test_path(path):
            continue
        try:
            tree = _parse(files[path])
        except (SyntaxError, ValueError):
            continue
        functions = [
            n for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name in under_test
        ]  # fmt: skip
        for node, b in _find(pattern, tree, bindings):
            lines = range(node.lineno, (node.end_lineno or node.lineno) + 1)
            if path == failure.path and failure.line in lines:
                rank = 0
            elif any((path, ln) in frame_lines for ln in lines):
                rank = 1
            elif any(f.lineno <= node.lineno <= (f.end_lineno or f.lineno) for f in functions):
                rank = 2
            else:
                rank = 3
            found.append((rank, path, node.lineno, node.col_offset, tree, node, b))
    found.sort(key=lambda item: item[:4])
    for _, path, _, _, tree, node, b in found:
        yield path, tree, node, b


def _replace_nodes(
    source: str, tree: ast.Module, replacements: list[tuple[ast.AST, ast.AST]]
) -> str | None:
    """Replace each node's source text by its new node's, keeping every other byte; check that the
    result parses to exactly the tree with the nodes replaced (parenthesise where precedence asks)."""
    replacements = [(old, _with_context(new, old)) for old, new in replacements]
    expected = ast.dump(_clone(tree, {id(old): new for old, new in replacements}))
    for parenthesise in (False, True):
        text = _splice(source, replacements, parenthesise)
        if text is None:
            return None
        try:
            if ast.dump(ast.parse(text)) == expected:
                return text
        except (SyntaxError, ValueError):
            continue
    return None


def _with_context(new: ast.AST, old: ast.AST) -> ast.AST:
    """The new node loads, stores or deletes as the node it replaces did."""
    if hasattr(old, "ctx") and hasattr(new, "ctx"):
        new = copy.copy(new)
        new.ctx = old.ctx
    return new


def _clone(tree: ast.AST, swaps: dict[int, ast.AST]) -> ast.AST:
    """A deep copy of `tree` with the nodes whose id() is in `swaps` replaced."""

    def clone(node):
        if id(node) in swaps:
            return copy.deepcopy(swaps[id(node)])
        if isinstance(node, ast.AST):
            copied = type(node)()
            for name, value in ast.iter_fields(node):
                setattr(copied, name, clone(value))
            for name in node._attributes:
                if hasattr(node, name):
                    setattr(copied, name, getattr(node, name))
            return copied
        if isinstance(node, list):
            return [clone(item) for item in node]
        return node

    return clone(tree)


def _splice(
    source: str, replacements: list[tuple[ast.AST, ast.AST]], parenthesise: bool
) -> str | None:
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line.encode()))
    data = source.encode()
    spans = []
    for old, new in replacements:
        if old.end_lineno is None or old.end_col_offset is None:
            return None
        start = offsets[old.lineno - 1] + old.col_offset
        end = offsets[old.end_lineno - 1] + old.end_col_offset
        text = ast.unparse(new)
        if isinstance(old, ast.stmt) and "\n" in text:
            return None  # a simple statement stays on its line
        if (
            parenthesise
            and isinstance(new, ast.expr)
            and not isinstance(
                new, ast.Name | ast.Constant | ast.Attribute | ast.Call | ast.Subscript
            )
        ):
            text = f"({text})"
        spans.append((start, end, text.encode()))
    spans.sort()
    if any(a[1] > b[0] for a, b in zip(spans, spans[1:], strict=False)):
        return None  # overlapping matches
    for start, end, text in reversed(spans):
        data = data[:start] + text + data[end:]
    return data.decode()


# --- Extracting ----------------------------------------------------------------------------------


def extract_template(files: dict[str, str], edits: list[FileEdit], failure: Failure) -> Template:
    """The template of a fix that made the tests pass, checked to reproduce the fix on `files`."""
    changed = [e for e in edits if e.action != "modify" or files.get(e.path) != e.content]
    if len(changed) != 1:
        raise ExtractionFailed(
            f"the fix changes {len(changed)} files; templates hold one file's edit"
        )
    edit = changed[0]
    if edit.action != "modify" or not edit.path.endswith(".py") or edit.path not in files:
        raise ExtractionFailed(f"the fix {edit.action}s {edit.path}; templates modify Python files")
    before_source, after_source = files[edit.path], edit.content
    try:
        before_tree = ast.parse(before_source)
    except (SyntaxError, ValueError) as exc:
        raise ExtractionFailed(
            f"{edit.path} does not parse before the fix ({exc.msg if hasattr(exc, 'msg') else exc}); templates are AST edits"
        ) from exc
    try:
        after_tree = ast.parse(after_source)
    except (SyntaxError, ValueError) as exc:
        raise ExtractionFailed(f"{edit.path} does not parse after the fix") from exc

    specs = _import_specs(before_tree, after_tree, failure, files) or _rewrite_specs(
        before_tree, after_tree, failure, edit.path, before_source
    )
    reasons = []
    # Checking the fix's own place is enough (and keeps this fast in big files).
    where = (edit.path, _changed_lines(before_source, after_source))
    for spec in specs:
        template = template_from_spec(spec)
        try:
            applications = apply_template(template, files, failure, max_sites=5, only_lines=where)
        except TemplateDoesNotApply as exc:
            reasons.append(str(exc))
            continue
        if any(a.path == edit.path and _equivalent(a.content, after_source) for a in applications):
            return template
        reasons.append("re-applying it does not reproduce the fix")
    raise ExtractionFailed(
        "; ".join(dict.fromkeys(reasons)) or "the fix is not a kind of edit templates hold"
    )


def _changed_lines(before: str, after: str) -> set[int]:
    """Line numbers of `before` that the edit replaced or deleted, or that it inserted next to."""
    matcher = difflib.SequenceMatcher(None, before.splitlines(), after.splitlines(), autojunk=False)
    lines: set[int] = set()
    for tag, i1, i2, _, _ in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            lines.update(range(i1 + 1, i2 + 1))
        elif tag == "insert":
            lines.update((i1, i1 + 1))
    return lines


def _touches(node: ast.AST, lines: set[int]) -> bool:
    return any(line in lines for line in range(node.lineno, (node.end_lineno or node.lineno) + 1))


def _equivalent(a: str, b: str) -> bool:
    """Same syntax tree, the order of the leading import block aside."""
    try:
        return _normal_dump(ast.parse(a)) == _normal_dump(ast.parse(b))
    except (SyntaxError, ValueError):
        return False


def _normal_dump(tree: ast.Module) -> str:
    body = list(tree.body)
    start = (
        1
        if body
        and isinstance(body[0], ast.Expr)
        and isinstance(getattr(body[0], "value", None), ast.Constant)
        else 0
    )
    end = start
    while end < len(body) and isinstance(body[end], ast.Import | ast.ImportFrom):
        end += 1
    block = sorted(body[start:end], key=ast.dump)
    return "\n".join(ast.dump(n) for n in body[:start] + block + body[end:])


def _import_specs(
    before: ast.Module, after: ast.Module, failure: Failure, files: dict[str, str]
) -> list[dict]:
    before_dumps = [ast.dump(n) for n in before.body]
    added = [n for n in after.body if ast.dump(n) not in before_dumps]
    remaining = [ast.dump(n) for n in after.body if ast.dump(n) in before_dumps]
    if (
        len(added) != 1
        or not isinstance(added[0], ast.Import | ast.ImportFrom)
        or remaining != before_dumps
    ):
        return []
    statement = ast.unparse(added[0])
    bound = [alias.asname or alias.name.split(".")[0] for alias in added[0].names]
    values = failure.message_values
    if len(bound) != 1 or bound[0] not in values:
        return [{"v": SPEC_VERSION, "kind": "insert_import", "import": statement, "requires": {}}]
    hole = f"__msg{values.index(bound[0])}"
    name = bound[0]
    general = re.sub(rf"\b{re.escape(name)}\b", hole, statement)
    specs = []
    if isinstance(added[0], ast.Import) and added[0].names[0].asname is None:
        if name in STDLIB_MODULES:
            specs.append(
                {
                    "v": SPEC_VERSION,
                    "kind": "insert_import",
                    "import": general,
                    "requires": {hole: ["stdlib_module"]},
                }
            )
        elif _is_project_module(name, files):
            specs.append(
                {
                    "v": SPEC_VERSION,
                    "kind": "insert_import",
                    "import": general,
                    "requires": {hole: ["project_module"]},
                }
            )
    specs.append(
        {
            "v": SPEC_VERSION,
            "kind": "insert_import",
            "import": general,
            "requires": {hole: ["equals", name]},
        }
    )
    return specs


def _diff(before: ast.AST, after: ast.AST, parent: ast.AST | None, out: list) -> None:
    """The smallest differing nodes: (before node, after node, before parent)."""
    if type(before) is not type(after):
        out.append((before, after, parent))
        return
    own_change = False
    children = []
    for name, value in ast.iter_fields(before):
        if name in ("ctx", "kind", "type_comment"):
            continue
        other = getattr(after, name, None)
        if isinstance(value, list):
            if not isinstance(other, list) or len(value) != len(other):
                out.append((before, after, parent))
                return
            for x, y in zip(value, other, strict=True):
                if isinstance(x, ast.AST) and isinstance(y, ast.AST):
                    children.append((x, y))
                elif x != y:
                    own_change = True
        elif isinstance(value, ast.AST) and isinstance(other, ast.AST):
            children.append((value, other))
        elif value != other or type(value) is not type(other):
            own_change = True
    if own_change:
        out.append((before, after, parent))
        return
    for x, y in children:
        _diff(x, y, before, out)


class _Abstraction:
    """Names and literals to holes, shared between the before and after patterns."""

    def __init__(self, message_values: list[str], keep: set[str]):
        self.message = {v: f"__msg{i}" for i, v in reversed(list(enumerate(message_values)))}
        self.keep = keep  # identifiers that stay concrete
        self.ids: dict[str, str] = {}
        self.lits: dict[tuple, str] = {}
        self.exprs = 0

    def identifier(self, name: str) -> str:
        if name in self.message:
            return self.message[name]
        if name in self.keep:
            return name
        return self.ids.setdefault(name, f"__id{len(self.ids)}")

    def literal(self, value) -> ast.AST:
        if isinstance(value, bool) or value is None or value is ...:
            return ast.Constant(value)
        key = (type(value).__name__, value)
        return ast.Name(id=self.lits.setdefault(key, f"__lit{len(self.lits)}"), ctx=ast.Load())

    def expression(self) -> ast.AST:
        self.exprs += 1
        return ast.Name(id=f"__e{self.exprs - 1}", ctx=ast.Load())

    def abstract(
        self,
        node: ast.AST,
        opaque: set[int] = frozenset(),
        new_is_concrete: bool = False,
        concrete: set[int] = frozenset(),
    ) -> ast.AST:
        """A copy of `node` with holes. Subtrees in `opaque` become __e holes, those in `concrete`
        stay as they are. With `new_is_concrete`, identifiers and literals not seen before stay as
        they are."""

        def walk(n):
            if id(n) in opaque:
                return self.expression()
            if id(n) in concrete:
                return copy.deepcopy(n)
            if isinstance(n, ast.JoinedStr):  # an f-string's text is not a value to abstract
                return ast.JoinedStr(
                    values=[
                        copy.deepcopy(v) if isinstance(v, ast.Constant) else walk(v)
                        for v in n.values
                    ]
                )
            if isinstance(n, ast.Name):
                if new_is_concrete and n.id not in self.ids and n.id not in self.message:
                    return ast.Name(id=n.id, ctx=n.ctx)
                return ast.Name(id=self.identifier(n.id), ctx=n.ctx)
            if isinstance(n, ast.Constant):
                key = (type(n.value).__name__, n.value)
                if new_is_concrete and key not in self.lits:
                    return ast.Constant(n.value)
                return self.literal(n.value)
            if isinstance(n, ast.Attribute):
                value = walk(n.value)
                attr = n.attr
                keep_attr = isinstance(n.value, ast.Name) and n.value.id in self.keep
                if attr in self.message:
                    attr = self.message[attr]
                elif not keep_attr and not (new_is_concrete and attr not in self.ids):
                    attr = self.identifier(attr)
                return ast.Attribute(value=value, attr=attr, ctx=n.ctx)
            if isinstance(n, ast.AST):
                new = type(n)()
                for name, value in ast.iter_fields(n):
                    setattr(new, name, walk(value))
                return new
            if isinstance(n, list):
                return [walk(item) for item in n]
            return n

        return walk(node)


def _keep_names(tree: ast.Module) -> set[str]:
    """Identifiers that mean the same in every project: builtins and stdlib modules the file imports
    under their own names."""
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {
                a.name for a in node.names if a.asname is None and a.name in STDLIB_MODULES
            }
    defined = _names_bound(tree) - imported
    return (BUILTIN_NAMES - defined) | imported


def _is_leaf(node: ast.AST) -> bool:
    return isinstance(node, ast.Name | ast.Constant)


def _rewrite_specs(
    before: ast.Module, after: ast.Module, failure: Failure, path: str, source: str
) -> list[dict]:
    changes: list = []
    _diff(before, after, None, changes)
    if not changes:
        raise ExtractionFailed("the fix does not change the syntax tree")
    parents = {
        id(child): parent for parent in ast.walk(before) for child in ast.iter_child_nodes(parent)
    }
    keep = _keep_names(before)
    values = failure.message_values

    # A rename the error message names, everywhere in the file: NameError / AttributeError.
    renamed = {(type(b).__name__, _leaf_name(b), _leaf_name(a)) for b, a, _ in changes}
    if len(renamed) == 1:
        kind, old, new = next(iter(renamed))
        if old and new and old in values and path == failure.path:
            return _rename_specs(kind, old, new, values)
    if len(changes) != 1:
        raise ExtractionFailed(
            f"the fix makes {len(changes)} different changes; templates hold one"
        )

    old_node, new_node, parent = changes[0]
    specs = []
    for general in (True, False):
        spec = _single_change_spec(
            old_node, new_node, parent, parents, keep, values, general, before
        )
        if spec and spec not in specs:
            specs.append(spec)
    return specs


def _leaf_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _rename_specs(kind: str, old: str, new: str, values: list[str]) -> list[dict]:
    hole = f"__msg{values.index(old)}"
    if kind == "Name":
        before, after, rule = hole, "__new0", "closest_name"
    else:
        before, after, rule = f"__e0.{hole}", "__e0.__new0", "closest_attr"
    closest = {"v": SPEC_VERSION, "kind": "rewrite", "mode": "expr", "sites": "all",
               "before": before, "after": after, "derive": {"__new0": [rule, hole]}}  # fmt: skip
    exact = {"v": SPEC_VERSION, "kind": "rewrite", "mode": "expr", "sites": "all", "before": before,
             "after": after, "derive": {"__new0": ["name", new]}, "requires": {hole: ["equals", old]}}  # fmt: skip
    return [closest, exact]


def _single_change_spec(
    old_node, new_node, parent, parents, keep, values, general, tree
) -> dict | None:
    abstraction = _Abstraction(values, keep)
    derive: dict = {}

    if isinstance(old_node, _OPERATORS):
        # An operator swap: "replace `<` by `<=` in the comparison". Operands are any expressions.
        context = parent
        operands = [c for c in ast.iter_child_nodes(context) if isinstance(c, ast.expr)]
        opaque = {id(c) for c in operands} if general else set()
        before_pattern = abstraction.abstract(context, opaque)
        after_context = _swap_child(context, old_node, new_node)
        opaque_after = (
            {id(c) for c in ast.iter_child_nodes(after_context) if isinstance(c, ast.expr)}
            if general
            else set()
        )
        abstraction.exprs = 0
        after_pattern = abstraction.abstract(after_context, opaque_after, new_is_concrete=True)
    elif isinstance(old_node, ast.Constant) and isinstance(new_node, ast.Constant):
        # A changed value: keep the parent for context (`range(1, 10)`), derive the new value.
        context = (
            parent
            if isinstance(parent, ast.expr) or isinstance(parent, _SIMPLE_STATEMENTS)
            else old_node
        )
        siblings = [
            c
            for c in ast.iter_child_nodes(context)
            if isinstance(c, ast.expr) and c is not old_node and not _is_leaf(c)
        ]
        opaque = {id(c) for c in siblings} if general else set()
        rule = _value_rule(old_node.value, new_node.value, "__lit", tree)
        if rule is None:
            return None
        if rule[0] == "const":
            # Not a relation the next bug will share: "replace 'prcie' by 'price'", both concrete.
            before_pattern = abstraction.abstract(context, opaque, concrete={id(old_node)})
            after_context = _swap_child(context, old_node, new_node)
            abstraction.exprs = 0
            opaque_after = {
                id(c) for c in ast.iter_child_nodes(after_context)
                if isinstance(c, ast.expr) and not _is_leaf(c)
            } if general else set()  # fmt: skip
            after_pattern = abstraction.abstract(after_context, opaque_after, new_is_concrete=True)
        else:
            before_pattern = abstraction.abstract(context, opaque)
            hole = abstraction.lits.get((type(old_node.value).__name__, old_node.value))
            derive["__new0"] = [rule[0], hole, *rule[2:]]
            after_pattern = _swap_child(
                before_pattern,
                _find_hole(before_pattern, hole),
                ast.Name(id="__new0", ctx=ast.Load()),
            )
    else:
        # Any other expression edit, in its parent for context (`xs[len(xs)]`, not every
        # `len(xs)`), abstracted the same way on both sides; names and values the fix wrote stay
        # concrete.
        fits = isinstance(parent, (ast.expr, *_SIMPLE_STATEMENTS))
        context = parent if fits or not isinstance(old_node, ast.expr) else old_node
        while context is not None and not isinstance(context, ast.expr | ast.stmt):
            context = parents.get(id(context))
        if (
            context is None
            or isinstance(context, ast.stmt)
            and not isinstance(context, _SIMPLE_STATEMENTS)
        ):
            return None
        before_pattern = abstraction.abstract(context)
        after_pattern = abstraction.abstract(
            _swap_child(context, old_node, new_node), new_is_concrete=True
        )

    mode = "stmt" if isinstance(before_pattern, ast.stmt) else "expr"
    try:
        before_source, after_source = ast.unparse(before_pattern), ast.unparse(after_pattern)
    except (ValueError, TypeError, AttributeError):
        return None
    spec = {"v": SPEC_VERSION, "kind": "rewrite", "mode": mode, "sites": "each",
            "before": before_source, "after": after_source}  # fmt: skip
    if derive:
        spec["derive"] = derive
    try:
        template_from_spec(spec)
    except TemplateError:
        return None
    return spec


def _value_rule(old, new, hole: str | None, tree: ast.AST) -> list | None:
    if hole and type(old) is int and type(new) is int and abs(new - old) <= 2:
        return ["add", hole, new - old]
    if hole and isinstance(old, str) and isinstance(new, str):
        strings = {
            n.value
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
        } - {old}
        match = difflib.get_close_matches(old, sorted(strings), n=1, cutoff=CLOSEST_CUTOFF)
        if match and match[0] == new:
            return ["closest_str", hole]
    return ["const", new] if type(new) in (int, float, str) else None


def _find_hole(pattern: ast.AST, hole: str | None) -> ast.AST | None:
    for node in ast.walk(pattern):
        if isinstance(node, ast.Name) and node.id == hole:
            return node
    return None


def _swap_child(tree: ast.AST, old: ast.AST | None, new: ast.AST) -> ast.AST:
    """A copy of `tree` with the object `old` replaced by `new`."""
    return _clone(tree, {id(old): new} if old is not None else {})
