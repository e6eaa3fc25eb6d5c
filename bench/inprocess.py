"""In-process measurement: each scheme's request through Django's WSGI
handler (no HTTP, no test client), in interleaved rounds, medians."""

from __future__ import annotations

import io
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.test import override_settings

from .counting import Counts, everything
from .schemes import USER_AGENT, Scheme

_handler = WSGIHandler()


def request(scheme: Scheme) -> int:
    """One GET of the scheme's URL through the WSGI handler; the status code."""
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": scheme.path,
        "QUERY_STRING": "",
        "SERVER_NAME": "bench",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.7",
        "HTTP_HOST": "bench",
        "HTTP_USER_AGENT": USER_AGENT,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if scheme.authorization:
        environ["HTTP_AUTHORIZATION"] = scheme.authorization
    status: list[str] = []
    response = _handler(environ, lambda code, headers, exc_info=None: status.append(code))
    b"".join(response)
    response.close()  # request_finished, as a WSGI server does
    return int(status[0].split()[0])


@contextmanager
def configured(scheme: Scheme | None) -> Iterator[None]:
    """The scheme's settings overrides (e.g. RENEW_INTERVAL), if any, each
    merged over the setting's current value."""
    if scheme is None or not scheme.overrides:
        yield
        return
    merged = {name: {**getattr(settings, name), **values} for name, values in scheme.overrides.items()}
    with override_settings(**merged):
        yield


def check(scheme: Scheme) -> None:
    with configured(scheme):
        code = request(scheme)
    if code != scheme.expect:
        raise SystemExit(f"{scheme.name}: {scheme.path} answered {code}, expected {scheme.expect}")


def count(scheme: Scheme, n: int = 20) -> Counts:
    """Queries, writes and round trips of ``n`` requests, per request."""
    with configured(scheme):
        request(scheme)  # warm
        with everything() as counts:
            for _ in range(n):
                request(scheme)
    return counts.per(n)


@dataclass
class Timed:
    name: str
    action: Callable[[], Any]
    scheme: Scheme | None = None


def time_interleaved(items: list[Timed], rounds: int, per_round: int) -> dict[str, float]:
    """Median microseconds of one call of each item, over every call of
    ``rounds`` rounds in which every item runs ``per_round`` calls, in a fresh
    random order each round, so that machine noise, and the after-effects of
    one scheme (a database flushing what the previous one wrote), hit all of
    them alike. Each call is timed on its own: on a shared machine a call
    that another process pre-empted is an outlier the median sets aside,
    where a batch average would absorb it."""
    samples: dict[str, list[float]] = {item.name: [] for item in items}
    shuffler = random.Random(5)
    clock = time.perf_counter
    for _ in range(rounds):
        for item in shuffler.sample(items, len(items)):
            with configured(item.scheme):
                item.action()  # warm after a settings change
                timings = samples[item.name]
                for _ in range(per_round):
                    start = clock()
                    item.action()
                    timings.append(clock() - start)
    return {name: statistics.median(values) * 1e6 for name, values in samples.items()}
