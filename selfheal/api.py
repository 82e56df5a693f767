"""The JSON API (/api/v1): one NinjaAPI, a router per app, one set of error answers."""

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import NinjaAPI, Router, Schema, Status
from ninja.errors import HttpError

from dashboard.api import router as dashboard_router
from monitoring.api import router as monitoring_router
from patterns.api import router as patterns_router
from proposals.api import router as proposals_router

from . import services
from .auth import API_AUTH
from .engine.sandbox import SandboxRefused
from .models import Project, StoppingPoint

api = NinjaAPI(
    title="selfheal",
    version="1",
    auth=API_AUTH,
    urls_namespace="api",
    docs_url="/docs",
)


def _validation_message(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
    return " ".join(exc.messages)


@api.exception_handler(services.ProjectNotFound)
def project_not_found(request: HttpRequest, exc: Exception):
    return api.create_response(request, {"detail": str(exc)}, status=404)


@api.exception_handler(services.AccessDenied)
def access_denied(request: HttpRequest, exc: Exception):
    return api.create_response(request, {"detail": str(exc)}, status=403)


@api.exception_handler(SandboxRefused)
def sandbox_refused(request: HttpRequest, exc: Exception):
    return api.create_response(
        request, {"detail": f"The sandbox cannot run code on this machine: {exc}"}, status=503
    )


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError):
    return api.create_response(request, {"detail": _validation_message(exc)}, status=400)


core_router = Router(tags=["projects"])


class ProjectIn(Schema):
    name: str
    slug: str | None = None
    description: str = ""
    test_command: str = "python -m pytest -q"
    max_fix_attempts: int = 3
    auto_apply_threshold: float = 0.85
    stopping_point: StoppingPoint = StoppingPoint.PROPOSE_FIX


class ProjectOut(Schema):
    id: int
    name: str
    slug: str
    description: str
    test_command: str
    max_fix_attempts: int
    auto_apply_threshold: float
    stopping_point: str


@core_router.get("/projects", response=list[ProjectOut])
def list_projects(request: HttpRequest):
    return services.projects_for(request.user)


@core_router.post("/projects", response={201: ProjectOut})
def create_project(request: HttpRequest, payload: ProjectIn):
    data = payload.dict()
    if data["slug"] and Project.objects.filter(slug=data["slug"]).exists():
        raise HttpError(409, f"A project with slug {data['slug']!r} already exists.")
    return Status(201, services.create_project(request.user, **data))


@core_router.get("/projects/{project_ref}", response=ProjectOut)
def get_project(request: HttpRequest, project_ref: str):
    return services.get_project_for(request.user, project_ref)


api.add_router("/", core_router)
api.add_router("/", proposals_router)
api.add_router("/", monitoring_router)
api.add_router("/", patterns_router)
api.add_router("/", dashboard_router)
