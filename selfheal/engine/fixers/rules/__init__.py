"""The `rules` strategy: fixes that need no model, one small function per kind of mistake.

Every rule reads the project's sources with `ast` (project code is never imported or run), returns
whole-file edits, and only edits after which the file still parses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from itertools import zip_longest

from ...classify import Classification
from ...patch import FileEdit, Patch
from ...tracebacks import ErrorReport
from ..base import Candidate, FixContext, unique_candidates
from .attributes import misspelt_attribute
from .code import Fix, ProjectCode
from .imports import wrong_imported_name, wrong_module_path
from .names import crash_location, missing_project_import, missing_stdlib_import, misspelt_name
from .syntax import syntax_error

Rule = Callable[[ErrorReport, ProjectCode], list[Fix]]

RULES: tuple[Rule, ...] = (
    missing_stdlib_import,
    missing_project_import,
    misspelt_name,
    misspelt_attribute,
    wrong_module_path,
    wrong_imported_name,
    syntax_error,
)

# When the parser of the output could not tell the exception type, the category still can.
TYPE_FOR_CATEGORY = {"syntax": "SyntaxError", "indentation": "IndentationError"}

MAX_CANDIDATES = 6


@dataclasses.dataclass
class ErrorGroup:
    """Failures with the same error at the same place (several tests hitting one bug)."""

    report: ErrorReport
    classification: Classification | None
    tests: list[str]


class RulesFixer:
    name = "rules"

    def __init__(self, rules: tuple[Rule, ...] = RULES):
        self.rules = rules

    def propose(self, context: FixContext) -> list[Candidate]:
        project = ProjectCode(context.files)
        groups = group_errors(context.reports, context.classifications, project)
        found: list[tuple[ErrorGroup, Fix]] = []
        for group in groups:
            found.extend((group, fix) for fix in self.fixes_for(group.report, project))
        candidates = [single_candidate(context, group, fix) for group, fix in found]
        candidates.sort(key=lambda candidate: -candidate.confidence)
        combined = self.combined_candidate(context, groups, project)
        if combined is not None:
            candidates.insert(0, combined)
        return unique_candidates(candidates)[:MAX_CANDIDATES]

    def fixes_for(self, report: ErrorReport, project: ProjectCode) -> list[Fix]:
        fixes: list[Fix] = []
        for rule in self.rules:
            fixes.extend(rule(report, project))
        return fixes

    def combined_candidate(
        self, context: FixContext, groups: list[ErrorGroup], project: ProjectCode
    ) -> Candidate | None:
        """When several different errors each have a fix, one candidate with the best fix for each,
        every rule run again on the code the previous fixes produced."""
        if len(groups) < 2:
            return None
        applied: list[tuple[ErrorGroup, Fix]] = []
        current = project
        for group in groups:
            fixes = self.fixes_for(group.report, current)
            if not fixes:
                continue
            best = max(fixes, key=lambda fix: fix.confidence)
            applied.append((group, best))
            current = current.with_file(best.path, best.content)
        if len(applied) < 2:
            return None
        edits = [
            FileEdit(path, "modify", current.files[path], base_content=project.files[path])
            for path in sorted({fix.path for _, fix in applied})
            if current.files[path] != project.files[path]
        ]
        return Candidate(
            strategy="rules",
            patch=Patch(edits),
            explanation=" ".join(fix.explanation for _, fix in applied),
            confidence=min(fix.confidence for _, fix in applied),
            rule="+".join(fix.rule for _, fix in applied),
            root_cause="; ".join(root_cause(group, fix) for group, fix in applied),
            metadata={
                "rules": [fix.rule for _, fix in applied],
                "errors": [error_line(group.report) for group, _ in applied],
                "tests": sorted({test for group, _ in applied for test in group.tests if test}),
            },
        )


def group_errors(
    reports: list[ErrorReport], classifications: list[Classification], project: ProjectCode
) -> list[ErrorGroup]:
    groups: dict[tuple, ErrorGroup] = {}
    for report, classification in zip_longest(reports, classifications):
        if report is None:
            continue
        if not report.exc_type and classification and classification.category in TYPE_FOR_CATEGORY:
            report = dataclasses.replace(
                report, exc_type=TYPE_FOR_CATEGORY[classification.category]
            )
        location = crash_location(report, project)
        key = (report.exc_type, report.message, location, report.syntax_file, report.syntax_line)
        if key in groups:
            groups[key].tests.append(report.test_name)
        else:
            groups[key] = ErrorGroup(report, classification, [report.test_name])
    return list(groups.values())


def single_candidate(context: FixContext, group: ErrorGroup, fix: Fix) -> Candidate:
    return Candidate(
        strategy="rules",
        patch=Patch(
            [FileEdit(fix.path, "modify", fix.content, base_content=context.files[fix.path])]
        ),
        explanation=fix.explanation,
        confidence=fix.confidence,
        rule=fix.rule,
        root_cause=root_cause(group, fix),
        metadata={
            "rules": [fix.rule],
            "errors": [error_line(group.report)],
            "tests": [test for test in group.tests if test],
        },
    )


def root_cause(group: ErrorGroup, fix: Fix) -> str:
    if group.classification and group.classification.root_cause:
        return group.classification.root_cause
    return error_line(group.report)


def error_line(report: ErrorReport) -> str:
    return f"{report.exc_type}: {report.message}" if report.exc_type else report.message


__all__ = ["RULES", "RulesFixer"]
