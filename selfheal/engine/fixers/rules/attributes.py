"""AttributeError: a misspelt attribute of a project class, a project module or a stdlib module."""

from __future__ import annotations

import ast
import builtins
import difflib
import re

from ...tracebacks import ErrorReport
from .code import Fix, ProjectCode, parses, stdlib_module
from .edits import replace_spans
from .names import DID_YOU_MEAN, SIMILARITY_CUTOFF, crash_location

MODULE_ATTRIBUTE = re.compile(r"^module '(?P<owner>[\w.]+)' has no attribute '(?P<attr>\w+)'")
OBJECT_ATTRIBUTE = re.compile(
    r"^(?:type object )?'(?P<owner>\w+)'(?: object)? has no attribute '(?P<attr>\w+)'"
)

MISSPELT_ATTRIBUTE_CONFIDENCE = 0.8  # scaled by the similarity of the two names
NOT_A_TYPO = ("NoneType",)  # `None.x` is a missing value, not a misspelling


def class_attributes(
    project: ProjectCode, class_name: str, seen: set[str] | None = None
) -> set[str]:
    """Attributes instances of a project class have: methods, class-level names, `self.x = ...`
    assignments in its methods, and what its bases (project or builtin) provide."""
    seen = seen if seen is not None else set()
    if class_name in seen:
        return set()
    seen.add(class_name)
    attributes: set[str] = set()
    found = False
    for path in project.python_paths:
        tree = project.tree(path)
        if tree is None:
            continue
        for node in ast.walk(tree):
            if not (isinstance(node, ast.ClassDef) and node.name == class_name):
                continue
            found = True
            for statement in node.body:
                if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    attributes.add(statement.name)
                elif isinstance(statement, ast.Assign | ast.AnnAssign):
                    targets = (
                        statement.targets
                        if isinstance(statement, ast.Assign)
                        else [statement.target]
                    )
                    attributes.update(t.id for t in targets if isinstance(t, ast.Name))
            for child in ast.walk(node):
                if (
                    isinstance(child, ast.Attribute)
                    and isinstance(child.ctx, ast.Store)
                    and isinstance(child.value, ast.Name)
                    and child.value.id == "self"
                ):
                    attributes.add(child.attr)
            for base in node.bases:
                if isinstance(base, ast.Name):
                    attributes |= class_attributes(project, base.id, seen)
    if not found:
        builtin = getattr(builtins, class_name, None)
        if isinstance(builtin, type):
            attributes.update(dir(builtin))
    return attributes


def module_attributes(project: ProjectCode, module: str, importer: str) -> set[str]:
    path = project.path_of_module(module, importer)
    if path is not None:
        return set(project.top_level_names(path))
    stdlib = stdlib_module(module)
    return set(dir(stdlib)) if stdlib else set()


def misspelt_attribute(report: ErrorReport, project: ProjectCode) -> list[Fix]:
    """`AttributeError: 'Calculator' object has no attribute 'ad'` (or `module 'calc' has no
    attribute 'ad'`) where `add` exists: rename the attribute at the failing access, and the same
    access elsewhere in that function (for a module, in the whole file)."""
    if report.exc_type != "AttributeError" or "circular import" in report.message:
        return []
    location = crash_location(report, project)
    if location is None:
        return []
    path, line = location
    tree = project.tree(path)
    if tree is None or line is None:
        return []
    module_match = MODULE_ATTRIBUTE.search(report.message)
    object_match = OBJECT_ATTRIBUTE.search(report.message)
    if module_match:
        bad = module_match.group("attr")
        existing = module_attributes(project, module_match.group("owner"), path)
    elif object_match and object_match.group("owner") not in NOT_A_TYPO:
        bad = object_match.group("attr")
        existing = class_attributes(project, object_match.group("owner"))
    else:
        return []
    hint_match = DID_YOU_MEAN.search(report.message)
    hint = hint_match.group("name") if hint_match else None
    candidates = closest_attributes(bad, existing, hint)
    at_crash = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr == bad
        and (node.end_lineno or node.lineno) == line
    ]
    if not candidates or not at_crash:
        return []
    owners = {ast.unparse(node.value) for node in at_crash}
    if module_match:
        region: ast.AST = tree
    else:
        scopes = project.enclosing_scopes(path, line)
        region = scopes[-1] if scopes else tree
    accesses = [
        node
        for node in ast.walk(region)
        if isinstance(node, ast.Attribute)
        and node.attr == bad
        and (ast.unparse(node.value) in owners or node in at_crash)
    ]
    fixes = []
    for replacement, ratio in candidates:
        spans = [
            (
                node.end_lineno or node.lineno,
                (node.end_col_offset or 0) - len(bad.encode()),
                node.end_col_offset or 0,
            )
            for node in accesses
        ]
        content = replace_spans(project.files[path], spans, replacement)
        if not parses(content):
            continue
        owner = (module_match or object_match).group("owner")
        fixes.append(
            Fix(
                path,
                content,
                f"`{owner}` has no attribute `{bad}`; the closest existing one is `{replacement}` "
                f"(similarity {ratio:.2f}), renamed {len(spans)} access(es) in {path}.",
                round(MISSPELT_ATTRIBUTE_CONFIDENCE * ratio, 3),
                "misspelt_attribute",
            )
        )
    return fixes


def closest_attributes(bad: str, existing: set[str], hint: str | None) -> list[tuple[str, float]]:
    if hint and hint.isidentifier():  # the interpreter looked at the real object
        return [(hint, max(0.95, difflib.SequenceMatcher(None, bad, hint).ratio()))]
    public = [name for name in existing if not name.startswith("__") and name != bad]
    scored = [
        (name, difflib.SequenceMatcher(None, bad.lower(), name.lower()).ratio()) for name in public
    ]
    scored = [(name, ratio) for name, ratio in scored if ratio >= SIMILARITY_CUTOFF]
    scored.sort(key=lambda item: (-item[1], item[0]))
    return scored[:2]
