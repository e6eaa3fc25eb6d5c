"""HTTP errors of redistoken's faces (DRF exceptions).

Every body carries a translatable ``detail`` and a stable machine-readable
``code`` (djangorestframework-simplejwt's shape), so clients branch on the
code, never on the English text.
"""

from __future__ import annotations

from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException, AuthenticationFailed, Throttled

from .settings import token_settings

#: The 401 codes and their messages (see docs/http-api.md, "Errors").
REFUSALS: dict[str, Promise] = {
    "header_malformed": _("Invalid token header."),
    "token_malformed": _("Malformed token."),
    "token_not_found": _("Invalid or expired token."),
    "token_unrecognized": _("Unrecognized token."),
    "user_inactive": _("User inactive or deleted."),
    "credential_changed": _("The account changed since login (a password change, for one); log in again."),
}


def coded(detail: Any, code: str) -> dict[str, Any]:
    """The body of every error redistoken raises: ``{"detail", "code"}``."""
    return {"detail": detail, "code": code}


def throttled(wait: float | None) -> Throttled:
    """429 with ``Retry-After`` and the ``throttled`` code in the body."""
    exc = Throttled(wait)
    exc.detail = coded(exc.detail, "throttled")
    return exc


def printable(value: str) -> str:
    """Printable ASCII without ``"`` or ``\\``: what RFC 6749 section 5.2 and
    RFC 6750 section 3 allow in ``error_description``."""
    return "".join(ch for ch in value if " " <= ch <= "~" and ch not in '"\\')


class TokenRefused(AuthenticationFailed):
    """401: the credentials were refused; ``code`` is one of :data:`REFUSALS`."""

    def __init__(self, code: str, detail: Promise | str | None = None) -> None:
        message = REFUSALS[code] if detail is None else detail
        super().__init__(coded(message, code), code)
        self.description = str(message)


class ServiceUnavailable(APIException):
    """Redis cannot answer: 503 with ``Retry-After``, never a 401.

    Mobile clients discard their credentials on 401; an outage must not look
    like a bad token, and must not let a request through either.
    """

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = _("Authentication is temporarily unavailable. Try again shortly.")
    default_code = "service_unavailable"

    def __init__(self) -> None:
        super().__init__(coded(self.default_detail, self.default_code))
        # DRF's exception handler turns ``wait`` into a Retry-After header.
        self.wait = token_settings.RETRY_AFTER


class RequestTooLarge(APIException):
    """A body far beyond any valid request: refused before it is parsed."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("Request body too large.")
    default_code = "request_too_large"

    def __init__(self) -> None:
        super().__init__(coded(self.default_detail, self.default_code))
