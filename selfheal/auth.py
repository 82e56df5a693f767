"""API authentication: an API key (`Authorization: Bearer <key>` or `X-API-Key`) or a session."""

from django.http import HttpRequest
from ninja.security import APIKeyHeader, HttpBearer, django_auth

from .services import authenticate_api_key


class BearerKey(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        user = authenticate_api_key(token)
        if user is not None:
            request.user = user
        return user


class HeaderKey(APIKeyHeader):
    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None):
        user = authenticate_api_key(key or "")
        if user is not None:
            request.user = user
        return user


API_AUTH = [BearerKey(), HeaderKey(), django_auth]
