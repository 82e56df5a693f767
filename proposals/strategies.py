"""Which fix strategies the auto-fix loop tries for a project, cheapest first."""

from dataclasses import dataclass

from django.conf import settings

from selfheal.engine.fixers.base import Fixer
from selfheal.models import Project


@dataclass
class StrategyNote:
    strategy: str
    reason: str


def build_fixers(project: Project) -> tuple[list[Fixer], list[StrategyNote]]:
    """The strategy chain: learned template → rules → mutation search → revert → LLM.

    Also returns the strategies that are off, with why, so the history can say so."""
    from patterns.services import BreakerGuardedFixer, TemplateFixer
    from selfheal.engine.fixers.llm import OFF_REASON, LLMFixer
    from selfheal.engine.fixers.mutation import MutationFixer
    from selfheal.engine.fixers.revert import RevertFixer
    from selfheal.engine.fixers.rules import RulesFixer

    fixers: list[Fixer] = [TemplateFixer(project), RulesFixer(), MutationFixer(), RevertFixer()]
    notes: list[StrategyNote] = []
    if settings.ANTHROPIC_API_KEY:
        llm = LLMFixer.from_settings(
            api_key=settings.ANTHROPIC_API_KEY,
            model=settings.ANTHROPIC_MODEL,
            base_url=settings.ANTHROPIC_BASE_URL or None,
        )
        fixers.append(BreakerGuardedFixer(llm, "llm"))
    else:
        notes.append(StrategyNote("llm", OFF_REASON))
    return fixers, notes
