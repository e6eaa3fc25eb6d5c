"""OpenAPI support for drf-spectacular (``pip install redistoken[openapi]``).

Imported by the app config only when drf-spectacular is installed; nothing
else in redistoken imports it. It registers:

* an authentication extension, so views protected by
  :class:`~redistoken.authentication.RedisTokenAuthentication` carry the
  ``redistokenAuth`` security scheme (HTTP ``bearer`` when the first keyword
  is ``Bearer``, otherwise an ``Authorization`` header with the keyword);
* a view extension per endpoint of ``redistoken.urls`` describing its
  request and every response it can give (errors and 503 included).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiViewExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers
from rest_framework.views import APIView

from . import staff, views
from .serializers import LoginSerializer, RevocationSerializer, SessionSerializer, TokenResponseSerializer
from .settings import token_settings

TAG = "redistoken"


class RedisTokenScheme(OpenApiAuthenticationExtension):
    target_class = "redistoken.authentication.RedisTokenAuthentication"
    name = "redistokenAuth"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        keyword = token_settings.AUTH_HEADER_KEYWORDS[0]
        if keyword.lower() == "bearer":
            keyword = "Bearer"
        return build_bearer_security_scheme_object("Authorization", keyword, bearer_format="redistoken")


ERROR = inline_serializer("RedisTokenError", {"detail": serializers.CharField()})
INVALID = OpenApiResponse(
    {
        "type": "object",
        "additionalProperties": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
    },
    description="Invalid input: field name (or non_field_errors) to messages; or an unparsable body's detail.",
)
UNAUTHORIZED = OpenApiResponse(ERROR, description="No token, or a token that is malformed, expired or revoked.")
THROTTLED = OpenApiResponse(ERROR, description="Too many attempts; see Retry-After.")
UNAVAILABLE = OpenApiResponse(ERROR, description="Redis cannot answer; retry after Retry-After seconds.")
ENDED = OpenApiResponse(None, description="Done; no content.")

AUTHENTICATED = {401: UNAUTHORIZED, 503: UNAVAILABLE}


_METHODS: dict[type[APIView], dict[str, Any]] = {}


def _document(view: type[APIView], method: str, **schema: Any) -> None:
    """Record how ``view``'s ``method`` appears in the schema (see ``_register``)."""
    _METHODS.setdefault(view, {})[method] = extend_schema(tags=[TAG], **schema)


def _register() -> None:
    """One view extension per documented view, with all its methods."""
    for view, methods in _METHODS.items():

        def view_replacement(self: OpenApiViewExtension, methods: dict[str, Any] = methods) -> type[APIView]:
            derived = type(self.target.__name__, (self.target,), {"__module__": self.target.__module__})
            decorated: type[APIView] = extend_schema_view(**methods)(derived)
            return decorated

        attributes = {"target_class": view, "view_replacement": view_replacement}
        type(f"{view.__name__}Schema", (OpenApiViewExtension,), attributes)  # registers itself


_document(
    views.LoginView,
    "post",
    summary="Log in: a new token and session",
    request=LoginSerializer,
    responses={200: TokenResponseSerializer, 400: INVALID, 429: THROTTLED, 503: UNAVAILABLE},
)
_document(views.LogoutView, "post", summary="End this session", request=None, responses={204: ENDED, **AUTHENTICATED})
_document(
    views.LogoutAllView,
    "post",
    summary="End every session of the caller",
    request=None,
    responses={204: ENDED, **AUTHENTICATED},
)
_document(
    views.LogoutOthersView,
    "post",
    summary="End every other session of the caller",
    request=None,
    responses={
        200: inline_serializer("RedisTokenRevokedCount", {"revoked": serializers.IntegerField(min_value=0)}),
        **AUTHENTICATED,
    },
)
_document(
    views.SessionListView,
    "get",
    summary="The caller's live sessions",
    responses={200: SessionSerializer(many=True), **AUTHENTICATED},
)
_document(
    views.SessionDetailView,
    "delete",
    summary="End one of the caller's sessions",
    responses={
        204: ENDED,
        404: OpenApiResponse(ERROR, description="Not a live session of the caller."),
        **AUTHENTICATED,
    },
)
_document(
    views.RevokeView,
    "post",
    summary="Revoke a token (RFC 7009)",
    request=RevocationSerializer,
    responses={
        200: OpenApiResponse(None, description="Revoked, or was not a live token: the same answer."),
        400: INVALID,
        429: THROTTLED,
        503: UNAVAILABLE,
    },
)

STAFF = {403: OpenApiResponse(ERROR, description="Missing the redistoken.revoke_sessions permission."), **AUTHENTICATED}
NO_USER = OpenApiResponse(ERROR, description="No such user.")
_document(
    staff.UserSessionsView,
    "get",
    summary="A user's live sessions (staff)",
    responses={200: SessionSerializer(many=True), 404: NO_USER, **STAFF},
)
_document(
    staff.UserSessionsView,
    "delete",
    summary="End every session of a user (staff)",
    operation_id="redistoken_user_sessions_revoke_all",
    responses={
        200: inline_serializer("RedisTokenStaffRevokedCount", {"revoked": serializers.IntegerField(min_value=0)}),
        404: NO_USER,
        **STAFF,
    },
)
_document(
    staff.UserSessionDetailView,
    "delete",
    summary="End one session of a user (staff)",
    operation_id="redistoken_user_session_revoke",
    responses={204: ENDED, 404: OpenApiResponse(ERROR, description="No such user or live session."), **STAFF},
)
_register()
