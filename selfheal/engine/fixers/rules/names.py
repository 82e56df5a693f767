"""NameError: a missing import (stdlib or project) or a misspelt name."""

from __future__ import annotations

import ast
import builtins
import difflib
import re

from ...tracebacks import ErrorReport
from .code import (
    STDLIB_MODULES,
    Fix,
    ProjectCode,
    is_test_file,
    names_bound_in,
    parses,
    stdlib_module,
)
from .edits import insert_import, replace_spans

NAME_NOT_DEFINED = re.compile(r"name '(?P<name>\w+)' is not defined")
DID_YOU_MEAN = re.compile(r"Did you mean:? '?(?P<name>[\w.]+)'?\?")

# Names people use without their `from X import`; each is checked against the real stdlib module.
STDLIB_NAMES = {
    "Path": "pathlib",
    "PurePath": "pathlib",
    "defaultdict": "collections",
    "Counter": "collections",
    "OrderedDict": "collections",
    "deque": "collections",
    "namedtuple": "collections",
    "dataclass": "dataclasses",
    "asdict": "dataclasses",
    "Decimal": "decimal",
    "Fraction": "fractions",
    "Enum": "enum",
    "IntEnum": "enum",
    "ABC": "abc",
    "abstractmethod": "abc",
    "Any": "typing",
    "Optional": "typing",
    "Callable": "typing",
    "Iterable": "typing",
    "Iterator": "typing",
    "TypedDict": "typing",
    "lru_cache": "functools",
    "partial": "functools",
    "reduce": "functools",
    "wraps": "functools",
    "cached_property": "functools",
    "chain": "itertools",
    "groupby": "itertools",
    "dedent": "textwrap",
    "pprint": "pprint",
    "timedelta": "datetime",
    "timezone": "datetime",
    "contextmanager": "contextlib",
    "suppress": "contextlib",
    "sleep": "time",
    "uuid4": "uuid",
    "sqrt": "math",
    "isclose": "math",
}

STDLIB_IMPORT_CONFIDENCE = 0.9
STDLIB_NAME_CONFIDENCE = 0.85
PROJECT_IMPORT_CONFIDENCE = 0.8
MISSPELT_NAME_CONFIDENCE = 0.8  # scaled by the similarity of the two names
SIMILARITY_CUTOFF = 0.75


def undefined_name(report: ErrorReport) -> str | None:
    if report.exc_type not in ("NameError", "UnboundLocalError"):
        return None
    match = NAME_NOT_DEFINED.search(report.message)
    return match.group("name") if match else None


def crash_location(report: ErrorReport, project: ProjectCode) -> tuple[str, int | None] | None:
    """The innermost frame that is a project file: (path, line)."""
    for frame in reversed(report.frames):
        path = project.locate(frame.filename)
        if path and path.endswith(".py"):
            return path, frame.lineno
    return None


def uses_as_module(tree: ast.Module, name: str) -> list[str]:
    """The attributes read from `name` (`name.attr`) anywhere in the module."""
    return sorted(
        {
            node.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == name
        }
    )


def missing_stdlib_import(report: ErrorReport, project: ProjectCode) -> list[Fix]:
    """`NameError: name 'json' is not defined` where the file uses `json.<attr>` and `json` is a
    stdlib module: add `import json` (or `from pathlib import Path` for well-known names)."""
    name = undefined_name(report)
    location = crash_location(report, project)
    if not name or not location:
        return []
    path, _ = location
    tree = project.tree(path)
    if tree is None or name in names_bound_in(tree):
        return []
    source = project.files[path]
    if name in STDLIB_MODULES:
        attributes = uses_as_module(tree, name)
        if not attributes:
            return []
        module = stdlib_module(name)
        if module is None:
            return []
        if not all(hasattr(module, attribute) for attribute in attributes):
            # `datetime.now()`: the class of the same name, not the module.
            if isinstance(getattr(module, name, None), type):
                statement = f"from {name} import {name}"
            else:
                return []
        else:
            statement = f"import {name}"
        confidence = STDLIB_IMPORT_CONFIDENCE
    elif name in STDLIB_NAMES:
        module_name = STDLIB_NAMES[name]
        if not hasattr(stdlib_module(module_name), name):
            return []
        statement = f"from {module_name} import {name}"
        confidence = STDLIB_NAME_CONFIDENCE
    else:
        return []
    content = insert_import(source, statement, stdlib=True)
    if not parses(content):
        return []
    return [
        Fix(
            path,
            content,
            f"`{name}` is used in {path} but never imported; added `{statement}`.",
            confidence,
            "missing_stdlib_import",
        )
    ]


def project_definers(project: ProjectCode, path: str, name: str) -> list[str]:
    """Project modules other than `path` (tests excluded) that define `name` at top level."""
    return [
        other
        for other in project.python_paths
        if other != path
        and not is_test_file(other)
        and project.top_level_names(other).get(name) in ("def", "class", "assign")
    ]


