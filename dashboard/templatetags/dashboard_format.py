"""Numbers as the dashboard shows them: a dash for "no data yet", never a misleading zero."""

from datetime import timedelta

from django import template

register = template.Library()

NO_DATA = "—"


@register.filter
def percent(value: float | None) -> str:
    return NO_DATA if value is None else f"{value:.0%}"


@register.filter
def decimal2(value: float | None) -> str:
    return NO_DATA if value is None else f"{value:.2f}"


@register.filter
def short_duration(value: timedelta | float | None) -> str:
    """12 s, 4 min 10 s, 3 h 20 min, 2 d 5 h."""
    if value is None:
        return NO_DATA
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"
