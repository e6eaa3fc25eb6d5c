"""Counting what a request costs: database queries and writes (Django's own
query capture), and Redis round trips at the client (every packet of
commands a redis-py connection sends is one round trip; a pipeline or a
script is one)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from redis.connection import AbstractConnection

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


@dataclass
class Counts:
    queries: float = 0
    writes: float = 0
    round_trips: float = 0

    def per(self, n: int) -> Counts:
        return Counts(self.queries / n, self.writes / n, self.round_trips / n)


@contextmanager
def round_trips() -> Iterator[Counts]:
    """Count the sends of every redis-py connection while inside."""
    counts = Counts()
    original = AbstractConnection.send_packed_command

    def counted(self: Any, command: Any, check_health: bool = True) -> Any:
        counts.round_trips += 1
        return original(self, command, check_health)

    AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        AbstractConnection.send_packed_command = original  # type: ignore[method-assign]


@contextmanager
def everything() -> Iterator[Counts]:
    """Database queries, database writes and Redis round trips while inside."""
    with round_trips() as counts, CaptureQueriesContext(connection) as queries:
        yield counts
    counts.queries = len(queries)
    counts.writes = sum(query["sql"].lstrip().upper().startswith(WRITES) for query in queries)