def defined_elsewhere(project: ProjectCode, path: str, name: str) -> bool:
    return bool(project_definers(project, path, name))


def missing_project_import(report: ErrorReport, project: ProjectCode) -> list[Fix]:
    """`NameError: name 'helper' is not defined` where another project module defines `helper` at
    top level: add `from <that module> import helper` (its import name from the project root)."""
    name = undefined_name(report)
    location = crash_location(report, project)
    if not name or not location:
        return []
    path, _ = location
    tree = project.tree(path)
    if tree is None or name in names_bound_in(tree):
        return []
    definers = project_definers(project, path, name)
    own_package = path.rsplit("/", 1)[0] if "/" in path else ""

    def closeness(other: str) -> tuple[bool, int, str]:
        return (not other.startswith(own_package), other.count("/"), other)

    fixes = []
    for rank, definer in enumerate(sorted(definers, key=closeness)[:2]):
        module = project.module_name(definer, importer=path)
        if module.endswith("__main__"):
            continue
        statement = f"from {module} import {name}"
        content = insert_import(project.files[path], statement)
        if not parses(content):
            continue
        confidence = PROJECT_IMPORT_CONFIDENCE * (1.0 if len(definers) == 1 else 0.85) - 0.1 * rank
        fixes.append(
            Fix(
                path,
                content,
                f"`{name}` is defined in {definer} but {path} does not import it; "
                f"added `{statement}`.",
                round(confidence, 3),
                "missing_project_import",
            )
        )
    return fixes


def names_in_scope(project: ProjectCode, path: str, line: int | None) -> list[tuple[str, int]]:
    """(name, scope rank) for what code at `line` can see: 0 the enclosing functions,
    1 the module, 2 the builtins."""
    tree = project.tree(path)
    if tree is None:
        return []
    seen: dict[str, int] = {}
    for scope in reversed(project.enclosing_scopes(path, line)):
        if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
            for name in names_bound_in(scope):
                seen.setdefault(name, 0)
    for name in project.top_level_names(path):
        seen.setdefault(name, 1)
    for name in dir(builtins):
        if not name.startswith("_"):
            seen.setdefault(name, 2)
    return list(seen.items())


def closest_names(
    name: str, pool: list[tuple[str, int]], hint: str | None = None
) -> list[tuple[str, float]]:
    """The best matches for `name` as (candidate, score), best first. The interpreter's own
    "Did you mean" hint wins; nearer scopes break ties in similarity."""
    scored = []
    for candidate, rank in pool:
        if candidate == name:
            continue
        ratio = difflib.SequenceMatcher(None, name.lower(), candidate.lower()).ratio()
        if candidate == hint:
            ratio = max(ratio, 0.95)
        if ratio >= SIMILARITY_CUTOFF:
            scored.append((candidate, ratio, ratio + 0.04 * (2 - rank)))
    scored.sort(key=lambda item: -item[2])
    return [(candidate, ratio) for candidate, ratio, _ in scored[:2]]


def misspelt_name(report: ErrorReport, project: ProjectCode) -> list[Fix]:
    """`NameError: name 'totl' is not defined` where `total` is in scope: rename the reads of the
    misspelt name (in the enclosing function, or in the whole file when nothing binds it)."""
    name = undefined_name(report)
    location = crash_location(report, project)
    if not name or not location:
        return []
    path, line = location
    tree = project.tree(path)
    if tree is None or defined_elsewhere(project, path, name):
        return []  # a missing import, not a typo
    hint_match = DID_YOU_MEAN.search(report.message)
    hint = hint_match.group("name") if hint_match else None
    scopes = [
        scope
        for scope in project.enclosing_scopes(path, line)
        if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef)
    ]
    if name in names_bound_in(tree) and not scopes:
        region: ast.AST | None = None  # only the crash line
    elif name in names_bound_in(tree):
        region = scopes[-1]
    else:
        region = tree
    fixes = []
    for replacement, ratio in closest_names(name, names_in_scope(project, path, line), hint):
        spans = [
            (node.lineno, node.col_offset, node.end_col_offset or 0)
            for node in ast.walk(region or tree)
            if isinstance(node, ast.Name)
            and node.id == name
            and isinstance(node.ctx, ast.Load)
            and (region is not None or node.lineno == line)
        ]
        if not spans:
            continue
        content = replace_spans(project.files[path], spans, replacement)
        if not parses(content):
            continue
        fixes.append(
            Fix(
                path,
                content,
                f"`{name}` is not defined in {path}; it looks like a misspelling of "
                f"`{replacement}` (similarity {ratio:.2f}), renamed {len(spans)} use(s).",
                round(MISSPELT_NAME_CONFIDENCE * ratio, 3),
                "misspelt_name",
            )
        )
    return fixes
