"""HTTP endpoints: thin wrappers around the store API."""

from __future__ import annotations

from typing import Any, cast

from django.http import Http404
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from . import credentials, store, tokens
from .authentication import RedisTokenAuthentication
from .cache_headers import no_store, private_if_authorized
from .exceptions import RequestTooLarge, ServiceUnavailable
from .serializers import LoginSerializer, RevocationSerializer, SessionSerializer, TokenResponseSerializer
from .settings import token_settings
from .throttling import LoginAddressThrottle, LoginUsernameThrottle


class StoreView(APIView):
    """Base view: authenticated by redistoken; Redis outages answer 503."""

    authentication_classes = [RedisTokenAuthentication]
    permission_classes = [IsAuthenticated]

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, store.StoreUnavailable):
            exc = ServiceUnavailable()
        return super().handle_exception(exc)

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


#: Login and revocation bodies are small; anything far larger is refused unread.
MAX_BODY_LENGTH = 16 * 1024


class SmallBodyMixin:
    """Refuse an oversized body (413) before parsing or throttling reads it."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY_LENGTH:
            raise RequestTooLarge()
        super().initial(request, *args, **kwargs)  # type: ignore[misc]


class LoginView(SmallBodyMixin, StoreView):
    """POST username and password (and an optional device name): a new token."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginAddressThrottle, LoginUsernameThrottle]

    def post(self, request: Request) -> Response:
        serializer = LoginSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        issued = store.issue_token(
            serializer.validated_data["user"],
            device=serializer.validated_data["device"],
            ip=BaseThrottle().get_ident(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            credential=credentials.fingerprint(serializer.validated_data["user"]),
        )
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


class LogoutView(StoreView):
    """POST: end the calling session."""

    def post(self, request: Request) -> Response:
        store.revoke_session(request.user.pk, self.session.id, reason=store.Reason.LOGOUT, actor=request.user.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(StoreView):
    """POST: end every session of the caller, this one included."""

    def post(self, request: Request) -> Response:
        store.revoke_all(request.user.pk, reason=store.Reason.LOGOUT_ALL, actor=request.user.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutOthersView(StoreView):
    """POST: end every session of the caller except this one."""

    def post(self, request: Request) -> Response:
        revoked = store.revoke_other_sessions(request.user.pk, self.session.id, actor=request.user.pk)
        return Response({"revoked": len(revoked)})


class SessionListView(StoreView):
    """GET: the caller's live sessions."""

    def get(self, request: Request) -> Response:
        return Response(self.session_data(store.list_sessions(request.user.pk)))


class SessionDetailView(StoreView):
    """DELETE: end one of the caller's sessions (404 if not theirs or not live)."""

    def delete(self, request: Request, session_id: str) -> Response:
        if not tokens.SESSION_ID_RE.fullmatch(session_id):
            raise Http404  # not a session id: no Redis call
        if not store.revoke_session(request.user.pk, session_id, reason=store.Reason.LOGOUT, actor=request.user.pk):
            raise Http404
        return Response(status=status.HTTP_204_NO_CONTENT)


class RevokeView(SmallBodyMixin, StoreView):
    """RFC 7009 revocation: POST ``token``; 200 whether or not it was live."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginAddressThrottle]

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
