"""HTTP endpoints: thin wrappers around the store API."""

from __future__ import annotations

from typing import Any, NoReturn, cast

from django.contrib.auth import get_user_model, user_logged_in, user_logged_out
from django.http import Http404
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import credentials, store, tokens
from .authentication import RedisTokenAuthentication
from .cache_headers import no_store, private_if_authorized
from .client_address import client_address
from .exceptions import RequestTooLarge, ServiceUnavailable, printable, throttled
from .parsers import BODY_PARSERS
from .serializers import LoginSerializer, RevocationSerializer, SessionSerializer, TokenResponseSerializer
from .settings import listing_pagination_class, token_settings
from .throttling import RevokeAddressThrottle


class StoreView(APIView):
    """Base view: authenticated by redistoken; Redis outages answer 503."""

    authentication_classes = [RedisTokenAuthentication]
    permission_classes = [IsAuthenticated]

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, store.StoreUnavailable):
            exc = ServiceUnavailable()
        return super().handle_exception(exc)

    def throttled(self, request: Request, wait: float | None) -> NoReturn:
        """429 with ``Retry-After`` and the ``throttled`` code in the body."""
        raise throttled(wait)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        """Answers to an authenticated request are for the caller only."""
        return private_if_authorized(request, super().finalize_response(request, response, *args, **kwargs))

    @property
    def session(self) -> store.Session:
        """The caller's session (``request.auth``) in a view that requires one."""
        return cast(store.Session, self.request.auth)

    def session_data(self, sessions: list[store.Session]) -> Any:
        current = getattr(self.request.auth, "id", None)
        return SessionSerializer(sessions, many=True, context={"current_session_id": current}).data


class SessionListing(StoreView):
    """A session listing honours DRF's ``DEFAULT_PAGINATION_CLASS`` as a
    ``GenericAPIView``'s list does, over the store's bounded list (at most
    ``MAX_SESSIONS_PER_USER``); without one it is the plain list."""

    @property
    def pagination_class(self) -> Any:
        """Read at each request (and by drf-spectacular), so it follows the settings."""
        return listing_pagination_class()

    def listing(self, sessions: list[store.Session]) -> Response:
        pagination_class = self.pagination_class  # a property: read once
        if pagination_class is not None:
            paginator = pagination_class()
            page = paginator.paginate_queryset(sessions, self.request, view=self)
            if page is not None:  # None: a pagination class without a page size
                response: Response = paginator.get_paginated_response(self.session_data(page))
                return response
        return Response(self.session_data(sessions))


#: Login and revocation bodies are small; anything far larger is refused unread.
MAX_BODY_LENGTH = 16 * 1024


def oauth_error(errors: dict[str, Any]) -> dict[str, Any]:
    """A 400 body with RFC 6749 section 5.2's ``error`` and ``error_description``
    beside DRF's field -> messages: ``invalid_grant`` for refused credentials,
    ``invalid_request`` for a missing, invalid or unparsable field."""
    field, messages = next(iter(errors.items()), ("detail", ""))
    message = str(messages[0] if isinstance(messages, list) and messages else messages)
    grant = field == "non_field_errors"
    description = message if grant or field == "detail" else f"{field}: {message}"
    error = "invalid_grant" if grant else "invalid_request"
    return {**errors, "error": error, "error_description": printable(description)}


class SmallBodyMixin:
    """Login and revocation: an oversized body is refused (413) before parsing
    or throttling reads it; a 400 is an RFC 6749 error response."""

    def handle_exception(self, exc: Exception) -> Response:
        response: Response = super().handle_exception(exc)  # type: ignore[misc]
        if response.status_code == status.HTTP_400_BAD_REQUEST and isinstance(response.data, dict):
            response.data = oauth_error(response.data)
        return response

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY_LENGTH:
            raise RequestTooLarge()
        super().initial(request, *args, **kwargs)  # type: ignore[misc]


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class LoginView(SmallBodyMixin, StoreView):
    """POST username and password (and an optional device name): a new token."""

    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = BODY_PARSERS
    throttle_classes: list[Any] = []  # the serializer counts failures (throttling.login_attempt)

    @sensitive_variables()
    def post(self, request: Request) -> Response:
        serializer = LoginSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        issued = store.issue_token(
            user,
            device=serializer.validated_data["device"],
            ip=client_address(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            credential=credentials.fingerprint(serializer.validated_data["user"]),
        )
        if token_settings.UPDATE_LAST_LOGIN:
            # Django's own receiver writes last_login (one write per login),
            # which also voids password-reset links mailed before it.
            user_logged_in.send(sender=type(user), request=request._request, user=user)
        body = TokenResponseSerializer(
            {
                "access_token": issued.token,
                "token": issued.token,
                "token_type": token_settings.AUTH_HEADER_KEYWORDS[0],
                "expires_in": issued.session.expires_in,
                "session": issued.session,
            },
            context={"current_session_id": issued.session.id},
        ).data
        return Response(body)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        """Every answer of the login view, errors included, is ``no-store``."""
        return no_store(super().finalize_response(request, response, *args, **kwargs))


def logged_out(request: Request) -> None:
    """Django's ``user_logged_out``, as ``django.contrib.auth.logout`` sends it."""
    user_logged_out.send(sender=get_user_model(), request=request._request, user=request.user)


class LogoutView(StoreView):
    """POST: end the calling session."""

    def post(self, request: Request) -> Response:
        store.revoke_session(request.user.pk, self.session.id, reason=store.Reason.LOGOUT, actor=request.user.pk)
        logged_out(request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(StoreView):
    """POST: end every session of the caller, this one included."""

    def post(self, request: Request) -> Response:
        store.revoke_all(request.user.pk, reason=store.Reason.LOGOUT_ALL, actor=request.user.pk)
        logged_out(request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutOthersView(StoreView):
    """POST: end every session of the caller except this one."""

    def post(self, request: Request) -> Response:
        revoked = store.revoke_other_sessions(request.user.pk, self.session.id, actor=request.user.pk)
        return Response({"revoked": len(revoked)})


class SessionListView(SessionListing):
    """GET: the caller's live sessions, most recently used first."""

    def get(self, request: Request) -> Response:
        return self.listing(store.list_sessions(request.user.pk))


class SessionDetailView(StoreView):
    """DELETE: end one of the caller's sessions (404 if not theirs or not live)."""

    def delete(self, request: Request, session_id: str) -> Response:
        if not tokens.SESSION_ID_RE.fullmatch(session_id):
            raise Http404  # not a session id: no Redis call
        if not store.revoke_session(request.user.pk, session_id, reason=store.Reason.LOGOUT, actor=request.user.pk):
            raise Http404
        return Response(status=status.HTTP_204_NO_CONTENT)


@method_decorator(sensitive_post_parameters("token"), name="dispatch")
class RevokeView(SmallBodyMixin, StoreView):
    """RFC 7009 revocation: POST ``token``; 200 whether or not it was live."""

    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = BODY_PARSERS
    throttle_classes = [RevokeAddressThrottle]

    @sensitive_variables()
    def post(self, request: Request) -> Response:
        serializer = RevocationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            token = store.resolve_token(serializer.validated_data["token"])
        except tokens.MalformedToken:
            token = None  # RFC 7009 2.2: an invalid token is not an error
        if token is not None:
            store.revoke_token(token, reason=store.Reason.LOGOUT)
        return no_store(Response(status=status.HTTP_200_OK))
