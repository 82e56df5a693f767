"""The mutation strategy: fault localisation plus a search over small edits, every candidate
validated by the project's tests inside the sandbox (see `engine/repair.py`)."""

from __future__ import annotations

from ...patch import FileEdit, Patch
from ..base import Candidate, FixContext, StrategyUnavailable
from .operators import DEFAULT_PRIORS, OPERATORS
from .search import MutationSearch
from .validate import SearchSettings

__all__ = ["DEFAULT_PRIORS", "OPERATORS", "MutationFixer", "MutationSearch", "SearchSettings"]


class MutationFixer:
    """Proposes the plausible patches a mutation search finds, best first, each already run
    against the whole suite (validated=True)."""

    name = "mutation"

    def __init__(
        self,
        priors: dict[str, float] | None = None,
        max_candidates: int = 2000,
        allow_unsafe: bool = False,
        max_patches: int = 3,
    ):
        self.priors = dict(priors or {})
        self.max_candidates = max_candidates
        self.allow_unsafe = allow_unsafe
        self.max_patches = max_patches

    def propose(self, context: FixContext) -> list[Candidate]:
        from ...repair import repair  # the driver imports this package's modules

        settings = SearchSettings(priors=self.priors)
        result = repair(
            context.files,
            context.test_command,
            budget_seconds=context.budget_seconds,
            max_candidates=self.max_candidates,
            changed_paths=context.changed_paths,
            settings=settings,
            allow_unsafe=self.allow_unsafe,
        )
        if result.status == "error" and result.isolation == "none":
            raise StrategyUnavailable(result.message)
        candidates = []
        for rank, plausible in enumerate(result.plausible_patches[: self.max_patches]):
            patch = _patch(context.files, plausible.path, plausible.content)
            confidence = 0.7 if plausible.confirmed else 0.55
            if plausible.risky:
                confidence -= 0.2
            candidates.append(
                Candidate(
                    strategy=self.name,
                    patch=patch,
                    explanation=(
                        f"Mutation search: {plausible.description}. The whole test suite passes "
                        f"with this edit ({result.candidates_tried} candidates tried)."
                    ),
                    confidence=max(0.05, confidence - 0.05 * rank),
                    rule=plausible.operator,
                    root_cause=f"{plausible.path}:{plausible.line}",
                    validated=True,
                    metadata={
                        "operator": plausible.operator,
                        "line": plausible.line,
                        "risky": plausible.risky,
                        "confirmed": plausible.confirmed,
                        "candidates_tried": result.candidates_tried,
                        "plausible_found": len(result.plausible_patches),
                        "isolation": result.isolation,
                        "seconds": round(result.seconds, 3),
                    },
                )
            )
        return candidates


def _patch(files: dict[str, str], path: str, content: str) -> Patch:
    return Patch([FileEdit(path, "modify", content, base_content=files[path])])
