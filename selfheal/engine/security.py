"""CONTRACT (to be implemented): zero-trust review of every patch. See issue 4, item 5."""

from __future__ import annotations

from dataclasses import dataclass, field

from .patch import Patch


@dataclass
class SecurityReview:
    verdict: str  # "safe" | "risky" | "blocked"
    reasons: list[str] = field(default_factory=list)


def review_patch(patch: Patch, files: dict[str, str]) -> SecurityReview:
    """Review `patch` against the `files` it applies to (the content before the patch)."""
    raise NotImplementedError
