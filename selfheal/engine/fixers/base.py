"""The one interface every fix strategy implements: `propose(context) -> list[Candidate]`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..classify import Classification
from ..patch import Patch
from ..sandbox import SandboxResult
from ..tracebacks import ErrorReport


class Unfixable(Exception):
    """The strategy is sure no code change in reach can make the tests pass (with the reason)."""


class StrategyUnavailable(Exception):
    """The strategy cannot run now (no API key, circuit open, ...); the loop moves on and says why."""


@dataclass
class PreviousAttempt:
    number: int
    strategy: str
    explanation: str
    diff: str
    outcome: str  # "passed" | "improved" | "failed" | "error"
    failed_tests: list[str] = field(default_factory=list)
    error_messages: list[str] = field(default_factory=list)


@dataclass
class FixContext:
    files: dict[
        str, str
    ]  # the project's files with the proposal's changes (and kept fixes) applied
    changed_paths: list[str]  # files the proposal created or modified
    test_command: str
    test_result: SandboxResult  # the failing run being fixed
    reports: list[ErrorReport]  # one per failing test / collection error
    classifications: list[Classification]  # parallel to reports
    proposal_title: str = ""
    proposal_description: str = ""
    original_changes: list[dict] = field(default_factory=list)  # {"path", "action", "content"}
    previous_attempts: list[PreviousAttempt] = field(default_factory=list)
    # Earlier versions of files whose test run passed, newest first: {path: [content, ...]}.
    passing_versions: dict[str, list[str]] = field(default_factory=dict)
    budget_seconds: float = 60.0


@dataclass
class Candidate:
    strategy: str  # "template" | "rules" | "mutation" | "llm" | "revert"
    patch: Patch
    explanation: str
    confidence: float  # 0..1, the strategy's own estimate
    rule: str = ""  # which rule / operator / template produced it
    root_cause: str = ""
    validated: bool = False  # the strategy already ran the whole suite on it and it passed
    metadata: dict = field(default_factory=dict)


def unique_candidates(candidates: list[Candidate]) -> list[Candidate]:
    """The first of each set of candidates that make the same edits, in order."""
    seen = set()
    kept = []
    for candidate in candidates:
        key = tuple((edit.path, edit.action, edit.content) for edit in candidate.patch.edits)
        if key not in seen:
            seen.add(key)
            kept.append(candidate)
    return kept


class Fixer(Protocol):
    name: str

    def propose(self, context: FixContext) -> list[Candidate]: ...
