"""HTTP errors of redistoken's faces (DRF exceptions)."""

from rest_framework import status
from rest_framework.exceptions import APIException

from .settings import token_settings


class ServiceUnavailable(APIException):
    """Redis cannot answer: 503 with ``Retry-After``, never a 401.

    Mobile clients discard their credentials on 401; an outage must not look
    like a bad token, and must not let a request through either.
    """

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Authentication is temporarily unavailable. Try again shortly."
    default_code = "service_unavailable"

    def __init__(self) -> None:
        super().__init__()
        # DRF's exception handler turns ``wait`` into a Retry-After header.
        self.wait = token_settings.RETRY_AFTER


class RequestTooLarge(APIException):
    """A body far beyond any valid request: refused before it is parsed."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "request_too_large"
