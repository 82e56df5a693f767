from django.conf import settings
from django.http import HttpRequest


def selfheal(request: HttpRequest) -> dict:
    return {"llm_enabled": bool(settings.ANTHROPIC_API_KEY)}
