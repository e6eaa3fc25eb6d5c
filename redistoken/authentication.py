"""The DRF authentication class: header -> token -> one store call -> (user, session)."""

from __future__ import annotations

from functools import cache
from typing import Any, NoReturn

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from . import store, tokens
from .exceptions import ServiceUnavailable
from .settings import token_settings
from .users import LazyUser, load_user

_ERROR_ATTRIBUTE = "_redistoken_error"
_REFUSED = "The token is invalid, expired or revoked."


def _quoted(value: str) -> str:
    """An RFC 6750 / RFC 7235 quoted string: printable ASCII, no quote or backslash.

    RFC 6750 section 3 allows neither ``"`` nor ``\\`` in ``error_description``;
    dropping them (rather than escaping) keeps every client's parser happy.
    """
    return '"' + "".join(ch for ch in value if " " <= ch <= "~" and ch not in '"\\') + '"'


#: A header of ours longer than this is refused unparsed (a token is 58 characters).
MAX_HEADER_LENGTH = 1024


def _credentials(request: Request) -> tuple[bytes, list[bytes]] | None:
    """The ``Authorization`` header and its words, if it uses one of our
    keywords (of an oversized header, only its keyword: it is not parsed)."""
    header = get_authorization_header(request)
    parts = header[:32].split()[:1] if len(header) > MAX_HEADER_LENGTH else header.split()
    if not parts or parts[0].lower() not in _keywords(token_settings.AUTH_HEADER_KEYWORDS):
        return None
    return header, parts


@cache
def _keywords(configured: tuple[str, ...]) -> frozenset[bytes]:
    return frozenset(keyword.lower().encode() for keyword in configured)


class RedisTokenAuthentication(BaseAuthentication):
    """``Authorization: Token <token>`` (keywords configurable, e.g. ``Bearer``).

    A token in another format returns ``None`` so that another class (such as
    DRF's ``TokenAuthentication`` during a migration) can try it; with
    ``ACCEPT_DRF_TOKENS``, a DRF key imported by ``redistoken
    import-drf-tokens`` is a session like any other (one more round trip). A token of
    ours that is malformed is refused without any Redis call; one that is
    unknown, expired or revoked is a 401; an unreachable Redis is a 503.
    """

    #: ``"lazy"`` or ``"eager"`` for the views using this class (a subclass
    #: sets it); ``None`` follows the ``USER_LOADING`` setting.
    user_loading: str | None = None

    def authenticate(self, request: Request) -> tuple[Any, store.Session] | None:
        credentials = _credentials(request)
        if credentials is None:
            return None
        header, parts = credentials
        if len(header) > MAX_HEADER_LENGTH:
            self._fail(request, "Invalid token header. Too long.")
        if len(parts) == 1:
            self._fail(request, "Invalid token header. No credentials provided.")
        if len(parts) > 2:
            self._fail(request, "Invalid token header. Token string should not contain spaces.")
        try:
            raw = parts[1].decode("ascii")
        except UnicodeError:
            self._fail(request, "Invalid token header. Token string should not contain invalid characters.")
        try:
            parsed = store.resolve_token(raw)
        except tokens.MalformedToken as exc:
            self._fail(request, str(exc))
        except store.StoreUnavailable as exc:
            raise ServiceUnavailable() from exc
        if parsed is None:
            return None  # not ours, or a DRF key never imported: DRF's own class may accept it
        return self.authenticate_credentials(request, parsed)

    def authenticate_credentials(self, request: Request, token: tokens.ParsedToken) -> tuple[Any, store.Session]:
        try:
            session = store.authenticate(token)
        except store.StoreUnavailable as exc:
            raise ServiceUnavailable() from exc
        if session is None:
            self._fail(request, "Invalid or expired token.")
        if (self.user_loading or token_settings.USER_LOADING) == "eager":
            return load_user(session.user_id, session.id, session.credential), session
        return LazyUser(session.user_id, session.id, session.credential), session

    def authenticate_header(self, request: Request) -> str:
        """RFC 6750 section 3: ``error`` only when credentials were sent.

        Credentials sent with one of our keywords and refused (by this class,
        by the user loading, or because no class accepted a foreign token)
        are ``invalid_token``; a request without any gets the bare challenge.
        """
        header = f"{token_settings.AUTH_HEADER_KEYWORDS[0]} realm={_quoted(token_settings.WWW_AUTHENTICATE_REALM)}"
        if _credentials(request) is not None:
            description = getattr(request, _ERROR_ATTRIBUTE, None) or _REFUSED
            header += f', error="invalid_token", error_description={_quoted(description)}'
        return header

    @staticmethod
    def _fail(request: Request, message: str) -> NoReturn:
        setattr(request, _ERROR_ATTRIBUTE, message)
        raise AuthenticationFailed(message)
