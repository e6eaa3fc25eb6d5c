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
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.views import APIView

from . import staff, views
from .exceptions import REFUSALS
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


def _coded(name: str, *codes: str) -> Any:
    """``{"detail", "code"}`` with the codes this response can carry."""
    code = serializers.ChoiceField(choices=codes)
    return inline_serializer(name, {"detail": serializers.CharField(), "code": code})


INVALID = OpenApiResponse(
    {
        "type": "object",
        "properties": {
            "error": {"type": "string", "enum": ["invalid_request", "invalid_grant"]},
            "error_description": {"type": "string"},
        },
        "required": ["error", "error_description"],
        "additionalProperties": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
    },
    description="RFC 6749 section 5.2 error (invalid_grant: credentials refused; invalid_request: a missing, "
    "invalid or unparsable field), beside DRF's field name (or non_field_errors) to messages.",
)
UNAUTHORIZED = OpenApiResponse(
    inline_serializer(
        "RedisTokenRefusal",
        {"detail": serializers.CharField(), "code": serializers.ChoiceField(choices=list(REFUSALS), required=False)},
    ),
    description="A refused token, with its code; or no credentials at all (DRF's detail, no code).",
)
TOO_LARGE = OpenApiResponse(_coded("RedisTokenTooLarge", "request_too_large"), description="Body over 16 KiB.")
THROTTLED = OpenApiResponse(_coded("RedisTokenThrottled", "throttled"), description="Too many attempts.")
UNAVAILABLE = OpenApiResponse(
    _coded("RedisTokenUnavailable", "service_unavailable"), description="Redis cannot answer."
)
ENDED = OpenApiResponse(None, description="Done; no content.")

AUTHENTICATED = {401: UNAUTHORIZED, 503: UNAVAILABLE}


def _retry_after(*codes: int) -> OpenApiParameter:
    """The ``Retry-After`` response header of these status codes."""
    return OpenApiParameter(
        "Retry-After",
        int,
        OpenApiParameter.HEADER,
        required=True,
        description="Seconds to wait before retrying.",
        response=list(codes),
    )


_METHODS: dict[type[APIView], dict[str, Any]] = {}


def _document(view: type[APIView], method: str, **schema: Any) -> None:
    """Record how ``view``'s ``method`` appears in the schema (see ``_register``),
    with ``Retry-After`` on its 429 and 503 answers."""
    waits = [code for code in (429, 503) if code in schema.get("responses", {})]
    parameters = [_retry_after(*waits)] if waits else []
    _METHODS.setdefault(view, {})[method] = extend_schema(tags=[TAG], parameters=parameters, **schema)


def add_links(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """A drf-spectacular postprocessing hook (add it to
    ``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]``): OpenAPI links from a
    session listing to ending each listed session, for clients and for
    stateful testing (schemathesis follows them); a paginated listing's
    sessions are under ``results``, as DRF's page-number and limit-offset
    paginations put them."""
    operations = {op.get("operationId"): op for item in result.get("paths", {}).values() for op in item.values()}
    for listing, target in (("redistoken_sessions", "redistoken_session_revoke"),
                            ("redistoken_user_sessions", "redistoken_user_session_revoke")):
        if listing in operations and target in operations:
            listed = operations[listing]["responses"]["200"]["content"]["application/json"]["schema"]
            first = "/0" if listed.get("type") == "array" else "/results/0"  # paginated: DRF's "results"
            parameters = {"session_id": f"$response.body#{first}/id"}
            if "user" in target:
                parameters["user_id"] = "$request.path.user_id"
            links = operations[listing]["responses"]["200"].setdefault("links", {})
            links["EndListedSession"] = {"operationId": target, "parameters": parameters}
    return result


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
    responses={200: TokenResponseSerializer, 400: INVALID, 413: TOO_LARGE, 429: THROTTLED, 503: UNAVAILABLE},
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
    operation_id="redistoken_sessions",
    responses={200: SessionSerializer(many=True), **AUTHENTICATED},
)
_document(
    views.SessionDetailView,
    "delete",
    summary="End one of the caller's sessions",
    operation_id="redistoken_session_revoke",
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
        413: TOO_LARGE,
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
    operation_id="redistoken_user_sessions",
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
