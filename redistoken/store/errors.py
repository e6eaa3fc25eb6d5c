"""The store's error type and logger: the bottom of the package, imported by
every other module of it and importing none of them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import redis

logger = logging.getLogger("redistoken")


class StoreUnavailable(Exception):
    """Redis could not answer; says nothing about whether a token is valid."""


def unavailable(exc: redis.exceptions.RedisError) -> StoreUnavailable:
    """The :class:`StoreUnavailable` to raise for ``exc``, logged (by type only:
    a Redis error message may quote a command's arguments)."""
    logger.warning("redistoken: Redis unavailable: %s", type(exc).__name__)
    return StoreUnavailable(type(exc).__name__)


@contextmanager
def unavailable_as_error() -> Iterator[None]:
    """Turn any Redis failure into :class:`StoreUnavailable` (never "no token")."""
    try:
        yield
    except redis.exceptions.RedisError as exc:
        raise unavailable(exc) from exc
