"""Whose data the dashboard reads: the projects the reader chose among their own."""

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from patterns.models import Pattern, PatternStatus
from selfheal.models import Project
from selfheal.services import ProjectNotFound, projects_for


@dataclass(frozen=True)
class Scope:
    projects: tuple[Project, ...]  # every project the reader may see
    project: Project | None = None  # the one chosen, or None for all of them

    @property
    def project_ids(self) -> list[int]:
        return [self.project.pk] if self.project else [p.pk for p in self.projects]

    @property
    def slug(self) -> str:
        return self.project.slug if self.project else ""


def scope_for(user: AbstractBaseUser, project_ref: str | None = None) -> Scope:
    """The reader's projects, narrowed to one (by slug or id) when asked; ProjectNotFound for a
    project they may not see."""
    projects = tuple(projects_for(user).order_by("name"))
    if not project_ref:
        return Scope(projects)
    for project in projects:
        if project_ref in (project.slug, str(project.pk)):
            return Scope(projects, project)
    raise ProjectNotFound(f"Project {project_ref!r} not found.")


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def patterns_in(scope: Scope) -> QuerySet[Pattern]:
    """Patterns are shared by every project; narrowed to one project, the ones it met."""
    patterns = Pattern.objects.exclude(status=PatternStatus.QUARANTINED)
    return patterns.filter(projects=scope.project) if scope.project else patterns
