"""Which fix strategies the auto-fix loop tries for a project, cheapest first."""

from dataclasses import dataclass

from django.conf import settings

from selfheal.engine.fixers.base import Fixer
from selfheal.models import Project


@dataclass
class StrategyNote:
    strategy: str
    reason: str


PRIOR_WEIGHT = 4  # the fixed prior counts as this many outcomes; evidence takes over beyond


def learned_mutation_priors() -> dict[str, float]:
    """Each mutation operator's prior, moved by how its fixes fared: a fix that passed and was not
    rejected by a person is a success; one that failed the tests or was rejected, a failure."""
    from django.db.models import Count, Q

    from selfheal.engine.fixers.mutation.operators import DEFAULT_PRIORS

    from .models import FixAttempt

    rows = (
        FixAttempt.objects.filter(strategy="mutation", outcome__in=["passed", "improved", "failed"])
        .values("rule")
        .annotate(
            trials=Count("id", distinct=True),
            failures=Count(
                "id",
                distinct=True,
                filter=Q(outcome="failed") | Q(proposal__reviews__decision="rejected"),
            ),
        )
    )
    priors = dict(DEFAULT_PRIORS)
    for row in rows:
        operator = row["rule"]
        if operator not in priors:
            continue  # a two-edit combination or an operator no longer known
        successes = row["trials"] - row["failures"]
        priors[operator] = (PRIOR_WEIGHT * priors[operator] + successes) / (
            PRIOR_WEIGHT + row["trials"]
        )
    return priors


def build_fixers(project: Project) -> tuple[list[Fixer], list[StrategyNote]]:
    """The strategy chain: learned template → rules → mutation search → revert → LLM.

    Also returns the strategies that are off, with why, so the history can say so."""
    from patterns.services import BreakerGuardedFixer, PromptVariantFixer, TemplateFixer
    from selfheal.engine.fixers.llm import OFF_REASON, LLMFixer
    from selfheal.engine.fixers.mutation import MutationFixer
    from selfheal.engine.fixers.revert import RevertFixer
    from selfheal.engine.fixers.rules import RulesFixer

    fixers: list[Fixer] = [
        TemplateFixer(project),
        RulesFixer(),
        MutationFixer(priors=learned_mutation_priors()),
        RevertFixer(),
    ]
    notes: list[StrategyNote] = []
    if settings.ANTHROPIC_API_KEY:
        llm = LLMFixer.from_settings(
            api_key=settings.ANTHROPIC_API_KEY,
            model=settings.ANTHROPIC_MODEL,
            base_url=settings.ANTHROPIC_BASE_URL or None,
        )
        fixers.append(BreakerGuardedFixer(PromptVariantFixer(llm, project), "llm"))
    else:
        notes.append(StrategyNote("llm", OFF_REASON))
    return fixers, notes
