"""The only place that changes projects, memberships and API keys, and the one rule for access."""

import hashlib
import hmac
import secrets

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import slugify

from .models import ApiKey, Membership, Project, Role

API_KEY_PREFIX = "shk_"


class AccessDenied(Exception):
    """The user may see the project but not do this with it."""


class ProjectNotFound(Exception):
    """No such project, or one the user may not see: the same answer, so ids are not probed."""


def projects_for(user: AbstractBaseUser) -> QuerySet[Project]:
    if not user.is_authenticated:
        return Project.objects.none()
    if user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user)


def role_of(user: AbstractBaseUser, project: Project) -> str | None:
    if user.is_superuser:
        return Role.ADMIN
    membership = Membership.objects.filter(user=user, project=project).first()
    return membership.role if membership else None


def get_project_for(
    user: AbstractBaseUser, project_ref: int | str, role: str = Role.VIEWER
) -> Project:
    """The project by id or slug if `user` holds at least `role` in it."""
    lookup = {"pk": int(project_ref)} if str(project_ref).isdigit() else {"slug": project_ref}
    project = projects_for(user).filter(**lookup).first()
    if project is None:
        raise ProjectNotFound(f"Project {project_ref!r} not found.")
    require_role(user, project, role)
    return project


def require_role(user: AbstractBaseUser, project: Project, role: str) -> None:
    held = role_of(user, project)
    if held is None:
        raise ProjectNotFound(f"Project {project.pk} not found.")
    if not Membership(role=held).allows(role):
        raise AccessDenied(
            f"This needs the {role} role in project {project.slug!r}; you are {held}."
        )


def unique_slug(name: str) -> str:
    base = slugify(name)[:90] or "project"
    slug, n = base, 2
    while Project.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def create_project(owner: AbstractBaseUser, name: str, **fields) -> Project:
    """Create a project; its creator becomes its admin."""
    slug = fields.pop("slug", None) or unique_slug(name)
    project = Project(name=name, slug=slug, **fields)
    project.full_clean()
    project.save()
    Membership.objects.create(project=project, user=owner, role=Role.ADMIN)
    return project


def add_member(project: Project, user: AbstractBaseUser, role: str) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        project=project, user=user, defaults={"role": role}
    )
    return membership


def _hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def create_api_key(user: AbstractBaseUser, name: str) -> tuple[ApiKey, str]:
    """Return the stored key and the raw key; the raw key is never stored or shown again."""
    prefix = secrets.token_hex(4)
    raw_key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        user=user, name=name, prefix=prefix, key_hash=_hash_key(raw_key)
    )
    return api_key, raw_key


def authenticate_api_key(raw_key: str) -> AbstractBaseUser | None:
    if not raw_key.startswith(API_KEY_PREFIX):
        return None
    prefix = raw_key[len(API_KEY_PREFIX) :].split("_", 1)[0]
    api_key = (
        ApiKey.objects.select_related("user").filter(prefix=prefix, revoked_at__isnull=True).first()
    )
    if api_key is None or not hmac.compare_digest(api_key.key_hash, _hash_key(raw_key)):
        return None
    if not api_key.user.is_active:
        return None
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=timezone.now())
    return api_key.user


def revoke_api_key(api_key: ApiKey) -> None:
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at"])
