"""The DRF authentication class: header -> token -> one store call -> (user, session)."""

from __future__ import annotations

from functools import cache
from typing import Any, NoReturn

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from . import store, tokens
from .exceptions import REFUSALS, ServiceUnavailable, TokenRefused, printable
from .settings import token_settings
from .users import LazyUser, load_user

_ERROR_ATTRIBUTE = "_redistoken_error"


def _quoted(value: str) -> str:
    """An RFC 6750 / RFC 7235 quoted string: printable ASCII, no quote or backslash.

    RFC 6750 section 3 allows neither ``"`` nor ``\\`` in ``error_description``;
    dropping them (rather than escaping) keeps every client's parser happy.
    """
    return f'"{printable(value)}"'


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
    """``Authorization: Token <token>`` or ``Bearer <token>`` (``AUTH_HEADER_KEYWORDS``).

    A token in another format returns ``None`` so that a class after this one
    (such as DRF's ``TokenAuthentication`` during a migration) can try it;
    when this class is the last, no one will, so it is refused here. With
    ``ACCEPT_DRF_TOKENS``, a DRF key imported by ``redistoken
    import-drf-tokens`` is a session like any other (one more round trip). A
    token of ours that is malformed is refused without any Redis call; one that is
    unknown, expired or revoked is a 401; an unreachable Redis is a 503.
    Each refusal raises :class:`~redistoken.exceptions.TokenRefused` with a
    stable code.
    """

    #: ``"lazy"`` or ``"eager"`` for the views using this class (a subclass
    #: sets it); ``None`` follows the ``USER_LOADING`` setting.
    user_loading: str | None = None

    @sensitive_variables()
    def authenticate(self, request: Request) -> tuple[Any, store.Session] | None:
        credentials = _credentials(request)
        if credentials is None:
            return None
        header, parts = credentials
        if len(header) > MAX_HEADER_LENGTH:
            self._fail(request, "header_malformed", _("Invalid token header. Too long."))
        if len(parts) == 1:
            self._fail(request, "header_malformed", _("Invalid token header. No credentials provided."))
        if len(parts) > 2:
            self._fail(request, "header_malformed", _("Invalid token header. Token string should not contain spaces."))
        try:
            raw = parts[1].decode("ascii")
        except UnicodeError:
            self._fail(
                request,
                "header_malformed",
                _("Invalid token header. Token string should not contain invalid characters."),
            )
        try:
            parsed = store.resolve_token(raw)
        except tokens.MalformedToken:
            self._fail(request, "token_malformed")
        except store.StoreUnavailable as exc:
            raise ServiceUnavailable() from exc
        if parsed is None:  # not ours, or a DRF key never imported
            if self._is_last(request):
                self._fail(request, "token_unrecognized")  # no class after this one will accept it
            return None  # DRF's own class may accept it
        return self.authenticate_credentials(request, parsed)

    @sensitive_variables()
    def authenticate_credentials(self, request: Request, token: tokens.ParsedToken) -> tuple[Any, store.Session]:
        try:
            session = store.authenticate(token)
        except store.StoreUnavailable as exc:
            raise ServiceUnavailable() from exc
        if session is None:
            self._fail(request, "token_not_found")
        if (self.user_loading or token_settings.USER_LOADING) == "eager":
            try:
                return load_user(session.user_id, session.id, session.credential), session
            except TokenRefused as exc:
                setattr(request, _ERROR_ATTRIBUTE, exc.description)
                raise
        return LazyUser(session.user_id, session.id, session.credential), session

    def authenticate_header(self, request: Request) -> str:
        """RFC 6750 section 3: ``error`` only when credentials were refused.

        Credentials refused by this class, or by the user loading after it
        accepted them, are ``invalid_token`` with the body's ``detail`` as
        description, so header and body agree. A request without credentials,
        or with a foreign token left to the classes after this one, gets the
        bare challenge (and DRF's "not provided" body).
        """
        header = f"{token_settings.AUTH_HEADER_KEYWORDS[0]} realm={_quoted(token_settings.WWW_AUTHENTICATE_REALM)}"
        description = getattr(request, _ERROR_ATTRIBUTE, None)
        if description is None and isinstance(getattr(request, "_authenticator", None), type(self)):
            description = str(REFUSALS["user_inactive"])  # accepted, then the lazy user was refused
        if description is not None and _credentials(request) is not None:
            header += f', error="invalid_token", error_description={_quoted(description)}'
        return header

    def _is_last(self, request: Request) -> bool:
        """Whether no authentication class comes after this one on the view."""
        authenticators: list[Any] = list(getattr(request, "authenticators", None) or ())
        return bool(authenticators) and authenticators[-1] is self

    @staticmethod
    def _fail(request: Request, code: str, message: Promise | None = None) -> NoReturn:
        exc = TokenRefused(code, message)
        setattr(request, _ERROR_ATTRIBUTE, exc.description)
        raise exc
