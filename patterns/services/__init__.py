"""The only place that changes patterns, outcomes, thresholds and breakers. Split by concept:
learning, matching (the template fixer), policy (auto-apply), breakers, reporting."""

from .breakers import (
    BreakerGuardedFixer,
    BreakerStatus,
    breaker_status,
    call_with_breaker,
    get_breaker,
    record_call,
    reset_breaker,
)
from .learning import (
    decay_patterns,
    learn_from_fix,
    quarantine,
    record_outcome,
    record_review,
    set_status,
)
from .matching import PatternMatch, TemplateFixer, find_patterns
from .policy import (
    AutoApplyDecision,
    decide_auto_apply,
    effective_threshold,
    measure_queue_depth,
    update_contextual_thresholds,
)
from .reporting import learning_stats, visible_project_names

__all__ = [
    "AutoApplyDecision",
    "BreakerGuardedFixer",
    "BreakerStatus",
    "PatternMatch",
    "TemplateFixer",
    "breaker_status",
    "call_with_breaker",
    "decay_patterns",
    "decide_auto_apply",
    "effective_threshold",
    "find_patterns",
    "get_breaker",
    "learn_from_fix",
    "learning_stats",
    "measure_queue_depth",
    "quarantine",
    "record_call",
    "record_outcome",
    "record_review",
    "reset_breaker",
    "set_status",
    "update_contextual_thresholds",
    "visible_project_names",
]
