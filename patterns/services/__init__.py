"""The only place that changes patterns, outcomes, thresholds and breakers. Split by concept:
learning, matching (the template fixer), policy (auto-apply), breakers, reporting, experiments
(fix variants and their rollouts), improvement (the self-improvement cycle)."""

from .breakers import (
    BreakerGuardedFixer,
    BreakerStatus,
    breaker_status,
    call_with_breaker,
    get_breaker,
    record_call,
    reset_breaker,
)
from .experiments import (
    LLM_PROMPT,
    ExperimentConflict,
    ExperimentInvalid,
    PromptVariantFixer,
    VariantSpec,
    assign_prompt_variant,
    create_experiment,
    record_assignment_outcome,
    run_quality_checks,
    variant_numbers,
)
from .improvement import FixRecord, register_fix_history, run_self_improvement
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
    "LLM_PROMPT",
    "PromptVariantFixer",
    "BreakerGuardedFixer",
    "BreakerStatus",
    "ExperimentConflict",
    "ExperimentInvalid",
    "FixRecord",
    "PatternMatch",
    "TemplateFixer",
    "VariantSpec",
    "assign_prompt_variant",
    "breaker_status",
    "call_with_breaker",
    "create_experiment",
    "decay_patterns",
    "decide_auto_apply",
    "effective_threshold",
    "find_patterns",
    "get_breaker",
    "learn_from_fix",
    "learning_stats",
    "measure_queue_depth",
    "quarantine",
    "record_assignment_outcome",
    "record_call",
    "record_outcome",
    "record_review",
    "register_fix_history",
    "reset_breaker",
    "run_quality_checks",
    "run_self_improvement",
    "set_status",
    "update_contextual_thresholds",
    "variant_numbers",
    "visible_project_names",
]
