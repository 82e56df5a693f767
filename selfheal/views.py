from django.db import connection
from django.http import HttpRequest, JsonResponse

from .engine.sandbox import detect_isolation


def health(request: HttpRequest) -> JsonResponse:
    """Liveness plus what matters to an operator: the database and the sandbox isolation in use."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not raised: this is the health page
        database = f"error: {type(exc).__name__}"
    isolation = detect_isolation()
    status = 200 if database == "ok" else 503
    return JsonResponse(
        {
            "status": "ok" if status == 200 else "degraded",
            "database": database,
            "sandbox_isolation": isolation.level,
            "sandbox_detail": isolation.detail,
        },
        status=status,
    )
