"""What the /self-healing page shows, read with aggregate queries on indexed columns over bounded
windows: nothing loops over events in Python, and nothing is cached (the page is live).

Every function takes a `Scope`: the projects the reader chose among their own.
"""

from .activity import (
    Experiment,
    HealingEvent,
    Variant,
    breakers,
    learned_patterns,
    open_alerts,
    recent_actions,
    running_experiments,
)
from .history import DayPoint, healing_by_day
from .numbers import (
    ERROR_WINDOW,
    HEALING_WINDOW,
    PENDING_COUNT_CAP,
    Headline,
    auto_applied_proposals,
    headline,
)
from .scope import Scope, patterns_in, scope_for

__all__ = [
    "ERROR_WINDOW",
    "HEALING_WINDOW",
    "PENDING_COUNT_CAP",
    "DayPoint",
    "Experiment",
    "Headline",
    "HealingEvent",
    "Scope",
    "Variant",
    "auto_applied_proposals",
    "breakers",
    "healing_by_day",
    "headline",
    "learned_patterns",
    "open_alerts",
    "patterns_in",
    "recent_actions",
    "running_experiments",
    "scope_for",
]
