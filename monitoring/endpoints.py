"""The endpoints applications call without a login: Sentry ingest (key = the DSN's public key)
and job pings (key = the job's ping UUID). Thin: parsing lives in `ingest`, state in services."""

import hmac
import logging
import time
import uuid

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from selfheal.models import Project

from . import ingest, jobs
from .events import store_events
from .ingest import IngestError
from .models import EventSource, Job, PingKind
from .models.jobs import MAX_PING_BODY_CHARS
from .ratelimit import check_rate

log = logging.getLogger(__name__)


def _error_response(exc: IngestError) -> JsonResponse:
    response = JsonResponse({"detail": exc.reason}, status=exc.status)
    if exc.retry_after is not None:
        response["Retry-After"] = str(exc.retry_after)
    return response


def _read_body(request: HttpRequest) -> bytes:
    limit = ingest.max_body_bytes()
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError as exc:
        raise IngestError(400, "Content-Length is not a number.") from exc
    if declared > limit:
        raise ingest.too_large("The body", limit)
    body = request.read(limit + 1)
    if len(body) > limit:
        raise ingest.too_large("The body", limit)
    return body


def _key_from_request(request: HttpRequest) -> str | None:
    for header in ("X-Sentry-Auth", "Authorization"):
        value = request.headers.get(header)
        if value:
            key = ingest.key_from_auth_header(value)
            if key:
                return key
    return request.GET.get("sentry_key") or None


# A short-lived in-process cache of the projects' DSN keys: one database round trip less per event.
# Only a match is trusted from it; a mismatch is checked against the database again.
KEY_CACHE_SECONDS = 10.0
MAX_ID = 2**63 - 1
_key_cache: dict[int, tuple[str, float]] = {}


def _authenticate(project_id: int | str, key: str | None) -> int:
    """The project's id if `key` is its DSN key; 401 / 404 / 403 otherwise."""
    if not key:
        raise IngestError(
            401, "Missing the DSN key (X-Sentry-Auth, sentry_key or the envelope's dsn)."
        )
    project_id = int(project_id)
    if project_id > MAX_ID:
        raise IngestError(404, f"Project {project_id} not found.")
    cached = _key_cache.get(project_id)
    if cached and cached[1] > time.monotonic() and hmac.compare_digest(cached[0], key):
        return project_id
    public_key = Project.objects.filter(pk=project_id).values_list("public_key", flat=True).first()
    if public_key is None:
        _key_cache.pop(project_id, None)
        raise IngestError(404, f"Project {project_id} not found.")
    _key_cache[project_id] = (public_key, time.monotonic() + KEY_CACHE_SECONDS)
    if not hmac.compare_digest(public_key.encode(), key.encode()):
        raise IngestError(403, "The DSN key is not this project's.")
    return project_id


def _store(project_id: int, events: list, checkins: list, received_at) -> None:
    """All or nothing; a single event needs no transaction of its own (one INSERT is atomic)."""
    try:
        if len(events) == 1 and not checkins:
            store_events(project_id, events, EventSource.SENTRY)
            return
        with transaction.atomic():
            store_events(project_id, events, EventSource.SENTRY)
            for checkin in checkins:
                jobs.record_checkin(project_id, checkin, received_at)
    except IntegrityError as exc:  # the project was deleted while its key was cached
        _key_cache.pop(project_id, None)
        raise IngestError(404, f"Project {project_id} not found.") from exc


def _decode(request: HttpRequest, body: bytes) -> bytes:
    return ingest.decode_body(body, request.headers.get("Content-Encoding", ""))


@csrf_exempt
@require_http_methods(["POST"])
def sentry_envelope(request: HttpRequest, project_id: int) -> JsonResponse:
    try:
        received_at = timezone.now()
        body = _read_body(request)
        key = _key_from_request(request)
        envelope = None
        if key is None:  # the SDK may authenticate only through the envelope header's dsn
            envelope = ingest.parse_envelope(_decode(request, body))
            dsn = ingest.key_from_dsn(envelope.headers.get("dsn"))
            if dsn is not None:
                if dsn.project_id != str(project_id):
                    raise IngestError(403, "The envelope's DSN is for another project.")
                key = dsn.public_key
        project = _authenticate(project_id, key)
        check_rate(project)
        if envelope is None:
            envelope = ingest.parse_envelope(_decode(request, body))
        event_id = _receive_envelope(project, envelope, received_at)
    except IngestError as exc:
        return _error_response(exc)
    return JsonResponse({"id": event_id} if event_id else {})


def _receive_envelope(project_id: int, envelope: ingest.Envelope, received_at) -> str | None:
    """Validate every item first, then store them all or nothing."""
    default_id = envelope.headers.get("event_id")
    events, checkins = [], []
    for item in envelope.items:
        if item.type == "event":
            events.append(ingest.event_from_json(item.payload, received_at, default_id))
        elif item.type == "check_in":
            checkins.append(ingest.checkin_from_json(item.payload))
        # Everything else (transaction, session(s), client_report, attachment, log, profile, ...)
        # is read and ignored.
    _store(project_id, events, checkins, received_at)
    if events:
        return events[0].event_id.hex
    if isinstance(default_id, str):
        return default_id
    return None


@csrf_exempt
@require_http_methods(["POST"])
def sentry_store(request: HttpRequest, project_id: int) -> JsonResponse:
    try:
        received_at = timezone.now()
        body = _read_body(request)
        project = _authenticate(project_id, _key_from_request(request))
        check_rate(project)
        raw = ingest.decode_store_body(_decode(request, body))
        event = ingest.event_from_json(raw, received_at)
        if event.payload.get("type") != "transaction":  # performance data: not an error
            _store(project, [event], [], received_at)
    except IngestError as exc:
        return _error_response(exc)
    return JsonResponse({"id": event.event_id.hex})


# --- job pings ----------------------------------------------------------------------------------

PING_ACTIONS = {"start": PingKind.START, "progress": PingKind.PROGRESS, "fail": PingKind.FAIL}


def _text(status: int, message: str) -> HttpResponse:
    return HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")


@csrf_exempt
@require_http_methods(["GET", "POST", "HEAD"])
def ping(request: HttpRequest, ping_key: uuid.UUID, action: str = "") -> HttpResponse:
    """`/ping/<uuid>[/start|/progress|/fail|/<exit code>]?rid=<uuid>&value=<n>`; body = log."""
    exit_code = None
    if action == "":
        kind = PingKind.SUCCESS
    elif action in PING_ACTIONS:
        kind = PING_ACTIONS[action]
    elif action.isascii() and action.isdigit() and int(action) <= 255:
        exit_code = int(action)
        kind = PingKind.SUCCESS if exit_code == 0 else PingKind.FAIL
    else:
        return _text(400, f"Unknown ping action {action[:30]!r}.")
    try:
        rid = jobs.parse_rid(request.GET.get("rid"))
        value = jobs.parse_progress(request.GET.get("value")) if kind == PingKind.PROGRESS else None
        body = request.read(MAX_PING_BODY_CHARS * 4).decode("utf-8", "replace")
    except jobs.PingError as exc:
        return _text(400, str(exc))
    job = Job.objects.filter(ping_key=ping_key).first()
    if job is None:
        return _text(404, "No job has this ping URL.")
    jobs.record_ping(
        job, kind, rid=rid, value=value, exit_code=exit_code, body=body.replace("\x00", ""),
        remote_addr=request.META.get("REMOTE_ADDR") or None,
    )  # fmt: skip
    return _text(200, "OK")
