"""Request body parsers of the login and revocation views."""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with deep nesting a 400: Python's ``json`` raises
    ``RecursionError`` (not a ``ValueError``) on a few KiB of ``[[[[...``."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply") from exc


#: The login and revocation views accept JSON and forms, as DRF's defaults do.
BODY_PARSERS = [JSONParser, parsers.FormParser, parsers.MultiPartParser]
