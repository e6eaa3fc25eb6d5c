"""The DRF authentication class: header -> token -> one store call -> (user, session)."""

from __future__ import annotations

from typing import Any, NoReturn

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from . import store, tokens
from .exceptions import ServiceUnavailable
from .settings import token_settings
from .users import LazyUser, load_user

_ERROR_ATTRIBUTE = "_redistoken_error"

#: A header of ours longer than this is refused unparsed (a token is 58 characters).
MAX_HEADER_LENGTH = 1024


class RedisTokenAuthentication(BaseAuthentication):
    """``Authorization: Token <token>`` (keywords configurable, e.g. ``Bearer``).

    A token in another format returns ``None`` so that another class (such as
    DRF's ``TokenAuthentication`` during a migration) can try it. A token of
    ours that is malformed is refused without any Redis call; one that is
    unknown, expired or revoked is a 401; an unreachable Redis is a 503.
    """

    def authenticate(self, request: Request) -> tuple[Any, store.Session] | None:
        header = get_authorization_header(request)
        keywords = [keyword.lower().encode() for keyword in token_settings.AUTH_HEADER_KEYWORDS]
        if len(header) > MAX_HEADER_LENGTH:
            head = header[:32].split()
            if head and head[0].lower() in keywords:
                self._fail(request, "Invalid token header. Too long.")
            return None
        parts = header.split()
        if not parts or parts[0].lower() not in keywords:
            return None
        if len(parts) == 1:
            self._fail(request, "Invalid token header. No credentials provided.")
        if len(parts) > 2:
            self._fail(request, "Invalid token header. Token string should not contain spaces.")
        try:
            raw = parts[1].decode("ascii")
        except UnicodeError:
            self._fail(request, "Invalid token header. Token string should not contain invalid characters.")
        prefix = token_settings.TOKEN_PREFIX
        if not tokens.owns(prefix, raw):
            return None
        try:
            parsed = tokens.parse(prefix, raw)
        except tokens.MalformedToken as exc:
            self._fail(request, str(exc))
        return self.authenticate_credentials(request, parsed)

    def authenticate_credentials(self, request: Request, token: tokens.ParsedToken) -> tuple[Any, store.Session]:
        try:
            session = store.authenticate(token)
        except store.StoreUnavailable as exc:
            raise ServiceUnavailable() from exc
        if session is None:
            self._fail(request, "Invalid or expired token.")
        if token_settings.USER_LOADING == "eager":
            return load_user(session.user_id), session
        return LazyUser(session.user_id), session

    def authenticate_header(self, request: Request) -> str:
        """RFC 6750 style: ``error`` only when credentials were sent and refused."""
        keyword = token_settings.AUTH_HEADER_KEYWORDS[0]
        header = f'{keyword} realm="{token_settings.WWW_AUTHENTICATE_REALM}"'
        error = getattr(request, _ERROR_ATTRIBUTE, None)
        if error:
            header += f', error="invalid_token", error_description="{error}"'
        return header

    @staticmethod
    def _fail(request: Request, message: str) -> NoReturn:
        setattr(request, _ERROR_ATTRIBUTE, message)
        raise AuthenticationFailed(message)
