"""The revert strategy: where a changed file has an earlier version whose tests passed, restore
the functions that changed since (the failing ones first), or the whole file.

Candidates are not validated here: the loop re-tests them like any other fix.
"""

from __future__ import annotations

import ast

from ..patch import FileEdit, Patch
from .base import Candidate, FixContext


class RevertFixer:
    name = "revert"

    def propose(self, context: FixContext) -> list[Candidate]:
        implicated = _implicated_functions(context)
        paths = [p for p in context.changed_paths if p in context.passing_versions]
        paths += [p for p in context.passing_versions if p not in paths]
        ranked: list[tuple[int, Candidate]] = []
        seen: set[tuple[str, str]] = set()
        for path in paths:
            current = context.files.get(path)
            versions = context.passing_versions.get(path) or []
            if current is None or not versions or versions[0] == current:
                continue
            passing = versions[0]
            changed = _changed_functions(current, passing)
            for name, text in changed:
                is_implicated = name.split(".")[-1] in implicated.get(path, set())
                rank = 0 if is_implicated else 1
                explanation = (
                    f"Restore `{name}` in {path} as it was in the last version whose tests "
                    "passed" + (" (the failing tests go through it)." if is_implicated else ".")
                )
                confidence = 0.6 if is_implicated else 0.45
                candidate = _candidate(path, current, text, explanation, confidence, "function")
                ranked.append((rank, candidate))
            if len(changed) > 1:
                text = current
                for name, _ in changed:
                    text = _restore_function(text, passing, name) or text
                explanation = f"Restore every function of {path} that changed since it passed."
                ranked.append((2, _candidate(path, current, text, explanation, 0.4, "functions")))
            explanation = f"Restore {path} to the last version whose tests passed."
            ranked.append((3, _candidate(path, current, passing, explanation, 0.35, "file")))
        candidates = []
        for _, candidate in sorted(ranked, key=lambda item: item[0]):
            edit = candidate.patch.edits[0]
            if (edit.path, edit.content) in seen or edit.content == edit.base_content:
                continue
            seen.add((edit.path, edit.content))
            candidates.append(candidate)
        return candidates


def _candidate(
    path: str, current: str, new: str, explanation: str, confidence: float, scope: str
) -> Candidate:
    return Candidate(
        strategy="revert",
        patch=Patch([FileEdit(path, "modify", new, base_content=current)]),
        explanation=explanation,
        confidence=confidence,
        rule=f"revert-{scope}",
        root_cause="the change since the last passing version",
        validated=False,
        metadata={"scope": scope},
    )


def _implicated_functions(context: FixContext) -> dict[str, set[str]]:
    """Function names per project path, from the failing tests' tracebacks."""
    found: dict[str, set[str]] = {}
    for report in context.reports:
        for frame in report.frames:
            filename = frame.filename.replace("\\", "/")
            for path in context.files:
                if filename == path or filename.endswith("/" + path):
                    found.setdefault(path, set()).add(frame.function)
    return found


def _functions(tree: ast.Module) -> dict[str, ast.AST]:
    """Functions and methods by qualified name ("Class.method")."""
    found: dict[str, ast.AST] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    found[name] = child
                visit(child, name + ".")

    visit(tree, "")
    return found


def _span(node: ast.AST) -> tuple[int, int]:
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return first, node.end_lineno


def _changed_functions(current: str, passing: str) -> list[tuple[str, str]]:
    """(qualified name, current text with only that function restored) for every function
    present in both versions whose code differs. [] when either version does not parse."""
    try:
        now, then = ast.parse(current), ast.parse(passing)
    except (SyntaxError, ValueError):
        return []
    old = _functions(then)
    changed = []
    for name, node in _functions(now).items():
        before = old.get(name)
        if before is None or ast.dump(before) == ast.dump(node):
            continue
        restored = _restore_function(current, passing, name)
        if restored is not None:
            changed.append((name, restored))
    return changed


def _restore_function(current: str, passing: str, name: str) -> str | None:
    try:
        now, then = _functions(ast.parse(current)), _functions(ast.parse(passing))
    except (SyntaxError, ValueError):
        return None
    if name not in now or name not in then:
        return None
    lines, old_lines = current.splitlines(keepends=True), passing.splitlines(keepends=True)
    start, end = _span(now[name])
    old_start, old_end = _span(then[name])
    replacement = old_lines[old_start - 1 : old_end]
    if replacement and not replacement[-1].endswith("\n") and end < len(lines):
        replacement[-1] += "\n"
    return "".join(lines[: start - 1] + replacement + lines[end:])
