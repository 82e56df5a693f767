"""A repair proposal opened from an error group: the error's context, ready for the loop."""

from monitoring.errors import latest_event
from monitoring.grouping import report_from_payload
from monitoring.models import ErrorGroup

from . import services
from .models import Proposal


def error_context(group: ErrorGroup) -> str:
    """What a person or the LLM fixer needs to know about the error, as text."""
    lines = [
        f"Error group #{group.pk}: {group.title}",
        f"Category: {group.category} ({group.severity}); seen {group.count} time(s), "
        f"first {group.first_seen:%Y-%m-%d %H:%M}, last {group.last_seen:%Y-%m-%d %H:%M} UTC.",
        f"Root cause: {group.root_cause}" if group.root_cause else "",
        f"Releases: {', '.join(group.releases)}" if group.releases else "",
    ]
    event = latest_event(group)
    report = report_from_payload(event.payload) if event else None
    if report and report.frames:
        lines.append("Stack trace (most recent call last):")
        for frame in report.frames[-15:]:
            lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.function}')
            if frame.context_line:
                lines.append(f"    {frame.context_line.strip()}")
    return "\n".join(line for line in lines if line)


def open_repair_proposal_for_group(error_group_id: int) -> Proposal | None:
    """One open repair proposal per error group; a second request returns the existing one."""
    group = ErrorGroup.objects.filter(pk=error_group_id).select_related("project").first()
    if group is None:
        return None
    existing = (
        Proposal.objects.filter(error_group_id=group.pk)
        .exclude(status__in=["applied", "rejected"])
        .first()
    )
    if existing is not None:
        return existing
    return services.create_proposal(
        group.project,
        f"Repair: {group.title}"[:300],
        [],
        description=error_context(group),
        source="error_group",
        error_group_id=group.pk,
    )
